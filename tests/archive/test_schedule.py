"""The nightly schedule: at the configured local hour, following changes, one run at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.archive import Shop, archiver, open_shop
from tests.support.provisioning import Unit, unit
from tsed.archive.schedule import NightlySchedule, next_run
from tsed.errors import ConflictError

__all__ = ["unit"]


def _local(text: str) -> float:
    return datetime.fromisoformat(text).astimezone().timestamp()


def test_next_run_is_the_next_local_hour() -> None:
    assert next_run(_local("2026-12-01T01:59:00"), 2) == _local("2026-12-01T02:00:00")
    assert next_run(_local("2026-12-01T02:00:00"), 2) == _local("2026-12-02T02:00:00")
    assert next_run(_local("2026-12-01T23:30:00"), 0) == _local("2026-12-02T00:00:00")


@pytest.fixture
async def shop(unit: Unit) -> AsyncIterator[Shop]:
    shop = await open_shop(unit)
    await shop.receipts(2)
    yield shop
    await shop.registry.stop()


async def test_runs_nightly_at_the_configured_hour(shop: Shop, tmp_path: Path) -> None:
    runner = archiver(tmp_path / "archive", shop)
    now = [_local("2026-12-01T01:00:00")]
    hour = [2]
    runs: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        await asyncio.sleep(0)

    original = runner.run

    async def counted(reason: str, state: object = None) -> object:
        runs.append(now[0])
        if len(runs) == 1:  # changed in the configuration during the first run: followed
            hour[0] = 4  # (set here, not by the test's poll: virtual time runs ahead of it)
        return await original(reason)

    runner.run = counted  # type: ignore[method-assign,assignment]
    schedule = NightlySchedule(runner, lambda: hour[0], clock=lambda: now[0], sleep=sleep)
    schedule.start()
    try:
        async with asyncio.timeout(30):
            while len(runs) < 3:
                await asyncio.sleep(0.01)
            while runner.running:
                await asyncio.sleep(0.01)
        assert runs[:3] == [
            _local("2026-12-01T02:00:00"),
            _local("2026-12-01T04:00:00"),
            _local("2026-12-02T04:00:00"),
        ]
        assert runner.last is not None and runner.last.reason == "nightly"
        assert runner.store.entries(shop.tss_id, "archived")
    finally:
        await schedule.stop()


async def test_one_run_at_a_time(shop: Shop, tmp_path: Path) -> None:
    runner = archiver(tmp_path / "archive", shop)
    state = runner.start("on demand")
    assert runner.running or state.state == "running"
    with pytest.raises(ConflictError, match="already running"):
        runner.start("on demand")
    nightly = await runner.run("nightly")  # never at the same time as the on-demand run
    async with asyncio.timeout(30):
        while runner.running:
            await asyncio.sleep(0.01)
    assert state.state == "done" and nightly.state == "done"
    first, second = sorted((state, nightly), key=lambda s: s.started_at)
    assert first.finished_at is not None and second.started_at >= first.finished_at
    await runner.stop()


async def test_the_nightly_housekeeping_takes_the_slot(shop: Shop, tmp_path: Path) -> None:
    """With a job set (the nightly housekeeping), the hour runs the job, not the bare run;
    a job that fails does not end the schedule."""
    runner = archiver(tmp_path / "archive", shop)
    now = [_local("2026-12-01T01:00:00")]
    jobs: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        await asyncio.sleep(0)

    async def job() -> None:
        jobs.append(now[0])
        if len(jobs) == 1:
            raise RuntimeError("the first night fails")
        await runner.run("nightly")

    schedule = NightlySchedule(runner, lambda: 3, clock=lambda: now[0], sleep=sleep)
    schedule.job = job
    schedule.start()
    try:
        async with asyncio.timeout(30):
            while len(jobs) < 2 or runner.running:
                await asyncio.sleep(0.01)
        assert jobs[:2] == [_local("2026-12-01T03:00:00"), _local("2026-12-02T03:00:00")]
        assert runner.last is not None and runner.last.reason == "nightly"
    finally:
        await schedule.stop()
