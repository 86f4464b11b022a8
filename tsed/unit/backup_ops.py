"""The unit backup's operations in the running unit: ``tsectl backup create`` (an admin
operation, so the running unit takes the consistent snapshot: SQLite's online backup API, not a
file copy) and the nightly backup with its off-box copy.

The backup password reaches the unit only in the admin request's body (never a command line);
it is registered with the log redactor at once. With ``remember`` it is kept in the vault
(:data:`PASSWORD_ENTRY`) for the nightly backup.

The nightly run: :meth:`BackupAdminOps.nightly` writes a backup with the remembered password
and, when ``offbox.repository`` is set, copies the backups folder to the archive's off-box
target (:func:`tsed.archive.backupcopy.copy_backups_or_report`). Call it from the archive's
nightly run after the archive's own copy; without a remembered password it does nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from tsed import __version__
from tsed.archive.backupcopy import copy_backups_or_report
from tsed.archive.offbox import OffboxCopy
from tsed.errors import ConfigError, OffboxError, TsedError
from tsed.logs import register_secret
from tsed.state.backup import BackupInfo, create_backup
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
            info = await asyncio.to_thread(
                create_backup, StatePaths(d.state_dir), d.options.config_path, password,
                device_id=d.identity.device_id, tsed_version=__version__,
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
