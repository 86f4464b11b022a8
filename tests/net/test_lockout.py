"""The failure limiter: reserved attempts, one in flight, the global rate, bounded memory."""

from __future__ import annotations

import pytest

from tsed.errors import LockedOut
from tsed.net.lockout import AttemptInFlight, AttemptRate, FailureLimiter, RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_attempt_in_flight_blocks_a_second_from_the_same_source() -> None:
    limiter = FailureLimiter()
    with limiter.attempt("192.0.2.1") as first:
        with pytest.raises(AttemptInFlight), limiter.attempt("192.0.2.1"):
            pass
        with limiter.attempt("192.0.2.2") as other:  # another source is not blocked
            other.succeeded()
        first.failed()
    with limiter.attempt("192.0.2.1") as again:  # released once the first one ended
        again.uncounted()


def test_five_failures_lock_out_and_an_exception_counts_as_one() -> None:
    clock = Clock()
    limiter = FailureLimiter(clock=clock)
    for _ in range(4):
        with limiter.attempt("192.0.2.1") as attempt:
            attempt.failed()
    with pytest.raises(ValueError), limiter.attempt("192.0.2.1"):
        raise ValueError("malformed body")  # no outcome: a failure, not a free retry
    with pytest.raises(LockedOut) as caught, limiter.attempt("192.0.2.1"):
        pass
    assert caught.value.details["retry_after"] == 30  # the message says 30 s too
    clock.now += 31
    with limiter.attempt("192.0.2.1") as attempt:
        attempt.succeeded()


def test_the_global_rate_spans_sources_and_refills() -> None:
    clock = Clock()
    rate = AttemptRate(rate=2.0, burst=3, clock=clock)
    limiter = FailureLimiter(rate=rate, clock=clock)
    for n in range(3):
        with limiter.attempt(f"192.0.2.{n}") as attempt:
            attempt.failed()
    with pytest.raises(RateLimited) as caught, limiter.attempt("198.51.100.7"):
        pass
    assert caught.value.status == 429 and caught.value.details["retry_after"] == 1
    clock.now += 0.5
    with limiter.attempt("198.51.100.7") as attempt:
        attempt.succeeded()


def test_a_flood_of_sources_cannot_flush_a_lockout() -> None:
    clock = Clock()
    limiter = FailureLimiter(max_sources=100, clock=clock)
    for _ in range(5):
        limiter.failed("192.0.2.66")
    for n in range(10_000):  # bounded: 10 000 other addresses, each one failure
        limiter.failed(f"10.{n >> 8 & 255}.{n & 255}.1")
        assert len(limiter) <= 100
    with pytest.raises(LockedOut):
        limiter.check("192.0.2.66")


def test_right_attempts_give_their_share_of_the_global_rate_back() -> None:
    clock = Clock()
    rate = AttemptRate(rate=1.0, burst=2, clock=clock)
    limiter = FailureLimiter(rate=rate, clock=clock)
    for n in range(50):  # an installer pairing 50 registers in a row, no time passing
        with limiter.attempt(f"192.0.2.{n}") as attempt:
            attempt.succeeded()
    for n in range(2):
        with limiter.attempt(f"198.51.100.{n}") as attempt:
            attempt.failed()
    with pytest.raises(RateLimited), limiter.attempt("198.51.100.9"):
        pass


def test_the_standing_warns_before_the_last_attempt_and_counts_down() -> None:
    clock = Clock()
    limiter = FailureLimiter(clock=clock)
    assert limiter.standing("192.0.2.1") == (5, 0)
    for left in (4, 3, 2, 1):
        with limiter.attempt("192.0.2.1") as attempt:
            attempt.failed()
        assert limiter.standing("192.0.2.1") == (left, 0)  # 1: the page warns
    with limiter.attempt("192.0.2.1") as attempt:
        attempt.failed()
    assert limiter.standing("192.0.2.1") == (5, 30)  # locked: the page counts down
    clock.now += 12.5
    assert limiter.standing("192.0.2.1") == (5, 18)
    assert limiter.standing("192.0.2.9") == (5, 0)  # another source is not affected
    clock.now += 18
    assert limiter.standing("192.0.2.1") == (5, 0)
