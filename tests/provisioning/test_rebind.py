"""Register reset and the switch to LIVE, against the simulator over HTTP with a real store."""

from __future__ import annotations

import uuid

import pytest

from tests.support.provisioning import DEVICE, Unit, saved_config, unit
from tsed.errors import InputError, ModeError, NotFoundError
from tsed.fiskaly.tr03151 import verify_qr_code
from tsed.provisioning.activation import ActivationDowngrade, read_mode, write_mode
from tsed.provisioning.anlegen import create_credentials
from tsed.provisioning.rebind import reset, switch_mode
from tsed.state.rows import RegisterRow
from tsed.tss.registry import UpstreamRegistry, vault_key

__all__ = ["unit"]
RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}


def _use_sim_credentials(u: Unit, env: str) -> None:
    creds = u.sim.add_api_key(env)  # type: ignore[arg-type]
    u.vault.update(
        {
            vault_key("default", env, "api_key"): creds.api_key,
            vault_key("default", env, "api_secret"): creds.api_secret,
        }
    )


async def _pair(u: Unit, registry: UpstreamRegistry, serial: str) -> str:
    register_id = str(uuid.uuid4())
    await u.store.add_register(
        RegisterRow(register_id, serial, None, "default", uuid.uuid4().hex, 1.0)
    )
    await registry.ensure_client(register_id, serial, "default")
    return register_id


async def _sign(registry: UpstreamRegistry, tss_id: str | None, client_id: str | None) -> str:
    assert tss_id is not None and client_id is not None
    client = registry.client("default")
    tx_id = str(uuid.uuid4())
    await client.start_transaction(tss_id, tx_id, client_id)
    tx = await client.finish_transaction(tss_id, tx_id, 2, client_id, RECEIPT)
    assert tx.qr_code_data and verify_qr_code(tx.qr_code_data).valid
    return tx.env


@pytest.fixture
async def test_registry(unit: Unit):
    _use_sim_credentials(unit, "TEST")
    registry = unit.registry("TEST")
    await registry.start()
    yield registry
    await registry.stop()


async def test_reset_after_the_tss_was_replaced_binds_a_new_client(unit, test_registry) -> None:
    registry = test_registry
    register_id = await _pair(unit, registry, "ERS kasse-1")
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
    assert await _sign(registry, new_tss.tss_id, bound.client_id) == "TEST"


async def test_reset_on_the_same_tss_registers_the_client_again(unit, test_registry) -> None:
    registry = test_registry
    register_id = await _pair(unit, registry, "ERS kasse-2")
    tss_id = registry.binding("default").tss_id
    client_id = registry.register_client(register_id, tss_id).client_id
    # someone deregistered the client (e.g. in the fiskaly dashboard)
    unit.sim.state.clients[client_id].state = "DEREGISTERED"
    result = await reset(store=unit.store, registry=registry, register_id=register_id)
    (bound,) = result.registers
    assert result.ok and bound.tss_id == tss_id
    assert unit.sim.state.clients[bound.client_id].state == "REGISTERED"
    assert bound.client_id == client_id and any("serial" in n for n in bound.notes)
    assert await _sign(registry, tss_id, bound.client_id) == "TEST"


async def test_reset_all_and_argument_rules(unit, test_registry) -> None:
    registry = test_registry
    ids = [await _pair(unit, registry, f"ERS kasse-{n}") for n in (3, 4)]
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
    ok_id = await _pair(unit, registry, "ERS kasse-5")
    bad_id = await _pair(unit, registry, "ERS kasse-6")
    await registry.ensure_tss("default", replace=True)
    unit.sim.limits.max_clients = 1
    result = await reset(store=unit.store, registry=registry, all=True)
    by_id = {r.register_id: r for r in result.registers}
    assert not result.ok and by_id[ok_id].error is None
    assert "E_CLIENT_LIMIT_REACHED" in str(by_id[bad_id].error)
    assert result.to_json()["ok"] is False


async def test_switch_to_live_archives_test_and_rebinds_registers(unit, test_registry) -> None:
    register_id = await _pair(unit, test_registry, "ERS kasse-7")
    test_tss = test_registry.binding("default").tss_id
    activation, _mgmt = unit.activate("LIVE")
    assert activation.mode == "LIVE"
    created = await create_credentials(
        config=saved_config(), state_dir=unit.state_dir, vault=unit.vault, access=unit.access,
        confirm=True, device_id=DEVICE,
    )  # fmt: skip
    assert created.env == "LIVE"
    live = unit.registry("LIVE")
    await live.start()
    try:
        result = await switch_mode(
            target="LIVE", state_dir=unit.state_dir, store=unit.store, registry=live
        )
        assert result.ok and result.mode == "LIVE" and result.archived_bindings == 1
        (tss,) = result.tss
        assert tss.tss_id != test_tss and tss.state == "INITIALIZED"
        assert unit.sim.state.tss[tss.tss_id].env == "LIVE"
        # TEST bindings archived, never reused
        rows = await unit.store.bindings(include_archived=True)
        assert {(r.env, r.archived_at is not None) for r in rows} == {("TEST", True),
                                                                     ("LIVE", False)}  # fmt: skip
        assert [r.tss_id for r in await unit.store.bindings()] == [tss.tss_id]
        # the register has a new client on the LIVE TSS and signs LIVE
        (bound,) = result.registers
        assert bound.register_id == register_id and bound.tss_id == tss.tss_id
        assert unit.sim.state.clients[bound.client_id].serial_number == "ERS kasse-7"
        assert await _sign(live, tss.tss_id, bound.client_id) == "LIVE"
        assert read_mode(unit.state_dir) == "LIVE"
        # running it again changes nothing
        again = await switch_mode(
            target="LIVE", state_dir=unit.state_dir, store=unit.store, registry=live
        )
        assert again.tss[0].tss_id == tss.tss_id
        assert again.registers[0].client_id == bound.client_id
        assert again.archived_bindings == 0
    finally:
        await live.stop()


async def test_switch_to_live_needs_the_vendor_and_the_credentials(unit) -> None:
    live = unit.registry("LIVE")
    await live.start()
    try:
        with pytest.raises(ModeError) as no_activation:
            await switch_mode(target="LIVE", state_dir=unit.state_dir, store=unit.store,
                              registry=live)  # fmt: skip
        assert "vendor" in no_activation.value.message
        unit.activate("LIVE")
        with pytest.raises(ModeError) as no_credentials:
            await switch_mode(target="LIVE", state_dir=unit.state_dir, store=unit.store,
                              registry=live)  # fmt: skip
        assert "Anlegen" in no_credentials.value.hint
        with pytest.raises(InputError):
            await switch_mode(target="TEST", state_dir=unit.state_dir, store=unit.store,
                              registry=live)  # fmt: skip
    finally:
        await live.stop()


async def test_live_never_goes_back_to_test(unit, test_registry) -> None:
    write_mode(unit.state_dir, "LIVE")
    with pytest.raises(ActivationDowngrade):
        await switch_mode(
            target="TEST", state_dir=unit.state_dir, store=unit.store, registry=test_registry
        )
    assert read_mode(unit.state_dir) == "LIVE"
