"""Fault injection: latency, errors, 429 bursts, drops, hangs, outages, TSS faults, expiry."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.fiskaly.simulator.conftest import Api
from tsed.fiskaly.simulator import Simulator, SimulatorServer


async def test_latency_is_added(api: Api, sim: Simulator) -> None:
    started = time.monotonic()
    await api.ok("GET", "/tss")
    fast = time.monotonic() - started
    sim.faults.update({"latency_ms": 150})
    started = time.monotonic()
    await api.ok("GET", "/tss")
    assert time.monotonic() - started >= 0.15
    assert fast < 0.15


async def test_error_rate_with_chosen_status_and_code(api: Api) -> None:
    response = await api.http.post(
        "/_sim/faults", json={"error_rate": 1.0, "error_status": 503, "error_code": "E_TSS_LOCKED"}
    )
    assert response.status_code == 200
    failed = await api.call("GET", "/tss")
    assert failed.status_code == 503
    assert failed.json() == {
        "status_code": 503, "error": "Service Unavailable", "code": "E_TSS_LOCKED",
        "message": "injected error",
    }  # fmt: skip
    await api.http.delete("/_sim/faults")
    assert (await api.call("GET", "/tss")).status_code == 200


async def test_rate_limit_burst_with_retry_after(api: Api, sim: Simulator) -> None:
    sim.faults.update({"rate_limit_burst": 2, "retry_after": 7})
    for _ in range(2):
        limited = await api.call("GET", "/tss")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "7"
    assert (await api.call("GET", "/tss")).status_code == 200


async def test_route_filter_limits_the_fault(api: Api, sim: Simulator) -> None:
    sim.faults.update({"error_rate": 1.0, "route": r"^PUT .*/tx/"})
    assert (await api.call("GET", "/tss")).status_code == 200
    tss_id, client_id = await api.setup_tss()
    failed = await api.call(
        "PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}", {"state": "ACTIVE", "client_id": client_id},
        tx_revision=1,
    )  # fmt: skip
    assert failed.status_code == 500


async def test_dropped_connections_and_outage(api: Api, sim: Simulator) -> None:
    sim.faults.update({"drop_rate": 1.0})
    with pytest.raises(httpx.TransportError):
        await api.call("GET", "/tss")
    sim.faults.reset()
    sim.faults.update({"down_for": 0.5})
    with pytest.raises(httpx.TransportError):
        await api.call("GET", "/tss")
    await asyncio.sleep(0.55)
    assert (await api.call("GET", "/tss")).status_code == 200


async def test_hang_until_the_client_gives_up(api: Api, sim: Simulator) -> None:
    sim.faults.update({"hang_rate": 1.0, "hang_seconds": 5})
    with pytest.raises(httpx.ReadTimeout):
        await api.http.get(
            "/api/v2/tss", headers={"Authorization": f"Bearer {api.token}"}, timeout=0.3
        )


async def test_tss_locked_defective_deleted(api: Api, sim: Simulator) -> None:
    tss_id, client_id = await api.setup_tss()
    body = {"state": "ACTIVE", "client_id": client_id}
    sim.faults.update({"tss_locked": True})
    locked = await api.call("PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}", body, tx_revision=1)
    assert locked.status_code == 503 and locked.json()["code"] == "E_TSS_LOCKED"
    assert "Retry-After" in locked.headers
    sim.faults.reset()
    response = await api.http.post("/_sim/faults", json={"tss_state": {tss_id: "DEFECTIVE"}})
    assert response.status_code == 200
    defective = await api.call("PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}", body, tx_revision=1)
    assert defective.status_code == 423 and defective.json()["code"] == "E_TSS_DEFECTIVE"
    assert "time_defective" in (await api.ok("GET", f"/tss/{tss_id}"))
    sim.set_tss_state(tss_id, "DELETED")
    deleted = await api.call("PUT", f"/tss/{tss_id}/tx/{uuid.uuid4()}", body, tx_revision=1)
    assert deleted.status_code == 423 and deleted.json()["code"] == "E_TSS_DELETED"


async def test_forced_token_expiry(api: Api) -> None:
    assert (await api.call("GET", "/tss")).status_code == 200
    await api.http.post("/_sim/faults", json={"expire_tokens": True})
    assert (await api.call("GET", "/tss")).status_code == 401
    await api.auth()
    assert (await api.call("GET", "/tss")).status_code == 200


async def test_bad_fault_settings_are_refused(api: Api) -> None:
    response = await api.http.post("/_sim/faults", json={"frobnicate": 1})
    assert response.status_code == 400
    assert "frobnicate" in response.json()["error"]


async def test_stats_count_requests_per_route(api: Api) -> None:
    await api.call("GET", "/tss")
    await api.call("GET", "/tss")
    stats = (await api.http.get("/_sim/stats")).json()
    assert stats["requests"]["GET /api/v2/tss"] == 2
    assert stats["requests"]["POST /api/v2/auth"] >= 1


async def test_full_stop_and_restart_keeps_port_and_state(
    api: Api, server: SimulatorServer
) -> None:
    tss_id, client_id = await api.setup_tss()
    port = server.port
    await server.stop()
    with pytest.raises(httpx.ConnectError):
        await api.call("GET", "/tss")
    await server.start()
    assert server.port == port
    await api.sale(tss_id, client_id)
    await server.stop()
    await server.stop()  # idempotent


async def test_faults_are_logged(
    api: Api, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.faults.update({"error_rate": 1.0})
    with caplog.at_level("INFO"):
        await api.call("GET", "/tss")
    assert any(getattr(r, "TSED_EVENT", None) == "sim_fault" for r in caplog.records)


async def test_control_routes_only_in_the_simulator() -> None:
    sim = Simulator()
    try:
        from tsed.fiskaly.simulator.app import build_app

        app = build_app(sim.state, sim.fault_engine)
        paths = {r.resource.canonical for r in app.router.routes() if r.resource}
        assert "/_sim/faults" in paths
    finally:
        sim.close()
