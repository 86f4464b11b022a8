"""The client against what fiskaly really answers (issue: real-fiskaly conformance), over real
HTTP against the simulator: 401s that are not about the token, TEST/LIVE mismatches in any
wording, 499 and 444 retried, pending transactions polled until signed."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from tsed.fiskaly import errors as err
from tsed.fiskaly.client import FiskalyClient, RetryPolicy
from tsed.fiskaly.simulator import SimCredentials, Simulator, SimulatorServer
from tsed.fiskaly.tr03151 import verify_qr_code

RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}
PIN = "246810"
WRONG_PIN = "999999"
FAST = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05)


@pytest.fixture
async def running() -> AsyncIterator[tuple[Simulator, SimulatorServer]]:
    sim = Simulator()
    server = SimulatorServer(sim)
    await server.start()
    yield sim, server
    await server.stop()
    sim.close()


def _client(server: SimulatorServer, creds: SimCredentials, **kwargs: object) -> FiskalyClient:
    return FiskalyClient(
        api_key=creds.api_key, api_secret=creds.api_secret, base_url=server.base_url,
        retry=FAST, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


async def _setup(client: FiskalyClient) -> tuple[str, str]:
    tss_id = str(uuid.uuid4())
    created = await client.create_tss(tss_id)
    assert created.admin_puk
    await client.set_tss_state(tss_id, "UNINITIALIZED")
    await client.change_admin_pin(tss_id, created.admin_puk, PIN)
    await client.admin_login(tss_id, PIN)
    await client.set_tss_state(tss_id, "INITIALIZED")
    client_id = str(uuid.uuid4())
    await client.create_client(tss_id, client_id, "ERS kasse-1")
    await client.admin_logout(tss_id)
    return tss_id, client_id


def _auth_calls(sim: Simulator) -> int:
    return sim.stats["POST /api/v2/auth"]


# -- 401: only a refused token is worth a new authentication ---------------------------------


async def test_a_wrong_admin_pin_costs_one_attempt_and_blames_the_pin(running, caplog) -> None:
    sim, server = running
    caplog.set_level(logging.DEBUG)
    async with _client(server, sim.add_api_key("TEST")) as client:
        tss_id, _ = await _setup(client)
        auths = _auth_calls(sim)
        for attempt in range(1, 5):
            with pytest.raises(err.AdminPinRejected) as info:
                await client.admin_login(tss_id, WRONG_PIN)
            assert sim.state.tss[tss_id].failed_logins == attempt  # one call, one attempt
        assert _auth_calls(sim) == auths  # a wrong PIN is no reason to authenticate again
        assert "PIN" in info.value.hint and "API key" not in info.value.hint
        assert info.value.status == 409 and info.value.code == "ADMIN_PIN_REJECTED"
        await client.admin_login(tss_id, PIN)  # the fifth attempt is still the installer's
        await client.admin_logout(tss_id)
        for _ in range(5):
            with pytest.raises(err.AdminPinRejected):
                await client.admin_login(tss_id, WRONG_PIN)
        with pytest.raises(err.AdminPinBlocked) as blocked:
            await client.admin_login(tss_id, PIN)
        assert "PUK" in blocked.value.hint
    for record in caplog.records:
        assert WRONG_PIN not in record.getMessage() and PIN not in record.getMessage()
    assert WRONG_PIN not in str(info.value.to_dict())


async def test_an_admin_login_with_a_refused_token_is_not_repeated(running) -> None:
    sim, server = running
    async with _client(server, sim.add_api_key("TEST")) as client:
        tss_id, _ = await _setup(client)
        sim.expire_tokens()
        with pytest.raises(err.BadCredentials) as info:
            await client.admin_login(tss_id, PIN)
        assert "not repeated" in info.value.message
        assert sim.stats["POST /api/v2/tss/{tss_id}/admin/auth"] == 2  # setup, this one
        assert sim.state.tss[tss_id].failed_logins == 0
        await client.admin_login(tss_id, PIN)  # the unit has authenticated anew
        await client.admin_logout(tss_id)


async def test_an_expired_token_is_renewed_once_for_ordinary_calls(running) -> None:
    sim, server = running
    async with _client(server, sim.add_api_key("TEST")) as client:
        tss_id, _ = await _setup(client)
        auths = _auth_calls(sim)
        sim.expire_tokens()
        assert (await client.get_tss(tss_id)).state == "INITIALIZED"
        assert _auth_calls(sim) == auths + 1


@pytest.mark.parametrize("status", [400, 401])
async def test_client_deregistered_is_an_answer_not_a_token_problem(running, status) -> None:
    sim, server = running
    async with _client(server, sim.add_api_key("TEST")) as client:
        tss_id, client_id = await _setup(client)
        auths = _auth_calls(sim)
        sim.faults.update(
            {"route": r"^PUT .*/tx/", "error_burst": 1, "error_status": status,
             "error_code": "E_CLIENT_DEREGISTERED"}
        )  # fmt: skip
        with pytest.raises(err.ClientDeregistered) as info:
            await client.start_transaction(tss_id, uuid.uuid4(), client_id)
        assert _auth_calls(sim) == auths
        assert info.value.fiskaly_status == status


# -- TEST/LIVE: the code and the environments decide, never the wording ----------------------


@pytest.mark.parametrize(
    "wording", [None, "You may not access this resource", "Zugriff verweigert"]
)
async def test_a_test_tss_with_live_credentials_is_a_mismatch_in_any_wording(
    running, wording
) -> None:
    sim, server = running
    test = sim.add_api_key("TEST")
    live = sim.add_api_key("LIVE", organization_id=test.organization_id)
    async with _client(server, test) as client:
        tss_id, _ = await _setup(client)
    if wording:
        sim.faults.update({"access_denied_message": wording})
    async with _client(server, live) as client:
        client.note_tss_env(tss_id, "TEST")  # what the unit's binding says
        with pytest.raises(err.EnvironmentMismatch) as info:
            await client.get_tss(tss_id)
        assert info.value.details["tss_env"] == "TEST"
        assert info.value.details["token_env"] == "LIVE"
        assert "reset" in info.value.hint.lower()


async def test_the_client_learns_the_tss_environment_from_fiskaly(running) -> None:
    sim, server = running
    test = sim.add_api_key("TEST")
    live = sim.add_api_key("LIVE", organization_id=test.organization_id)
    async with _client(server, test) as client:
        tss_id, _ = await _setup(client)
        sim.faults.update({"access_denied_message": "You may not access this resource"})
        # the same client object, now with LIVE credentials (keys were exchanged)
        client._auth._api_key, client._auth._api_secret = live.api_key, live.api_secret
        client._auth._token = None
        with pytest.raises(err.EnvironmentMismatch):
            await client.get_tss(tss_id)


async def test_another_organizations_tss_is_access_denied_not_a_mismatch(running) -> None:
    sim, server = running
    mine, theirs = sim.add_api_key("TEST"), sim.add_api_key("TEST")
    assert mine.organization_id != theirs.organization_id
    async with _client(server, theirs) as client:
        tss_id, _ = await _setup(client)
    async with _client(server, mine) as client:
        client.note_tss_env(tss_id, "TEST")
        with pytest.raises(err.AccessDenied) as info:
            await client.get_tss(tss_id)
        assert type(info.value) is err.AccessDenied and info.value.status == 403


# -- 499 and 444: fiskaly asks for a retry ----------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(499, None), (444, "E_MIDDLEWARE_PENDING_REQUEST")])
async def test_499_and_444_are_retried_with_backoff(running, status, code) -> None:
    sim, server = running
    async with _client(server, sim.add_api_key("TEST")) as client:
        tss_id, client_id = await _setup(client)
        sim.faults.update(
            {"route": r"^PUT .*/tx/", "error_burst": 2, "error_status": status, "error_code": code}
        )
        tx_id = uuid.uuid4()
        await client.start_transaction(tss_id, tx_id, client_id)
        assert sim.stats["PUT /api/v2/tss/{tss_id}/tx/{tx}"] == 3
        done = await client.finish_transaction(tss_id, tx_id, 2, client_id, RECEIPT)
        assert verify_qr_code(done.qr_code_data or "").valid


async def test_499_past_the_deadline_is_an_outage(running) -> None:
    sim, server = running
    async with _client(server, sim.add_api_key("TEST")) as client:
        tss_id, client_id = await _setup(client)
        sim.faults.update(
            {"route": r"^PUT .*/tx/", "error_rate": 1.0, "error_status": 499, "error_code": None}
        )
        with pytest.raises(err.FiskalyBusy) as info:
            await client.start_transaction(
                tss_id, uuid.uuid4(), client_id, deadline=time.monotonic() + 1.0
            )
        assert isinstance(info.value, err.FiskalyUnavailable)  # the TSE-failure way
        assert 1 < sim.stats["PUT /api/v2/tss/{tss_id}/tx/{tx}"] <= FAST.attempts


# -- pending transactions ---------------------------------------------------------------------


async def test_a_pending_transaction_is_polled_until_signed(running) -> None:
    sim, server = running
    async with _client(server, sim.add_api_key("TEST")) as client:
        tss_id, client_id = await _setup(client)
        tx_id = uuid.uuid4()
        await client.start_transaction(tss_id, tx_id, client_id)
        sim.faults.update({"pending_tx": 3})
        done = await client.finish_transaction(tss_id, tx_id, 2, client_id, RECEIPT)
        assert not done.pending and done.signature_value and done.log_timestamp > 0
        assert verify_qr_code(done.qr_code_data or "").valid
        assert sim.stats["GET /api/v2/tss/{tss_id}/tx/{tx}"] == 3  # two pending, one signed
        assert sim.faults.pending_tx == 0


async def test_a_transaction_pending_past_the_deadline_is_an_outage(running) -> None:
    sim, server = running
    async with _client(server, sim.add_api_key("TEST")) as client:
        tss_id, client_id = await _setup(client)
        sim.faults.update({"pending_tx": 1000})
        with pytest.raises(err.FiskalyBusy):
            await client.start_transaction(
                tss_id, uuid.uuid4(), client_id, deadline=time.monotonic() + 0.5
            )


def test_the_pending_answer_parses_without_signature_and_log_time() -> None:
    from tsed.fiskaly.models import Transaction

    answer = {
        "_id": str(uuid.uuid4()), "_type": "TRANSACTION", "_env": "TEST", "tss_id": "t",
        "tss_serial_number": "s", "client_id": "c", "client_serial_number": "ERS 1",
        "state": "FINISHED", "number": 7, "revision": 2, "latest_revision": 2,
        "time_start": 1700000000, "log": {"operation": "Finish", "timestamp_format": "unixTime"},
        "_middleware": {"latest_stored_signature_counter_in_backend": "40",
                        "smaers_url": "https://smaers.example"},
    }  # fmt: skip
    tx = Transaction.parse(answer)
    assert tx.pending and tx.number == 7 and tx.signature_value == ""
    signed = Transaction.parse(
        {**answer, "log": {"operation": "Finish", "timestamp": 1700000001},
         "signature": {"value": "c2ln", "counter": 41, "public_key": "cGs="}}
    )  # fmt: skip
    assert not signed.pending and signed.signature_counter == 41


async def test_an_admin_login_is_not_repeated_after_a_server_error(running) -> None:
    sim, server = running
    async with _client(server, sim.add_api_key("TEST")) as client:
        tss_id, _ = await _setup(client)
        sim.faults.update(
            {"route": r"admin/auth$", "error_burst": 1, "error_status": 503, "error_code": None}
        )
        with pytest.raises(err.FiskalyUnavailable):
            await client.admin_login(tss_id, PIN)
        assert sim.stats["POST /api/v2/tss/{tss_id}/admin/auth"] == 2  # setup, this one
