"""The archive's admin operations (``/admin/v1/archive*``), composed into
:class:`tsed.unit.admin_ops.AdminOps`; the archive itself is
:class:`tsed.archive.service.ArchiveService`, built by the composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from tsed.archive.audit import disk_projection, parse_day, period, verify_archive
from tsed.archive.auditor import Restored, export_period, needs_restore
from tsed.archive.service import ArchiveService
from tsed.archive.store import ArchiveStore
from tsed.archive.views import (
    ArchiveStatusView,
    ExportView,
    OffboxPasswordView,
    RunView,
    VerifyView,
)
from tsed.config.model import Config
from tsed.config.offbox import PASSWORD_ENTRY
from tsed.errors import InputError, TsedError
from tsed.logs import register_secret
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.texts.notices import Notice, notice

_LOGGER = logging.getLogger(__name__)
REPOSITORY_PASSWORD_MIN = 12
REPOSITORY_PASSWORD_MAX = 256


class ArchiveAdminHost(Protocol):
    """What the archive's admin operations read of the running unit (no import of the daemon:
    no circle in unit/); the daemon and an operations context both have these."""

    @property
    def config(self) -> Config: ...

    @property
    def store(self) -> Store: ...

    @property
    def vault(self) -> Vault: ...

    @property
    def archive(self) -> ArchiveService: ...


class ArchiveAdminOps:
    """``/admin/v1/archive``: status, run (on demand), verify, export (auditor), and the
    off-box repository's password."""

    def __init__(self, host: ArchiveAdminHost) -> None:
        self._host = host

    @property
    def _archive(self) -> ArchiveService:
        return self._host.archive

    async def archive_status(self) -> ArchiveStatusView:
        return await self._archive.status()

    async def archive_run(self) -> RunView:
        self._archive.require()
        state = self._archive.archiver.start("on demand")
        await self._host.store.audit("admin", "archive_run", {})
        return RunView.of(True, state)

    async def archive_progress(self) -> RunView:
        archiver = self._archive.archiver
        return RunView.of(archiver.running, archiver.current or archiver.last)

    async def archive_verify(self) -> VerifyView:
        self._archive.require()
        return VerifyView.of(await asyncio.to_thread(verify_archive, self._archive.store))

    async def archive_export(self, start: str, end: str, tenant: str | None) -> ExportView:
        """The auditor's directory for the period, from the local archive; files the box
        lost come from the off-box copy (restored into a private folder, checked again)."""
        self._archive.require()
        low, high = period(start, end)
        store = self._archive.store
        if tenant is not None:
            known = {t.id for t in self._host.config.tenant_list()}
            with contextlib.suppress(OSError, sqlite3.Error):  # else the copy's index may
                known |= {e.tenant for e in await asyncio.to_thread(store.entries)}
            if tenant not in known and self._archive.offbox is None:
                raise InputError(f"tenant {tenant!r} is not known here (known: "
                                 f"{', '.join(sorted(known))})")  # fmt: skip
        stamp = datetime.fromtimestamp(time.time(), UTC).strftime("%Y%m%dT%H%M%SZ")
        days = f"{parse_day(start, 'from').isoformat()}_{parse_day(end, 'to').isoformat()}"
        name = f"tse-export_{days}" + (f"_{tenant}" if tenant else "") + f"_{stamp}"
        auditor = self._archive.auditor
        await asyncio.to_thread(auditor.mkdir, parents=True, exist_ok=True, mode=0o750)
        dest = auditor / name
        offbox = self._archive.offbox
        private: Path | None = None
        restored = None
        try:
            if offbox is not None and await asyncio.to_thread(
                needs_restore, store, low, high, tenant
            ):
                private = Path(await asyncio.to_thread(
                    tempfile.mkdtemp, prefix=".restore-", dir=auditor
                ))  # fmt: skip
                try:
                    result = await offbox.restore(private / "copy")
                    restored = Restored(ArchiveStore(private / "copy"), result.snapshot_id[:8])
                except TsedError as err:  # the report then names what the box lacks
                    _LOGGER.warning(
                        "auditor export: the off-box copy could not be restored: %s",
                        err.message, extra={"TSED_EVENT": "offbox_restore_failed"},
                    )  # fmt: skip
            report = await asyncio.to_thread(
                export_period, store, dest, low, high, tenant, restored
            )
        finally:
            if private is not None:
                await asyncio.to_thread(shutil.rmtree, private, True)
        await self._host.store.audit("admin", "archive_export", {"from": start, "to": end})
        return ExportView.of(report)

    async def offbox_password(self, password: str) -> OffboxPasswordView:
        """Keep the off-box repository's password in the vault (never echoed or logged)."""
        if not password.isprintable() or not (
            REPOSITORY_PASSWORD_MIN <= len(password) <= REPOSITORY_PASSWORD_MAX
        ):
            raise InputError(
                f"the repository password needs {REPOSITORY_PASSWORD_MIN} to "
                f"{REPOSITORY_PASSWORD_MAX} printable characters",
                hint="Choose a long password and write it on the installer's record sheet: "
                "without it nobody can read the off-box copy.",
            )
        register_secret(password)
        await asyncio.to_thread(self._host.vault.set, PASSWORD_ENTRY, password)
        await self._host.store.audit("admin", "offbox_password", {})
        _LOGGER.info("off-box repository password stored",
                     extra={"TSED_EVENT": "offbox_password_set"})  # fmt: skip
        offbox = self._host.config.offbox
        return OffboxPasswordView(True, None if offbox is None else offbox.repository.display)

    async def archive_notices(self) -> list[Notice]:
        """For ``tsectl status``: open findings, a run that did not finish, a filling disk,
        an off-box copy that fails or is old."""
        if self._archive.failure is not None:
            return [notice(f"archive: cannot be opened ({self._archive.failure}); nothing is "
                           "archived", "notice.archive.unavailable")]  # fmt: skip
        store = self._archive.store
        entries = await asyncio.to_thread(store.entries)
        notices = []
        latest: dict[str, Any] = {}
        for entry in entries:  # ordered by counter: the last one per TSS says where it stands
            if latest.get(entry.tss_id) is None or entry.id > latest[entry.tss_id].id:
                latest[entry.tss_id] = entry
        for tss_id, entry in sorted(latest.items()):
            if entry.state == "rejected":
                codes = ", ".join(sorted({str(f.get("code")) for f in entry.findings}))
                notices.append(notice(
                    f"archive: the export of TSS {tss_id} counters {entry.first_counter}.."
                    f"{entry.last_counter} has findings ({codes}), kept as {entry.path}; "
                    "see tsectl archive status", "notice.archive.findings", tss=tss_id,
                    first=entry.first_counter, last=entry.last_counter,
                    codes=", ".join(f"'{c}'" for c in codes.split(", ")),  # names, not words
                    path=entry.path,
                ))  # fmt: skip
        last = self._archive.archiver.last
        if last is not None:
            for tss_id, item in last.tss.items():
                if item.get("error"):
                    error = item["error"]
                    notices.append(notice(
                        f"archive: the last run stopped for TSS {tss_id}: {error['message']}",
                        "notice.archive.tss_stopped", tss=tss_id,
                        code=error.get("code", "INTERNAL"),
                    ))  # fmt: skip
            if last.state in ("failed", "interrupted") and not any(
                i.get("error") or i.get("finding") for i in last.tss.values()
            ):
                notices.append(notice(f"archive: the last run ({last.reason}) did not finish: "
                                      f"{(last.events or ['?'])[-1]}",
                                      "notice.archive.unfinished", reason=last.reason))  # fmt: skip
        disk = await asyncio.to_thread(
            disk_projection, store, [e for e in entries if e.state == "archived"], time.time()
        )
        if disk["disk_warning"]:
            days = disk["days_until_full"]
            notices.append(notice(f"archive: the disk is full in about {days} days",
                                  "notice.archive.disk", days=days))  # fmt: skip
        offbox = await asyncio.to_thread(self._archive.offbox_status)
        if offbox.state in ("failing", "stale"):
            error = f" ({offbox.last_error})" if offbox.last_error else ""
            notices.append(notice(f"archive: the off-box copy is {offbox.state}{error}",
                                  "notice.archive.offbox", state=offbox.state))  # fmt: skip
        return notices

    def archive_metrics(self) -> bytes:
        archive = self._archive
        return archive.metrics.render(
            running=archive.archiver.running, now=archive.clock(), offbox=archive.offbox_status()
        )
