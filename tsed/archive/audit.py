"""What the archive shows and hands out: status, a full re-verification, the auditor's export.

All functions here are blocking (they read files): call them through ``asyncio.to_thread``.

* :func:`archive_summary`: per TSS the last archived counter and time, gaps between entries
  (there should be none), findings (rejected files), disk use and bytes per 10,000 receipts;
* :func:`verify_archive`: every file against the index and the manifest (SHA-256), through
  the TAR verifier again, and the counter chain per TSS;
* :func:`report_lines`: the auditor export's report as text (the export itself, from the
  local archive or the off-box copy: :mod:`tsed.archive.auditor`; whole files: a file is the
  signed unit).
"""

from __future__ import annotations

import itertools
import logging
import shutil
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tsed.archive.store import ArchiveStore, Entry, sha256_file
from tsed.errors import InputError
from tsed.fiskaly.tarverify import verify_tar

_LOGGER = logging.getLogger(__name__)
PER_RECEIPTS = 10_000
RATE_DAYS = 30  # the disk projection uses the archive's growth over the last 30 days
WARN_DAYS = 60  # warn when the disk is full within this many days (weeks ahead)


def counter_gaps(entries: list[Entry]) -> list[str]:
    return [
        f"{before.last_counter + 1}..{after.first_counter - 1}"
        if after.first_counter > before.last_counter + 1
        else f"overlap {after.first_counter}..{before.last_counter}"
        for before, after in itertools.pairwise(entries)
        if after.first_counter != before.last_counter + 1
    ]


def disk_projection(store: ArchiveStore, entries: list[Entry], now: float) -> dict[str, Any]:
    """Free space, the measured growth (bytes a day) and the days until the disk is full."""
    usage = shutil.disk_usage(store.root)
    recent = [e for e in entries if e.archived_at >= now - RATE_DAYS * 86400]
    first = min((e.first_time or e.archived_at for e in recent), default=None)
    span_days = max(1.0, (now - first) / 86400) if first is not None else None
    per_day = sum(e.size for e in recent) / span_days if span_days else None
    days = round(usage.free / per_day) if per_day else None
    return {
        "disk_free": usage.free,
        "disk_total": usage.total,
        "bytes_per_day": round(per_day) if per_day is not None else None,
        "days_until_full": days,
        "disk_warning": days is not None and days < WARN_DAYS,
    }


def archive_summary(store: ArchiveStore, now: float | None = None) -> dict[str, Any]:
    """Per TSS and overall, from the index (no fiskaly call: the caller adds the lag)."""
    entries = store.entries()
    by_tss: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_tss[entry.tss_id].append(entry)
    tss: dict[str, Any] = {}
    for tss_id, items in sorted(by_tss.items()):
        archived = [e for e in items if e.state == "archived"]
        last = archived[-1] if archived else None
        tss[tss_id] = {
            "tenant": items[-1].tenant,
            "first_counter": archived[0].first_counter if archived else None,
            "last_counter": last.last_counter if last else None,
            "last_log_time": last.last_time if last else None,
            "archived_at": last.archived_at if last else None,
            "files": len(archived),
            "gaps": counter_gaps(archived),
            "findings": [
                {
                    "file": e.path,
                    "range": f"{e.first_counter}..{e.last_counter}",
                    "at": e.archived_at,
                    "findings": list(e.findings),
                }
                for e in items
                if e.state == "rejected"
            ],
        }
    archived = [e for e in entries if e.state == "archived"]
    size = sum(e.size for e in archived)
    receipts = sum(e.transactions for e in archived)
    return {
        "directory": str(store.root),
        "tss": tss,
        "files": len(archived),
        "rejected": len(entries) - len(archived),
        "bytes": size,
        "disk_use": store.disk_use(),
        "receipts": receipts,
        "bytes_per_10000_receipts": round(size * PER_RECEIPTS / receipts) if receipts else None,
        **disk_projection(store, archived, time.time() if now is None else now),
    }


def _check_entry(store: ArchiveStore, entry: Entry, manifest: dict[str, str]) -> list[str]:
    path = store.path(entry)
    if not path.is_file():
        return ["the file is missing"]
    problems = []
    digest = sha256_file(path)
    if digest != entry.sha256:
        problems.append("its SHA-256 is not the one in the index")
    if manifest.get(entry.path) != entry.sha256:
        problems.append("the manifest does not list it with its SHA-256")
    report = verify_tar(path, start_counter=entry.first_counter, end_counter=entry.last_counter,
                        name=entry.path)  # fmt: skip
    problems += [f"{f.code}: {f.message}" for f in report.findings]
    if report.last_counter != entry.last_counter or report.first_counter != entry.first_counter:
        problems.append(
            f"it holds counters {report.first_counter}..{report.last_counter}, the index says "
            f"{entry.first_counter}..{entry.last_counter}"
        )
    return problems


def verify_archive(store: ArchiveStore) -> dict[str, Any]:
    """Every archived file checked again; ``ok`` only when nothing is wrong anywhere."""
    began = time.monotonic()
    manifest = store.manifest()
    files = []
    by_tss: dict[str, list[Entry]] = defaultdict(list)
    for entry in store.entries(state="archived"):
        by_tss[entry.tss_id].append(entry)
        files.append({"file": entry.path, "problems": _check_entry(store, entry, manifest)})
    chains = {tss_id: counter_gaps(items) for tss_id, items in by_tss.items()}
    ok = all(not f["problems"] for f in files) and all(not g for g in chains.values())
    result = {"ok": ok, "files": files, "gaps": chains,
              "seconds": round(time.monotonic() - began, 2)}  # fmt: skip
    _LOGGER.log(
        logging.INFO if ok else logging.ERROR,
        "archive verification: %d file(s), %s", len(files), "OK" if ok else "PROBLEMS",
        extra={"TSED_EVENT": "archive_verified" if ok else "archive_finding"},
    )  # fmt: skip
    return result


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError) as err:
        raise InputError(
            f"{what} must be a date YYYY-MM-DD, got {text!r}",
            hint="Example: tsectl archive export --from 2026-01-01 --to 2026-12-31",
        ) from err


def period(start: str, end: str) -> tuple[int, int]:
    """``--from``/``--to`` days (UTC, both inclusive) as Unix seconds."""
    first, last = parse_day(start, "from"), parse_day(end, "to")
    for day, what in ((first, "from"), (last, "to")):
        if not 2000 <= day.year <= 9998:
            raise InputError(f"{what} {day} is not a day a TSE can have signed on",
                             hint="Give days from 2000 on.")  # fmt: skip
    if first > last:
        raise InputError(
            f"the period starts after it ends ({first} > {last})",
            hint="Give the first day with --from and the last day with --to.",
        )
    low = datetime(first.year, first.month, first.day, tzinfo=UTC)
    high = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return int(low.timestamp()), int(high.timestamp()) - 1


def _day(stamp: int | None) -> str:
    return "?" if stamp is None else datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M")


def _verdict(report: dict[str, Any]) -> str:
    if report["ok"]:
        return "OK"
    return "PROBLEMS" if report.get("complete", True) else "INCOMPLETE (files missing)"


def report_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"TSE export {_day(report['from'])} .. {_day(report['to'])} UTC"
        + (f", tenant {report['tenant']}" if report.get("tenant") else "")
        + f": {_verdict(report)} ({len(report['files'])} file(s), from the "
        f"{report.get('source', 'local archive')})"
    ]
    for item in report["files"]:
        lines.append(
            f"  {item['file']}: TSS {item['tss_id']} counters {item['first_counter']}.."
            f"{item['last_counter']}, logs {_day(item['first_time'])} .. "
            f"{_day(item['last_time'])}: "
            + ("; ".join(item["problems"]) or "verified")
            + f" [{item.get('source', 'local archive')}]"
        )
    for tss_id, gaps in report["gaps"].items():
        if gaps:
            lines.append(f"  TSS {tss_id}: counters missing {', '.join(gaps)}")
    return lines
