"""The health check of a new root slot against a real unit: its TEST receipt signs through the
register API (a register paired for it, revoked after it), a unit whose register API does not
answer is unhealthy, and only a boot after an install into the booted slot is checked. The
marks and the reboot run in the qemu test (``tests/image/test_update.py``)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from tests.support.unit import running_unit
from tsed.cli import update_health
from tsed.cli.update_health import Unhealthy
from tsed.unit.rauc import RaucStatus, SlotView
from tsed.unit.update_ops import UpdateResult


async def test_a_test_receipt_signs_and_its_register_is_revoked(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        socket_path = unit.daemon.options.admin_socket
        status = await asyncio.to_thread(
            update_health._admin_status, socket_path, time.monotonic() + 30
        )
        assert status["mode"] == "TEST"
        await asyncio.to_thread(update_health._test_receipt, socket_path, unit.base_url)
        _, out = await unit.tsectl("--json", "registers")
        _, status_out = await unit.tsectl("--json", "status")
    registers = json.loads(out)["registers"]
    assert [r["serial"] for r in registers] == ["update-health"]
    assert registers[0]["revoked_at"] is not None  # no register is left behind
    assert json.loads(status_out)["receipts_signed"] == 1


async def test_a_unit_whose_register_api_does_not_answer_is_unhealthy(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        socket_path = unit.daemon.options.admin_socket
        with pytest.raises(Exception) as caught:
            await asyncio.to_thread(update_health._test_receipt, socket_path, "https://127.0.0.1:9")
    assert not isinstance(caught.value, AssertionError)
    with pytest.raises(Unhealthy, match="Admin-Socket antwortet nicht"):
        update_health._admin_status(tmp_path / "none.sock", time.monotonic() + 0.5)


def test_only_a_boot_after_an_install_into_the_booted_slot_is_checked() -> None:
    slots = (SlotView("rootfs.0", "A", "inactive", "good", "0.2.0", None, "ok"),
             SlotView("rootfs.1", "B", "booted", "good", "0.3.0", None, "ok"))  # fmt: skip
    on_b = RaucStatus("tsed-lan-unit", "B", "B", slots)
    installed = UpdateResult("installed", "/x.raucb", "0.3.0", slot="B")
    assert update_health._pending(on_b, installed)
    assert not update_health._pending(on_b, UpdateResult("good", "/x.raucb", "0.3.0", slot="B"))
    assert not update_health._pending(on_b, UpdateResult("installed", "/x", "0.3.0", slot="A"))
    assert not update_health._pending(on_b, None)
