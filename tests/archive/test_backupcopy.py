"""The unit backups' off-box copy with real restic against a REST target on loopback: copied
under their own tag (the archive's snapshots stay apart), fetched back byte for byte, and a
target that is down is reported, never raised."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.offbox import RcloneRest
from tsed.archive.backupcopy import (
    BACKUP_TAG,
    copy_backups,
    copy_backups_or_report,
    fetch_newest_backup,
)
from tsed.archive.offbox import OffboxCopy
from tsed.config.model import config_from_dict
from tsed.config.offbox import CREDENTIAL_ENTRY, PASSWORD_ENTRY
from tsed.errors import OffboxError
from tsed.state.backupfile import encrypt_file
from tsed.state.vault import Vault

REPO_PASSWORD = "repo-password-Hq72nXc0Lp"
BACKUP_PASSWORD = "Backup-Passwort-Nacht-7"


@pytest.fixture
def target(tmp_path: Path) -> Iterator[RcloneRest]:
    server = RcloneRest(tmp_path / "target")
    server.start()
    yield server
    server.stop()


def offbox_copy(state: Path, target: RcloneRest) -> OffboxCopy:
    vault = Vault(state / "vault.json")
    vault.update({PASSWORD_ENTRY: REPO_PASSWORD, CREDENTIAL_ENTRY: target.password})
    config = config_from_dict({"offbox": {"repository": target.url(), "user": target.user}})
    copy = OffboxCopy.from_config(config, vault, state)
    assert copy is not None
    return copy


def a_backup(folder: Path, name: str, payload: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder.parent / f"{name}.plain"
    plain.write_bytes(payload)
    path = folder / name
    with path.open("wb") as handle:
        encrypt_file(plain, handle, BACKUP_PASSWORD)
    plain.unlink()
    return path


@pytest.mark.timeout(180)
async def test_backups_are_copied_apart_from_the_archive_and_fetched_back(
    tmp_path: Path, target: RcloneRest
) -> None:
    state = tmp_path / "state"
    copy = offbox_copy(state, target)
    folder = state / "backups"
    a_backup(folder, "tsed-backup-aaaa-20261201T020000Z.tsedbackup", b"night one" * 1000)
    first = await copy_backups(copy, folder)
    newest = a_backup(folder, "tsed-backup-aaaa-20261202T020000Z.tsedbackup", b"two" * 5000)
    second = await copy_backups(copy, folder)
    assert first.snapshot_id != second.snapshot_id and second.files_new == 1
    snapshots = await copy.restic.snapshots(tag=BACKUP_TAG)
    assert [s.short_id for s in snapshots] == [first.snapshot_id[:8], second.snapshot_id[:8]]
    assert await copy.latest() is None  # the archive's own snapshots: none, never mixed
    fetched = await fetch_newest_backup(copy, tmp_path / "fetched")
    assert fetched.name == newest.name and fetched.read_bytes() == newest.read_bytes()
    with pytest.raises(OffboxError, match="not empty"):
        await fetch_newest_backup(copy, tmp_path / "fetched")


@pytest.mark.timeout(120)
async def test_a_target_that_is_down_is_reported_not_raised(
    tmp_path: Path, target: RcloneRest, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    copy = offbox_copy(state, target)
    folder = state / "backups"
    a_backup(folder, "tsed-backup-aaaa-20261201T020000Z.tsedbackup", b"x" * 100)
    target.stop()
    with caplog.at_level(logging.WARNING):
        assert await copy_backups_or_report(copy, folder) is None
    failed = [r for r in caplog.records
              if getattr(r, "TSED_EVENT", "") == "backup_offbox_copy_failed"]  # fmt: skip
    assert len(failed) == 1 and REPO_PASSWORD not in failed[0].getMessage()
    with pytest.raises(OffboxError):
        await fetch_newest_backup(copy, tmp_path / "fetched")
