"""The unit backups' off-box copy: the encrypted backups folder backed up with restic to the
archive's off-box target (same repository, snapshots tagged :data:`BACKUP_TAG`, so they never
mix with the archive's ``tsed-archive`` snapshots), and the newest one fetched back on a
replacement unit.

The backups are encrypted already (:mod:`tsed.state.backupfile`); restic encrypts them once
more with the repository password. Like the archive's copy, a target that is down never touches
signing: restic runs as its own bounded process and a failure is an
:class:`~tsed.errors.OffboxError` (:func:`copy_backups_or_report` logs it instead).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from tsed.archive.offbox import OffboxCopy
from tsed.archive.restic import BackupSummary
from tsed.errors import OffboxError
from tsed.state.backup import SUFFIX

_LOGGER = logging.getLogger(__name__)

BACKUP_TAG = "tsed-backup"


async def copy_backups(copy: OffboxCopy, folder: Path) -> BackupSummary:
    """Back up the unit backups in ``folder`` to the off-box target (created on first use)."""
    await copy.restic.init()
    summary = await copy.restic.backup(folder, host=copy.host, tags=(BACKUP_TAG,))
    _LOGGER.info(
        "unit backups copied off the box to %s: snapshot %s, %d bytes added",
        copy.display, summary.snapshot_id, summary.data_added,
        extra={"TSED_EVENT": "backup_offbox_copy", "TSED_SNAPSHOT": summary.snapshot_id,
               "TSED_REPOSITORY": copy.display, "TSED_BYTES": summary.data_added},
    )  # fmt: skip
    return summary


async def copy_backups_or_report(copy: OffboxCopy, folder: Path) -> BackupSummary | None:
    """:func:`copy_backups` for the nightly run: a failure is logged with its hint, never
    raised."""
    try:
        return await copy_backups(copy, folder)
    except OffboxError as err:
        _LOGGER.warning(
            "off-box copy of the unit backups to %s failed: %s (%s)",
            copy.display, err.message, err.hint,
            extra={"TSED_EVENT": "backup_offbox_copy_failed", "TSED_CODE": err.code,
                   "TSED_REPOSITORY": copy.display},
        )  # fmt: skip
        return None


async def fetch_newest_backup(copy: OffboxCopy, target_dir: Path) -> Path:
    """Restore the newest backups snapshot into the empty ``target_dir``; returns the newest
    backup file in it (for ``tsectl backup restore``)."""
    snapshots = await copy.restic.snapshots(tag=BACKUP_TAG)
    if not snapshots:
        raise OffboxError(f"{copy.display} holds no copy of a unit backup yet")
    if not await asyncio.to_thread(_empty_folder, target_dir):
        raise OffboxError(f"{target_dir} is not empty: a fetch never writes over files")
    await copy.restic.restore(snapshots[-1].id, target_dir)
    found = await asyncio.to_thread(_backups_in, target_dir)
    if not found:
        raise OffboxError(f"the newest backups snapshot at {copy.display} holds no backup")
    return found[-1]


def _empty_folder(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return not any(path.iterdir())


def _backups_in(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob(f"*{SUFFIX}") if not p.name.startswith("."))
