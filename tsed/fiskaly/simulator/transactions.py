"""Transactions: upsert with revisions, schema → processData, signing, QR codes, lists."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from tsed.fiskaly.processdata import (
    PROCESS_TYPE_ORDER,
    PROCESS_TYPE_OTHER,
    PROCESS_TYPE_RECEIPT,
    RECEIPT_TYPE_TO_VORGANGSTYP,
    ProcessDataError,
    build_qr_code_data,
    order_process_data,
    receipt_process_data,
)
from tsed.fiskaly.simulator.engine import SimState
from tsed.fiskaly.simulator.metadata import check as check_metadata
from tsed.fiskaly.simulator.metadata import initial, merge
from tsed.fiskaly.simulator.model import (
    LogEntry,
    Revision,
    SimError,
    Transaction,
    Tss,
    schema_error,
)
from tsed.fiskaly.simulator.persist import one_commit
from tsed.fiskaly.simulator.support import TokenInfo
from tsed.fiskaly.tr03151 import sign_log, transaction_log_data

AMOUNT_RE = re.compile(r"^-?\d+(\.\d{2,5})$")
QUANTITY_RE = re.compile(r"^-?\d+(\.\d{1,5})?$")
CURRENCY_RE = re.compile(r"^[a-zA-Z]{3}$")
VAT_RATES = {"NORMAL", "REDUCED_1", "SPECIAL_RATE_1", "SPECIAL_RATE_2", "NULL"}
DEPRECATED_RATES = {"19", "7", "10.7", "5.5", "0"}
OPERATIONS = {"ACTIVE": "Update", "FINISHED": "Finish", "CANCELLED": "Finish"}
# A Start without a schema: fiskaly's Start logs sign processType " " (one space) and an
# empty processData (the log bytes of a real export); the API shows no process type.
START_PROCESS_TYPE = " "
# schema.dsfinvtw_v1 processes and the process types the contract names for them; such a
# transaction may only be started and finished (no update, no cancel; contract 2.1.3)
DSFINV_TW_PROCESS_TYPES = {
    "power_up": "Einschalten-V1",
    "power_off": "Ausschalten-V1",
    "driver_status": "Fahrer-V1",
    "trip_receipt": "Fahrtbeleg-V1",
    "empty_trip": "Frei-V1",
    "break": "Pause-V1",
    "other": "SonstigerVorgangTW",
}
_TW_TYPES = frozenset(DSFINV_TW_PROCESS_TYPES.values())


def _only_keys(obj: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise schema_error(f"{where} must be an object")
    missing = required - obj.keys()
    if missing:
        raise schema_error(f"{where} is missing {', '.join(sorted(missing))}")
    unknown = obj.keys() - required - optional
    if unknown:
        raise schema_error(f"{where} has unknown properties {', '.join(sorted(unknown))}")
    return obj


def _check_amount(value: Any, where: str) -> None:
    if not isinstance(value, str) or not AMOUNT_RE.match(value):
        raise schema_error(f"{where} must match ^-?\\d+(\\.\\d{{2,5}})$, got {value!r}")


def normalize_receipt(receipt: Any) -> dict[str, Any]:
    body = _only_keys(
        receipt,
        "schema.standard_v1.receipt",
        {"receipt_type", "amounts_per_vat_rate"},
        {"amounts_per_payment_type"},
    )
    if (
        not isinstance(body["receipt_type"], str)
        or body["receipt_type"] not in RECEIPT_TYPE_TO_VORGANGSTYP
    ):
        raise schema_error(f"receipt_type {body['receipt_type']!r} is not allowed")
    vat_lines = body["amounts_per_vat_rate"]
    if not isinstance(vat_lines, list):
        raise schema_error("amounts_per_vat_rate must be an array")
    normalized_vat = []
    for i, line in enumerate(vat_lines):
        line = _only_keys(line, f"amounts_per_vat_rate[{i}]", {"vat_rate", "amount"}, set())
        if (
            not isinstance(line["vat_rate"], str)
            or line["vat_rate"] not in VAT_RATES | DEPRECATED_RATES
        ):
            raise schema_error(f"amounts_per_vat_rate[{i}].vat_rate {line['vat_rate']!r}")
        _check_amount(line["amount"], f"amounts_per_vat_rate[{i}].amount")
        normalized_vat.append({"vat_rate": line["vat_rate"], "amount": line["amount"]})
    result: dict[str, Any] = {
        "receipt_type": body["receipt_type"],
        "amounts_per_vat_rate": normalized_vat,
    }
    payments = body.get("amounts_per_payment_type")
    if payments is not None:
        if not isinstance(payments, list):
            raise schema_error("amounts_per_payment_type must be an array")
        normalized_pay = []
        for i, line in enumerate(payments):
            where = f"amounts_per_payment_type[{i}]"
            line = _only_keys(line, where, {"payment_type", "amount"}, {"currency_code"})
            if line["payment_type"] not in ("CASH", "NON_CASH"):
                raise schema_error(f"{where}.payment_type {line['payment_type']!r}")
            _check_amount(line["amount"], f"{where}.amount")
            currency = line.get("currency_code", "EUR")
            if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
                raise schema_error(f"{where}.currency_code must be 3 letters")
            normalized_pay.append(
                {"payment_type": line["payment_type"], "amount": line["amount"],
                 "currency_code": currency}
            )  # fmt: skip
        result["amounts_per_payment_type"] = normalized_pay
    return result


def derive_schema(schema: Any) -> tuple[str, str, dict[str, Any]] | None:
    """(process_type, process_data, echoed schema) of a request schema; None without one."""
    if schema is None or schema == {}:
        return None
    if not isinstance(schema, dict) or len(schema) != 1:
        raise schema_error("schema must contain exactly one of standard_v1, dsfinvtw_v1, raw")
    ((kind, value),) = schema.items()
    try:
        if kind == "standard_v1":
            if not isinstance(value, dict) or len(value) != 1:
                raise schema_error("standard_v1 must contain exactly one of receipt, order, other")
            ((sub, content),) = value.items()
            if sub == "receipt":
                receipt = normalize_receipt(content)
                data = receipt_process_data(receipt)
                return PROCESS_TYPE_RECEIPT, data, {"standard_v1": {"receipt": receipt}}
            if sub == "order":
                order = _only_keys(content, "standard_v1.order", {"line_items"}, set())
                for i, item in enumerate(order["line_items"] or []):
                    item = _only_keys(
                        item, f"line_items[{i}]", {"quantity", "text", "price_per_unit"}, set()
                    )
                    if not isinstance(item["quantity"], str) or not QUANTITY_RE.match(
                        item["quantity"]
                    ):
                        raise schema_error(f"line_items[{i}].quantity")
                    if not isinstance(item["text"], str) or len(item["text"]) > 255:
                        raise schema_error(f"line_items[{i}].text must be ≤ 255 characters")
                    _check_amount(item["price_per_unit"], f"line_items[{i}].price_per_unit")
                return PROCESS_TYPE_ORDER, order_process_data(order), {"standard_v1": value}
            if sub == "other":
                if not isinstance(content, dict):
                    raise schema_error("standard_v1.other must be an object")
                data = json.dumps(content, separators=(",", ":"), sort_keys=True)
                return PROCESS_TYPE_OTHER, data, {"standard_v1": value}
            raise schema_error(f"standard_v1.{sub} is not supported")
        if kind == "raw":
            raw = _only_keys(value, "schema.raw", {"process_type", "process_data"}, set())
            if not isinstance(raw["process_type"], str) or not raw["process_type"]:
                raise schema_error("raw.process_type must be a non-empty string")
            try:
                decoded = base64.b64decode(str(raw["process_data"]), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise schema_error("raw.process_data must be base64 of UTF-8 text") from None
            return raw["process_type"], decoded, {}
        if kind == "dsfinvtw_v1":
            if not isinstance(value, dict) or len(value) != 1:
                raise schema_error("dsfinvtw_v1 must contain exactly one process")
            ((sub, content),) = value.items()
            if sub not in DSFINV_TW_PROCESS_TYPES:
                raise schema_error(
                    f"dsfinvtw_v1.{sub}: one of {', '.join(sorted(DSFINV_TW_PROCESS_TYPES))}"
                )
            data = json.dumps(content, separators=(",", ":"), sort_keys=True)
            return DSFINV_TW_PROCESS_TYPES[sub], data, {"dsfinvtw_v1": value}
    except ProcessDataError as err:
        raise schema_error(err.message) from None
    raise schema_error(f"schema.{kind} is not supported")


def fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def tx_view(state: SimState, tss: Tss, tx: Transaction, revision: Revision) -> dict[str, Any]:
    public_key = base64.b64encode(tss.public_key).decode()
    schema: dict[str, Any] = dict(revision.schema)
    if revision.process_type:
        schema["raw"] = {
            "process_type": revision.process_type,
            "process_data": base64.b64encode(revision.process_data.encode()).decode(),
        }
    view: dict[str, Any] = {
        "_id": tx.id,
        "_type": "TRANSACTION",
        "_env": tx.env,
        "_version": "2.2.2",
        "tss_id": tss.id,
        "tss_serial_number": tss.serial_number,
        "client_id": revision.client_id,
        "client_serial_number": revision.client_serial,
        "state": revision.state,
        "number": tx.number,
        "revision": revision.revision,
        "latest_revision": tx.latest.revision,
        "time_start": tx.time_start,
        "schema": schema,
        "log": {
            "operation": revision.operation,
            "timestamp": revision.log_time,
            "timestamp_format": "unixTime",
        },
        "signature": {
            "value": revision.signature,
            "algorithm": "ecdsa-plain-SHA256",
            "counter": revision.counter,
            "public_key": public_key,
        },
        "metadata": dict(tx.metadata),
    }
    if revision.state in ("FINISHED", "CANCELLED"):
        view["time_end"] = revision.log_time
        view["qr_code_data"] = build_qr_code_data(
            client_serial=revision.client_serial,
            process_type=revision.process_type,
            process_data=revision.process_data,
            tx_number=tx.number,
            signature_counter=revision.counter,
            time_start=tx.time_start,
            time_end=revision.log_time,
            signature=revision.signature,
            public_key=public_key,
        )
    return view


def find_tx(state: SimState, tss: Tss, id_or_number: str) -> Transaction | None:
    txs = state.txs.get(tss.id, {})
    if id_or_number.isascii() and id_or_number.isdigit():
        tx_id = state.tx_numbers.get(tss.id, {}).get(int(id_or_number))
        return txs.get(tx_id) if tx_id else None
    return txs.get(id_or_number.lower())


def _sign_revision(
    state: SimState, tss: Tss, tx: Transaction, rev_no: int, req_state: str, client_id: str,
    client_serial: str, derived: tuple[str, str, dict[str, Any]] | None, fp: str, operation: str,
) -> Revision:  # fmt: skip
    process_type, process_data, schema = derived if derived else ("", "", {})
    signed_type = process_type or (START_PROCESS_TYPE if operation == "Start" else "")
    tss.signature_counter += 1
    now = state.now()
    data = transaction_log_data(
        operation=operation,
        client_serial=client_serial,
        process_type=signed_type,
        process_data=process_data.encode(),
        tx_number=tx.number,
        public_key=tss.public_key,
        signature_counter=tss.signature_counter,
        log_time=now,
    )
    signature = sign_log(tss.private_key, data)
    revision = Revision(
        rev_no, req_state, client_id, client_serial, fp, operation, now,
        base64.b64encode(signature).decode(), tss.signature_counter, process_type, process_data,
        schema,
    )  # fmt: skip
    entry = LogEntry(
        tss.id,
        tss.signature_counter,
        now,
        f"Unixt_{now}_Sig-{tss.signature_counter}_Log-Tra_No-{tx.number}_{operation}"
        f"_Client-{client_serial}.log",
        data,
        signature,
        tx.number,
        client_id,
    )
    state.logs.setdefault(tss.id, []).append(entry)
    if state.persist:
        state.persist.save_log(entry)
    return revision


@one_commit
def upsert(
    state: SimState, token: TokenInfo, tss: Tss, id_or_number: str, revision: int, body: Any
) -> dict[str, Any]:
    """``PUT /tss/{tss_id}/tx/{tx_id_or_number}?tx_revision=N``."""
    state.usable(tss, for_tx=True)
    req = _only_keys(body, "request body", {"state", "client_id"}, {"schema", "metadata"})
    req_state = req["state"]
    if req_state not in ("ACTIVE", "FINISHED", "CANCELLED"):
        raise schema_error(f"state {req_state!r} must be ACTIVE, FINISHED or CANCELLED")
    metadata = check_metadata(req.get("metadata"))
    client = state.clients.get(str(req["client_id"]))
    if client is None or client.tss_id != tss.id:
        raise SimError(400, "E_CLIENT_NOT_FOUND", f"client {req['client_id']} not found")
    if client.state != "REGISTERED":
        raise SimError(400, "E_CLIENT_DEREGISTERED", f"client {client.id} is deregistered")
    derived = derive_schema(req.get("schema"))
    fp = fingerprint(req)
    tx = find_tx(state, tss, id_or_number)
    if tx is None:
        if id_or_number.isascii() and id_or_number.isdigit():
            raise SimError(404, "E_TX_NOT_FOUND", f"transaction {id_or_number} not found")
        if revision != 1:
            raise SimError(
                400,
                "E_TX_UPSERT",
                f"transaction does not exist; start it with revision 1, not {revision}",
            )
        if req_state != "ACTIVE":
            raise SimError(400, "E_TX_UPSERT", "a transaction starts with state ACTIVE")
        if state.active_tx.get(tss.id, 0) >= state.limits.max_active_tx:
            raise SimError(
                400,
                "E_TX_LIMIT_REACHED",
                f"at most {state.limits.max_active_tx} active transactions per TSS",
            )
        tss.transaction_counter += 1
        tx = Transaction(
            id_or_number.lower(), tss.id, tss.env, tss.transaction_counter, state.now(),
            metadata=initial(metadata),
        )  # fmt: skip
        if derived:
            tx.process_type = derived[0]
        rev = _sign_revision(
            state, tss, tx, 1, "ACTIVE", client.id, client.serial_number, derived, fp, "Start"
        )
        tx.time_start = rev.log_time
        tx.revisions.append(rev)
        state.txs.setdefault(tss.id, {})[tx.id] = tx
        state.tx_numbers.setdefault(tss.id, {})[tx.number] = tx.id
        state.active_tx[tss.id] = state.active_tx.get(tss.id, 0) + 1
    else:
        latest = tx.latest.revision
        if revision <= latest:
            stored = tx.revisions[revision - 1]
            if stored.request_fingerprint == fp:
                return tx_view(state, tss, tx, stored)
            if revision == 1:
                raise SimError(409, "E_PENDING_TX_CONFLICT", "tx_id already used; use a new tx_id")
            raise SimError(400, "E_TX_UPSERT", f"revision {revision} exists; latest is {latest}")
        if revision != latest + 1:
            raise SimError(
                400, "E_TX_UPSERT", f"tx_revision must be {latest + 1} (latest is {latest})"
            )
        if tx.state != "ACTIVE":
            raise SimError(400, "E_TX_UPSERT", f"transaction is already {tx.state}")
        tw = tx.process_type in _TW_TYPES or (derived is not None and derived[0] in _TW_TYPES)
        if tw and req_state != "FINISHED":
            raise SimError(
                400, "E_TX_UPSERT", "a DSFinV-TW transaction is only started and finished"
            )
        if derived:
            if tx.process_type and tx.process_type != derived[0]:
                raise SimError(
                    409,
                    "E_TX_ILLEGAL_TYPE_CHANGE",
                    f"process_type {derived[0]} differs from the transaction's {tx.process_type}",
                )
            tx.process_type = derived[0]
        elif req_state != "ACTIVE" and not tx.process_type:
            raise SimError(409, "E_TX_NO_TYPE_DEFINED", "end a transaction with a schema")
        if not derived and tx.latest.process_type:
            prev = tx.latest
            derived = (prev.process_type, prev.process_data, prev.schema)
        rev = _sign_revision(
            state, tss, tx, revision, req_state, client.id, client.serial_number, derived, fp,
            OPERATIONS[req_state],
        )  # fmt: skip
        tx.revisions.append(rev)
        tx.metadata = merge(tx.metadata, metadata)
        if req_state != "ACTIVE":
            tx.time_end = rev.log_time
            state.active_tx[tss.id] = max(0, state.active_tx.get(tss.id, 0) - 1)
    if state.persist:
        state.persist.save_tx(tx)
    state.save_tss(tss)
    return tx_view(state, tss, tx, tx.latest)


def retrieve(state: SimState, tss: Tss, id_or_number: str, revision: int | None) -> dict[str, Any]:
    tx = find_tx(state, tss, id_or_number)
    if tx is None:
        raise SimError(404, "E_TX_NOT_FOUND", f"transaction {id_or_number} not found")
    if revision is None:
        return tx_view(state, tss, tx, tx.latest)
    if not 1 <= revision <= tx.latest.revision:
        raise SimError(400, "E_TX_REVISION_NOT_FOUND", f"revision {revision} does not exist")
    return tx_view(state, tss, tx, tx.revisions[revision - 1])


def maybe_pending(faults: Any, tss: Tss, view: dict[str, Any]) -> dict[str, Any]:
    """The answer as fiskaly's middleware gives it before the backend has the signed log
    (``MiddlewarePendingTxResponse``: no signature value or counter, no ``log.timestamp``),
    while the fault switch ``pending_tx`` counts down; the transaction is signed all the same."""
    if faults.pending_tx <= 0:
        return view
    faults.pending_tx -= 1
    pending = {k: v for k, v in view.items() if k not in ("qr_code_data", "time_end")}
    pending["log"] = {k: v for k, v in view["log"].items() if k != "timestamp"}
    pending["signature"] = {k: view["signature"][k] for k in ("algorithm", "public_key")}
    pending["_middleware"] = {
        "latest_stored_signature_counter_in_backend": str(max(0, tss.signature_counter - 1)),
        "smaers_url": "https://smaers.simulator.invalid",
    }
    return pending
