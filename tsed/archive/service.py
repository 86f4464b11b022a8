"""The archive of one running unit: its store, runs, nightly schedule and off-box copy.

Built by the composition root (after the signing service, before the admin routes) and
stopped before the backend; the admin operations (:mod:`tsed.unit.archive_ops`) read it.
Every successful run (nightly, on demand, before a reset) is followed by the off-box copy in
the background (:class:`~tsed.archive.offboxsync.OffboxSync`).

The TSS archived are the ones in use plus the ones the unit stopped using (replaced, a
factory reset) until a run has archived them to their last signature: their ids are kept in
the archive's index (``retired``), so a restart does not forget them.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from tsed.archive.audit import archive_summary
from tsed.archive.metrics import ArchiveMetrics
from tsed.archive.offbox import OffboxStatus
from tsed.archive.offboxsync import OffboxSync
from tsed.archive.run import ARCHIVE_RECORDS, Archiver, ArchiveTarget, RunState
from tsed.archive.schedule import NightlySchedule
from tsed.archive.store import ArchiveStore
from tsed.archive.views import ArchiveStatusView, FindingView, RunView, TssArchiveView
from tsed.errors import ConflictError, StorageError, TsedError
from tsed.tss.registry import UpstreamRegistry

_LOGGER = logging.getLogger(__name__)
EXPORTABLE = frozenset({"INITIALIZED", "DISABLED", "DEFECTIVE"})


class ArchiveIncomplete(ConflictError, code="ARCHIVE_INCOMPLETE"):
    default_hint = (
        "The TSS's signatures are not all in the archive yet, so it is left as it is. Fix what "
        "the run names (tsectl archive status, journal TSED_EVENT=archive_failed), run "
        "'tsectl archive run', then try again."
    )


class ArchiveService:
    """Store, archiver, schedule and off-box copy of one daemon."""

    poll_interval = 5.0  # seconds between export status polls (fiskaly: 12 per minute)
    max_records = ARCHIVE_RECORDS  # signatures per export

    def __init__(
        self, *, root: Path, auditor: Path, upstreams: Callable[[], UpstreamRegistry],
        hour: Callable[[], int], clock: Callable[[], float] = time.time,
        offbox: OffboxSync | None = None,
    ) -> None:  # fmt: skip
        """``root``: the archive (kept by factory-reset); ``auditor``: where the auditor's
        exports go. ``upstreams`` and ``hour`` are read at each use: the backend's registry
        (a reload replaces it) and the configured ``archive_hour``. ``offbox``: the copy off
        the box (None: the unit has none, e.g. in tests)."""
        self.auditor = auditor
        self.upstreams = upstreams
        self.hour = hour
        self.clock = clock
        self.offbox = offbox
        self.store = ArchiveStore(root, clock=clock)
        self.archiver = Archiver(
            self.store, self.targets, poll_interval=self.poll_interval,
            max_records=self.max_records, clock=clock,
        )  # fmt: skip
        self.schedule = NightlySchedule(self.archiver, hour, clock=clock)
        self.metrics = ArchiveMetrics()
        self.archiver.on_done = self._after_run
        self.failure: str | None = None  # why the archive could not be opened at start
        self._retired: dict[str, str] = {}  # TSS id -> tenant: no longer in use, not done

    def targets(self) -> list[ArchiveTarget]:
        out = []
        upstreams = self.upstreams()
        in_use = set()
        for tenant, binding in sorted(upstreams.all_bindings().items()):
            if binding.state not in EXPORTABLE:
                continue
            in_use.add(binding.tss_id)
            try:
                out.append(ArchiveTarget(tenant, binding.tss_id, upstreams.client(tenant)))
            except TsedError as err:
                _LOGGER.warning("archive: no client for tenant %s: %s", tenant, err.message)
        for tss_id, tenant in sorted(self._retired.items()):
            if tss_id in in_use:
                continue
            try:  # the tenant's client reaches its earlier TSS (same fiskaly credentials)
                out.append(ArchiveTarget(tenant, tss_id, upstreams.client(tenant)))
            except TsedError as err:
                _LOGGER.warning("archive: no client for the replaced TSS %s: %s", tss_id,
                                err.message)  # fmt: skip
        return out

    async def _after_run(self, state: RunState) -> None:
        """Gauges follow every run (nightly ones too), without another call to fiskaly; the
        retired TSS archived to their end are done; a good run is copied off the box."""
        for tss_id, item in state.tss.items():
            finished = item.get("to") is not None and item.get("archived_to") == item.get("to")
            if tss_id in self._retired and finished and not item.get("finding"):
                await asyncio.to_thread(self.store.retired_done, tss_id)
                self._retired.pop(tss_id, None)
        try:
            await self.status(live=False)
        except TsedError as err:
            _LOGGER.warning("archive: the status after the run failed: %s", err.message)
        for tss_id, item in state.tss.items():
            newest, done = item.get("to"), item.get("archived_to")
            if isinstance(newest, int):
                lag = newest - (done if isinstance(done, int) else 0)
                self.metrics.lag_signatures.labels(tss_id).set(max(0, lag))
        if state.state == "done" and state.reason != "start" and self.offbox is not None:
            self.offbox.trigger(f"after the archive run ({state.reason})")

    async def start(self) -> None:
        """Open the archive and start the nightly run. An archive that cannot be opened
        (damaged index, read-only directory) never stops the unit: signing goes on, the
        failure is logged and shown, and every archive operation says what is wrong."""
        try:
            await asyncio.to_thread(self.store.open)
            self._retired = await asyncio.to_thread(self.store.retired)
            await asyncio.to_thread(self.archiver.recover)  # a run a kill cut off: failed
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
        return await self.archiver.run(reason)

    async def retire(self, retiring: dict[str, str]) -> None:
        """TSS the unit stops using (``retiring``: id -> tenant) stay archive targets until a
        run has archived them to their last signature (a replaced TSS's closing logs)."""
        for tss_id, tenant in retiring.items():
            await asyncio.to_thread(self.store.retire, tss_id, tenant, self.clock())
            self._retired[tss_id] = tenant

    async def archive_before(self, reason: str) -> RunState:
        """The run before a TSS replacement or a reset. Raises :class:`ArchiveIncomplete`
        when it did not archive everything: the caller must not go on (the TSS's last
        signatures would be the ones nobody archives)."""
        self.require()
        state = await self.run_now(reason)
        if state.state != "done":
            problems = [
                f"TSS {tss_id}: " + (item["error"]["message"] if item.get("error")
                                     else f"finding, kept as {item.get('finding')}")
                for tss_id, item in state.tss.items()
                if item.get("error") or item.get("finding")
            ] or list(state.events[-1:])  # fmt: skip
            raise ArchiveIncomplete(
                f"the archive run {reason} failed ({'; '.join(problems) or state.state}); "
                "nothing was changed"
            )
        return state

    async def stop(self) -> None:
        await self.schedule.stop()
        await self.archiver.stop()
        if self.offbox is not None:
            await self.offbox.stop()

    def offbox_status(self) -> OffboxStatus:
        return OffboxStatus("off") if self.offbox is None else self.offbox.status()

    async def status(self, *, live: bool = True) -> ArchiveStatusView:
        """The index summary plus, per TSS in use, its current counter and the lag."""
        self.require()
        summary = await asyncio.to_thread(archive_summary, self.store)
        now = self.clock()
        tss: dict[str, TssArchiveView] = {}
        for tss_id, item in summary["tss"].items():
            tss[tss_id] = TssArchiveView(
                item["tenant"], item["first_counter"], item["last_counter"],
                item["last_log_time"], item["archived_at"], item["files"], tuple(item["gaps"]),
                tuple(FindingView(f["file"], f["range"], f["at"], tuple(f["findings"]))
                      for f in item["findings"]),
            )  # fmt: skip
        for target in self.targets():
            known = tss.get(target.tss_id) or TssArchiveView(
                target.tenant, None, None, None, None, 0, (), ()
            )
            counter = lag = None
            error = None
            if live:
                try:
                    answer = await target.client.get_tss(target.tss_id)
                    counter = int(answer.signature_counter or 0)
                    lag = max(0, counter - (known.last_counter or 0))
                except TsedError as err:
                    error = err.message
            last = known.last_log_time
            hours = None if last is None else round((now - last) / 3600, 2)
            tss[target.tss_id] = TssArchiveView(
                known.tenant, known.first_counter, known.last_counter, known.last_log_time,
                known.archived_at, known.files, known.gaps, known.findings, True, counter, lag,
                hours, error,
            )  # fmt: skip
        run = self.archiver.current or self.archiver.last
        view = ArchiveStatusView(
            summary["directory"], tss, summary["files"], summary["rejected"], summary["bytes"],
            summary["disk_use"], summary["receipts"], summary["bytes_per_10000_receipts"],
            summary["disk_free"], summary["disk_total"], summary["bytes_per_day"],
            summary["days_until_full"], summary["disk_warning"],
            RunView.of(self.archiver.running, run), self.schedule.next_at, self.hour(),
            await asyncio.to_thread(self.offbox_status),
        )  # fmt: skip
        self.metrics.update(view)
        return view
