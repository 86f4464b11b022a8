"""The client's whole happy path over real HTTP against the simulator (reference §13)."""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import AsyncIterator

import pytest

from tsed.fiskaly import errors as err
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.management import ManagementClient
from tsed.fiskaly.models import AuthToken
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.tr03151 import verify_qr_code

RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}


@pytest.fixture
async def running() -> AsyncIterator[tuple[Simulator, SimulatorServer]]:
    sim = Simulator()
    server = SimulatorServer(sim)
    await server.start()
    yield sim, server
    await server.stop()
    sim.close()


async def _setup(client: FiskalyClient) -> tuple[str, str]:
    tss_id = str(uuid.uuid4())
    created = await client.create_tss(tss_id, {"unit": "test"})
    assert created.state == "CREATED" and created.admin_puk
    await client.set_tss_state(tss_id, "UNINITIALIZED")
    await client.change_admin_pin(tss_id, created.admin_puk, "246810")
    await client.admin_login(tss_id, "246810")
    initialized = await client.set_tss_state(tss_id, "INITIALIZED")
    assert initialized.state == "INITIALIZED"
    client_id = str(uuid.uuid4())
    registered = await client.create_client(tss_id, client_id, "ERS kasse-1")
    assert registered.state == "REGISTERED"
    await client.admin_logout(tss_id)
    return tss_id, client_id


async def test_happy_path_auth_tss_clients_transactions_export(running) -> None:
    sim, server = running
    creds = sim.add_api_key("TEST")
    seen: list[AuthToken] = []
    async with FiskalyClient(
        api_key=creds.api_key, api_secret=creds.api_secret, base_url=server.base_url,
        on_auth=seen.append,
    ) as client:  # fmt: skip
        token = await client.authenticate()
        assert token.env == "TEST" and client.environment == "TEST"
        assert seen and seen[-1].env == "TEST"
        tss_id, client_id = await _setup(client)
        assert [c.id for c in await client.list_clients(tss_id)] == [client_id]
        tx_id = uuid.uuid4()
        started = await client.start_transaction(tss_id, tx_id, client_id)
        assert started.state == "ACTIVE" and started.number == 1 and started.qr_code_data is None
        finished = await client.finish_transaction(tss_id, tx_id, 2, client_id, RECEIPT)
        assert finished.state == "FINISHED" and finished.qr_code_data
        assert finished.process_data == "Beleg^11.90_0.00_0.00_0.00_0.00^11.90:Bar"
        assert verify_qr_code(finished.qr_code_data).valid
        assert finished.signature_counter == started.signature_counter + 1
        again = await client.get_transaction(tss_id, 1)
        assert again.id == str(tx_id) and again.latest_revision == 2
        cancel_id = uuid.uuid4()
        await client.start_transaction(tss_id, cancel_id, client_id)
        cancelled = await client.cancel_transaction(tss_id, cancel_id, 2, client_id)
        assert cancelled.state == "CANCELLED" and verify_qr_code(cancelled.qr_code_data or "").valid
        export_id = uuid.uuid4()
        export = await client.trigger_export(tss_id, export_id, start_transaction_number=1)
        assert export.state == "PENDING"
        with pytest.raises(err.FiskalyNotFound):  # E_EXPORT_NOT_COMPLETED, not yet
            await client.download_export(tss_id, export_id)
        import asyncio

        await asyncio.sleep(0.6)
        assert (await client.get_export(tss_id, export_id)).state == "COMPLETED"
        payload = await client.download_export(tss_id, export_id)
        with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
            assert any("Finish" in name for name in tar.getnames())
        tss = await client.get_tss(tss_id)
        assert tss.signature_counter == cancelled.signature_counter


async def test_list_transactions_pages_through_more_than_100(running) -> None:
    sim, server = running
    creds = sim.add_api_key("TEST")
    async with FiskalyClient(
        api_key=creds.api_key, api_secret=creds.api_secret, base_url=server.base_url
    ) as client:
        tss_id, client_id = await _setup(client)
        for _ in range(130):
            await client.start_transaction(tss_id, uuid.uuid4(), client_id)
        active = await client.list_transactions(tss_id, ["ACTIVE"])
        assert len(active) == 130
        assert len({tx.id for tx in active}) == 130


async def test_reauth_after_token_expiry(running) -> None:
    sim, server = running
    creds = sim.add_api_key("TEST")
    async with FiskalyClient(
        api_key=creds.api_key, api_secret=creds.api_secret, base_url=server.base_url
    ) as client:
        await client.list_tss()
        sim.expire_tokens()
        assert await client.list_tss() == []  # 401, re-auth, retried once
        assert client._auth.authentications == 2


async def test_environment_mismatch_is_typed(running) -> None:
    sim, server = running
    test_creds = sim.add_api_key("TEST")
    live_creds = sim.add_api_key("LIVE", organization_id=test_creds.organization_id)
    async with FiskalyClient(
        api_key=test_creds.api_key, api_secret=test_creds.api_secret, base_url=server.base_url
    ) as client:
        tss_id, _client_id = await _setup(client)
    async with FiskalyClient(
        api_key=live_creds.api_key, api_secret=live_creds.api_secret, base_url=server.base_url
    ) as live:
        with pytest.raises(err.AccessDenied) as denied:
            await live.get_tss(tss_id)  # nothing tells this client which TSS it is
        assert "environment" in denied.value.hint
        live.note_tss_env(tss_id, "TEST")  # the unit's stored binding does
        with pytest.raises(err.EnvironmentMismatch) as info:
            await live.get_tss(tss_id)
    assert "tsectl reset" in info.value.hint


async def test_client_limit_and_revision_conflict_are_typed(running) -> None:
    sim, server = running
    sim.limits.max_clients = 1
    creds = sim.add_api_key("TEST")
    async with FiskalyClient(
        api_key=creds.api_key, api_secret=creds.api_secret, base_url=server.base_url
    ) as client:
        tss_id, client_id = await _setup(client)
        await client.admin_login(tss_id, "246810")
        with pytest.raises(err.ClientLimitReached) as info:
            await client.create_client(tss_id, uuid.uuid4(), "ERS kasse-2")
        assert "199" in info.value.hint
        tx_id = uuid.uuid4()
        await client.start_transaction(tss_id, tx_id, client_id)
        with pytest.raises(err.RevisionConflict):
            await client.finish_transaction(tss_id, tx_id, 5, client_id, RECEIPT)


async def test_bad_credentials(running) -> None:
    _sim, server = running
    async with FiskalyClient(
        api_key="test_nope", api_secret="x" * 43, base_url=server.base_url
    ) as client:
        with pytest.raises(err.BadCredentials) as info:
            await client.authenticate()
    assert "x" * 43 not in str(info.value) and "x" * 43 not in info.value.hint


async def test_management_anlegen_flow(running) -> None:
    sim, server = running
    vendor = sim.add_api_key("TEST")
    mgmt = ManagementClient(
        api_key=vendor.api_key, api_secret=vendor.api_secret, base_url=server.base_url
    )
    await mgmt.start()
    try:
        org = await mgmt.create_organization(
            name="Filiale Nord", address_line1="Hafenweg 1", zip_code="20457", town="Hamburg",
            vat_id="DE136695976",
        )  # fmt: skip
        assert org.managed_by == vendor.organization_id
        key = await mgmt.create_api_key(org.id, "tsed unit")
        assert key.secret and key.env == "TEST"
        assert "secret" not in repr(key)
        assert [k.key for k in await mgmt.list_api_keys(org.id)] == [key.key]
        assert org.id in {o.id for o in await mgmt.list_organizations()}
    finally:
        await mgmt.stop()
    async with FiskalyClient(
        api_key=key.key, api_secret=key.secret or "", base_url=server.base_url
    ) as client:
        token = await client.authenticate()
        assert token.organization_id == org.id


@pytest.mark.parametrize(
    "url", ["https://kassensichv.io/api/v1", "http://127.0.0.1:1/api/v1", "ftp://example.com"]
)
def test_v1_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(err.UnsupportedApiVersion) as info:
        FiskalyClient(api_key="k", api_secret="s", base_url=url)
    assert info.value.hint


async def test_happy_path_against_the_standalone_simulator_process(tmp_path) -> None:
    import json
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tsed.fiskaly.simulator",
            "--listen",
            f"127.0.0.1:{port}",
            "--state-dir",
            str(tmp_path),
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        async with FiskalyClient(
            api_key=info["api_key"], api_secret=info["api_secret"], base_url=info["base_url"]
        ) as client:
            tss_id, client_id = await _setup(client)
            tx_id = uuid.uuid4()
            await client.start_transaction(tss_id, tx_id, client_id)
            done = await client.finish_transaction(tss_id, tx_id, 2, client_id, RECEIPT)
            assert verify_qr_code(done.qr_code_data or "").valid
            export_id = uuid.uuid4()
            await client.trigger_export(tss_id, export_id)
            import asyncio

            await asyncio.sleep(0.6)
            payload = await client.download_export(tss_id, export_id, tmp_path / "export.tar")
            assert payload[257:262] == b"ustar" and (tmp_path / "export.tar").exists()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
