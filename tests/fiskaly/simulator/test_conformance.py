"""Conformance of the simulator with the fiskaly reference, item by item of its §14 checklist.

Written from the reference (statuses, codes, fields), over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import uuid

import httpx
import pytest

from tests.fiskaly.simulator.conftest import PIN, RECEIPT, Api
from tsed.fiskaly.simulator import Limits, Simulator, SimulatorServer
from tsed.fiskaly.tr03151 import verify_qr_code


def _err(response: httpx.Response, status: int, code: str | None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"status_code", "error", "message"}
    assert body["status_code"] == status
    if code is not None:
        assert body["code"] == code
    return body


# -- auth -------------------------------------------------------------------------------------


async def test_auth_token_fields_and_env_claim(api: Api) -> None:
    body = await api.auth()
    assert body["access_token_claims"]["env"] == "TEST"
    assert body["access_token_expires_at"] > body["access_token_expires_in"] > 0
    assert body["refresh_token_expires_in"] > body["access_token_expires_in"]


async def test_auth_refresh_token_grant(api: Api) -> None:
    first = await api.auth()
    response = await api.http.post("/api/v2/auth", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    assert response.json()["access_token"]
    bad = await api.http.post("/api/v2/auth", json={"refresh_token": "nope"})
    _err(bad, 401, "E_UNAUTHORIZED")


async def test_auth_bad_credentials_and_missing_token(api: Api) -> None:
    bad = await api.http.post(
        "/api/v2/auth", json={"api_key": api.creds.api_key, "api_secret": "x" * 43}
    )
    _err(bad, 401, None)
    api.token = ""
    _err(await api.call("GET", "/tss"), 401, "E_UNAUTHORIZED")
    api.token = "garbage"
    _err(await api.call("GET", "/tss"), 401, "E_UNAUTHORIZED")


async def test_expired_token_is_refused() -> None:
    now = [1_700_000_000.0]
    sim = Simulator(token_ttl=60, clock=lambda: now[0])
    server = SimulatorServer(sim)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            api = Api(http, sim.add_api_key("TEST"))
            await api.auth()
            assert (await api.call("GET", "/tss")).status_code == 200
            now[0] += 61
            _err(await api.call("GET", "/tss"), 401, "E_UNAUTHORIZED")
    finally:
        await server.stop()
        sim.close()


# -- TSS --------------------------------------------------------------------------------------


async def test_tss_lifecycle_puk_pin_and_counters(api: Api) -> None:
    tss_id = str(uuid.uuid4())
    created = await api.ok("PUT", f"/tss/{tss_id}", {"metadata": {"shop": "1"}})
    assert created["state"] == "CREATED"
    assert len(created["admin_puk"]) >= 10
    public = base64.b64decode(created["public_key"])
    assert len(public) == 65 and public[0] == 4
    assert created["serial_number"] == hashlib.sha256(public).hexdigest()
    assert "signature_counter" not in created
    again = await api.ok("GET", f"/tss/{tss_id}")
    assert "admin_puk" not in again  # only in the create response
    # PIN is blocked until set with the PUK
    await api.ok("PATCH", f"/tss/{tss_id}", {"state": "UNINITIALIZED"})
    uninit = await api.ok("GET", f"/tss/{tss_id}")
    assert uninit["signature_counter"] == "24"
    assert "time_uninit" in uninit and "time_init" not in uninit
    blocked = await api.call("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})
    _err(blocked, 423, "E_ADMIN_PIN_BLOCKED")
    wrong_puk = await api.call(
        "PATCH", f"/tss/{tss_id}/admin", {"admin_puk": "0000000000", "new_admin_pin": PIN}
    )
    _err(wrong_puk, 400, "E_CHANGE_ADMIN_PIN_FAILED")
    await api.ok(
        "PATCH", f"/tss/{tss_id}/admin", {"admin_puk": created["admin_puk"], "new_admin_pin": PIN}
    )
    # INITIALIZED needs the admin login
    _err(await api.call("PATCH", f"/tss/{tss_id}", {"state": "INITIALIZED"}), 401, "E_UNAUTHORIZED")
    await api.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})
    init = await api.ok("PATCH", f"/tss/{tss_id}", {"state": "INITIALIZED"})
    assert init["state"] == "INITIALIZED"
    assert init["signature_counter"] == "27"  # PIN change, admin auth, init: one each
    assert init["description"].startswith("fiskaly sign cloud-TSE")
    assert init["max_number_registered_clients"] == 199
    assert init["max_number_active_transactions"] == 2000
    await api.ok("POST", f"/tss/{tss_id}/admin/logout", {})
    await api.ok("POST", f"/tss/{tss_id}/admin/logout", {})  # idempotent
    assert (await api.ok("GET", f"/tss/{tss_id}"))["signature_counter"] == "28"
    # illegal transitions
    _err(await api.call("PATCH", f"/tss/{tss_id}", {"state": "UNINITIALIZED"}), 400,
         "E_ILLEGAL_TSS_STATE_CHANGE")  # fmt: skip
    await api.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})
    disabled = await api.ok("PATCH", f"/tss/{tss_id}", {"state": "DISABLED"})
    assert "time_disable" in disabled
    _err(await api.call("PATCH", f"/tss/{tss_id}", {"state": "INITIALIZED"}), 400,
         "E_ILLEGAL_TSS_STATE_CHANGE")  # fmt: skip


async def test_five_wrong_pins_block_the_pin(api: Api) -> None:
    tss_id = str(uuid.uuid4())
    created = await api.ok("PUT", f"/tss/{tss_id}", {})
    await api.ok("PATCH", f"/tss/{tss_id}", {"state": "UNINITIALIZED"})
    await api.ok(
        "PATCH", f"/tss/{tss_id}/admin", {"admin_puk": created["admin_puk"], "new_admin_pin": PIN}
    )
    for _ in range(5):
        _err(await api.call("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": "999999"}), 401,
             "E_UNAUTHORIZED")  # fmt: skip
    _err(await api.call("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN}), 423,
         "E_ADMIN_PIN_BLOCKED")  # fmt: skip


async def test_admin_login_is_bound_to_the_token(api: Api) -> None:
    tss_id = str(uuid.uuid4())
    created = await api.ok("PUT", f"/tss/{tss_id}", {})
    await api.ok("PATCH", f"/tss/{tss_id}", {"state": "UNINITIALIZED"})
    await api.ok(
        "PATCH", f"/tss/{tss_id}/admin", {"admin_puk": created["admin_puk"], "new_admin_pin": PIN}
    )
    await api.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})
    await api.auth()  # a new token has no admin session
    _err(await api.call("PATCH", f"/tss/{tss_id}", {"state": "INITIALIZED"}), 401, "E_UNAUTHORIZED")


async def test_five_tss_limit_in_test(api: Api) -> None:
    for _ in range(5):
        await api.ok("PUT", f"/tss/{uuid.uuid4()}", {})
    _err(await api.call("PUT", f"/tss/{uuid.uuid4()}", {}), 403, "E_TSS_LIMIT_REACHED")


async def test_create_is_idempotent_while_created_then_conflicts(api: Api) -> None:
    tss_id = str(uuid.uuid4())
    first = await api.ok("PUT", f"/tss/{tss_id}", {})
    second = await api.ok("PUT", f"/tss/{tss_id}", {})
    assert first["serial_number"] == second["serial_number"]
    await api.ok("PATCH", f"/tss/{tss_id}", {"state": "UNINITIALIZED"})
    _err(await api.call("PUT", f"/tss/{tss_id}", {}), 409, "E_TSS_CONFLICT")


async def test_unknown_ids_and_malformed_input(api: Api) -> None:
    _err(await api.call("GET", f"/tss/{uuid.uuid4()}"), 404, "E_TSS_NOT_FOUND")
    _err(await api.call("GET", "/tss/not-a-uuid"), 400, "E_FAILED_SCHEMA_VALIDATION")
    response = await api.http.put(
        f"/api/v2/tss/{uuid.uuid4()}",
        content=b"{not json",
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
    )
    _err(response, 400, "E_FAILED_SCHEMA_VALIDATION")
    huge = await api.http.put(
        f"/api/v2/tss/{uuid.uuid4()}",
        content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
    )
    _err(huge, 413, None)


async def test_v1_paths_are_refused_clearly(api: Api) -> None:
    response = await api.http.get("/api/v1/tss")
    body = _err(response, 410, "E_API_V1_NOT_SUPPORTED")
    assert "/api/v2" in body["message"]


# -- clients ----------------------------------------------------------------------------------


async def test_client_rules(api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    await api.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})
    for serial in ("ERS/1", "ERS_1", " ERS", "", "x" * 71):
        bad = await api.call(
            "PUT", f"/tss/{tss_id}/client/{uuid.uuid4()}", {"serial_number": serial}
        )
        _err(bad, 400, "E_ILLEGAL_CLIENT_SERIAL")
    dup = await api.call("PUT", f"/tss/{tss_id}/client/{uuid.uuid4()}", {"serial_number": "ERS 1"})
    _err(dup, 400, "E_ILLEGAL_CLIENT_SERIAL")
    again = await api.ok("PUT", f"/tss/{tss_id}/client/{client_id}", {"serial_number": "ERS 1"})
    assert again["_id"] == client_id  # idempotent
    conflict = await api.call(
        "PUT", f"/tss/{tss_id}/client/{client_id}", {"serial_number": "ERS 2"}
    )
    _err(conflict, 409, "E_CLIENT_CONFLICT")
    dereg = await api.ok("PATCH", f"/tss/{tss_id}/client/{client_id}", {"state": "DEREGISTERED"})
    assert dereg["state"] == "DEREGISTERED"
    start = await api.call(
        "PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}", {"state": "ACTIVE", "client_id": client_id},
        tx_revision=1,
    )  # fmt: skip
    _err(start, 400, "E_CLIENT_DEREGISTERED")
    await api.ok("PATCH", f"/tss/{tss_id}/client/{client_id}", {"state": "REGISTERED"})
    listed = await api.ok("GET", f"/tss/{tss_id}/client")
    assert listed["_type"] == "CLIENT_LIST" and listed["count"] == 1


async def test_client_limit() -> None:
    sim = Simulator(limits=Limits(max_clients=2))
    server = SimulatorServer(sim)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            api = Api(http, sim.add_api_key("TEST"))
            await api.auth()
            tss_id, _client = await api.setup_tss()
            await api.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})
            await api.ok("PUT", f"/tss/{tss_id}/client/{uuid.uuid4()}", {"serial_number": "ERS 2"})
            third = await api.call(
                "PUT", f"/tss/{tss_id}/client/{uuid.uuid4()}", {"serial_number": "ERS 3"}
            )
            _err(third, 403, "E_CLIENT_LIMIT_REACHED")
    finally:
        await server.stop()
        sim.close()
    assert Limits().max_clients == 199


# -- transactions -----------------------------------------------------------------------------


async def test_transaction_revisions_signatures_and_qr(api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    tx_id = str(uuid.uuid4())
    start = await api.ok(
        "PUT", f"/tss/{tss_id}/tx/{tx_id}", {"state": "ACTIVE", "client_id": client_id},
        tx_revision=1,
    )  # fmt: skip
    assert start["number"] == 1 and start["revision"] == 1
    assert start["log"]["operation"] == "Start"
    assert start["schema"] == {}
    assert "time_end" not in start and "qr_code_data" not in start
    assert isinstance(start["signature"]["counter"], int)
    update_body = {"state": "ACTIVE", "client_id": client_id,
                   "schema": {"standard_v1": {"receipt": RECEIPT}}}  # fmt: skip
    update = await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", update_body, tx_revision=2)
    assert update["log"]["operation"] == "Update"
    assert update["signature"]["counter"] == start["signature"]["counter"] + 1
    raw = update["schema"]["raw"]
    assert raw["process_type"] == "Kassenbeleg-V1"
    assert base64.b64decode(raw["process_data"]).decode() == (
        "Beleg^11.90_0.00_0.00_0.00_0.00^11.90:Bar"
    )
    payment = update["schema"]["standard_v1"]["receipt"]["amounts_per_payment_type"][0]
    assert payment["currency_code"] == "EUR"
    # wrong revisions
    _err(await api.call("PUT", f"/tss/{tss_id}/tx/{tx_id}", update_body, tx_revision=4), 400,
         "E_TX_UPSERT")  # fmt: skip
    other = {**update_body, "metadata": {"x": "y"}}
    _err(await api.call("PUT", f"/tss/{tss_id}/tx/{tx_id}", other, tx_revision=2), 400,
         "E_TX_UPSERT")  # fmt: skip
    replay = await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", update_body, tx_revision=2)
    assert replay["signature"] == update["signature"]
    finish_body = {**update_body, "state": "FINISHED"}
    finish = await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", finish_body, tx_revision=3)
    assert finish["log"]["operation"] == "Finish"
    assert finish["time_end"] == finish["log"]["timestamp"]
    assert verify_qr_code(finish["qr_code_data"]).valid
    fields = finish["qr_code_data"].split(";")
    assert fields[1] == "ERS 1" and fields[4] == "1"
    assert fields[5] == str(finish["signature"]["counter"])
    # ended transactions cannot change
    _err(await api.call("PUT", f"/tss/{tss_id}/tx/{tx_id}", finish_body, tx_revision=4), 400,
         "E_TX_UPSERT")  # fmt: skip
    # retrieve by uuid, by number, by revision
    assert (await api.ok("GET", f"/tss/{tss_id}/tx/{tx_id}"))["revision"] == 3
    assert (await api.ok("GET", f"/tss/{tss_id}/tx/1"))["_id"] == tx_id
    assert (await api.ok("GET", f"/tss/{tss_id}/tx/{tx_id}", tx_revision=1))["revision"] == 1
    _err(await api.call("GET", f"/tss/{tss_id}/tx/{tx_id}", tx_revision=9), 400,
         "E_TX_REVISION_NOT_FOUND")  # fmt: skip
    _err(await api.call("GET", f"/tss/{tss_id}/tx/{uuid.uuid4()}"), 404, "E_TX_NOT_FOUND")


async def test_cancelled_transactions_are_signed_and_get_a_qr_code(api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    tx_id = str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", {"state": "ACTIVE", "client_id": client_id},
                 tx_revision=1)  # fmt: skip
    no_type = await api.call(
        "PUT", f"/tss/{tss_id}/tx/{tx_id}", {"state": "CANCELLED", "client_id": client_id},
        tx_revision=2,
    )  # fmt: skip
    _err(no_type, 409, "E_TX_NO_TYPE_DEFINED")
    cancel_receipt = {"receipt_type": "CANCELLATION", "amounts_per_vat_rate": []}
    body = {"state": "CANCELLED", "client_id": client_id,
            "schema": {"standard_v1": {"receipt": cancel_receipt}}}  # fmt: skip
    cancelled = await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", body, tx_revision=2)
    assert cancelled["state"] == "CANCELLED"
    assert cancelled["log"]["operation"] == "Finish"
    assert verify_qr_code(cancelled["qr_code_data"]).valid


async def test_illegal_type_change(api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    tx_id = str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", {"state": "ACTIVE", "client_id": client_id},
                 tx_revision=1)  # fmt: skip
    await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", {"state": "ACTIVE", "client_id": client_id,
                 "schema": {"standard_v1": {"receipt": RECEIPT}}}, tx_revision=2)  # fmt: skip
    order = {"line_items": [{"quantity": "1", "text": "x", "price_per_unit": "1.00"}]}
    change = await api.call(
        "PUT", f"/tss/{tss_id}/tx/{tx_id}",
        {"state": "ACTIVE", "client_id": client_id, "schema": {"standard_v1": {"order": order}}},
        tx_revision=3,
    )  # fmt: skip
    _err(change, 409, "E_TX_ILLEGAL_TYPE_CHANGE")


async def test_transaction_schema_validation(api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    tx_id = str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", {"state": "ACTIVE", "client_id": client_id},
                 tx_revision=1)  # fmt: skip
    bad_receipts = [
        {**RECEIPT, "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": 11.9}]},
        {**RECEIPT, "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.9"}]},
        {**RECEIPT, "receipt_type": "SALE"},
        {**RECEIPT, "receipt_type": ["RECEIPT"]},
        {**RECEIPT, "amounts_per_vat_rate": [{"vat_rate": {"x": 1}, "amount": "1.00"}]},
        {**RECEIPT, "amounts_per_payment_type": [{"payment_type": "GOLD", "amount": "1.00"}]},
    ]
    for receipt in bad_receipts:
        response = await api.call(
            "PUT", f"/tss/{tss_id}/tx/{tx_id}",
            {"state": "FINISHED", "client_id": client_id,
             "schema": {"standard_v1": {"receipt": receipt}}},
            tx_revision=2,
        )  # fmt: skip
        _err(response, 400, "E_FAILED_SCHEMA_VALIDATION")
    missing_revision = await api.call(
        "PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}", {"state": "ACTIVE", "client_id": client_id}
    )
    _err(missing_revision, 400, "E_FAILED_SCHEMA_VALIDATION")
    unknown_client = await api.call(
        "PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}",
        {"state": "ACTIVE", "client_id": str(uuid.uuid4())}, tx_revision=1,
    )  # fmt: skip
    _err(unknown_client, 400, "E_CLIENT_NOT_FOUND")


async def test_active_transaction_limit() -> None:
    sim = Simulator(limits=Limits(max_active_tx=3))
    server = SimulatorServer(sim)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            api = Api(http, sim.add_api_key("TEST"))
            await api.auth()
            tss_id, client_id = await api.setup_tss()
            body = {"state": "ACTIVE", "client_id": client_id}
            for _ in range(3):
                await api.ok("PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}", body, tx_revision=1)
            over = await api.call("PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}", body, tx_revision=1)
            _err(over, 400, "E_TX_LIMIT_REACHED")
            tss = await api.ok("GET", f"/tss/{tss_id}")
            assert tss["number_active_transactions"] == 3
    finally:
        await server.stop()
        sim.close()


async def test_not_initialized_tss_cannot_sign(api: Api) -> None:
    tss_id = str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}", {})
    response = await api.call(
        "PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}",
        {"state": "ACTIVE", "client_id": str(uuid.uuid4())}, tx_revision=1,
    )  # fmt: skip
    _err(response, 400, "E_TSS_NOT_INITIALIZED")


async def test_lists_paging_and_states_filters(api: Api) -> None:
    tss_id, client_id = await api.setup_tss()
    for _ in range(3):
        await api.sale(tss_id, client_id)
    await api.ok("PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}",
                 {"state": "ACTIVE", "client_id": client_id}, tx_revision=1)  # fmt: skip
    active = await api.ok("GET", f"/tss/{tss_id}/tx", **{"states[]": "ACTIVE"})
    assert active["_type"] == "TRANSACTION_LIST" and active["count"] == 1
    indexed = await api.ok("GET", f"/tss/{tss_id}/tx", **{"states[0]": "FINISHED"})
    assert indexed["count"] == 3
    page = await api.ok("GET", f"/tss/{tss_id}/tx", limit=2, offset=1, order="desc")
    assert [tx["number"] for tx in page["data"]] == [3, 2]
    assert page["count"] == 4
    _err(await api.call("GET", f"/tss/{tss_id}/tx", limit=101), 400, "E_FAILED_SCHEMA_VALIDATION")


async def test_list_transactions_rate_limit(api: Api) -> None:
    tss_id, _client = await api.setup_tss()
    for _ in range(20):
        await api.ok("GET", f"/tss/{tss_id}/tx")
    limited = await api.call("GET", f"/tss/{tss_id}/tx")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0


# -- environments -----------------------------------------------------------------------------


async def test_test_and_live_never_mix(sim: Simulator, server: SimulatorServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        test_api = Api(http, sim.add_api_key("TEST"))
        await test_api.auth()
        tss_id, _client = await test_api.setup_tss()
        live_api = Api(
            http, sim.add_api_key("LIVE", organization_id=test_api.creds.organization_id)
        )
        live = await live_api.auth()
        assert live["access_token_claims"]["env"] == "LIVE"
        body = _err(await live_api.call("GET", f"/tss/{tss_id}"), 403, "E_ACCESS_DENIED")
        assert body["message"] == "You may not access this TSS"
        listed = await live_api.ok("GET", "/tss")
        assert listed["count"] == 0 and listed["_env"] == "LIVE"


# -- exports ----------------------------------------------------------------------------------


async def test_export_state_machine_and_tar(api: Api) -> None:
    import asyncio

    tss_id, client_id = await api.setup_tss()
    await api.sale(tss_id, client_id)
    export_id = str(uuid.uuid4())
    triggered = await api.ok("PUT", f"/tss/{tss_id}/export/{export_id}", {})
    assert triggered["state"] == "PENDING" and triggered["_type"] == "EXPORT"
    early = await api.call("GET", f"/tss/{tss_id}/export/{export_id}/file")
    _err(early, 404, "E_EXPORT_NOT_COMPLETED")
    assert early.headers["Retry-After"] == "60"
    dup = await api.call("PUT", f"/tss/{tss_id}/export/{export_id}", {})
    _err(dup, 400, "E_DUPLICATE_EXPORT")
    same_params = await api.call("PUT", f"/tss/{tss_id}/export/{uuid.uuid4()}", {})
    _err(same_params, 409, "E_EXPORT_DUPLICATE_RATE_LIMITED")
    await asyncio.sleep(0.6)
    done = await api.ok("GET", f"/tss/{tss_id}/export/{export_id}")
    assert done["state"] == "COMPLETED" and done["time_expiration"] > done["time_end"]
    response = await api.call("GET", f"/tss/{tss_id}/export/{export_id}/file")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        names = tar.getnames()
    assert "info.csv" in names
    assert any(n.endswith("_X509.cer") for n in names)
    assert any("_Log-Tra_No-1_Start_Client-ERS 1.log" in n for n in names)
    assert any("_Log-Tra_No-1_Finish_Client-ERS 1.log" in n for n in names)
    assert any("_Log-Sys_" in n for n in names)
    assert all(n.startswith("Unixt_") for n in names if n.endswith(".log"))
    for _ in range(12):
        last = await api.call("GET", f"/tss/{tss_id}/export/{export_id}")
    assert last.status_code == 429  # 12 requests per minute per export


async def test_export_filters_and_illegal_state(api: Api) -> None:
    tss_id = str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}", {})
    early = await api.call("PUT", f"/tss/{tss_id}/export/{uuid.uuid4()}", {})
    _err(early, 409, "E_TSS_ILLEGAL_STATE_TO_PERFORM_EXPORT")
    tss_id, client_id = await api.setup_tss()
    bad = await api.call(
        "PUT", f"/tss/{tss_id}/export/{uuid.uuid4()}", {}, start_transaction_number="x"
    )
    _err(bad, 400, "E_PARAMETER_MISMATCH")
    await api.sale(tss_id, client_id)  # transaction number 1 exists (else 400 E_TX_NOT_FOUND)
    cancel_id = str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}/export/{cancel_id}", {}, transaction_number="1")
    cancelled = await api.ok("DELETE", f"/tss/{tss_id}/export/{cancel_id}")
    assert cancelled["state"] == "CANCELLED"
    _err(await api.call("DELETE", f"/tss/{tss_id}/export/{cancel_id}"), 400, "E_CANCEL_EXPORT")


# -- management -------------------------------------------------------------------------------


async def test_management_creates_orgs_and_working_keys(api: Api) -> None:
    response = await api.http.post(
        "/api/v0/auth", json={"api_key": api.creds.api_key, "api_secret": api.creds.api_secret}
    )
    token = response.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    org = await api.http.post(
        "/api/v0/organizations",
        json={"name": "Filiale 1", "address_line1": "Hauptstr. 1", "zip": "10115",
              "town": "Berlin", "country_code": "DEU", "vat_id": "DE123456789"},
        headers=headers,
    )  # fmt: skip
    assert org.status_code == 200, org.text
    org_id = org.json()["_id"]
    assert org.json()["_type"] == "MANAGED_ORGANIZATION"
    key = await api.http.post(
        f"/api/v0/organizations/{org_id}/api-keys", json={"name": "tsed unit"}, headers=headers
    )
    assert key.status_code == 200, key.text
    created = key.json()
    assert created["secret"] and created["_envs"] == ["TEST"]
    listed = await api.http.get(f"/api/v0/organizations/{org_id}/api-keys", headers=headers)
    assert "secret" not in listed.json()["data"][0]
    auth = await api.http.post(
        "/api/v2/auth", json={"api_key": created["key"], "api_secret": created["secret"]}
    )
    assert auth.status_code == 200
    assert auth.json()["access_token_claims"]["organization_id"] == org_id
    v2_headers = {"Authorization": f"Bearer {api.token}"}
    v2_token_on_v0 = await api.http.get("/api/v0/organizations", headers=v2_headers)
    _err(v2_token_on_v0, 401, "E_UNAUTHORIZED")


# -- persistence ------------------------------------------------------------------------------


async def test_state_survives_a_restart(tmp_path) -> None:
    sim = Simulator(state_dir=tmp_path)
    server = SimulatorServer(sim)
    await server.start()
    creds = sim.add_api_key("TEST")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        api = Api(http, creds)
        await api.auth()
        tss_id, client_id = await api.setup_tss()
        first = await api.sale(tss_id, client_id)
    await server.stop()
    sim.close()

    sim2 = Simulator(state_dir=tmp_path)
    server2 = SimulatorServer(sim2)
    await server2.start()
    try:
        async with httpx.AsyncClient(base_url=server2.base_url) as http:
            api = Api(http, creds)
            await api.auth()  # the key survived
            second = await api.sale(tss_id, client_id)
            assert second["number"] == first["number"] + 1
            assert second["signature"]["counter"] == first["signature"]["counter"] + 2
            assert second["signature"]["public_key"] == first["signature"]["public_key"]
            assert verify_qr_code(second["qr_code_data"]).valid
            old = await api.ok("GET", f"/tss/{tss_id}/tx/{first['_id']}")
            assert old["qr_code_data"] == first["qr_code_data"]
    finally:
        await server2.stop()
        sim2.close()


def test_every_change_is_on_the_disk_before_the_simulator_answers(tmp_path) -> None:
    """WAL with synchronous=FULL: a commit is flushed, so a power cut cannot take back what
    the unit already answered a register with (the power-cut test on the device image)."""
    sim = Simulator(state_dir=tmp_path)
    try:
        assert sim.state.persist is not None
        db = sim.state.persist._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        sim.close()


@pytest.mark.parametrize("count", [3])
async def test_every_qr_code_verifies(api: Api, count: int) -> None:
    tss_id, client_id = await api.setup_tss()
    receipts = [
        RECEIPT,
        {"receipt_type": "TRAINING", "amounts_per_vat_rate": [
            {"vat_rate": "REDUCED_1", "amount": "7.00"}, {"vat_rate": "NULL", "amount": "-1.00"}]},
        {"receipt_type": "RECEIPT", "amounts_per_vat_rate": [{"vat_rate": "19", "amount": "1.234"}],
         "amounts_per_payment_type": [{"payment_type": "NON_CASH", "amount": "1.23",
                                       "currency_code": "CHF"}]},
    ]  # fmt: skip
    for receipt in receipts[:count]:
        result = await api.sale(tss_id, client_id, receipt)
        assert verify_qr_code(result["qr_code_data"]).valid
