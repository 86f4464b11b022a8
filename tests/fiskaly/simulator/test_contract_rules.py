"""Where the simulator used to be kinder than fiskaly: updateTss, metadata, triggerExport,
listClientTransactions, DSFinV-TW, the TEST TSS limit, export size and retention."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fiskaly.simulator.conftest import Api
from tests.fiskaly.simulator.test_conformance import _err
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.simulator.model import LIST_TX_PER_MINUTE

# -- updateTss ----------------------------------------------------------------------------------


async def test_update_tss_requires_state(api: Api) -> None:
    tss_id, _ = await api.setup_tss()
    only_metadata = await api.call("PATCH", f"/tss/{tss_id}", {"metadata": {"a": "b"}})
    _err(only_metadata, 400, "E_FAILED_SCHEMA_VALIDATION")
    assert "state" in only_metadata.json()["message"]
    extra = await api.call("PATCH", f"/tss/{tss_id}", {"state": "INITIALIZED", "x": 1})
    _err(extra, 400, "E_FAILED_SCHEMA_VALIDATION")


@pytest.mark.parametrize("description", ["bad_desc_ü", "a" * 101, "Kasse\n1", "x;y"])
async def test_update_tss_checks_the_description_pattern(api: Api, description) -> None:
    tss_id = str(uuid.uuid4())
    created = await api.ok("PUT", f"/tss/{tss_id}", {})
    await api.ok("PATCH", f"/tss/{tss_id}", {"state": "UNINITIALIZED"})
    await api.ok(
        "PATCH", f"/tss/{tss_id}/admin",
        {"admin_puk": created["admin_puk"], "new_admin_pin": "123456"},
    )  # fmt: skip
    await api.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": "123456"})
    bad = await api.call(
        "PATCH", f"/tss/{tss_id}", {"state": "INITIALIZED", "description": description}
    )
    _err(bad, 400, "E_FAILED_SCHEMA_VALIDATION")
    good = "Kasse 1 (Filiale: Nord), Tel. +49/30-1234?='"
    done = await api.ok("PATCH", f"/tss/{tss_id}", {"state": "INITIALIZED", "description": good})
    assert done["description"] == good


# -- metadata -----------------------------------------------------------------------------------


async def test_client_metadata_merges_and_null_removes(api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    path = f"/tss/{tss_id}/client/{client_id}/metadata"
    assert await api.ok("PATCH", path, {"a": "1", "b": "2"}) == {"a": "1", "b": "2"}
    assert await api.ok("PATCH", path, {"a": None, "b": "", "c": "3"}) == {"b": "", "c": "3"}
    assert await api.ok("GET", path) == {"b": "", "c": "3"}
    client = await api.ok("GET", f"/tss/{tss_id}/client/{client_id}")
    assert client["metadata"] == {"b": "", "c": "3"}
    _err(await api.call("PATCH", path, {"a": 1}), 400, "E_FAILED_SCHEMA_VALIDATION")
    _err(await api.call("PATCH", path, {f"k{i}": "v" for i in range(41)}), 400, None)
    unknown = await api.call("GET", f"/tss/{tss_id}/client/{uuid.uuid4()}/metadata")
    _err(unknown, 404, "E_CLIENT_NOT_FOUND")


async def test_export_metadata_can_be_read_and_patched(api: Api) -> None:
    tss_id, _ = await api.setup_tss()
    export_id = str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}/export/{export_id}", {})
    path = f"/tss/{tss_id}/export/{export_id}/metadata"
    assert await api.ok("GET", path) == {}
    assert await api.ok("PATCH", path, {"archive": "2026-12"}) == {"archive": "2026-12"}
    _err(await api.call("GET", f"/tss/{tss_id}/export/{uuid.uuid4()}/metadata"), 404, None)


# -- triggerExport, listClientTransactions -------------------------------------------------------


async def test_trigger_export_checks_transaction_number_and_client(api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    await api.sale(tss_id, client_id)
    unknown_tx = await api.call(
        "PUT", f"/tss/{tss_id}/export/{uuid.uuid4()}", {}, transaction_number="99"
    )
    _err(unknown_tx, 400, "E_TX_NOT_FOUND")
    other_tss, other_client = await api.setup_tss()
    foreign = await api.call(
        "PUT", f"/tss/{tss_id}/export/{uuid.uuid4()}", {}, client_id=other_client
    )
    _err(foreign, 400, "E_CLIENT_NOT_FOUND")
    await api.ok("PUT", f"/tss/{tss_id}/export/{uuid.uuid4()}", {}, transaction_number="1")
    await api.ok("PUT", f"/tss/{other_tss}/export/{uuid.uuid4()}", {}, client_id=other_client)


async def test_list_client_transactions_knows_its_clients_and_has_no_rate_limit(
    api: Api,
) -> None:
    tss_id, client_id = await api.setup_tss()
    await api.sale(tss_id, client_id)
    unknown = await api.call("GET", f"/tss/{tss_id}/client/{uuid.uuid4()}/tx")
    _err(unknown, 404, "E_CLIENT_NOT_FOUND")
    for _ in range(LIST_TX_PER_MINUTE + 2):
        listed = await api.ok("GET", f"/tss/{tss_id}/client/{client_id}/tx")
        assert listed["count"] == 1
    for _ in range(LIST_TX_PER_MINUTE):
        await api.ok("GET", f"/tss/{tss_id}/tx")
    _err(await api.call("GET", f"/tss/{tss_id}/tx"), 429, None)


# -- DSFinV-TW ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("process", "content", "process_type"),
    [
        ("power_up", {}, "Einschalten-V1"),
        ("power_off", {}, "Ausschalten-V1"),
        ("driver_status", {"type": "LOGON", "driver_id": "F-17"}, "Fahrer-V1"),
        ("empty_trip", {"kilometer_reading": "1234.567"}, "Frei-V1"),
        ("break", {"kilometer_reading": "1234.567"}, "Pause-V1"),
        ("other", "Tankstopp", "SonstigerVorgangTW"),
    ],
)
async def test_dsfinv_tw_process_types_as_the_contract_names_them(
    api: Api, process, content, process_type
) -> None:
    tss_id, client_id = await api.setup_tss()
    tx = str(uuid.uuid4())
    path = f"/tss/{tss_id}/tx/{tx}"
    await api.ok("PUT", path, {"state": "ACTIVE", "client_id": client_id}, tx_revision=1)
    body = {"state": "FINISHED", "client_id": client_id,
            "schema": {"dsfinvtw_v1": {process: content}}}  # fmt: skip
    done = await api.ok("PUT", path, body, tx_revision=2)
    assert done["schema"]["raw"]["process_type"] == process_type
    base64.b64decode(done["schema"]["raw"]["process_data"], validate=True)


async def test_dsfinv_tw_transactions_are_only_started_and_finished(api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    schema = {"dsfinvtw_v1": {"power_up": {}}}
    for state in ("ACTIVE", "CANCELLED"):
        tx = str(uuid.uuid4())
        path = f"/tss/{tss_id}/tx/{tx}"
        await api.ok("PUT", path, {"state": "ACTIVE", "client_id": client_id}, tx_revision=1)
        refused = await api.call(
            "PUT", path, {"state": state, "client_id": client_id, "schema": schema}, tx_revision=2
        )
        _err(refused, 400, "E_TX_UPSERT")
    unknown = await api.call(
        "PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}",
        {"state": "ACTIVE", "client_id": client_id, "schema": {"dsfinvtw_v1": {"taxi": {}}}},
        tx_revision=1,
    )  # fmt: skip
    _err(unknown, 400, "E_FAILED_SCHEMA_VALIDATION")


# -- the TEST TSS limit, export size -------------------------------------------------------------


async def test_the_five_tss_limit_counts_test_tss_only(sim: Simulator, server) -> None:
    sim.limits.max_test_tss = 1
    test = sim.add_api_key("TEST")
    live = sim.add_api_key("LIVE", organization_id=test.organization_id)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
        live_api, test_api = Api(http, live), Api(http, test)
        await live_api.auth()
        await test_api.auth()
        await live_api.ok("PUT", f"/tss/{uuid.uuid4()}", {})
        await live_api.ok("PUT", f"/tss/{uuid.uuid4()}", {})  # LIVE has no such limit
        await test_api.ok("PUT", f"/tss/{uuid.uuid4()}", {})  # LIVE TSS do not count
        again = await test_api.call("PUT", f"/tss/{uuid.uuid4()}", {})
        _err(again, 403, "E_TSS_LIMIT_REACHED")


async def _finished(api: Api, tss_id: str, export_id: str) -> dict:
    for _ in range(10):  # bounded; below the 12 reads per minute of retrieveExport
        await asyncio.sleep(0.1)
        export = await api.ok("GET", f"/tss/{tss_id}/export/{export_id}")
        if export["state"] not in ("PENDING", "WORKING"):
            return dict(export)
    raise AssertionError("the export did not finish")


async def test_an_export_over_the_record_limit_is_refused(sim: Simulator, api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    await api.sale(tss_id, client_id)
    logs = sim.state.logs[tss_id]  # every signed log of the TSS
    sim.limits.max_export_records = len(logs) - 1  # a test can reach fiskaly's 1 000 000
    too_big = str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}/export/{too_big}", {})
    refused = await _finished(api, tss_id, too_big)
    assert refused["state"] == "ERROR" and refused["exception"] == "E_TOO_MANY_RECORDS"
    split = str(uuid.uuid4())
    await api.ok(
        "PUT", f"/tss/{tss_id}/export/{split}", {}, end_signature_counter=str(logs[1].counter)
    )
    assert (await _finished(api, tss_id, split))["state"] == "COMPLETED"


async def test_a_second_identical_export_while_one_runs_is_rate_limited(api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    await api.sale(tss_id, client_id)
    await api.ok("PUT", f"/tss/{tss_id}/export/{uuid.uuid4()}", {}, transaction_number="1")
    second = await api.call(
        "PUT", f"/tss/{tss_id}/export/{uuid.uuid4()}", {}, transaction_number="1"
    )
    _err(second, 409, "E_EXPORT_DUPLICATE_RATE_LIMITED")


# -- retention ----------------------------------------------------------------------------------


@pytest.fixture
async def aging() -> AsyncIterator[tuple[Simulator, SimulatorServer, list[float]]]:
    now = [time.time()]
    sim = Simulator(clock=lambda: now[0])
    server = SimulatorServer(sim)
    await server.start()
    yield sim, server, now
    await server.stop()
    sim.close()


async def test_after_the_retention_old_transactions_and_exports_are_gone(aging) -> None:
    sim, server, now = aging
    sim.limits.retention_seconds = 90 * 86400
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
        api = Api(http, sim.add_api_key("TEST"))
        await api.auth()
        tss_id, client_id = await api.setup_tss()
        old = await api.sale(tss_id, client_id)
        export_id = str(uuid.uuid4())
        await api.ok("PUT", f"/tss/{tss_id}/export/{export_id}", {})
        now[0] += 91 * 86400
        await api.auth()  # the token of three months ago has expired meanwhile
        fresh = await api.sale(tss_id, client_id)
        gone = await api.call("GET", f"/tss/{tss_id}/tx/{old['_id']}")
        _err(gone, 404, "E_TX_NOT_FOUND")
        _err(await api.call("GET", f"/tss/{tss_id}/export/{export_id}"), 404, None)
        listed = await api.ok("GET", f"/tss/{tss_id}/tx")
        assert [t["_id"] for t in listed["data"]] == [fresh["_id"]]
        assert (await api.ok("GET", f"/tss/{tss_id}"))["state"] == "INITIALIZED"


async def test_without_a_retention_nothing_is_forgotten(aging) -> None:
    sim, server, now = aging
    assert sim.limits.retention_seconds is None  # the embedded default
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
        api = Api(http, sim.add_api_key("TEST"))
        await api.auth()
        tss_id, client_id = await api.setup_tss()
        old = await api.sale(tss_id, client_id)
        now[0] += 3650 * 86400
        await api.auth()
        assert (await api.ok("GET", f"/tss/{tss_id}/tx/{old['_id']}"))["state"] == "FINISHED"
