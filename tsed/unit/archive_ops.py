"""The archive in the daemon: the store, the runs, the nightly schedule and their operations.

Wiring code (like :mod:`tsed.unit.daemon`). :class:`ArchiveService` is built at start-up
(after the signing service, before the admin routes) and stopped before the backend;
:class:`ArchiveAdminOps` is the part of the admin operations behind ``/admin/v1/archive``
(a mixin of :class:`tsed.unit.admin_ops.AdminOps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from tsed.archive.audit import (
    archive_summary,
    disk_projection,
    export_period,
    parse_day,
    period,
    verify_archive,
)
from tsed.archive.metrics import ArchiveMetrics
from tsed.archive.run import ARCHIVE_RECORDS, Archiver, ArchiveTarget, RunState
from tsed.archive.schedule import NightlySchedule
from tsed.archive.store import ArchiveStore
from tsed.config.model import Config
from tsed.errors import InputError, StorageError, TsedError
from tsed.state.rows import BindingRow
from tsed.state.store import Store
from tsed.tss.registry import UpstreamRegistry

_LOGGER = logging.getLogger(__name__)
EXPORTABLE = frozenset({"INITIALIZED", "DISABLED", "DEFECTIVE"})


class ArchiveAdminHost(Protocol):
    """What the archive's admin operations read of the running unit (no import of the daemon:
    no circle in unit/); the daemon and an operations context both have these."""

    @property
    def config(self) -> Config: ...

    @property
    def store(self) -> Store: ...

    @property
    def archive(self) -> ArchiveService: ...


class ArchiveService:
    """Store, archiver and schedule of one daemon."""

    poll_interval = 5.0  # seconds between export status polls (fiskaly: 12 per minute)
    max_records = ARCHIVE_RECORDS  # signatures per export

    def __init__(
        self, *, root: Path, auditor: Path, upstreams: Callable[[], UpstreamRegistry],
        hour: Callable[[], int], clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        """``root``: the archive (kept by factory-reset); ``auditor``: where the auditor's
        exports go. ``upstreams`` and ``hour`` are read at each use: the backend's registry
        (a reload replaces it) and the configured ``archive_hour``."""
        self.auditor = auditor
        self.upstreams = upstreams
        self.hour = hour
        self.clock = clock
        self.store = ArchiveStore(root, clock=clock)
        self.archiver = Archiver(
            self.store, self.targets, poll_interval=self.poll_interval,
            max_records=self.max_records, clock=clock,
        )  # fmt: skip
        self.schedule = NightlySchedule(self.archiver, hour, clock=clock)
        self.metrics = ArchiveMetrics()
        self.archiver.on_done = self._after_run
        self.failure: str | None = None  # why the archive could not be opened at start
        # replaced TSS that are DISABLED but not yet archived to their end (a TSS exchange)
        self.replaced: list[BindingRow] = []

    def targets(self) -> list[ArchiveTarget]:
        out = []
        upstreams = self.upstreams()
        for tenant, binding in sorted(upstreams.all_bindings().items()):
            if binding.state not in EXPORTABLE:
                continue
            try:
                out.append(ArchiveTarget(tenant, binding.tss_id, upstreams.client(tenant)))
            except TsedError as err:
                _LOGGER.warning("archive: no client for tenant %s: %s", tenant, err.message)
        current = {target.tss_id for target in out}
        for row in self.replaced:
            if row.tss_id not in current and row.env == upstreams.mode:
                with contextlib.suppress(TsedError):
                    out.append(
                        ArchiveTarget(row.tenant_id, row.tss_id, upstreams.client(row.tenant_id))
                    )
        return out

    async def load_replaced(self) -> None:
        """The replaced TSS to archive to their end: DISABLED ones no longer bound (the
        archive then ends with their disabling, a signed system log)."""
        rows = await self.upstreams().store.bindings(include_archived=True)
        current = {b.tss_id for b in self.upstreams().all_bindings().values()}
        self.replaced = [r for r in rows if r.archived_at is not None
                         and r.state == "DISABLED" and r.tss_id not in current]  # fmt: skip

    async def _after_run(self, state: RunState) -> None:
        """Gauges follow every run (nightly ones too), without another call to fiskaly."""
        try:
            await self.status(live=False)
        except TsedError as err:
            _LOGGER.warning("archive: the status after the run failed: %s", err.message)
        for tss_id, item in state.tss.items():
            newest, done = item.get("to"), item.get("archived_to")
            if newest is not None and newest == done and not item.get("error"):
                self.replaced = [r for r in self.replaced if r.tss_id != tss_id]  # at its end
            if isinstance(newest, int):
                lag = newest - (done if isinstance(done, int) else 0)
                self.metrics.lag_signatures.labels(tss_id).set(max(0, lag))

    async def start(self) -> None:
        """Open the archive and start the nightly run. An archive that cannot be opened
        (damaged index, read-only directory) never stops the unit: signing goes on, the
        failure is logged and shown, and every archive operation says what is wrong."""
        try:
            await asyncio.to_thread(self.store.open)
        except (TsedError, OSError, sqlite3.Error) as err:
            self.failure = err.message if isinstance(err, TsedError) else f"{err}"
            _LOGGER.error(
                "the archive cannot be opened: %s; signing goes on, nothing is archived",
                self.failure,
                extra={"TSED_EVENT": "archive_failed"},
            )
            return
        self.schedule.start()
        await self._after_run(RunState("start", self.clock()))  # gauges from the index

    def require(self) -> None:
        """Refuse an archive operation while the archive could not be opened."""
        if self.failure is not None:
            raise StorageError(
                f"the archive cannot be opened: {self.failure}",
                hint="Check the archive directory and its index (journal: "
                "TSED_EVENT=archive_failed), then restart the unit; signing is not affected.",
            )

    async def run_now(self, reason: str) -> RunState:
        """An archive run right now (before a reset or a TSS replacement); a failed one when
        the archive could not be opened."""
        if self.failure is not None:
            state = RunState(reason, self.clock(), state="failed", finished_at=self.clock())
            state.note(f"the archive cannot be opened: {self.failure}")
            return state
        await self.load_replaced()
        return await self.archiver.run(reason)

    async def stop(self) -> None:
        await self.schedule.stop()
        await self.archiver.stop()

    async def status(self, *, live: bool = True) -> dict[str, Any]:
        """The index summary plus, per TSS in use, its current counter and the lag."""
        self.require()
        summary = await asyncio.to_thread(archive_summary, self.store)
        now = self.clock()
        for target in self.targets():
            item = summary["tss"].setdefault(
                target.tss_id,
                {"tenant": target.tenant, "last_counter": None, "last_log_time": None,
                 "archived_at": None, "files": 0, "gaps": [], "findings": []},
            )  # fmt: skip
            item["in_use"] = True
            if live:
                try:
                    tss = await target.client.get_tss(target.tss_id)
                    newest = int(tss.signature_counter or 0)
                    item["tss_counter"] = newest
                    item["lag_signatures"] = max(0, newest - (item["last_counter"] or 0))
                except TsedError as err:
                    item["tss_error"] = err.message
            last = item["last_log_time"]
            item["lag_hours"] = None if last is None else round((now - last) / 3600, 2)
        run = self.archiver.current or self.archiver.last
        summary["run"] = {"running": self.archiver.running, **(run.to_json() if run else {})}
        summary["next_run"] = self.schedule.next_at
        summary["archive_hour"] = self.hour()
        self.metrics.update(summary)
        return summary


class ArchiveAdminOps:
    """``/admin/v1/archive``: status, run (on demand), verify, export (auditor)."""

    def __init__(self, host: ArchiveAdminHost) -> None:
        self._host = host

    @property
    def _archive(self) -> ArchiveService:
        return self._host.archive

    async def archive_status(self) -> dict[str, Any]:
        return await self._archive.status()

    async def archive_run(self) -> dict[str, Any]:
        self._archive.require()
        state = self._archive.archiver.start("on demand")
        await self._host.store.audit("admin", "archive_run", {})
        return {"running": True, **state.to_json()}

    async def archive_progress(self) -> dict[str, Any]:
        archiver = self._archive.archiver
        run = archiver.current or archiver.last
        return {"running": archiver.running, **(run.to_json() if run else {})}

    async def archive_verify(self) -> dict[str, Any]:
        self._archive.require()
        return await asyncio.to_thread(verify_archive, self._archive.store)

    async def archive_export(self, start: str, end: str, tenant: str | None) -> dict[str, Any]:
        self._archive.require()
        low, high = period(start, end)
        if tenant is not None:
            known = {t.id for t in self._host.config.tenant_list()}
            known |= {e.tenant for e in await asyncio.to_thread(self._archive.store.entries)}
            if tenant not in known:
                raise InputError(f"tenant {tenant!r} is not known here (known: "
                                 f"{', '.join(sorted(known))})")  # fmt: skip
        stamp = datetime.fromtimestamp(time.time(), UTC).strftime("%Y%m%dT%H%M%SZ")
        days = f"{parse_day(start, 'from').isoformat()}_{parse_day(end, 'to').isoformat()}"
        name = f"tse-export_{days}" + (f"_{tenant}" if tenant else "") + f"_{stamp}"
        dest = self._archive.auditor / name
        report = await asyncio.to_thread(
            export_period, self._archive.store, dest, low, high, tenant
        )
        await self._host.store.audit("admin", "archive_export", {"from": start, "to": end})
        return report

    async def archive_notices(self) -> list[str]:
        """For ``tsectl status``: open findings, a run that did not finish, a filling disk."""
        if self._archive.failure is not None:
            return [f"archive: cannot be opened ({self._archive.failure}); nothing is archived"]
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
                notices.append(
                    f"archive: the export of TSS {tss_id} counters {entry.first_counter}.."
                    f"{entry.last_counter} has findings ({codes}), kept as {entry.path}; "
                    "see tsectl archive status"
                )
        last = self._archive.archiver.last
        if last is not None:
            for tss_id, item in last.tss.items():
                if item.get("error"):
                    notices.append(f"archive: the last run stopped for TSS {tss_id}: "
                                   f"{item['error']['message']}")  # fmt: skip
        disk = await asyncio.to_thread(
            disk_projection, store, [e for e in entries if e.state == "archived"], time.time()
        )
        if disk["disk_warning"]:
            notices.append(f"archive: the disk is full in about {disk['days_until_full']} days")
        return notices

    def archive_metrics(self) -> bytes:
        archive = self._archive
        return archive.metrics.render(running=archive.archiver.running, now=archive.clock())
