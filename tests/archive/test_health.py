"""The housekeeping records (one a day, 30 days kept, written atomically), the disk check and
the housekeeping gauges."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path

from tsed.archive.health import (
    KEEP_DAYS,
    HealthMetrics,
    HousekeepingLog,
    HousekeepingRecord,
    StepRecord,
    disk_space,
    local_day,
)


def record(day: str, *results: str, reason: str = "nightly") -> HousekeepingRecord:
    start = datetime.fromisoformat(day + "T02:00:00").astimezone().timestamp()
    steps = tuple(StepRecord(f"step{n}", r, start + n, 0.5, f"step {n} {r}", {"n": n})
                  for n, r in enumerate(results))  # fmt: skip
    return HousekeepingRecord(day, reason, start, start + 60, steps)


def test_the_worst_step_is_the_result() -> None:
    assert record("2026-12-01", "ok", "ok").result == "ok"
    assert record("2026-12-01", "ok", "warn").result == "warn"
    assert record("2026-12-01", "warn", "failed", "ok").result == "failed"
    assert record("2026-12-01").result == "ok"


def test_one_record_a_day_the_last_30_days(tmp_path: Path) -> None:
    log = HousekeepingLog(tmp_path / "housekeeping.json")
    assert log.records() == [] and log.last() is None
    first = datetime(2026, 10, 1)
    for n in range(40):
        log.add(record((first + timedelta(days=n)).date().isoformat(), "ok", "warn"))
    kept = log.records()
    assert len(kept) == KEEP_DAYS and kept[0].day == "2026-10-11" and kept[-1].day == "2026-11-09"
    nightly = kept[-1]
    again = record("2026-11-09", "failed", reason="nightly")
    log.add(again)  # the same day's scheduled run again: replaces that day's scheduled record
    assert HousekeepingLog(tmp_path / "housekeeping.json").last() == again
    assert len(log.records()) == KEEP_DAYS and nightly not in log.records()


def test_a_run_on_demand_keeps_the_nights_record(tmp_path: Path) -> None:
    """A technician's run in the afternoon is the newest record, but the night's record of
    that day (the daily health record) stays beside it; a second run on demand replaces the
    first run on demand only."""
    log = HousekeepingLog(tmp_path / "housekeeping.json")
    night = record("2026-11-09", "ok")
    log.add(night)

    def later(hours: float, result: str) -> HousekeepingRecord:
        base = record("2026-11-09", result, reason="on demand")
        return dataclasses.replace(base, started_at=base.started_at + hours * 3600,
                                   finished_at=base.finished_at + hours * 3600)  # fmt: skip

    first, second = later(12, "warn"), later(14, "failed")
    log.add(first)
    assert log.records() == [night, first] and log.last() == first
    log.add(second)
    assert log.records() == [night, second] and log.last() == second
    log.add(record("2026-11-10", "ok"))
    assert [r.day for r in log.records()] == ["2026-11-09", "2026-11-09", "2026-11-10"]
    assert (tmp_path / "housekeeping.json").stat().st_mode & 0o777 == 0o600


def test_a_damaged_file_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "housekeeping.json"
    path.write_text(json.dumps({"records": [{"day": "2026-12-01"}]}))
    log = HousekeepingLog(path)
    assert log.records() == []
    assert (tmp_path / "housekeeping.json.damaged").exists()
    log.add(record("2026-12-02", "ok"))
    assert [r.day for r in log.records()] == ["2026-12-02"]


def test_disk_space_of_the_folders(tmp_path: Path) -> None:
    result, details = disk_space({"state": tmp_path, "archive": tmp_path / "missing"})
    assert details["state"]["free"] > 0 and details["state"]["total"] >= details["state"]["free"]
    assert 0 < details["state"]["free_share"] <= 1
    assert "error" in details["archive"] and result == "failed"
    result, details = disk_space({"state": tmp_path})
    assert result in ("ok", "warn") and set(details) == {"state"}


def test_local_day() -> None:
    noon = datetime(2026, 12, 2, 12, 0).astimezone().timestamp()
    assert local_day(noon) == "2026-12-02"


def test_gauges() -> None:
    metrics = HealthMetrics()
    text = metrics.render(1000.0).decode()
    assert "tsed_health_record_age_hours -1.0" in text
    last = record("2026-12-01", "ok", "failed")
    metrics.update(last)
    metrics.certificate("tss-a", 42)
    text = metrics.render(last.finished_at + 7200).decode()
    assert "tsed_health_record_age_hours 2.0" in text
    assert 'tsed_housekeeping_last_result{step="all"} 2.0' in text
    assert 'tsed_housekeeping_last_result{step="step0"} 0.0' in text
    assert 'tsed_certificate_days_left{tss="tss-a"} 42.0' in text
    (line,) = [x for x in text.splitlines() if x.startswith("tsed_housekeeping_last_run_")]
    assert float(line.split()[1]) == last.finished_at
