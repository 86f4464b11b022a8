"""Lockouts and rate limits for unauthenticated attempts (pairing codes, tokens, passwords).

Only failures count, and only attempts without a valid credential are throttled: a register
that sends a valid token is never refused here, whatever other registers or hosts behind the
same address did (terminal servers, NAT and one PC running two tills share an address).

* **Per source**: after ``max_failures`` failures a source is locked out for a period that
  doubles with each lockout (30 s, 60 s, … up to an hour).
* **No check-then-act**: :meth:`FailureLimiter.attempt` checks and reserves in one step, before
  the handler awaits anything; an attempt in flight counts as a failure until it succeeds, and a
  source has at most one attempt in flight (a second concurrent one gets 429 at once). So 100
  concurrent wrong passwords from one address are 1 check and 99 refusals, never 100 checks.
* **Global rate**: all sources together get at most :data:`GLOBAL_RATE` failed attempts per
  second (burst :data:`GLOBAL_BURST`) of the kinds that share one :class:`AttemptRate`
  (setup-page logins and pairings): a host with many addresses cannot turn the unit into a
  password-hashing oracle, and signing keeps its CPU. A right attempt gives its share back, so
  an installer pairing 50 registers in a row is never slowed down.
* **Bounded memory**: at most :data:`MAX_SOURCES` sources are remembered; when full, forgotten
  first are sources that are not locked out, then the lockouts that end soonest.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tsed.errors import LockedOut

_LOGGER = logging.getLogger(__name__)

MAX_SOURCES = 10_000
GLOBAL_RATE = 5.0  # attempts per second, all sources together
GLOBAL_BURST = 20


class RateLimited(LockedOut, code="RATE_LIMITED"):
    """Too many attempts from all sources together (the unit is being flooded)."""

    default_hint = (
        "The unit receives too many login or pairing attempts right now; retry in a moment. "
        "Signing by paired registers is not affected."
    )


class AttemptInFlight(LockedOut, code="ATTEMPT_IN_PROGRESS"):
    """A second attempt from a source while its first is still being checked."""

    default_hint = "Wait for the answer to the previous attempt, then retry."


class AttemptRate:
    """A token bucket shared by the attempt kinds it limits (all sources together)."""

    def __init__(
        self,
        *,
        rate: float = GLOBAL_RATE,
        burst: int = GLOBAL_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            wait = max(1, math.ceil((1.0 - self._tokens) / self.rate))  # the same number twice
            error = RateLimited(f"too many attempts at the unit; try again in {wait} s").localized(
                "auth.rate_limited", seconds=wait
            )
            error.details["retry_after"] = wait
            raise error
        self._tokens -= 1.0

    def refund(self) -> None:
        """Give back what an attempt took that turned out right (or checked nothing)."""
        self._tokens = min(float(self.burst), self._tokens + 1.0)


@dataclass(slots=True)
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    lockouts: int = 0
    in_flight: bool = False


class Attempt:
    """One reserved attempt; the handler reports how it ended."""

    __slots__ = ("outcome",)

    def __init__(self) -> None:
        self.outcome: str | None = None

    def failed(self) -> None:
        self.outcome = "failed"

    def succeeded(self) -> None:
        self.outcome = "succeeded"

    def uncounted(self) -> None:
        """Neither: the attempt could not be made (e.g. no password is set yet)."""
        self.outcome = "uncounted"


class FailureLimiter:
    """Counts failures per source; locks a source out after ``max_failures``."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        base_lockout: float = 30.0,
        max_lockout: float = 3600.0,
        rate: AttemptRate | None = None,
        max_sources: int = MAX_SOURCES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.base_lockout = base_lockout
        self.max_lockout = max_lockout
        self.rate = rate
        self.max_sources = max_sources
        self._clock = clock
        self._sources: dict[str, _Failures] = {}

    def __len__(self) -> int:
        return len(self._sources)

    def check(self, source: str) -> None:
        """Raise :class:`~tsed.errors.LockedOut` while ``source`` is locked out."""
        entry = self._sources.get(source)
        now = self._clock()
        if entry is not None and entry.locked_until > now:
            wait = max(1, math.ceil(entry.locked_until - now))  # the same number twice
            error = LockedOut(
                f"too many failed attempts from {source}; try again in {wait} s",
                hint="Wait, then use the right code, token or password.",
            ).localized("auth.locked_out", seconds=wait)
            error.details["retry_after"] = wait
            raise error

    @contextmanager
    def attempt(self, source: str) -> Iterator[Attempt]:
        """Check and reserve an attempt in one step (call it before any ``await``).

        Inside, the handler calls :meth:`Attempt.failed`, :meth:`Attempt.succeeded` or
        :meth:`Attempt.uncounted`; leaving the block without an outcome (an exception, e.g. a
        malformed body) counts as a failure: a crash must not become a free retry.
        """
        self.check(source)
        entry = self._sources.get(source)
        if entry is not None and entry.in_flight:
            error = AttemptInFlight(f"an attempt from {source} is still being checked").localized(
                "auth.in_flight"
            )
            error.details["retry_after"] = 1
            raise error
        if self.rate is not None:
            self.rate.take()
        entry = self._entry(source)
        entry.in_flight = True
        attempt = Attempt()
        try:
            yield attempt
        finally:
            entry.in_flight = False
            if attempt.outcome in (None, "failed"):
                self.failed(source)
            else:  # right, or nothing checked: costs no share of the global rate
                if self.rate is not None:
                    self.rate.refund()
                if attempt.outcome == "succeeded":
                    self.succeeded(source)

    def failed(self, source: str) -> None:
        entry = self._entry(source)
        entry.count += 1
        if entry.count >= self.max_failures:
            entry.lockouts += 1
            period = min(self.max_lockout, self.base_lockout * 2 ** (entry.lockouts - 1))
            entry.locked_until = self._clock() + period
            entry.count = 0
            _LOGGER.warning(
                "locked out %s for %.0f s after repeated failures",
                source,
                period,
                extra={"TSED_EVENT": "lockout", "TSED_SOURCE": source},
            )

    def succeeded(self, source: str) -> None:
        entry = self._sources.get(source)
        if entry is not None and entry.locked_until <= self._clock() and not entry.in_flight:
            del self._sources[source]

    def _entry(self, source: str) -> _Failures:
        entry = self._sources.get(source)
        if entry is None:
            if len(self._sources) >= self.max_sources:
                self._forget()
            entry = self._sources[source] = _Failures()
        return entry

    def _forget(self) -> None:
        """Make room: drop sources that are not locked out, then the soonest-ending lockouts."""
        now = self._clock()
        keep = self.max_sources * 9 // 10
        for source in [s for s, e in self._sources.items() if e.locked_until <= now]:
            if len(self._sources) <= keep:
                return
            if not self._sources[source].in_flight:
                del self._sources[source]
        if len(self._sources) > keep:
            by_end = sorted(self._sources.items(), key=lambda item: item[1].locked_until)
            for source, entry in by_end[: len(self._sources) - keep]:
                if not entry.in_flight:
                    del self._sources[source]
