"""TSE availability: after repeated failures fail fast, probe in the background, recover."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

_LOGGER = logging.getLogger(__name__)


class Breaker:
    """Closed (calls go to fiskaly) or open (fail fast, a probe checks every ``probe_interval``).

    ``on_recover`` runs once fiskaly answers again (late signing, background finishes).
    """

    def __init__(
        self,
        *,
        probe: Callable[[], Awaitable[None]],
        on_recover: Callable[[], Awaitable[None]],
        threshold: int = 3,
        probe_interval: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._probe = probe
        self._on_recover = on_recover
        self.threshold = threshold
        self.probe_interval = probe_interval
        self._clock = clock
        self.failures = 0
        self.failing_since: float | None = None
        self.reason: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def open(self) -> bool:
        return self.failures >= self.threshold

    @property
    def available(self) -> bool:
        return self.failing_since is None

    def success(self) -> None:
        if self.failing_since is not None and not self.open:
            self.failing_since = None
            self.reason = None
        self.failures = 0 if not self.open else self.failures

    def failure(self, reason: str, *, decisive: bool = False) -> None:
        """Count a failure; a ``decisive`` one (a register already waited its whole deadline,
        or every retry failed) opens at once so that the next register does not wait too."""
        self.failures = max(self.failures + 1, self.threshold if decisive else 0)
        if self.failing_since is None:
            self.failing_since = self._clock()
        self.reason = reason
        if self.open and self._task is None:
            _LOGGER.warning(
                "TSE unavailable (%s): failing fast, probing in the background",
                reason,
                extra={"TSED_EVENT": "tse_unavailable"},
            )
            self._task = asyncio.create_task(self._probe_loop(), name="tsed-tse-probe")

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(self.probe_interval)
            try:
                await self._probe()
            except Exception as err:
                self.reason = getattr(err, "message", None) or type(err).__name__
                continue
            break
        since = self.failing_since
        self.failures = 0
        self.failing_since = None
        self.reason = None
        self._task = None
        _LOGGER.info(
            "TSE reachable again after %.0f s",
            self._clock() - (since or self._clock()),
            extra={"TSED_EVENT": "tse_recovered"},
        )
        await self._on_recover()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
