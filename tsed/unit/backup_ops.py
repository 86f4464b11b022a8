"""The unit backup's operations in the running unit: ``tsectl backup create`` (an admin
operation, so the running unit takes the consistent snapshot: SQLite's online backup API, not a
file copy) and the nightly backup with its off-box copy.

The backup password reaches the unit only in the admin request's body (never a command line);
it is registered with the log redactor at once. The backup is written by a child process
(:mod:`tsed.state.backup_worker`): scrypt and the compression never stall the event loop.
With ``remember`` it is kept in the vault (:data:`PASSWORD_ENTRY`) for the nightly backup.

The nightly run: :meth:`BackupAdminOps.nightly` writes a backup with the remembered password
and, when ``offbox.repository`` is set, copies the backups folder to the archive's off-box
target (:func:`tsed.archive.backupcopy.copy_backups_or_report`); without a remembered password
it does nothing. :class:`BackupSchedule` runs it an hour after the archive's nightly run
(``archive_hour`` + 1), so the backup holds the night's archive index.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tsed import __version__
from tsed.archive.backupcopy import copy_backups_or_report
from tsed.archive.offbox import OffboxCopy
from tsed.archive.schedule import STEP, DailySchedule
from tsed.errors import ConfigError, OffboxError, TsedError
from tsed.logs import register_secret
from tsed.state.backup import BackupInfo
from tsed.state.backup_worker import create_in_worker
from tsed.state.backupfile import check_password
from tsed.state.paths import StatePaths
from tsed.unit.context import OpsContext

_LOGGER = logging.getLogger(__name__)

PASSWORD_ENTRY = "backup.password"  # noqa: S105 - the vault entry's name, not a password


@dataclass(frozen=True, slots=True)
class NightlyBackup:
    backup: BackupInfo | None  # None: no backup password remembered
    offbox_snapshot: str | None  # None: no off-box target, or the copy failed (logged)


class BackupAdminOps:
    """``POST /admin/v1/backup`` and the nightly backup."""

    def __init__(self, context: OpsContext) -> None:
        self.d = context
        self._lock = asyncio.Lock()  # one backup at a time

    async def backup_create(self, password: str, remember: bool = False) -> BackupInfo:
        register_secret(password)
        check_password(password)
        d = self.d
        async with self._lock:
            info = await create_in_worker(  # a process of its own: signing never waits
                d.state_dir, d.options.config_path, password,
                device_id=d.identity.device_id, tsed_version=__version__,
            )  # fmt: skip
        _LOGGER.info(
            "backup written: %s, %d bytes, %d transactions, %.1f s",
            info.name, info.size, info.transactions, info.seconds,
            extra={"TSED_EVENT": "backup_created", "TSED_BYTES": info.size,
                   "TSED_FILE": info.name},
        )  # fmt: skip
        if remember:
            d.vault.set(PASSWORD_ENTRY, password)
        await d.store.audit("admin", "backup_create", {"file": info.name, "remember": remember})
        return info

    async def nightly(self) -> NightlyBackup:
        """A backup with the remembered password, then its off-box copy when configured;
        failures are logged, never raised (signing and the archive go on)."""
        d = self.d
        password = d.vault.get(PASSWORD_ENTRY)
        if not password:
            return NightlyBackup(None, None)
        try:
            info = await self.backup_create(password)
        except TsedError as err:  # the nightly run goes on; logged
            _LOGGER.warning(
                "the nightly unit backup failed: %s (%s)", err.message, err.hint,
                extra={"TSED_EVENT": "backup_nightly_failed"},
            )  # fmt: skip
            return NightlyBackup(None, None)
        try:
            copy = OffboxCopy.from_config(d.config, d.vault, d.state_dir)
        except (ConfigError, OffboxError) as err:
            _LOGGER.warning("no off-box copy of the unit backup: %s", err.message,
                            extra={"TSED_EVENT": "backup_offbox_copy_failed"})  # fmt: skip
            return NightlyBackup(info, None)
        if copy is None:
            return NightlyBackup(info, None)
        summary = await copy_backups_or_report(copy, StatePaths(d.state_dir).backups)
        return NightlyBackup(info, None if summary is None else summary.snapshot_id)


class BackupSchedule(DailySchedule):
    """Runs ``nightly`` once a night at ``hour()`` o'clock, local time (wall-clock jumps and a
    changed hour followed as the archive's schedule does: the same :class:`DailySchedule`)."""

    def __init__(
        self,
        nightly: Callable[[], Awaitable[object]],
        hour: Callable[[], int],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        step: float = STEP,
    ) -> None:
        super().__init__(nightly, hour, name="tsed-backup-nightly",
                         what="the nightly unit backup", event="backup_nightly_failed",
                         clock=clock, sleep=sleep, step=step)  # fmt: skip
        self.nightly = nightly
