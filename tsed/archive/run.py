"""Archive runs: every TSS's new signatures exported, verified and recorded, incrementally.

A run takes each TSS from its last archived signature counter + 1 to the TSS's current
counter (read from fiskaly), in chunks of at most ``max_records`` counters (fiskaly allows
1,000,000 records per export; :func:`tsed.tss.exports.export_tss` splits further on
``E_TOO_MANY_RECORDS`` and honours ``Retry-After``). An export whose parameters are still
running at fiskaly (``E_EXPORT_DUPLICATE_RATE_LIMITED``, typically one a crashed run left
behind) or too many running exports are waited for and tried again, a bounded number of
times.

(The archive exports at most :data:`ARCHIVE_RECORDS` signatures per file.)

Every file is **verified before it counts**: the TAR verifier (signatures, chain, ASN.1,
counter continuity within the range), its first and last counter must be the range's ends,
and the range must follow the previous archive entry (no gap, no overlap). A file with a
finding is kept under ``rejected/`` with its findings, logged as ``archive_finding`` (an
alert) and shown by the status for good; the run stops for that TSS. The next run tries the
range again with a fresh export; the rejected file and its finding stay.

Resumable at any point: a file counts only once its index row is committed
(:meth:`ArchiveStore.record`); a run cut off before that leaves at most a staging file (the
next run clears staging) or an unrecorded file (moved aside at start-up), and the next run
continues from the last committed counter, so nothing is missing and nothing is twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import tarfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsed.archive.audit import disk_projection
from tsed.archive.store import ArchiveStore, Entry, NewEntry, sha256_file
from tsed.errors import ConflictError, TsedError
from tsed.fiskaly import errors as ferr
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.tarverify import AUD_NAME, SYS_NAME, TX_NAME, verify_tar
from tsed.tss.exports import ExportFile, ExportProgress, ExportRange, export_tss

_LOGGER = logging.getLogger(__name__)

# Signatures per archive export: fiskaly allows 1,000,000, but the download is held in memory
# (about 2 KB a receipt): 100,000 keeps a TSS's first run under ~200 MB on a small box.
ARCHIVE_RECORDS = 100_000
BUSY_CODES = frozenset({"E_EXPORT_DUPLICATE_RATE_LIMITED", "E_TOO_MANY_EXPORTS"})
KEEP_EVENTS = 50


@dataclass(frozen=True, slots=True)
class ArchiveTarget:
    """One TSS to archive, with the client that reaches it."""

    tenant: str
    tss_id: str
    client: FiskalyClient


@dataclass(frozen=True, slots=True)
class Checked:
    """What the checks found about one downloaded file."""

    sha256: str
    logs: int
    first_time: int | None
    last_time: int | None
    first_counter: int
    transactions: int
    findings: tuple[dict[str, Any], ...]


@dataclass(slots=True)
class RunState:
    """One run, while it runs and after: progress for ``tsectl archive run`` and the status."""

    reason: str
    started_at: float
    state: str = "running"  # running, done, failed (a TSS not archived to the end, or a
    # crash), interrupted (cancelled: the unit stopped)
    finished_at: float | None = None
    tss: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    logs: int = 0
    cpu_seconds: float = 0.0

    def note(self, text: str) -> None:
        self.events.append(text)
        del self.events[:-KEEP_EVENTS]

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "tss": self.tss,
            "events": self.events[-20:],
            "files": self.files,
            "bytes": self.bytes,
            "logs": self.logs,
            "cpu_seconds": round(self.cpu_seconds, 3),
        }


def _log_times(path: Path) -> tuple[int, list[int]]:
    """The number of logs and their Unix times (from the TR-03151 file names)."""
    times: list[int] = []
    logs = 0
    with tarfile.open(path) as tar:
        for name in tar.getnames():
            match = TX_NAME.match(name) or SYS_NAME.match(name) or AUD_NAME.match(name)
            if match is None:
                continue
            logs += 1
            if match.group("format") == "Unixt" and match.group("time").isdigit():
                times.append(int(match.group("time")))
    return logs, times


def check_file(path: Path, first: int, last: int, previous: Entry | None) -> Checked:
    """Every check a file passes before it counts (blocking: run it in a thread).

    The TSS's very first file (no ``previous``) starts at its first log, which is not 1
    (fiskaly's deployment logs are not exported): its ``first`` is then where it starts."""
    start = None if previous is None else first
    report = verify_tar(path, start_counter=start, end_counter=last)
    findings = [f.to_json() for f in report.findings]
    try:
        logs, times = _log_times(path)
    except (tarfile.TarError, OSError) as err:
        logs, times = 0, []
        findings.append({"code": "archive_read", "message": str(err), "file": None})
    counters = _counters(path)
    low = min(counters) if counters else first
    if counters and ((start is not None and low != first) or low < first
                     or max(counters) != last):  # fmt: skip
        findings.append({
            "code": "archive_range",
            "message": f"the export holds counters {low}..{max(counters)}, not {first}..{last}",
            "file": None,
        })  # fmt: skip
    elif not counters:
        findings.append({"code": "archive_range", "message": "the export holds no logs",
                         "file": None})  # fmt: skip
    expected = low if previous is None else previous.last_counter + 1
    if first != expected and previous is not None:
        what = "overlaps" if first < expected else "leaves a gap after"
        findings.append({
            "code": "archive_continuity",
            "message": f"counters {first}..{last} {what} the archive (it continues at {expected})",
            "file": None,
        })  # fmt: skip
    return Checked(
        sha256_file(path), logs, min(times) if times else None, max(times) if times else None,
        low, report.transactions, tuple(findings),
    )  # fmt: skip


def is_empty(path: Path) -> bool:
    """No log in the file (the range before a TSS's first log)."""
    return not _counters(path)


def _counters(path: Path) -> list[int]:
    try:
        with tarfile.open(path) as tar:
            names = tar.getnames()
    except (tarfile.TarError, OSError):
        return []
    out = []
    for name in names:
        match = TX_NAME.match(name) or SYS_NAME.match(name) or AUD_NAME.match(name)
        if match is not None:
            out.append(int(match.group("counter")))
    return out


class Archiver:
    """Runs archive runs, one at a time."""

    def __init__(
        self,
        store: ArchiveStore,
        targets: Callable[[], list[ArchiveTarget]],
        *,
        poll_interval: float = 5.0,
        max_records: int = ARCHIVE_RECORDS,
        busy_wait: float = 60.0,
        busy_attempts: int = 10,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.targets = targets
        self.poll_interval = poll_interval
        self.max_records = max_records
        self.busy_wait = busy_wait
        self.busy_attempts = busy_attempts
        self.sleep = sleep
        self.clock = clock
        self.current: RunState | None = None
        self.last: RunState | None = None
        self.on_done: Callable[[RunState], Awaitable[None]] | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[RunState]] = set()

    def recover(self) -> None:
        """After a start: a run the unit did not live to finish (killed, power lost) is the
        last run, failed, until the next one (which resumes where the index ends)."""
        cut = self.store.cut_off_runs(self.clock())
        if cut is not None:
            reason, started_at = cut
            state = RunState(reason, started_at, state="failed", finished_at=None)
            state.note("the run was cut off (the unit stopped or lost power); the next run "
                       "continues from the last archived counter")  # fmt: skip
            self.last = state

    @property
    def running(self) -> bool:
        return self._lock.locked() or any(not t.done() for t in self._tasks)

    def start(self, reason: str) -> RunState:
        """Start a run in the background (on demand); refused while one runs."""
        if self.running:
            raise ConflictError(
                "an archive run is already running",
                hint="Follow it with 'tsectl archive status'; one run at a time.",
            )
        state = RunState(reason, self.clock())
        self.current = state
        task = asyncio.get_running_loop().create_task(
            self.run(reason, state), name="tsed-archive-run"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return state

    async def run(self, reason: str, state: RunState | None = None) -> RunState:
        """One run over every TSS (waits for a run in progress to end first)."""
        async with self._lock:
            state = state or RunState(reason, self.clock())
            state.started_at = self.clock()
            self.current = state
            cpu = time.process_time()
            _LOGGER.info("archive run (%s) started", reason,
                         extra={"TSED_EVENT": "archive_run_started"})  # fmt: skip
            outcome = "interrupted"  # cancelled (the unit stops) unless it gets further
            run_id = await asyncio.to_thread(self.store.run_started, reason, state.started_at)
            try:
                await asyncio.to_thread(self.store.clear_staging)
                await asyncio.to_thread(self.store.set_aside_unrecorded)
                for target in self.targets():
                    await self._archive_tss(target, state)
                outcome = "completed"
            except Exception as err:  # a crash is a failed run, never "done": the next resumes
                outcome = "crashed"
                state.note(f"the run crashed: {type(err).__name__}: {err}")
                _LOGGER.exception(
                    "archive run (%s) crashed; the next run continues from the last archived "
                    "counter", reason, extra={"TSED_EVENT": "archive_failed"},
                )  # fmt: skip
            finally:
                state.cpu_seconds = time.process_time() - cpu
                state.finished_at = self.clock()
                failed = any(t.get("error") or t.get("finding") for t in state.tss.values())
                if outcome == "completed":
                    state.state = "failed" if failed else "done"
                else:
                    state.state = "failed" if outcome == "crashed" else "interrupted"
                with contextlib.suppress(OSError, sqlite3.Error):
                    await asyncio.shield(asyncio.to_thread(
                        self.store.run_finished, run_id, state.state, state.finished_at
                    ))  # fmt: skip
                self.last, self.current = state, None
            await self._check_disk()
            if self.on_done is not None:
                await self.on_done(state)
            _LOGGER.info(
                "archive run (%s) %s: %d file(s), %d bytes, %d logs in %.1f s (CPU %.2f s)",
                reason, state.state, state.files, state.bytes, state.logs,
                state.finished_at - state.started_at, state.cpu_seconds,
                extra={"TSED_EVENT": "archive_run_done"},
            )  # fmt: skip
            return state

    async def _check_disk(self) -> None:
        """Warn weeks ahead when the archive's growth fills the disk (nothing is dropped)."""
        entries = await asyncio.to_thread(self.store.entries, None, "archived")
        disk = await asyncio.to_thread(disk_projection, self.store, entries, self.clock())
        if disk["disk_warning"]:
            _LOGGER.warning(
                "archive: the disk is full in about %d days at %d bytes a day (%d bytes free); "
                "archived files are never dropped: add space or move the unit to a bigger disk",
                disk["days_until_full"], disk["bytes_per_day"], disk["disk_free"],
                extra={"TSED_EVENT": "archive_disk_warning"},
            )  # fmt: skip

    async def _archive_tss(self, target: ArchiveTarget, state: RunState) -> None:
        tss_id = target.tss_id
        info: dict[str, Any] = {"tenant": target.tenant}
        state.tss[tss_id] = info
        try:
            previous = await asyncio.to_thread(self.store.last_archived, tss_id)
            start = 1 if previous is None else previous.last_counter + 1
            newest = int((await target.client.get_tss(tss_id)).signature_counter or 0)
            info.update({"from": start, "to": newest,
                         "archived_to": None if previous is None else start - 1})  # fmt: skip
            if newest < start:
                state.note(f"TSS {tss_id}: nothing new after counter {start - 1}")
                return
            state.note(f"TSS {tss_id}: signature counters {start}..{newest}")
            for low in range(start, newest + 1, self.max_records):
                high = min(newest, low + self.max_records - 1)
                files = await self._export(target, low, high, state)
                for item in sorted(files, key=_range_start):
                    if previous is None and await asyncio.to_thread(is_empty, item.path):
                        await asyncio.to_thread(item.path.unlink)  # before the first log
                        continue
                    previous = await self._record(target, item, previous, state)
                    if previous.state != "archived":
                        info["finding"] = previous.path
                        return
                    info["archived_to"] = previous.last_counter
        except TsedError as err:
            info["error"] = {"code": err.code, "message": err.message, "hint": err.hint}
            state.note(f"TSS {tss_id}: {err.message}")
            self._warn(tss_id, info, err.message)
        except (OSError, sqlite3.Error, tarfile.TarError) as err:  # the box, not fiskaly
            message = f"the archive could not be written or read: {type(err).__name__}: {err}"
            hint = "Check the disk (df, dmesg); the next run continues."
            info["error"] = {"code": "ARCHIVE_FAILED", "message": message, "hint": hint}
            state.note(f"TSS {tss_id}: {message}")
            self._warn(tss_id, info, message)

    def _warn(self, tss_id: str, info: dict[str, Any], message: str) -> None:
        _LOGGER.warning(
            "archive run: TSS %s stopped at counter %s: %s", tss_id,
            info.get("archived_to"), message,
            extra={"TSED_EVENT": "archive_failed", "TSED_TSS": tss_id},
        )  # fmt: skip

    async def _export(
        self, target: ArchiveTarget, low: int, high: int, state: RunState
    ) -> tuple[ExportFile, ...]:
        def progress(p: ExportProgress) -> None:
            state.note(f"TSS {p.tss_id} part {p.part}: {p.event} ({p.state}) {p.message}".strip())

        for attempt in range(1, self.busy_attempts + 1):
            try:
                result = await export_tss(
                    target.client, target.tss_id, self.store.staging,
                    export_range=ExportRange(start_signature_counter=low,
                                             end_signature_counter=high),
                    on_progress=progress, poll_interval=self.poll_interval,
                    max_records=self.max_records, sleep=self.sleep,
                )  # fmt: skip
                return result.files
            except ferr.FiskalyRejected as err:
                if err.fiskaly_code not in BUSY_CODES or attempt == self.busy_attempts:
                    raise
                wait = self.busy_wait
            except ferr.FiskalyRateLimited as err:
                if attempt == self.busy_attempts:
                    raise
                wait = max(1.0, err.retry_after or self.busy_wait)
            state.note(
                f"TSS {target.tss_id}: fiskaly is busy with this export, waiting {wait:.0f} s"
            )
            await self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _record(
        self, target: ArchiveTarget, item: ExportFile, previous: Entry | None, state: RunState
    ) -> Entry:
        first = int(item.filters["start_signature_counter"])
        last = int(item.filters["end_signature_counter"])
        checked = await asyncio.to_thread(check_file, item.path, first, last, previous)
        first = checked.first_counter if previous is None else first
        findings = checked.findings
        if checked.sha256 != item.sha256:
            findings = (*findings, {"code": "archive_sha256", "file": None,
                                    "message": "the file changed after its download"})  # fmt: skip
        entry = await asyncio.to_thread(
            self.store.record,
            item.path,
            NewEntry(
                target.tss_id, target.tenant, first, last, checked.first_time,
                checked.last_time, checked.sha256, item.export_id, checked.logs,
                checked.transactions, findings,
            ),
        )  # fmt: skip
        if entry.state == "archived":
            state.files += 1
            state.bytes += entry.size
            state.logs += entry.logs
            state.note(f"TSS {target.tss_id}: archived {first}..{last} ({entry.size} bytes)")
            _LOGGER.info(
                "archived TSS %s signature counters %d..%d (%d bytes)",
                target.tss_id, first, last, entry.size,
                extra={"TSED_EVENT": "archive_file", "TSED_TSS": target.tss_id},
            )  # fmt: skip
        else:
            codes = ", ".join(sorted({str(f["code"]) for f in findings}))
            state.note(f"TSS {target.tss_id}: REJECTED {first}..{last}: {codes}")
            _LOGGER.error(
                "archive: the export of TSS %s counters %d..%d has findings (%s); kept as %s",
                target.tss_id, first, last, codes, entry.path,
                extra={"TSED_EVENT": "archive_finding", "TSED_TSS": target.tss_id},
            )  # fmt: skip
        return entry

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _range_start(item: ExportFile) -> int:
    return int(item.filters["start_signature_counter"])
