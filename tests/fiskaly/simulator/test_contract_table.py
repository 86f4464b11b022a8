"""The simulator's answers checked against the facts of fiskaly's published contract
(``contract_facts``): every response kind for its required fields, types and values, and a
table of error cases for status and code. A later change that drifts from the contract fails
here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.fiskaly.simulator import contract_facts as facts
from tests.fiskaly.simulator.conftest import PIN, RECEIPT, Api
from tsed.fiskaly.simulator import Simulator

_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    facts.STRING: lambda v: isinstance(v, str),
    facts.INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
    facts.NUMBER: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    facts.OBJECT: lambda v: isinstance(v, dict),
    facts.ARRAY: lambda v: isinstance(v, list),
    facts.BIGINT: lambda v: isinstance(v, str) and v.isdigit(),
    facts.COUNTER: lambda v: (
        (isinstance(v, str) and v.isdigit()) or (isinstance(v, int) and not isinstance(v, bool))
    ),
}


def problems(data: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """What in ``data`` breaks ``schema`` (a table entry of ``contract_facts``)."""
    if not isinstance(data, dict):
        return [f"{where or 'answer'} is not an object"]
    found = [f"{where}{key} missing" for key in schema.get("required", []) if key not in data]
    found += [f"{where}{key} present" for key in schema.get("absent", []) if key in data]
    for key, kind in schema.get("types", {}).items():
        if key in data and not _JSON_TYPES[kind](data[key]):
            found.append(f"{where}{key}={data[key]!r} is not {kind}")
    for key, allowed in schema.get("enums", {}).items():
        if key in data and data[key] not in allowed:
            found.append(f"{where}{key}={data[key]!r} not in {allowed}")
    for key, sub in schema.get("nested", {}).items():
        if key in data:
            found += problems(data[key], sub, f"{where}{key}.")
    return found


Answers = dict[str, list[Any]]


async def _collect(sim: Simulator, api: Api) -> Answers:
    """One run through every operation, each answer filed under its contract schema."""
    seen: Answers = {name: [] for name in facts.RESPONSES}

    async def ok(kind: str, method: str, path: str, body: Any = None, **params: Any) -> Any:
        data = await api.ok(method, path, body, **params)
        seen[kind].append(data)
        return data

    seen["AuthenticationResponse"].append(await api.auth())
    tss_id = str(uuid.uuid4())
    created = await ok("CreateTssResponse", "PUT", f"/tss/{tss_id}", {"metadata": {"a": "b"}})
    await ok("RetrieveTssResponse", "GET", f"/tss/{tss_id}")
    await ok("UpdateTssResponse", "PATCH", f"/tss/{tss_id}", {"state": "UNINITIALIZED"})
    await api.ok(
        "PATCH", f"/tss/{tss_id}/admin", {"admin_puk": created["admin_puk"], "new_admin_pin": PIN}
    )
    await api.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})
    await ok("UpdateTssResponse", "PATCH", f"/tss/{tss_id}", {"state": "INITIALIZED"})
    await ok("RetrieveTssResponse", "GET", f"/tss/{tss_id}")
    client_id = str(uuid.uuid4())
    path = f"/tss/{tss_id}/client/{client_id}"
    await ok("CreateClientResponse", "PUT", path, {"serial_number": "ERS contract"})
    await ok("ClientResponse", "GET", path)
    await ok("ClientResponse", "PATCH", path, {"state": "REGISTERED", "metadata": {"k": "v"}})
    tx = f"/tss/{tss_id}/tx/{uuid.uuid4()}"
    body = {"state": "ACTIVE", "client_id": client_id}
    await ok("TxResponse", "PUT", tx, body, tx_revision=1)
    update = {**body, "schema": {"standard_v1": {"receipt": RECEIPT}}}
    await ok("TxResponse", "PUT", tx, update, tx_revision=2)
    await ok("TxResponse", "PUT", tx, {**update, "state": "FINISHED"}, tx_revision=3)
    await ok("TxResponse", "GET", tx)
    await ok("TxResponse", "GET", tx, tx_revision=1)
    cancelled = f"/tss/{tss_id}/tx/{uuid.uuid4()}"
    await ok("TxResponse", "PUT", cancelled, body, tx_revision=1)
    cancel = {**body, "state": "CANCELLED",
              "schema": {"standard_v1": {"receipt": {"receipt_type": "CANCELLATION",
                                                     "amounts_per_vat_rate": []}}}}  # fmt: skip
    await ok("TxResponse", "PUT", cancelled, cancel, tx_revision=2)
    sim.faults.update({"pending_tx": 2})
    pending = f"/tss/{tss_id}/tx/{uuid.uuid4()}"
    await ok("MiddlewarePendingTxResponse", "PUT", pending, body, tx_revision=1)
    await ok("MiddlewarePendingTxResponse", "GET", pending)
    await ok("TxResponse", "GET", pending)
    export = f"/tss/{tss_id}/export/{uuid.uuid4()}"
    await ok("ExportResponse", "PUT", export, {})
    await ok("ExportResponse", "GET", export)
    await ok("ExportResponse", "DELETE", export)
    lists = [
        ("ListTssResponse", "RetrieveTssResponse", "/tss"),
        ("ClientListResponse", "ClientResponse", f"/tss/{tss_id}/client"),
        ("TxListResponse", "TxResponse", f"/tss/{tss_id}/tx"),
        ("TxListResponse", "TxResponse", f"/tss/{tss_id}/client/{client_id}/tx"),
        ("TxListResponse", "TxResponse", "/tx"),
        ("ExportListResponse", "ExportResponse", f"/tss/{tss_id}/export"),
        ("ExportListResponse", "ExportResponse", "/export"),
    ]
    for list_kind, item_kind, list_path in lists:
        listed = await ok(list_kind, "GET", list_path)
        seen[item_kind].extend(listed["data"])
    await api.ok("PATCH", f"/tss/{tss_id}", {"state": "DISABLED"})
    return seen


async def test_every_answer_has_the_contracts_fields_types_and_values(
    sim: Simulator, api: Api
) -> None:
    seen = await _collect(sim, api)
    for kind, schema in facts.RESPONSES.items():
        if kind == "ErrorResponse":
            continue
        assert seen[kind], f"no {kind} was looked at"
        for number, answer in enumerate(seen[kind]):
            assert not problems(answer, schema), (kind, number, problems(answer, schema))


def test_the_checker_finds_what_drifts() -> None:
    schema = facts.RESPONSES["TxResponse"]
    assert problems({}, schema)  # nothing required is there
    good = {"log": {"operation": "Finish", "timestamp": 1, "timestamp_format": "unixTime"}}
    assert "log.operation='Sign' not in ['Start', 'Update', 'Finish']" in problems(
        {"log": {**good["log"], "operation": "Sign"}}, schema
    )
    assert "signature.counter='x' is not string-or-number" in problems(
        {"signature": {"counter": "x"}}, schema
    )


# -- errors -------------------------------------------------------------------------------------

Provoke = Callable[[Simulator, Api, dict[str, str]], Awaitable[httpx.Response]]


async def _setup(sim: Simulator, api: Api) -> dict[str, str]:
    tss_id, client_id = await api.setup_tss()
    return {"tss": tss_id, "client": client_id}


def _call(method: str, path: str, body: Any = None, **params: Any) -> Provoke:
    async def provoke(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
        fresh = str(uuid.uuid4())
        return await api.call(
            method, path.format(new=fresh, **ids), body, **{k: v for k, v in params.items()}
        )

    return provoke


async def _foreign_tss(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
    other = Api(api.http, sim.add_api_key("TEST"))
    await other.auth()
    return await other.call("GET", f"/tss/{ids['tss']}")


async def _file_too_early(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
    export = f"/tss/{ids['tss']}/export/{uuid.uuid4()}"
    await api.ok("PUT", export, {})
    return await api.call("GET", export + "/file")


async def _duplicate_export(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
    await api.ok("PUT", f"/tss/{ids['tss']}/export/{uuid.uuid4()}", {})
    return await api.call("PUT", f"/tss/{ids['tss']}/export/{uuid.uuid4()}", {})


async def _locked(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
    sim.faults.update({"tss_locked": True})
    return await api.call("GET", f"/tss/{ids['tss']}")


async def _defective(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
    sim.set_tss_state(ids["tss"], "DEFECTIVE")
    body = {"state": "ACTIVE", "client_id": ids["client"]}
    return await api.call("PUT", f"/tss/{ids['tss']}/tx/{uuid.uuid4()}", body, tx_revision=1)


async def _deregistered(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
    sim.state.clients[ids["client"]].state = "DEREGISTERED"
    body = {"state": "ACTIVE", "client_id": ids["client"]}
    return await api.call("PUT", f"/tss/{ids['tss']}/tx/{uuid.uuid4()}", body, tx_revision=1)


async def _pin_blocked(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
    tss_id = str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}", {})
    await api.ok("PATCH", f"/tss/{tss_id}", {"state": "UNINITIALIZED"})
    return await api.call("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})


async def _wrong_puk(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
    body = {"admin_puk": "0000000000", "new_admin_pin": "654321"}
    return await api.call("PATCH", f"/tss/{ids['tss']}/admin", body)


async def _tss_conflict(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
    return await api.call("PUT", f"/tss/{ids['tss']}", {})


async def _client_conflict(sim: Simulator, api: Api, ids: dict[str, str]) -> httpx.Response:
    await api.ok("POST", f"/tss/{ids['tss']}/admin/auth", {"admin_pin": PIN})
    return await api.call(
        "PUT", f"/tss/{ids['tss']}/client/{ids['client']}", {"serial_number": "ERS other"}
    )


_TX = "/tss/{tss}/tx/{new}"
_START = {"state": "ACTIVE", "client_id": "{client}"}

ERROR_CASES: list[tuple[str, Provoke, int, str | None]] = [
    ("unknown TSS", _call("GET", "/tss/{new}"), 404, "E_TSS_NOT_FOUND"),
    ("unknown client", _call("GET", "/tss/{tss}/client/{new}"), 404, "E_CLIENT_NOT_FOUND"),
    ("unknown transaction", _call("GET", _TX), 404, "E_TX_NOT_FOUND"),
    ("unknown export", _call("GET", "/tss/{tss}/export/{new}"), 404, "E_EXPORT_NOT_FOUND"),
    ("another organization's TSS", _foreign_tss, 403, "E_ACCESS_DENIED"),
    ("updateTss without state", _call("PATCH", "/tss/{tss}", {"description": "x"}), 400,
     "E_FAILED_SCHEMA_VALIDATION"),
    ("updateTss with another property",
     _call("PATCH", "/tss/{tss}", {"state": "INITIALIZED", "colour": "red"}), 400,
     "E_FAILED_SCHEMA_VALIDATION"),
    ("updateTss with an illegal transition", _call("PATCH", "/tss/{tss}", {"state":
     "UNINITIALIZED"}), 400, "E_ILLEGAL_TSS_STATE_CHANGE"),
    ("tx_revision 0", _call("PUT", _TX, _START, tx_revision=0), 400,
     "E_FAILED_SCHEMA_VALIDATION"),
    ("41 metadata keys", _call("PATCH", "/tss/{tss}/metadata", {f"k{i}": "v" for i in range(41)}),
     400, "E_FAILED_SCHEMA_VALIDATION"),
    ("export file before completion", _file_too_early, 404, "E_EXPORT_NOT_COMPLETED"),
    ("second identical export", _duplicate_export, 409, "E_EXPORT_DUPLICATE_RATE_LIMITED"),
    ("TSS locked", _locked, 503, "E_TSS_LOCKED"),
    ("TSS defective", _defective, 423, "E_TSS_DEFECTIVE"),
    ("admin PIN never set", _pin_blocked, 423, "E_ADMIN_PIN_BLOCKED"),
    ("wrong PUK", _wrong_puk, 400, "E_CHANGE_ADMIN_PIN_FAILED"),
    ("TSS created again after CREATED", _tss_conflict, 409, "E_TSS_CONFLICT"),
    ("client id with another serial", _client_conflict, 409, "E_CLIENT_CONFLICT"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("provoke", "status", "code"),
    [pytest.param(p, s, c, id=name) for name, p, s, c in ERROR_CASES],
)
async def test_errors_carry_the_contracts_status_and_code(
    sim: Simulator, api: Api, provoke: Provoke, status: int, code: str | None
) -> None:
    ids = await _setup(sim, api)
    ids_for_format = {k: v for k, v in ids.items()}
    response = await provoke(sim, api, ids_for_format)
    assert response.status_code == status, response.text
    body = response.json()
    assert not problems(body, facts.RESPONSES["ErrorResponse"]), body
    assert body["status_code"] == status and body.get("code") == code
    if code in facts.ERROR_STATUS and code not in ("E_CLIENT_NOT_FOUND", "E_TX_NOT_FOUND"):
        assert facts.ERROR_STATUS[code] == status
    assert body["error"] == httpx.codes.get_reason_phrase(status) or status >= 432


async def test_a_deregistered_client_answers_a_documented_status(sim: Simulator, api: Api) -> None:
    ids = await _setup(sim, api)
    response = await _deregistered(sim, api, ids)
    assert response.status_code in facts.CLIENT_DEREGISTERED_STATUSES
    assert response.json()["code"] == "E_CLIENT_DEREGISTERED"


async def test_the_export_file_too_early_says_when_to_come_back(sim: Simulator, api: Api) -> None:
    ids = await _setup(sim, api)
    response = await _file_too_early(sim, api, ids)
    assert response.status_code == 404 and response.headers.get("Retry-After") == "60"


def test_the_description_pattern_is_the_contracts() -> None:
    from tsed.fiskaly.simulator.app import TSS_DESCRIPTION_RE

    contract = re.compile(facts.UPDATE_TSS["description_pattern"])
    for text in ["Kasse 1", "bad_desc_ü", "a" * 100, "a" * 101, "x;y", "(1+2)=3?", "a/b:c,d.e"]:
        assert bool(contract.match(text)) == bool(TSS_DESCRIPTION_RE.fullmatch(text)), text
