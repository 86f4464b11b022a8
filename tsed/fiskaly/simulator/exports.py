"""TSS exports: asynchronous state machine and the TR-03151 TAR file.

The export advances with time as it is looked at (PENDING for the first 0.2 s, WORKING until
0.5 s, then COMPLETED), so no background task is needed and the states stay observable.

TAR layout (ustar): one file per signed log with the TR-03151 names of reference §7.4, the
certificates ``<hex SHA-256 of the public key>_X509.cer`` (DER) of the TSS and of the
simulator CA that issued it, and ``info.csv``. Each ``.log`` file holds the log message as
fiskaly's TAR does: the DER elements of the signed data followed by the signature value,
wrapped in one SEQUENCE: ``SEQUENCE { <signed elements> OCTET STRING signature }`` where the
signature is plain r‖s (64 bytes).

``info.csv`` (TR-03151 §5.1.1): LF-terminated lines of three quoted key/value pairs,
``"description:","…","manufacturer:","…","version:","…"``; the first line describes the TSE
(description = the TSS description, as fiskaly writes it), the next ones its components
(TR-03153-1: security module with CSP and SMAERS, storage, export interface).
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tsed.fiskaly.simulator.engine import SimState
from tsed.fiskaly.simulator.model import (
    API_VERSION,
    EXPORT_POLLS_PER_MINUTE,
    MAX_EXPORT_RECORDS,
    MAX_EXPORTS_RUNNING,
    Export,
    LogEntry,
    SimError,
    Tss,
)

PENDING_SECONDS = 0.2
WORKING_SECONDS = 0.5
EXPIRY_SECONDS = 30 * 86400
FILTERS = {
    "client_id",
    "transaction_number",
    "start_transaction_number",
    "end_transaction_number",
    "start_date",
    "end_date",
    "start_signature_counter",
    "end_signature_counter",
    "maximum_number_records",
}


def _advance(state: SimState, export: Export) -> None:
    if export.state not in ("PENDING", "WORKING"):
        return
    age = time.monotonic() - export.requested_at
    if age >= PENDING_SECONDS and export.state == "PENDING":
        export.state = "WORKING"
        export.time_start = state.now()
    if age >= WORKING_SECONDS:
        records = select_logs(state, export)
        ceiling = state.limits.max_export_records
        limit = min(ceiling, int(export.params.get("maximum_number_records", ceiling)))
        if len(records) > limit:  # fiskaly: split the export by signature counter range
            export.state = "ERROR"
            export.exception = "E_TOO_MANY_RECORDS"
            export.time_error = state.now()
        else:
            export.state = "COMPLETED"
            export.time_end = state.now()
            export.time_expiration = export.time_end + EXPIRY_SECONDS
    if state.persist:
        state.persist.save_export(export)


def export_view(state: SimState, export: Export) -> dict[str, Any]:
    _advance(state, export)
    view: dict[str, Any] = {
        "_id": export.id,
        "_type": "EXPORT",
        "_env": export.env,
        "_version": "2.2.2",
        "tss_id": export.tss_id,
        "state": export.state,
        "time_request": export.time_request,
        "metadata": dict(export.metadata),
    }
    for name in ("time_start", "time_end", "time_error", "time_expiration", "exception"):
        value = getattr(export, name)
        if value is not None:
            view[name] = value
    if export.state in ("PENDING", "WORKING"):
        view["estimated_time_of_completion"] = export.time_request + 1
    return view


def _int_param(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise SimError(400, "E_PARAMETER_MISMATCH", f"{name} must be digits, got {value!r}")
    return int(value)


def select_logs(state: SimState, export: Export) -> list[LogEntry]:
    params = export.params
    logs = state.logs.get(export.tss_id, [])
    if "client_id" in params:
        return [e for e in logs if e.client_id == params["client_id"]]
    number = _int_param(params, "transaction_number")
    start_no = _int_param(params, "start_transaction_number")
    end_no = _int_param(params, "end_transaction_number")
    start_date = _int_param(params, "start_date")
    end_date = _int_param(params, "end_date")
    start_sig = _int_param(params, "start_signature_counter")
    end_sig = _int_param(params, "end_signature_counter")
    selected = []
    for entry in logs:
        if number is not None and entry.tx_number != number:
            continue
        if start_no is not None and (entry.tx_number is None or entry.tx_number < start_no):
            continue
        if end_no is not None and (entry.tx_number is None or entry.tx_number > end_no):
            continue
        if start_date is not None and entry.log_time < start_date:
            continue
        if end_date is not None and entry.log_time > end_date:
            continue
        if start_sig is not None and entry.counter < start_sig:
            continue
        if end_sig is not None and entry.counter > end_sig:
            continue
        selected.append(entry)
    return selected


def trigger(state: SimState, tss: Tss, export_id: str, params: dict[str, str]) -> dict[str, Any]:
    if tss.state in ("DELETED", "EVICTED"):
        raise SimError(423, f"E_TSS_{tss.state}", f"The TSS is {tss.state.lower()}")
    if tss.state not in ("INITIALIZED", "DISABLED", "DEFECTIVE"):
        raise SimError(
            409, "E_TSS_ILLEGAL_STATE_TO_PERFORM_EXPORT", f"no export in state {tss.state}"
        )
    unknown = set(params) - FILTERS
    if unknown:
        raise SimError(400, "E_PARAMETER_MISMATCH", f"unknown parameters {sorted(unknown)}")
    for name in FILTERS - {"client_id"}:
        _int_param(params, name)
    records = _int_param(params, "maximum_number_records")
    if records is not None and not 1 <= records <= MAX_EXPORT_RECORDS:
        raise SimError(400, "E_PARAMETER_MISMATCH", "maximum_number_records 1..1000000")
    exports = state.exports.setdefault(tss.id, {})
    if export_id in exports:
        raise SimError(400, "E_DUPLICATE_EXPORT", f"export {export_id} already exists")
    running = [e for e in exports.values() if e.state in ("PENDING", "WORKING")]
    for other in running:
        _advance(state, other)
    running = [e for e in exports.values() if e.state in ("PENDING", "WORKING")]
    if any(e.params == params for e in running):
        raise SimError(
            409, "E_EXPORT_DUPLICATE_RATE_LIMITED", "an export with these parameters is running"
        )
    if len(running) >= MAX_EXPORTS_RUNNING:
        raise SimError(409, "E_TOO_MANY_EXPORTS", "at most 10 exports may run per TSS")
    if "client_id" in params:
        client = state.clients.get(params["client_id"].lower())
        if client is None or client.tss_id != tss.id:  # a client of this TSS
            raise SimError(400, "E_CLIENT_NOT_FOUND", f"client {params['client_id']} not found")
    number = _int_param(params, "transaction_number")
    if number is not None and not any(
        tx.number == number for tx in state.txs.get(tss.id, {}).values()
    ):
        raise SimError(400, "E_TX_NOT_FOUND", f"transaction number {number} not found")
    export = Export(export_id, tss.id, tss.env, state.now(), dict(params), time.monotonic())
    exports[export_id] = export
    if state.persist:
        state.persist.save_export(export)
    return export_view(state, export)


def find_export(state: SimState, tss: Tss, export_id: str) -> Export:
    export = state.exports.get(tss.id, {}).get(export_id)
    if export is None:
        raise SimError(404, "E_EXPORT_NOT_FOUND", f"export {export_id} not found")
    return export


def rate_limit_poll(export: Export) -> None:
    now = time.monotonic()
    export.polls[:] = [t for t in export.polls if now - t < 60]
    if len(export.polls) >= EXPORT_POLLS_PER_MINUTE:
        raise SimError(429, None, "too many requests for this export", retry_after=60)
    export.polls.append(now)


def cancel(state: SimState, export: Export) -> dict[str, Any]:
    _advance(state, export)
    if export.state not in ("PENDING", "WORKING"):
        raise SimError(400, "E_CANCEL_EXPORT", f"cannot cancel an export in state {export.state}")
    export.state = "CANCELLED"
    if state.persist:
        state.persist.save_export(export)
    return export_view(state, export)


def _log_file(entry: LogEntry) -> bytes:
    body = entry.data + b"\x04\x40" + entry.signature
    length = len(body)
    if length < 0x80:
        header = bytes([0x30, length])
    else:
        size = (length.bit_length() + 7) // 8
        header = bytes([0x30, 0x80 | size]) + length.to_bytes(size, "big")
    return header + body


def tar_file(state: SimState, tss: Tss, export: Export) -> bytes:
    _advance(state, export)
    if export.state != "COMPLETED":
        raise SimError(404, "E_EXPORT_NOT_COMPLETED", f"export is {export.state}", retry_after=60)
    buffer = io.BytesIO()
    mtime = export.time_end or state.now()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:

        def add(name: str, payload: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mtime = mtime
            info.mode = 0o644
            if len(name) > 99:
                tar.format = tarfile.PAX_FORMAT  # BSI-accepted for long client serials
            tar.addfile(info, io.BytesIO(payload))

        for entry in select_logs(state, export):
            add(entry.file_name, _log_file(entry))
        for der in (base64.b64decode(tss.certificate), state.ca.certificate):
            add(f"{certificate_key_hash(der)}_X509.cer", der)
        add("info.csv", info_csv(tss).encode())
    return buffer.getvalue()


MANUFACTURER = "tsed simulator"
COMPONENTS = (
    "security module (CSP, SMAERS)",
    "storage",
    "export interface (TR-03151 TAR)",
)


def info_csv(tss: Tss) -> str:
    """``info.csv``: the TSE line, then one line per component (LF line endings)."""
    version = f"fiskaly SIGN DE V2 simulator {API_VERSION}"
    rows = [(tss.description or "", MANUFACTURER, version)]
    rows += [(component, MANUFACTURER, version) for component in COMPONENTS]
    return "".join(
        f'"description:","{d}","manufacturer:","{m}","version:","{v}"\n' for d, m, v in rows
    )


def certificate_key_hash(der: bytes) -> str:
    """The file name stem of a certificate in a TAR: hex SHA-256 of its EC public key point."""
    key = x509.load_der_x509_certificate(der).public_key()
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return hashlib.sha256(point).hexdigest()
