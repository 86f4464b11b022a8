"""The nightly archive run, on the daemon's own schedule.

Why not a systemd timer: the run needs the daemon's fiskaly clients, its TSS bindings and its
one-run-at-a-time lock (an on-demand run from tsectl and the nightly run must not overlap),
and its progress and findings belong in the daemon's status and metrics. A timer would start
a second process that has none of these (or asks the daemon over the admin socket to do
the work, which is this schedule with an extra moving part). The schedule follows the
configured hour (``archive_hour``) at once, and wall-clock jumps (NTP after a cold boot): it
sleeps in short steps and compares the wall clock each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from tsed.archive.run import Archiver

_LOGGER = logging.getLogger(__name__)
STEP = 30.0  # seconds between looks at the clock


def next_run(now: float, hour: int) -> float:
    """The next local ``hour``:00 strictly after ``now`` (a Unix time)."""
    local = datetime.fromtimestamp(now).astimezone()
    candidate = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if candidate.timestamp() <= now:
        day = (local + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
        candidate = day.astimezone()
    return candidate.timestamp()


class DailySchedule:
    """Runs ``job`` once a day at ``hour()`` o'clock, local time: the configured hour followed
    at once, wall-clock jumps followed by looking at the clock every ``step`` seconds; a job
    that raises is logged (``what``, ``event``) and the schedule goes on."""

    def __init__(
        self,
        job: Callable[[], Awaitable[object]],
        hour: Callable[[], int],
        *,
        name: str,
        what: str,
        event: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        step: float = STEP,
    ) -> None:
        self._job = job
        self.hour = hour
        self.clock = clock
        self.sleep = sleep
        self.step = step
        self.next_at: float | None = None
        self._name, self._what, self._event = name, what, event
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            hour = self.hour()
            self.next_at = next_run(self.clock(), hour)
            while self.clock() < self.next_at:
                await self.sleep(min(self.step, max(0.0, self.next_at - self.clock())))
                if self.hour() != hour:  # the configuration changed: a new time
                    hour = self.hour()
                    self.next_at = next_run(self.clock(), hour)
            try:
                await self._job()
            except Exception:  # the schedule outlives any one run
                _LOGGER.exception(
                    "%s stopped unexpectedly", self._what, extra={"TSED_EVENT": self._event}
                )


class NightlySchedule(DailySchedule):
    """Runs :meth:`Archiver.run` once a night at ``hour()`` o'clock, local time."""

    def __init__(
        self,
        archiver: Archiver,
        hour: Callable[[], int],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        step: float = STEP,
    ) -> None:
        super().__init__(self._nightly, hour, name="tsed-archive-nightly",
                         what="the nightly archive run", event="archive_failed",
                         clock=clock, sleep=sleep, step=step)  # fmt: skip
        self.archiver = archiver
        # what runs at the hour: the nightly housekeeping (tsed.unit.housekeeping) sets it;
        # without one, the archive run alone
        self.job: Callable[[], Awaitable[object]] | None = None

    async def _nightly(self) -> object:
        return await (self.job() if self.job is not None else self.archiver.run("nightly"))
