"""The nightly housekeeping: one routine a night, on the archive's schedule (``archive_hour``).

Steps, in order, each logged (``TSED_EVENT=housekeeping_step``, ``TSED_STEP``,
``TSED_RESULT``) and recorded (:mod:`tsed.archive.health`):

1. ``abandon``: transactions left ACTIVE past ``abandon_minutes`` are cancelled (the signing
   service's own timer does this all day; the sweep runs it once more and records how many
   it and the timer cancelled since the last night, :mod:`tsed.signing.sweep`);
2. ``archive``: the archive run (:class:`tsed.archive.run.Archiver`);
3. ``reconcile``: every late-signed transaction of the outage journal is in an archived export
   (:mod:`tsed.archive.reconcile`);
4. ``certificates``: each TSS's certificate expiry and BSI certification id
   (:mod:`tsed.tss.certwatch`);
5. ``selfcheck``: the connection test's steps, the clock offset against fiskaly's ``Date``
   header, free disk space of the state and archive folders, the certificate dates: the
   daily health record.

A step that fails is recorded as failed and the next one runs. Nothing here holds up signing:
the steps wait on the network or run their disk work in worker threads, and the signing
service never waits for the routine.

Why the daemon's own schedule and not a systemd timer: see :mod:`tsed.archive.schedule` (the
steps need the daemon's fiskaly clients, its signing service and its one-run-at-a-time lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tsed.archive.health import (
    ON_DEMAND,
    HealthMetrics,
    HousekeepingLog,
    HousekeepingRecord,
    StepRecord,
    disk_space,
    local_day,
    worst,
)
from tsed.archive.reconcile import Reconciliation, reconcile
from tsed.archive.service import ArchiveService
from tsed.errors import ConflictError, TsedError
from tsed.provisioning.conntest import ConnectionReport, run_connection_test
from tsed.signing.sweep import AbandonSweep
from tsed.state.paths import StatePaths
from tsed.state.periods import txs_signed_late
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.tss.access import FiskalyAccess
from tsed.tss.certwatch import (
    CertificationEvent,
    CertificationLog,
    WatchResult,
    watch_certificates,
)
from tsed.unit.backend import Backend
from tsed.unit.settings import Settings

_LOGGER = logging.getLogger(__name__)
Outcome = tuple[str, str, dict[str, Any]]  # result, summary, details
VERDICTS = {"ok": "ok", "warn": "warn", "fail": "failed", "skipped": "ok"}
_LEVELS = {"ok": logging.INFO, "warn": logging.WARNING, "failed": logging.ERROR}
CATCH_UP_AFTER = 600.0  # seconds after the start: a missed night is run then
MISSED = 26 * 3600.0  # a last record older than this: the unit was off at archive_hour


class Housekeeping:
    """The routine, its records, the certificate watch's last reading and their gauges."""

    def __init__(
        self, *, backend: Backend, archive: ArchiveService, store: Store, vault: Vault,
        settings: Settings, environ: Mapping[str, str], paths: StatePaths,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.backend = backend
        self.archive = archive
        self.store = store
        self.vault = vault
        self.settings = settings
        self.environ = environ
        self.paths = paths
        self.clock = clock
        self.log = HousekeepingLog(paths.housekeeping)
        self.certification = CertificationLog(paths.certification)
        self.metrics = HealthMetrics()
        self.sweeper = AbandonSweep()
        self.watch: WatchResult | None = None  # the last reading of the certificate watch
        self.reconciliation: Reconciliation | None = None
        self.last: HousekeepingRecord | None = None
        self.current: str | None = None  # the step running now
        self._lock = asyncio.Lock()
        self._archive_started: float | None = None
        self._reason = "nightly"  # of the run under way: its archive run carries it too
        self._listeners: list[Callable[[CertificationEvent], Awaitable[None]]] = []
        self._catch_up: asyncio.Task[None] | None = None
        self._on_demand: asyncio.Task[None] | None = None

    def on_certification_event(
        self, listener: Callable[[CertificationEvent], Awaitable[None]]
    ) -> None:
        """Call ``listener`` with every certification change the watch sees (the notification
        duty's events list subscribes here; all changes so far: ``certification.events()``)."""
        self._listeners.append(listener)

    @property
    def running(self) -> bool:
        return self._lock.locked() or (self._on_demand is not None and not self._on_demand.done())

    def start_run(self) -> None:
        """Run the routine now, in the background (``tsectl health run``, the setup page):
        refused while a run is under way; ``running`` and ``current`` follow it."""
        if self.running:
            raise ConflictError(
                "the housekeeping is running already",
                hint="Follow it with 'tsectl health'; one run at a time.",
            ).localized("health.busy")
        self._on_demand = asyncio.get_running_loop().create_task(
            self._run_on_demand(), name="tsed-housekeeping-on-demand"
        )

    async def _run_on_demand(self) -> None:
        try:
            await self.run(ON_DEMAND)
        except Exception:  # the daemon outlives any one run
            _LOGGER.exception("the housekeeping run (on demand) stopped unexpectedly")

    async def start(self) -> None:
        """The last record into the gauges; the routine takes the archive's nightly slot."""
        try:
            self.last = await asyncio.to_thread(self.log.last)
        except TsedError as err:
            _LOGGER.warning("the housekeeping records cannot be read: %s", err.message)
        if self.last is not None:
            self.metrics.update(self.last)
        self.archive.schedule.job = self.nightly
        self._catch_up = asyncio.create_task(self._after_start(), name="tsed-housekeeping-catch-up")

    async def stop(self) -> None:
        if self.archive.schedule.job == self.nightly:
            self.archive.schedule.job = None
        if self._on_demand is not None:  # each step's record is written when it ends
            self._on_demand.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._on_demand
            self._on_demand = None
        if self._catch_up is not None:
            self._catch_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._catch_up
            self._catch_up = None

    async def _after_start(self) -> None:
        await asyncio.sleep(CATCH_UP_AFTER)
        try:
            await self.catch_up()
        except Exception:  # the daemon outlives any one run
            _LOGGER.exception("the housekeeping catch-up stopped unexpectedly")

    async def catch_up(self) -> HousekeepingRecord | None:
        """Run the routine now if the last night was missed (a unit switched off at
        ``archive_hour``, or one that never had a night): ten minutes after every start."""
        if self.running or not self.settings.config.saved:  # not set up yet: nothing missed
            return None
        last = self.last.finished_at if self.last is not None else None
        if last is not None and self.clock() - last < MISSED:
            return None
        _LOGGER.info("housekeeping: the last night was missed (last record %s); running now",
                     "none" if self.last is None else self.last.day,
                     extra={"TSED_EVENT": "housekeeping_catch_up"})  # fmt: skip
        return await self.run("catch-up")

    async def nightly(self) -> None:
        await self.run("nightly")

    async def run(self, reason: str) -> HousekeepingRecord:
        """One run of every step (a second call waits for the first to end)."""
        async with self._lock:
            started = self.clock()
            self._archive_started, self._reason = None, reason
            _LOGGER.info("housekeeping (%s) started", reason,
                         extra={"TSED_EVENT": "housekeeping_started"})  # fmt: skip
            steps: list[StepRecord] = []
            plan: list[tuple[str, Callable[[], Awaitable[Outcome]]]] = [
                ("abandon", self._abandon),
                ("archive", self._archive),
                ("reconcile", self._reconcile),
                ("certificates", self._certificates),
                ("selfcheck", self._selfcheck),
            ]
            try:
                for name, step in plan:
                    self.current = name
                    steps.append(await self._step(name, step))
            finally:
                self.current = None
            record = HousekeepingRecord(local_day(started), reason, started, self.clock(),
                                        tuple(steps))  # fmt: skip
            self.last = record
            self.metrics.update(record)
            try:
                await asyncio.to_thread(self.log.add, record)
            except TsedError as err:
                _LOGGER.error("the housekeeping record cannot be written: %s", err.message,
                              extra={"TSED_EVENT": "housekeeping_failed"})  # fmt: skip
            _LOGGER.log(
                _LEVELS[record.result], "housekeeping (%s) %s: %s", reason, record.result,
                "; ".join(f"{s.step} {s.result}" for s in steps),
                extra={"TSED_EVENT": "housekeeping_done", "TSED_RESULT": record.result},
            )  # fmt: skip
            return record

    async def _step(self, name: str, step: Callable[[], Awaitable[Outcome]]) -> StepRecord:
        began, watch = self.clock(), time.monotonic()
        try:
            result, summary, details = await step()
        except TsedError as err:
            result, summary, details = "failed", err.message, {"code": err.code, "hint": err.hint}
        except Exception as err:  # a failing step never stops the others
            _LOGGER.exception("housekeeping step %s stopped unexpectedly", name)
            result, summary, details = "failed", f"{type(err).__name__}: {err}", {}
        record = StepRecord(name, result, began, round(time.monotonic() - watch, 3), summary,
                            details)  # fmt: skip
        _LOGGER.log(
            _LEVELS[result], "housekeeping %s: %s: %s", name, result, summary,
            extra={"TSED_EVENT": "housekeeping_step", "TSED_STEP": name, "TSED_RESULT": result},
        )  # fmt: skip
        return record

    # -- the steps ----------------------------------------------------------------------------

    async def _abandon(self) -> Outcome:
        if not self.backend.running:
            return "failed", "the backend is not running (see the journal)", {}
        sweep = await self.sweeper.sweep(self.backend.signing)
        summary = (
            f"{sweep.cancelled} abandoned transaction(s) cancelled since the last sweep; "
            f"{sweep.still_abandoned} open longer than {sweep.abandon_minutes:g} min"
        )
        if not sweep.ok:
            summary += " (fiskaly not reachable: the next drain cancels them)"
        return ("ok" if sweep.ok else "warn"), summary, sweep.to_json()  # fmt: skip

    async def _archive(self) -> Outcome:
        state = await self.archive.run_now(self._reason)
        self._archive_started = state.started_at
        tss = {tss_id: {"tenant": item.get("tenant"), "archived_to": item.get("archived_to"),
                        "to": item.get("to"),
                        "error": (item.get("error") or {}).get("message"),
                        "finding": item.get("finding")}
               for tss_id, item in state.tss.items()}  # fmt: skip
        seconds = (state.finished_at or state.started_at) - state.started_at
        details = {"state": state.state, "files": state.files, "bytes": state.bytes,
                   "logs": state.logs, "seconds": round(seconds, 3),
                   "cpu_seconds": round(state.cpu_seconds, 3), "tss": tss}  # fmt: skip
        summary = f"{state.state}: {state.files} file(s), {state.bytes} bytes, {state.logs} logs"
        problems = [f"TSS {k}: {v['error'] or 'finding ' + str(v['finding'])}"
                    for k, v in tss.items() if v["error"] or v["finding"]]  # fmt: skip
        if state.state != "done":
            summary += "; " + ("; ".join(problems) or "; ".join(state.events[-1:]))
        return ("ok" if state.state == "done" else "failed"), summary, details

    async def _reconcile(self) -> Outcome:
        self.archive.require()
        rows = await txs_signed_late(self.store)
        since = self._archive_started if self._archive_started is not None else self.clock()
        result = await asyncio.to_thread(reconcile, self.archive.store, rows, since)
        self.reconciliation = result
        summary = (f"{result.late_signed} late-signed transaction(s): {result.archived} archived, "
                   f"{result.pending} for the next run, {result.finding_count} in no archived "
                   "export")  # fmt: skip
        return ("ok" if result.ok else "failed"), summary, result.to_json()

    async def _certificates(self) -> Outcome:
        if not self.backend.running:
            return "failed", "the backend is not running (see the journal)", {}
        watch = await watch_certificates(self.backend.upstreams, self.certification, self.clock())
        self.watch = watch
        for status in watch.tss:
            self.metrics.certificate(status.tss_id, status.days_left)
        for event in watch.events:  # recorded already: a listener that fails loses nothing
            for listener in self._listeners:
                try:
                    await listener(event)
                except Exception:  # one listener's trouble is not the watch's
                    _LOGGER.exception("a certification event listener failed")
        results = ["failed" if s.error or (s.days_left is not None and s.days_left < 0)
                   else "warn" if s.threshold is not None else "ok" for s in watch.tss]  # fmt: skip
        parts = [f"TSS {s.tss_id}: " + (s.error or f"{s.days_left} days left, "
                                         f"certification {s.certification_id or '?'}")
                 for s in watch.tss]  # fmt: skip
        parts += [f"certification of TSS {e.tss_id} changed {e.previous} -> {e.current}"
                  for e in watch.events]  # fmt: skip
        result = worst([*results, *(["warn"] if watch.events else [])])
        return result, "; ".join(parts) or "no TSS in use", watch.to_json()

    async def _selfcheck(self) -> Outcome:
        report = await self.connection_test()
        disk_result, disk = await asyncio.to_thread(
            disk_space, {"state": self.paths.root, "archive": self.paths.archive}
        )
        certificates = [] if self.watch is None else [
            {"tss_id": s.tss_id, "not_after": s.not_after, "days_left": s.days_left}
            for s in self.watch.tss
        ]  # fmt: skip
        clock = next((s for s in report.steps if s.step == "clock"), None)
        details = {
            "connection": {"verdict": report.verdict,
                           "steps": [s.to_json() for s in report.steps]},
            "clock_offset": report.clock_offset,
            "clock": None if clock is None else clock.verdict,
            "disk": disk,
            "certificates": certificates,
        }  # fmt: skip
        offset = "?" if report.clock_offset is None else f"{report.clock_offset:+.1f} s"
        free = ", ".join(f"{name} {d['free'] // (1 << 20)} MiB free" for name, d in disk.items()
                         if "free" in d)  # fmt: skip
        days = ", ".join(
            f"{c['days_left']} days" for c in certificates if c["days_left"] is not None
        )
        summary = (f"connection test {report.verdict}, clock {offset} off fiskaly's, {free}"
                   + (f", certificates {days}" if days else ""))  # fmt: skip
        return worst([VERDICTS[report.verdict], disk_result]), summary, details

    async def connection_test(self) -> ConnectionReport:
        """The connection test as the admin API runs it (the backend of now)."""
        backend, config, mode = self.backend, self.settings.config, self.settings.mode
        if backend.kind == "simulator" and backend.sim_server is not None:
            access = FiskalyAccess(backend.sim_server.base_url, backend.sim_server.base_url)
            names = ("sim_key", "sim_secret")
        else:
            access = FiskalyAccess.from_config(config, self.vault, mode, self.environ)
            names = ("api_key", "api_secret")
        return await run_connection_test(
            config=config, mode=mode, vault=self.vault, store=self.store, access=access,
            credential_names=names, clock=self.clock,
        )  # fmt: skip
