"""The switch to LIVE (tsed.provisioning.modeswitch), against the simulator over HTTP with a
real store."""

from __future__ import annotations

import pytest

from tests.support.provisioning import DEVICE, saved_config
from tests.support.rebinding import pair, sign, test_registry, unit
from tsed.errors import InputError, ModeError
from tsed.provisioning.activation import ActivationDowngrade
from tsed.provisioning.anlegen import create_credentials
from tsed.provisioning.modeswitch import switch_mode
from tsed.state.mode import read_mode, write_mode

__all__ = ["test_registry", "unit"]


async def test_switch_to_live_archives_test_and_rebinds_registers(unit, test_registry) -> None:
    register_id = await pair(unit, test_registry, "ERS kasse-7")
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
        assert await sign(live, tss.tss_id, bound.client_id) == "LIVE"
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
