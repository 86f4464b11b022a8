"""The nightly unit backup in a real unit: with a remembered password and an off-box target
(restic to a REST server on loopback) the backup is written and copied; the schedule runs it
once a night at its hour and outlives a failing night."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.offbox import RcloneRest
from tests.support.unit import running_unit
from tsed.archive.backupcopy import BACKUP_TAG
from tsed.archive.offbox import OffboxCopy
from tsed.config.offbox import CREDENTIAL_ENTRY
from tsed.config.offbox import PASSWORD_ENTRY as REPOSITORY_PASSWORD
from tsed.unit.backup_ops import PASSWORD_ENTRY, BackupAdminOps, BackupSchedule

BACKUP_PASSWORD = "Nacht-Backup-Passwort-42"


@pytest.mark.timeout(180)
async def test_the_nightly_backup_is_written_and_copied_off_the_box(tmp_path: Path) -> None:
    target = RcloneRest(tmp_path / "target")
    await target.astart()
    try:
        config = f'[offbox]\nrepository = "{target.url()}"\nuser = "{target.user}"\n'
        async with running_unit(tmp_path / "state", config=config) as unit:
            ops = BackupAdminOps(unit.daemon.running.ops)
            assert (await ops.nightly()).backup is None  # no password remembered: nothing
            unit.daemon.vault.update({PASSWORD_ENTRY: BACKUP_PASSWORD,
                                      REPOSITORY_PASSWORD: "repo-password-Ux81kLm2Qa",
                                      CREDENTIAL_ENTRY: target.password})  # fmt: skip
            register = await unit.pair()
            await register.receipt()
            night = await ops.nightly()
            assert night.backup is not None and night.backup.transactions == 1
            assert night.offbox_snapshot is not None
            copy = OffboxCopy.from_config(unit.daemon.config, unit.daemon.vault, unit.state_dir)
            assert copy is not None
            snapshots = await copy.restic.snapshots(tag=BACKUP_TAG)
            assert [s.short_id for s in snapshots] == [night.offbox_snapshot[:8]]
            code, out = await unit.tsectl(
                "--json", "--state-dir", str(unit.state_dir), "backup", "fetch", "--to",
                str(tmp_path / "fetched"), "--config", str(unit.state_dir / "tsed.toml"),
            )  # fmt: skip
            assert code == 0, out
            fetched = Path(json.loads(out)["file"])
            assert fetched.read_bytes() == night.backup.file.read_bytes()
            await target.astop()  # the target goes away: the backup is still written
            later = await ops.nightly()
            assert later.backup is not None and later.offbox_snapshot is None
            await register.receipt()  # signing is untouched
    finally:
        await target.astop()


async def test_the_schedule_runs_once_a_night_and_outlives_a_failure() -> None:
    start = datetime.now().astimezone().replace(hour=2, minute=59, second=0, microsecond=0)
    now = [start.timestamp()]
    nights: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        await asyncio.sleep(0)

    async def nightly() -> None:
        nights.append(now[0])
        if len(nights) == 1:
            raise RuntimeError("the first night fails")

    schedule = BackupSchedule(nightly, lambda: 3, clock=lambda: now[0], sleep=sleep)
    schedule.start()
    for _ in range(10_000):
        if len(nights) >= 2:
            break
        await asyncio.sleep(0)
    await schedule.stop()
    assert len(nights) == 2
    first, second = (datetime.fromtimestamp(t) for t in nights)
    assert (first.hour, first.minute) == (3, 0) and (second.hour, second.minute) == (3, 0)
    assert 23 * 3600 <= nights[1] - nights[0] <= 25 * 3600
