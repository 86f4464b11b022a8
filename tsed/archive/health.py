"""The nightly housekeeping's records: one a night, each step with its result, kept 30 days.

A record (:class:`HousekeepingRecord`) holds every step of one run of the routine
(:mod:`tsed.unit.housekeeping`): ``abandon`` (the abandon sweep), ``archive`` (the archive
run), ``selfcheck`` (the connection test's steps, the clock offset against fiskaly's ``Date``
header, free disk space, certificate dates: the **daily health record**), ``reconcile`` (the
outage journal against the archive) and ``certificates`` (the certificate and certification
watch). Each step says ``ok``, ``warn`` or ``failed`` with a one-line summary and its details.

The records live in ``housekeeping.json`` in the state directory (written atomically; the
newest :data:`KEEP_DAYS` days; per day one scheduled record (the night's, or the one run
after a missed night) and one run on demand: a second run of the same kind the same day
replaces the first, and a run on demand never replaces the night's record). A damaged file is
kept aside and the history starts again.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from tsed.state.files import atomic_write

_LOGGER = logging.getLogger(__name__)
KEEP_DAYS = 30
RESULTS = ("ok", "warn", "failed")
# free space of the state and the archive folders: warn below either, fail below both
DISK_WARN = (0.10, 1 << 30)  # 10 % or 1 GiB
DISK_FAIL = (0.02, 100 << 20)  # 2 % or 100 MiB


@dataclass(frozen=True, slots=True)
class StepRecord:
    step: str  # abandon, archive, selfcheck, reconcile, certificates
    result: str  # ok, warn, failed
    started_at: float
    seconds: float
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "result": self.result, "started_at": self.started_at,
                "seconds": self.seconds, "summary": self.summary,
                "details": dict(self.details)}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(str(data["step"]), str(data["result"]), float(data["started_at"]),
                   float(data["seconds"]), str(data["summary"]),
                   dict(data.get("details") or {}))  # fmt: skip


def worst(results: list[str]) -> str:
    return max(results, key=RESULTS.index, default="ok")


@dataclass(frozen=True, slots=True)
class HousekeepingRecord:
    day: str  # the local day of the run, YYYY-MM-DD
    reason: str  # nightly, on demand
    started_at: float
    finished_at: float
    steps: tuple[StepRecord, ...]

    @property
    def result(self) -> str:
        return worst([s.result for s in self.steps])

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.step == name), None)

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day, "reason": self.reason, "result": self.result,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "steps": [s.to_json() for s in self.steps]}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HousekeepingRecord:
        return cls(str(data["day"]), str(data["reason"]), float(data["started_at"]),
                   float(data["finished_at"]),
                   tuple(StepRecord.from_json(s) for s in data["steps"]))  # fmt: skip


ON_DEMAND = "on demand"  # the reason of a run started by tsectl health run or the setup page


def _kind(record: HousekeepingRecord) -> str:
    """A day's records are kept per kind: the scheduled one and the one run on demand."""
    return "on-demand" if record.reason == ON_DEMAND else "scheduled"


def local_day(moment: float) -> str:
    return datetime.fromtimestamp(moment).astimezone().date().isoformat()


class HousekeepingLog:
    """``housekeeping.json``: the records of the last :data:`KEEP_DAYS` days, oldest first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def records(self) -> list[HousekeepingRecord]:
        with self._lock:
            return self._load()

    def last(self) -> HousekeepingRecord | None:
        records = self.records()
        return records[-1] if records else None

    def _load(self) -> list[HousekeepingRecord]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [HousekeepingRecord.from_json(item) for item in data["records"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as err:
            aside = self.path.with_name(self.path.name + ".damaged")
            _LOGGER.error("the housekeeping records are damaged (%s); kept as %s", err, aside,
                          extra={"TSED_EVENT": "housekeeping_file_damaged"})  # fmt: skip
            self.path.replace(aside)
            return []

    def add(self, record: HousekeepingRecord) -> None:
        """Keep ``record`` (blocking: run it in a thread)."""
        with self._lock:
            kind = (record.day, _kind(record))  # in the order written: the last is the newest
            records = [r for r in self._load() if (r.day, _kind(r)) != kind] + [record]
            days = sorted({r.day for r in records})[-KEEP_DAYS:]
            kept = [r for r in records if r.day in days]
            body = {"records": [r.to_json() for r in kept]}
            atomic_write(self.path, json.dumps(body, indent=1).encode(), mode=0o600)


def disk_space(folders: Mapping[str, Path]) -> tuple[str, dict[str, Any]]:
    """Free space of each folder's file system: the result and the details per folder."""
    details: dict[str, Any] = {}
    results = []
    for name, folder in folders.items():
        try:
            usage = shutil.disk_usage(folder)
        except OSError as err:
            details[name] = {"path": str(folder), "error": f"{err.strerror or err}"}
            results.append("failed")
            continue
        share = usage.free / usage.total if usage.total else 0.0
        low = share < DISK_WARN[0] or usage.free < DISK_WARN[1]
        full = share < DISK_FAIL[0] and usage.free < DISK_FAIL[1]
        results.append("failed" if full else "warn" if low else "ok")
        details[name] = {"path": str(folder), "free": usage.free, "total": usage.total,
                         "free_share": round(share, 4)}  # fmt: skip
    return worst(results), details


class HealthMetrics:
    """The gauges of the housekeeping and the certificate watch (their own registry)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.days_left = Gauge(
            "tsed_certificate_days_left",
            "Days until the TSS certificate expires (negative: expired)",
            ["tss"], registry=self.registry,
        )  # fmt: skip
        self.record_age = Gauge(
            "tsed_health_record_age_hours",
            "Hours since the last daily health record (-1: none yet)", registry=self.registry,
        )  # fmt: skip
        self.last_result = Gauge(
            "tsed_housekeeping_last_result",
            "Result of the last nightly housekeeping per step and overall: 0 ok, 1 warn, "
            "2 failed", ["step"], registry=self.registry,
        )  # fmt: skip
        self.last_run = Gauge(
            "tsed_housekeeping_last_run_timestamp_seconds",
            "When the last nightly housekeeping finished (Unix time)", registry=self.registry,
        )  # fmt: skip
        self.findings = Gauge(
            "tsed_housekeeping_unarchived_late_signed",
            "Late-signed transactions the last reconciliation found in no archived export",
            registry=self.registry,
        )  # fmt: skip
        self._finished: float | None = None

    def update(self, record: HousekeepingRecord) -> None:
        self._finished = record.finished_at
        self.last_run.set(record.finished_at)
        self.last_result.labels("all").set(RESULTS.index(record.result))
        for step in record.steps:
            self.last_result.labels(step.step).set(RESULTS.index(step.result))
        reconcile = record.step("reconcile")
        if reconcile is not None and isinstance(reconcile.details.get("finding_count"), int):
            self.findings.set(reconcile.details["finding_count"])

    def certificate(self, tss_id: str, days_left: int | None) -> None:
        if days_left is not None:
            self.days_left.labels(tss_id).set(days_left)

    def render(self, now: float) -> bytes:
        age = -1.0 if self._finished is None else round((now - self._finished) / 3600, 2)
        self.record_age.set(age)
        return generate_latest(self.registry)
