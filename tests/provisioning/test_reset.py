"""The register reset (tsed.provisioning.reset), against the simulator over HTTP with a real
store."""

from __future__ import annotations

import pytest

from tests.support.rebinding import pair, sign, test_registry, unit
from tsed.errors import InputError, NotFoundError
from tsed.provisioning.reset import reset

__all__ = ["test_registry", "unit"]


async def test_reset_after_the_tss_was_replaced_binds_a_new_client(unit, test_registry) -> None:
    registry = test_registry
    register_id = await pair(unit, registry, "ERS kasse-1")
    old_tss = registry.binding("default")
    old_client = registry.register_client(register_id, old_tss.tss_id)
    new_tss = await registry.ensure_tss("default", replace=True)
    assert new_tss.tss_id != old_tss.tss_id

    result = await reset(store=unit.store, registry=registry, register_id=register_id)
    assert result.ok
    (bound,) = result.registers
    assert bound.tss_id == new_tss.tss_id and bound.client_id != old_client.client_id
    assert old_client.client_id in bound.previous_client_ids
    sim_clients = unit.sim.state.clients
    assert sim_clients[bound.client_id].state == "REGISTERED"
    assert sim_clients[bound.client_id].serial_number == "ERS kasse-1"
    assert sim_clients[old_client.client_id].state == "DEREGISTERED"  # best effort worked
    # the registry serves the new binding, and the register can sign with it
    current = registry.register_client(register_id, new_tss.tss_id)
    assert current is not None and current.client_id == bound.client_id
    assert await sign(registry, new_tss.tss_id, bound.client_id) == "TEST"


async def test_reset_on_the_same_tss_registers_the_client_again(unit, test_registry) -> None:
    registry = test_registry
    register_id = await pair(unit, registry, "ERS kasse-2")
    tss_id = registry.binding("default").tss_id
    client_id = registry.register_client(register_id, tss_id).client_id
    # someone deregistered the client (e.g. in the fiskaly dashboard)
    unit.sim.state.clients[client_id].state = "DEREGISTERED"
    result = await reset(store=unit.store, registry=registry, register_id=register_id)
    (bound,) = result.registers
    assert result.ok and bound.tss_id == tss_id
    assert unit.sim.state.clients[bound.client_id].state == "REGISTERED"
    assert bound.client_id == client_id and any("serial" in n for n in bound.notes)
    assert await sign(registry, tss_id, bound.client_id) == "TEST"


async def test_reset_all_and_argument_rules(unit, test_registry) -> None:
    registry = test_registry
    ids = [await pair(unit, registry, f"ERS kasse-{n}") for n in (3, 4)]
    await registry.ensure_tss("default", replace=True)
    result = await reset(store=unit.store, registry=registry, all=True)
    assert result.ok and {r.register_id for r in result.registers} == set(ids)
    assert len({r.client_id for r in result.registers}) == 2
    with pytest.raises(InputError):
        await reset(store=unit.store, registry=registry)
    with pytest.raises(InputError):
        await reset(store=unit.store, registry=registry, register_id=ids[0], all=True)
    with pytest.raises(NotFoundError):
        await reset(store=unit.store, registry=registry, register_id="nope")
    await unit.store.revoke_register(ids[0], 2.0)
    with pytest.raises(NotFoundError):
        await reset(store=unit.store, registry=registry, register_id=ids[0])


async def test_reset_reports_a_failing_register_and_goes_on(unit, test_registry) -> None:
    registry = test_registry
    ok_id = await pair(unit, registry, "ERS kasse-5")
    bad_id = await pair(unit, registry, "ERS kasse-6")
    await registry.ensure_tss("default", replace=True)
    unit.sim.limits.max_clients = 1
    result = await reset(store=unit.store, registry=registry, all=True)
    by_id = {r.register_id: r for r in result.registers}
    assert not result.ok and by_id[ok_id].error is None
    assert "E_CLIENT_LIMIT_REACHED" in str(by_id[bad_id].error)
    assert result.to_json()["ok"] is False
