"""TSS exports (TR-03151 TAR) for a time, transaction or signature-counter range.

:func:`export_tss` triggers an export at fiskaly, polls it until it is COMPLETED and downloads
the TAR to a file, reporting progress through a callback. fiskaly's limits are respected:

* at most 12 requests per minute per export (status polls and the download together): the
  requests are paced by a per-export window, whatever ``poll_interval`` says, and a ``429``
  is answered by waiting ``Retry-After``;
* an export holds at most 1,000,000 records: the whole TSS is exported in signature-counter
  ranges of ``max_records`` each, and a range that still ends in ``E_TOO_MANY_RECORDS`` is
  split in two and exported as two parts (each its own file);
* one export at a time (exports can slow signing down: run them at closing time).

Files: ``<dest_dir>/export_<tss_id>_<UTC start time>[_partNN].tar``, written via a temporary
file and a rename, and checked to be TAR archives.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tarfile
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tsed.errors import ConflictError, InputError
from tsed.fiskaly import errors as ferr
from tsed.fiskaly.client import FiskalyClient

_LOGGER = logging.getLogger(__name__)
MAX_RECORDS = 1_000_000
REQUESTS_PER_MINUTE = 12
MAX_PARTS = 1000


class ExportFailed(ConflictError, code="EXPORT_FAILED"):
    default_hint = (
        "fiskaly could not produce the export: try again later or with a narrower range; the "
        "journal has fiskaly's reason."
    )


class ExportTimeout(ConflictError, status=504, code="EXPORT_TIMEOUT"):
    default_hint = (
        "The export took too long (big exports can take about an hour): try again with a "
        "narrower range or a longer wait."
    )


@dataclass(frozen=True, slots=True)
class ExportRange:
    """What to export; one kind of range per export (fiskaly combines none of them)."""

    start_date: int | None = None
    end_date: int | None = None
    start_transaction: int | None = None
    end_transaction: int | None = None
    start_signature_counter: int | None = None
    end_signature_counter: int | None = None

    def kind(self) -> str | None:
        kinds = [
            name
            for name, values in (
                ("date", (self.start_date, self.end_date)),
                ("transaction_number", (self.start_transaction, self.end_transaction)),
                ("signature_counter", (self.start_signature_counter, self.end_signature_counter)),
            )
            if any(v is not None for v in values)
        ]
        if len(kinds) > 1:
            raise InputError(
                f"an export takes one kind of range, not {' and '.join(kinds)}",
                hint="Export by time, by transaction numbers or by signature counters.",
            )
        for low, high in (
            (self.start_date, self.end_date),
            (self.start_transaction, self.end_transaction),
            (self.start_signature_counter, self.end_signature_counter),
        ):
            if (low is not None and low < 0) or (high is not None and high < 0):
                raise InputError("export ranges are not negative")
            if low is not None and high is not None and low > high:
                raise InputError(f"the export range starts after it ends ({low} > {high})")
        return kinds[0] if kinds else None

    def filters(self) -> dict[str, str]:
        names = {
            "start_date": self.start_date,
            "end_date": self.end_date,
            "start_transaction_number": self.start_transaction,
            "end_transaction_number": self.end_transaction,
            "start_signature_counter": self.start_signature_counter,
            "end_signature_counter": self.end_signature_counter,
        }
        return {k: str(v) for k, v in names.items() if v is not None}


@dataclass(frozen=True, slots=True)
class ExportProgress:
    """One progress report: ``event`` is triggered, polled, rate_limited, split, downloaded."""

    tss_id: str
    export_id: str
    part: int
    event: str
    state: str
    elapsed: float
    message: str = ""
    parts: int = 1  # the parts known so far (a split adds some)


@dataclass(frozen=True, slots=True)
class ExportFile:
    path: Path
    export_id: str
    part: int
    size: int
    sha256: str
    filters: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "export_id": self.export_id,
            "part": self.part,
            "size": self.size,
            "sha256": self.sha256,
            "filters": dict(self.filters),
        }


@dataclass(frozen=True, slots=True)
class ExportResult:
    tss_id: str
    files: tuple[ExportFile, ...]

    def to_json(self) -> dict[str, Any]:
        return {"tss_id": self.tss_id, "files": [f.to_json() for f in self.files]}


class _Pacer:
    """At most ``per_minute`` requests in any 60 s window (fiskaly: 12/min per export)."""

    def __init__(
        self,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        per_minute: int = REQUESTS_PER_MINUTE,
    ) -> None:
        self._sleep, self._clock, self._limit = sleep, clock, per_minute
        self._calls: deque[float] = deque()

    async def wait(self) -> None:
        now = self._clock()
        while self._calls and now - self._calls[0] >= 60.0:
            self._calls.popleft()
        if len(self._calls) >= self._limit:
            await self._sleep(60.0 - (now - self._calls[0]))
            self._calls.popleft()
        self._calls.append(self._clock())


def _split(filters: dict[str, str], kind: str) -> list[dict[str, str]] | None:
    """Two halves of a bounded range, or None when it cannot be split any further."""
    names = {
        "date": ("start_date", "end_date"),
        "transaction_number": ("start_transaction_number", "end_transaction_number"),
        "signature_counter": ("start_signature_counter", "end_signature_counter"),
    }[kind]
    low, high = int(filters[names[0]]), int(filters[names[1]])
    if low >= high:
        return None
    middle = (low + high) // 2
    return [
        {**filters, names[0]: str(low), names[1]: str(middle)},
        {**filters, names[0]: str(middle + 1), names[1]: str(high)},
    ]


async def _bounded(
    client: FiskalyClient, tss_id: str, wanted: ExportRange, kind: str | None
) -> tuple[str, dict[str, str]]:
    """The range with both ends set (needed to split it), and its kind."""
    filters = wanted.filters()
    tss = await client.get_tss(tss_id)
    if kind is None or kind == "signature_counter":
        filters.setdefault("start_signature_counter", "1")
        filters.setdefault("end_signature_counter", str(max(1, tss.signature_counter or 1)))
        return "signature_counter", filters
    if kind == "transaction_number":
        filters.setdefault("start_transaction_number", "1")
        filters.setdefault("end_transaction_number", str(max(1, tss.transaction_counter or 1)))
        return kind, filters
    filters.setdefault("start_date", "0")
    filters.setdefault("end_date", str(int(time.time())))
    return kind, filters


async def export_tss(
    client: FiskalyClient,
    tss_id: str,
    dest_dir: Path,
    *,
    export_range: ExportRange | None = None,
    on_progress: Callable[[ExportProgress], None] | None = None,
    poll_interval: float = 5.0,
    max_wait: float = 3600.0,
    max_records: int = MAX_RECORDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ExportResult:
    """Export the TSS's signed logs in ``export_range`` (default: all) to TAR file(s)."""
    wanted = export_range or ExportRange()
    kind = wanted.kind()
    if not 1 <= max_records <= MAX_RECORDS:
        raise InputError(f"max_records must be 1..{MAX_RECORDS}")
    started = clock()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    await asyncio.to_thread(dest_dir.mkdir, parents=True, exist_ok=True)
    kind, bounded = await _bounded(client, tss_id, wanted, kind)
    if kind == "signature_counter":  # split ahead: whole chunks of max_records counters
        low = int(bounded["start_signature_counter"])
        high = int(bounded["end_signature_counter"])
        parts = [
            {**bounded, "start_signature_counter": str(start),
             "end_signature_counter": str(min(high, start + max_records - 1))}
            for start in range(low, high + 1, max_records)
        ]  # fmt: skip
    else:
        parts = [bounded]
    queue = deque(parts)
    files: list[ExportFile] = []

    def report(export_id: str, event: str, state: str, message: str = "") -> None:
        if on_progress is not None:
            current = len(files) + (0 if event == "downloaded" else 1)  # the part it is about
            on_progress(
                ExportProgress(
                    tss_id,
                    export_id,
                    current,
                    event,
                    state,
                    clock() - started,
                    message,
                    parts=current + len(queue),
                )
            )

    while queue:
        if len(files) + len(queue) > MAX_PARTS:
            raise ExportFailed(f"the export would need more than {MAX_PARTS} parts")
        filters = queue.popleft()
        export_id = str(uuid.uuid4())
        export = await client.trigger_export(
            tss_id, export_id, **filters, maximum_number_records=str(max_records)
        )
        report(export_id, "triggered", export.state, str(filters))
        pacer = _Pacer(sleep, clock)
        state, exception = export.state, export.exception
        while state not in ("COMPLETED", "ERROR", "CANCELLED"):
            if clock() - started > max_wait:
                with_cancel = "; it was cancelled"
                try:
                    await client.cancel_export(tss_id, export_id)
                except ferr.FiskalyError:
                    with_cancel = ""
                raise ExportTimeout(
                    f"export {export_id} of TSS {tss_id} was not ready after {max_wait:.0f} s"
                    + with_cancel
                )
            await sleep(poll_interval)
            await pacer.wait()
            try:
                export = await client.get_export(tss_id, export_id)
            except ferr.FiskalyRateLimited as err:
                wait = max(poll_interval, err.retry_after or 60.0)
                report(export_id, "rate_limited", state, f"fiskaly asks to wait {wait:.0f} s")
                await sleep(wait)
                continue
            state, exception = export.state, export.exception
            report(export_id, "polled", state)
        if state == "ERROR" and exception == "E_TOO_MANY_RECORDS":
            halves = _split(filters, kind)
            if halves is None:
                raise ExportFailed(
                    f"export {export_id}: more than {max_records} records in a range that cannot "
                    "be split any further"
                )
            report(export_id, "split", state, f"more than {max_records} records: two parts")
            queue.extendleft(reversed(halves))
            continue
        if state != "COMPLETED":
            raise ExportFailed(
                f"export {export_id} of TSS {tss_id} ended {state}"
                + (f" ({exception})" if exception else "")
            )
        await pacer.wait()
        files.append(await _download(client, tss_id, export_id, dest_dir, stamp, len(files) + 1,
                                     filters))  # fmt: skip
        report(export_id, "downloaded", state, str(files[-1].path))
    if len(files) > 1:
        files = [_rename(f, tss_id, stamp) for f in files]
    _LOGGER.info(
        "export of TSS %s: %d file(s), %d bytes", tss_id, len(files), sum(f.size for f in files),
        extra={"TSED_EVENT": "export_done", "TSED_TSS": tss_id},
    )  # fmt: skip
    return ExportResult(tss_id, tuple(files))


def _name(tss_id: str, stamp: str, part: int | None) -> str:
    return f"export_{tss_id}_{stamp}" + (f"_part{part:02d}" if part else "") + ".tar"


def _rename(item: ExportFile, tss_id: str, stamp: str) -> ExportFile:
    target = item.path.with_name(_name(tss_id, stamp, item.part))
    item.path.replace(target)
    return ExportFile(target, item.export_id, item.part, item.size, item.sha256, item.filters)


async def _download(
    client: FiskalyClient,
    tss_id: str,
    export_id: str,
    dest_dir: Path,
    stamp: str,
    part: int,
    filters: Mapping[str, str],
) -> ExportFile:
    path = dest_dir / _name(tss_id, stamp, None if part == 1 else part)
    payload = await client.download_export(tss_id, export_id, path)
    if not await asyncio.to_thread(tarfile.is_tarfile, path):
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise ExportFailed(f"export {export_id}: fiskaly's file is not a TAR archive")
    return ExportFile(
        path, export_id, part, len(payload), hashlib.sha256(payload).hexdigest(), dict(filters)
    )
