"""The shared re-binding steps (tsed.provisioning.bindings), against the simulator over HTTP
with a real store."""

from __future__ import annotations

from tests.support.rebinding import pair, sign, test_registry, unit
from tsed.provisioning.bindings import rebind_all

__all__ = ["test_registry", "unit"]


async def test_bind_keeps_the_client_and_rebind_makes_a_new_one(unit, test_registry) -> None:
    registry = test_registry
    register_id = await pair(unit, registry, "ERS kasse-8")
    tss_id = registry.binding("default").tss_id
    client_id = registry.register_client(register_id, tss_id).client_id
    rows = await unit.store.list_registers()

    (kept,) = await rebind_all(unit.store, registry, rows, lambda: 3.0, force=False)
    assert (kept.tss_id, kept.client_id, kept.error) == (tss_id, client_id, None)
    assert kept.notes == ("already bound",) and kept.previous_client_ids == ()

    new_tss = (await registry.ensure_tss("default", replace=True)).tss_id
    (new,) = await rebind_all(unit.store, registry, rows, lambda: 4.0, force=True)
    assert new.tss_id == new_tss != tss_id and new.client_id not in (None, client_id)
    assert new.previous_client_ids == (client_id,) and new.to_json()["ok"] is True
    assert unit.sim.state.clients[client_id].state == "DEREGISTERED"
    current = registry.register_client(register_id, new_tss)
    assert current is not None and current.client_id == new.client_id
    assert await sign(registry, new_tss, new.client_id) == "TEST"


async def test_a_failing_register_is_reported_not_raised(unit, test_registry) -> None:
    registry = test_registry
    register_id = await pair(unit, registry, "ERS kasse-9")
    await registry.ensure_tss("default", replace=True)
    unit.sim.limits.max_clients = 0
    rows = await unit.store.list_registers()
    (failed,) = await rebind_all(unit.store, registry, rows, lambda: 5.0, force=True)
    assert failed.register_id == register_id and failed.client_id is None
    assert "E_CLIENT_LIMIT_REACHED" in str(failed.error)
    assert failed.to_json()["ok"] is False
