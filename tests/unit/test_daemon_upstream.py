"""The unit against fiskaly-like upstreams: through the shop's proxy to the standalone
simulator, TEST/LIVE mismatch, a deleted TEST TSS, multi-tenant routing, the client limit."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.support.proxyserver import ProxyServer
from tests.support.unit import KEY, RECEIPT, SECRET, free_port, running_unit, start_sim
from tsed.config.check import vat_check_digit
from tsed.fiskaly.tr03151 import verify_qr_code

UPSTREAM = "fiskaly-upstream.invalid"


def _vault(state: Path, entries: dict[str, str]) -> None:
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    (state / "vault.json").write_text(json.dumps(entries))
    (state / "vault.json").chmod(0o600)


async def test_through_the_proxy_to_the_standalone_simulator(tmp_path: Path) -> None:
    sim_port = free_port()
    sim = start_sim(tmp_path / "sim", sim_port)
    proxy = ProxyServer(username="shop", password="Pr0xy-Secret", hosts={UPSTREAM: "127.0.0.1"})
    await proxy.start()
    state = tmp_path / "unit"
    _vault(
        state,
        {
            "fiskaly.test.default.api_key": KEY,
            "fiskaly.test.default.api_secret": SECRET,
            "proxy.password": "Pr0xy-Secret",
        },
    )
    config = f'[proxy]\nhost = "127.0.0.1"\nport = {proxy.port}\nusername = "shop"\n'
    try:
        async with running_unit(
            state, config=config, environ={"TSED_FISKALY_BASE_URL": f"http://{UPSTREAM}:{sim_port}"}
        ) as unit:
            assert unit.daemon.backend == "fiskaly"
            register = await unit.pair()
            answer = await register.receipt(key="via-proxy")
            assert answer["tse_failure"] is False
            assert verify_qr_code(answer["result"]["qr_code_data"]).valid
            assert proxy.connections[f"{UPSTREAM}:{sim_port}"] >= 1
            assert proxy.refused == 0
    finally:
        await proxy.stop()
        sim.terminate()
        sim.communicate(timeout=30)


async def test_live_credentials_on_a_test_unit_are_caught_before_fiskaly_says_403(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim_port = free_port()
    sim_proc = start_sim(tmp_path / "sim", sim_port)
    state = tmp_path / "unit"
    # A TEST unit handed LIVE credentials (the seed's 403 case, caught by the unit itself).
    from tsed.fiskaly.simulator import Simulator

    sim_proc.terminate()
    sim_proc.communicate(timeout=30)
    offline = Simulator(state_dir=tmp_path / "sim")
    live = offline.add_api_key("LIVE", "live_crashtestcrashtestcrasht_sim", "L" * 43)
    offline.close()
    sim_proc = start_sim(tmp_path / "sim", sim_port)
    _vault(
        state,
        {
            "fiskaly.test.default.api_key": live.api_key,
            "fiskaly.test.default.api_secret": live.api_secret,
        },
    )
    try:
        async with running_unit(
            state, environ={"TSED_FISKALY_BASE_URL": f"http://127.0.0.1:{sim_port}"}
        ) as unit:
            messages = [r.getMessage() for r in caplog.records]
            assert any("TEST and LIVE never mix" in m for m in messages)
            _code, out = await unit.tsectl("--json", "status")
            assert json.loads(out)["tss"] == {}
    finally:
        sim_proc.terminate()
        sim_proc.communicate(timeout=30)


async def test_a_deleted_test_tss_is_recreated(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config="register_deadline = 1.0\n") as unit:
        register = await unit.pair()
        first = await register.receipt()
        old_tss = unit.daemon.upstreams.binding("default").tss_id
        unit.daemon.sim.set_tss_state(old_tss, "DELETED")
        failed = await register.receipt()
        assert failed["tse_failure"] is True
        upstreams = unit.daemon.upstreams
        deadline = time.monotonic() + 15
        while (
            upstreams.binding("default").tss_id == old_tss
            or upstreams.binding("default").state != "INITIALIZED"
            or upstreams.register_client(register.register_id, upstreams.binding("default").tss_id)
            is None
        ):  # the new TSS and the register's client on it exist
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        again = await register.receipt()
        assert again["tse_failure"] is False
        assert again["result"]["tss_serial_number"] != first["result"]["tss_serial_number"]
        _code, out = await unit.tsectl("--json", "status")
        assert any("deleted" in n for n in json.loads(out)["notices"])


@pytest.mark.parametrize(
    "held",
    [r"^PUT /api/v2/tss/[^/]+/client/[^/]+$", r"^PUT /api/v2/tss/[^/]+$"],
    ids=["client-creation", "tss-creation"],
)
async def test_a_receipt_while_the_tss_is_recreated_is_a_tse_failure_signed_late(
    tmp_path: Path, held: str
) -> None:
    """fiskaly deleted the TEST TSS; while the unit creates the new TSS or the register's
    client on it (held at the simulator), a receipt is a TSE failure, not a 409 telling the
    installer to pair again, and it is signed late on the new TSS once the client exists."""
    async with running_unit(tmp_path / "s", config="register_deadline = 1.0\n") as unit:
        register = await unit.pair()
        first = await register.receipt()
        upstreams, sim = unit.daemon.upstreams, unit.daemon.sim
        old_tss = upstreams.binding("default").tss_id
        sim.faults.update({"hang_rate": 1.0, "route": held})
        sim.set_tss_state(old_tss, "DELETED")
        both = await asyncio.gather(register.receipt(), register.receipt())  # on the old TSS
        assert all(answer["tse_failure"] for answer in both)  # the first starts the re-creation
        ends = time.monotonic() + 15
        while not sim.fault_engine.injected["hang"]:
            assert time.monotonic() < ends, "the held call never came"
            await asyncio.sleep(0.02)
        response = await register.call("POST", "/api/v1/receipts", RECEIPT, "in-the-window")
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["tse_failure"] is True, answer
        assert answer["failure"]["code"] == "TSE_NOT_READY", answer
        assert "TSE" in answer["failure"]["receipt_text"]
        row = await unit.daemon.store.get_tx(answer["id"])
        assert row is not None and row.state == "failed" and row.tss_id != old_tss
        sim.faults.reset()
        sim.fault_engine.release_hangs()
        ends = time.monotonic() + 30
        while (body := (await register.call("GET", f"/api/v1/transactions/{answer['id']}")).json())[
            "result"
        ] is None:
            assert time.monotonic() < ends, body
            await asyncio.sleep(0.05)
        assert body["signed_late"] is True and body["state"] == "finished", body
        new_serial = body["result"]["tss_serial_number"]
        assert new_serial != first["result"]["tss_serial_number"]
        assert verify_qr_code(body["result"]["qr_code_data"]).valid
        again = await register.receipt()
        assert again["tse_failure"] is False
        assert again["result"]["tss_serial_number"] == new_serial
        assert set(sim.state.tss) == {old_tss, upstreams.binding("default").tss_id}  # one new
        replay = await register.call("POST", "/api/v1/receipts", RECEIPT, "in-the-window")
        assert replay.json()["id"] == answer["id"]  # the key keeps its one transaction


async def test_multi_tenant_registers_sign_on_their_own_tss(tmp_path: Path) -> None:
    nord, sued = (
        f"DE12345678{vat_check_digit('12345678')}",
        f"DE13669597{vat_check_digit('13669597')}",
    )
    config = (
        "multi_tenant = true\n"
        f'[tenants.nord]\nname = "Nord GmbH"\nvat_id = "{nord}"\n'
        f'[tenants.sued]\nname = "Süd GmbH"\nvat_id = "{sued}"\n'
    )
    async with running_unit(tmp_path / "s", config=config) as unit:
        first = await unit.pair("ERS nord-1", tenant="nord")
        second = await unit.pair("ERS sued-1", tenant="sued")
        a = (await first.receipt())["result"]
        b = (await second.receipt())["result"]
        assert a["tss_serial_number"] != b["tss_serial_number"]
        bindings = unit.daemon.upstreams.all_bindings()
        sim = unit.daemon.sim
        orgs = {sim.state.tss[bindings[t].tss_id].organization_id for t in ("nord", "sued")}
        assert len(orgs) == 2  # one fiskaly organization per VAT ID
        unknown = await first.http.post(
            "/api/v1/pairings", json={"code": "x", "register_serial": "ERS x", "tenant": "ost"}
        )
        assert unknown.status_code in (401, 409)


async def test_the_client_limit_names_the_limit(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        unit.daemon.sim.limits.max_clients = 1
        await unit.pair("ERS kasse-1")
        _code, out = await unit.tsectl("--json", "pair")
        response = await unit.registers[0].http.post(
            "/api/v1/pairings",
            json={"code": json.loads(out)["code"], "register_serial": "ERS kasse-2"},
        )
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "CLIENT_LIMIT_REACHED" and "199" in error["hint"]


async def test_own_test_credentials_switch_from_the_simulator(tmp_path: Path, monkeypatch) -> None:
    import io
    import sys

    from tsed.cli import tsectl

    sim_port = free_port()
    sim = start_sim(tmp_path / "sim", sim_port)
    try:
        async with running_unit(
            tmp_path / "unit", environ={"TSED_FISKALY_BASE_URL": f"http://127.0.0.1:{sim_port}"}
        ) as unit:
            register = await unit.pair()
            before = (await register.receipt())["result"]
            assert unit.daemon.backend == "simulator"
            monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
            out = io.StringIO()
            argv = [
                "--socket",
                str(unit.daemon.options.admin_socket),
                "--json",
                "credentials",
                "set",
                "--api-key",
                KEY,
            ]
            code = await asyncio.to_thread(tsectl.main, argv, out=out)
            assert code == 0, out.getvalue()
            assert SECRET not in out.getvalue()
            assert json.loads(out.getvalue())["backend"] == "fiskaly"
            after = (await register.receipt())["result"]  # same register, same token
            assert after["tss_serial_number"] != before["tss_serial_number"]
            assert verify_qr_code(after["qr_code_data"]).valid
            status = (await register.http.get("/api/v1/status")).json()
            assert status["backend"] == "fiskaly" and status["mode"] == "TEST"
    finally:
        sim.terminate()
        sim.communicate(timeout=30)


async def test_a_proxy_change_applies_without_a_restart(tmp_path: Path) -> None:
    """Saved on the page (or with tsectl): the next fiskaly call goes through the new proxy,
    and after clearing it directly again; no restart, no lost receipt."""
    sim_port = free_port()
    sim = start_sim(tmp_path / "sim", sim_port)
    proxy = ProxyServer(username="shop", password="Pr0xy-Secret")
    await proxy.start()
    state = tmp_path / "unit"
    _vault(state, {"fiskaly.test.default.api_key": KEY, "fiskaly.test.default.api_secret": SECRET})
    upstream = f"127.0.0.1:{sim_port}"
    try:
        async with running_unit(
            state, environ={"TSED_FISKALY_BASE_URL": f"http://{upstream}"}
        ) as unit:
            register = await unit.pair()
            assert (await register.receipt())["tse_failure"] is False
            assert proxy.total == 0
            transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
            async with httpx.AsyncClient(transport=transport, base_url="http://unit") as admin:
                values = {
                    "proxy.host": "127.0.0.1",
                    "proxy.port": str(proxy.port),
                    "proxy.username": "shop",
                    "proxy.password": "Pr0xy-Secret",
                }
                saved = await admin.put("/admin/v1/config", json={"values": values})
                assert saved.status_code == 200, saved.text
                answer = await register.receipt()
                assert answer["tse_failure"] is False
                assert verify_qr_code(answer["result"]["qr_code_data"]).valid
                assert proxy.connections[upstream] >= 1
                assert proxy.refused == 0
                through = proxy.total
                cleared = await admin.put("/admin/v1/config", json={"values": {"proxy.host": ""}})
                assert cleared.status_code == 200, cleared.text
                assert cleared.json().get("proxy") in (None, {})
                assert (await register.receipt())["tse_failure"] is False
                assert proxy.total == through  # directly again
    finally:
        await proxy.stop()
        sim.terminate()
        sim.communicate(timeout=30)
