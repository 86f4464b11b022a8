"""fiskaly's Postman "Standard scenario" (collection "Sign API v2"), all 41 steps, over real
HTTP against the simulator.

Our own transcription of the steps (method, path, body shape, expected status and the fields
the collection's test scripts check), taken from the collection fiskaly publishes with its
SIGN DE V2 documentation (vendored by public client libraries, e.g.
``fiskaly-kassensichv-v2.postman_collection.json``). Checks marked ``# contract`` are not in
the collection: they pin what the published contract says about the same answer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fiskaly.simulator.conftest import Api

PIN = "1234567890"  # the collection's admin PIN
SALE = {
    "standard_v1": {
        "receipt": {
            "receipt_type": "RECEIPT",
            "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "21.42"}],
            "amounts_per_payment_type": [{"payment_type": "NON_CASH", "amount": "21.42"}],
        }
    }
}
PROCESS_DATA = "QmVsZWdeMjEuNDJfMC4wMF8wLjAwXzAuMDBfMC4wMF4yMS40MjpVbmJhcg=="

Check = Callable[[Any, dict[str, str]], None]


@dataclass(frozen=True)
class Step:
    name: str
    method: str
    path: str  # {tss}, {client}, {client2}, {tx}, {export} from earlier steps; {new} a fresh UUID
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)
    save: dict[str, str] = field(default_factory=dict)  # variable ← field of the answer
    check: Check | None = None
    binary: bool = False


def _tss_common(d: Any) -> None:
    assert d["signature_algorithm"] == "ecdsa-plain-SHA256"
    assert d["signature_timestamp_format"] == "unixTime"
    assert d["transaction_data_encoding"] == "UTF-8"
    assert d["max_number_registered_clients"] == 199
    assert d["max_number_active_transactions"] == 2000
    assert d["supported_update_variants"] == "SIGNED"
    assert "bsi_certification_id" in d
    assert d["_type"] == "TSS" and d["_env"] == "TEST" and d["time_creation"] > 0


def _personalized(d: Any, v: dict[str, str]) -> None:
    assert d["state"] == "UNINITIALIZED" and d["time_uninit"] > 0
    assert "time_init" not in d and "time_disable" not in d and "bsi_certification_id" in d


def _initialized(d: Any, v: dict[str, str]) -> None:
    assert d["state"] == "INITIALIZED" and d["time_uninit"] > 0 and d["time_init"] > 0
    assert "time_disable" not in d and "bsi_certification_id" in d


def _retrieved_tss(d: Any, v: dict[str, str]) -> None:
    _initialized(d, v)
    _tss_common(d)
    assert d["metadata"]["custom_field"] == "custom_value"
    assert d["_id"] == v["tss"] and "fiskaly sign cloud-TSE" in d["description"]
    assert d["signature_counter"] != "0"


def _list_tss(d: Any, v: dict[str, str]) -> None:
    for item in d["data"]:
        _tss_common(item)
    assert d["count"] > 0 and d["_type"] == "TSS_LIST" and d["_env"] == "TEST"


def _metadata_is(expected: dict[str, str]) -> Check:
    def check(d: Any, v: dict[str, str]) -> None:
        for key, value in expected.items():
            assert d.get(key) == value, (key, d)

    return check


def _after_null_and_empty(d: Any, v: dict[str, str]) -> None:
    assert "custom_field" not in d  # contract: null removes the key
    assert d["custom_field2"] == ""  # contract: "" is a value like any other


def _retrieved_client(d: Any, v: dict[str, str]) -> None:
    assert d["state"] == "REGISTERED" and d["metadata"]["custom_field"] == "custom_value_2"
    assert d["_id"] == v["client"] and d["_type"] == "CLIENT" and d["_env"] == "TEST"
    assert d["time_creation"] > 0 and d["time_update"] > 0


def _list_clients(d: Any, v: dict[str, str]) -> None:
    assert d["data"]
    for item in d["data"]:
        assert item["_type"] == "CLIENT" and item["time_creation"] > 0
        assert item["time_update"] > 0


def _finished_tx(d: Any, v: dict[str, str]) -> None:
    assert d["number"] >= 0 and d["time_start"] > 0 and d["client_id"] == v["client"]
    receipt = d["schema"]["standard_v1"]["receipt"]
    assert receipt["receipt_type"] == "RECEIPT"
    assert receipt["amounts_per_vat_rate"][0] == {"vat_rate": "NORMAL", "amount": "21.42"}
    payment = receipt["amounts_per_payment_type"][0]
    assert payment["payment_type"] == "NON_CASH" and payment["amount"] == "21.42"
    assert payment["currency_code"] == "EUR"
    assert d["schema"]["raw"] == {"process_type": "Kassenbeleg-V1", "process_data": PROCESS_DATA}
    assert d["revision"] == 3 and d["latest_revision"] == 3 and d["tss_id"] == v["tss"]
    assert d["log"]["operation"] == "Finish" and d["log"]["timestamp"] >= 0
    assert d["signature"]["algorithm"] == "ecdsa-plain-SHA256"
    assert d["_id"] == v["tx"] and d["_type"] == "TRANSACTION" and d["_env"] == "TEST"


def _tx_list(each: bool) -> Check:
    def check(d: Any, v: dict[str, str]) -> None:
        if each:
            for item in d["data"]:
                _finished_tx(item, v)
        assert d["count"] > 0 and d["_type"] == "TRANSACTION_LIST" and d["_env"] == "TEST"

    return check


def _disabled(d: Any, v: dict[str, str]) -> None:
    assert d["state"] == "DISABLED" and d["time_uninit"] > 0 and d["time_init"] > 0
    assert d["time_disable"] > 0 and "bsi_certification_id" in d


def _admin_auth() -> Step:
    return Step("Authenticate Admin", "POST", "/tss/{tss}/admin/auth", {"admin_pin": PIN})


def _metadata_read(check: Check | None = None) -> Step:
    return Step("Retrieve TSS Metadata", "GET", "/tss/{tss}/metadata", check=check)


STANDARD_SCENARIO: list[Step] = [
    Step("Authentication", "POST", "/auth"),
    Step("Create TSS", "PUT", "/tss/{new}", {"metadata": {"custom_field": "custom_value"}},
         save={"tss": "_id", "puk": "admin_puk"}),
    Step("Personalize TSS", "PATCH", "/tss/{tss}", {"state": "UNINITIALIZED"},
         check=_personalized),
    Step("Modify TSS Metadata", "PATCH", "/tss/{tss}/metadata",
         {"custom_field": "modified_custom_value", "custom_field2": "custom_value2"}),
    _metadata_read(_metadata_is({"custom_field": "modified_custom_value"})),  # contract
    Step("Set TSS Metadata to Null/Empty String", "PATCH", "/tss/{tss}/metadata",
         {"custom_field": None, "custom_field2": ""}),
    _metadata_read(_after_null_and_empty),
    Step("Input TSS Metadata Again", "PATCH", "/tss/{tss}/metadata",
         {"custom_field": "custom_value", "custom_field2": "custom_value2"}),
    _metadata_read(),
    Step("Changing Admin PIN", "PATCH", "/tss/{tss}/admin",
         {"admin_puk": "{puk}", "new_admin_pin": PIN}),
    _admin_auth(),
    Step("Initialize TSS", "PATCH", "/tss/{tss}", {"state": "INITIALIZED"}, check=_initialized),
    Step("Retrieve TSS", "GET", "/tss/{tss}", check=_retrieved_tss),
    _metadata_read(_metadata_is({"custom_field": "custom_value"})),
    Step("List of TSS", "GET", "/tss", check=_list_tss),
    Step("Create Client", "PUT", "/tss/{tss}/client/{new}",
         {"serial_number": "ERS {new}", "metadata": {"custom_field": "custom_value"}},
         save={"client": "_id"}),
    Step("Update Client", "PATCH", "/tss/{tss}/client/{client}",
         {"state": "REGISTERED", "metadata": {"custom_field": "custom_value_2"}}),
    _admin_auth(),
    Step("Register Client 2", "PUT", "/tss/{tss}/client/{new}",
         {"serial_number": "ERS {new}", "metadata": {"custom_field": "client 2"}},
         save={"client2": "_id"}),
    Step("Deregister Client 2", "PATCH", "/tss/{tss}/client/{client2}",
         {"state": "DEREGISTERED"}),
    Step("Register Client 2 again", "PATCH", "/tss/{tss}/client/{client2}",
         {"state": "REGISTERED"}),
    Step("Logout Admin", "POST", "/tss/{tss}/admin/logout", {}),
    _admin_auth(),
    Step("Retrieve Client", "GET", "/tss/{tss}/client/{client}", check=_retrieved_client),
    Step("List of Clients", "GET", "/tss/{tss}/client", check=_list_clients),
    Step("Start Transaction", "PUT", "/tss/{tss}/tx/{new}",
         {"state": "ACTIVE", "client_id": "{client}"}, {"tx_revision": "1"}, save={"tx": "_id"}),
    Step("Update Transaction", "PUT", "/tss/{tss}/tx/{tx}",
         {"schema": SALE, "state": "ACTIVE", "client_id": "{client}"}, {"tx_revision": "2"}),
    Step("Finish Transaction", "PUT", "/tss/{tss}/tx/{tx}",
         {"schema": SALE, "state": "FINISHED", "client_id": "{client}"}, {"tx_revision": "3"}),
    Step("Retrieve Transaction", "GET", "/tss/{tss}/tx/{tx}", check=_finished_tx),
    Step("List of Transactions", "GET", "/tss/{tss}/tx", check=_tx_list(each=True)),
    Step("List of All Transactions", "GET", "/tx", check=_tx_list(each=False)),
    Step("List Transactions of Client", "GET", "/tss/{tss}/client/{client}/tx",
         check=_tx_list(each=False)),
    Step("Trigger Export", "PUT", "/tss/{tss}/export/{new}", {}, save={"export": "_id"}),
    Step("Retrieve Export", "GET", "/tss/{tss}/export/{export}"),
    Step("List All Exports", "GET", "/export"),
    Step("List Exports of a TSS", "GET", "/tss/{tss}/export"),
    Step("Retrieve the export file", "GET", "/tss/{tss}/export/{export}/file", binary=True),
    Step("Retrieve metadata of an export", "GET", "/tss/{tss}/export/{export}/metadata"),
    Step("Update metadata of an export", "PATCH", "/tss/{tss}/export/{export}/metadata", {}),
    _admin_auth(),
    Step("Disable TSS", "PATCH", "/tss/{tss}", {"state": "DISABLED"}, check=_disabled),
]  # fmt: skip


def _fill(value: Any, variables: dict[str, str], fresh: str) -> Any:
    if isinstance(value, str):
        return value.replace("{new}", fresh).format(**variables) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, variables, fresh) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, variables, fresh) for v in value]
    return value


async def _wait_for_export(api: Api, variables: dict[str, str]) -> None:
    """The collection pauses 12 s after the trigger; the simulator's export completes sooner
    (a bounded number of reads, below the 12-per-minute limit of retrieveExport)."""
    path = _fill("/tss/{tss}/export/{export}", variables, "")
    for _ in range(8):
        await asyncio.sleep(0.15)
        if (await api.ok("GET", path))["state"] == "COMPLETED":
            return
    raise AssertionError("the export did not complete")


def test_the_transcription_has_all_41_steps() -> None:
    assert len(STANDARD_SCENARIO) == 41
    assert [s.name for s in STANDARD_SCENARIO].count("Authenticate Admin") == 4
    assert [s.name for s in STANDARD_SCENARIO].count("Retrieve TSS Metadata") == 4


async def test_the_standard_scenario_passes_every_step(api: Api) -> None:
    variables: dict[str, str] = {}
    for number, step in enumerate(STANDARD_SCENARIO, start=1):
        if step.path == "/auth":
            await api.auth()
            continue
        fresh = str(uuid.uuid4())
        path = _fill(step.path, variables, fresh)
        body = _fill(step.body, variables, fresh)
        response = await api.call(step.method, path, body, **step.params)
        assert response.status_code == 200, f"step {number} {step.name}: {response.text}"
        if step.binary:
            assert response.content[257:262] == b"ustar"  # a TAR file
            continue
        data = response.json()
        for name, key in step.save.items():
            variables[name] = data[key]
        if step.check is not None:
            step.check(data, variables)
        if step.name == "Trigger Export":
            await _wait_for_export(api, variables)
