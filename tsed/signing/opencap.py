"""The per-register cap on open transactions.

A TSS allows a fixed number of open transactions (2000 at fiskaly) shared by every register
of the TSS; without a cap one register (or one stolen token) could open them all and block
the others. Each register may hold at most ``max_open_per_register`` (configuration, default
100) transactions that are started and not yet finished or cancelled; one more start is
refused with 409 ``TOO_MANY_OPEN_TRANSACTIONS`` until the register finishes or cancels some.

The reservation is counted before the journal is read, so concurrent starts from one register
cannot overtake the cap (while they race, the count errs on the safe side).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from tsed.errors import ConflictError


class TooManyOpen(ConflictError, code="TOO_MANY_OPEN_TRANSACTIONS"):
    default_hint = (
        "Finish or cancel this register's open transactions first (GET the ones you started "
        "and did not end); the limit is the setting max_open_per_register."
    )


class OpenCap:
    def __init__(
        self, count_open: Callable[[str], Awaitable[int]], limit: Callable[[], int] | int
    ) -> None:
        self._count_open = count_open
        self._limit = limit
        self._pending: Counter[str] = Counter()

    @property
    def limit(self) -> int:
        return self._limit() if callable(self._limit) else self._limit

    @asynccontextmanager
    async def reserve(self, register_id: str) -> AsyncIterator[None]:
        """Room for one more open transaction of ``register_id`` while the block runs."""
        self._pending[register_id] += 1  # before any await
        try:
            others = self._pending[register_id] - 1
            open_now = await self._count_open(register_id)
            if open_now + others >= self.limit:
                raise TooManyOpen(
                    f"this register has {open_now} open transactions; at most {self.limit} "
                    "may be open at a time"
                )
            yield
        finally:
            self._pending[register_id] -= 1
            if not self._pending[register_id]:
                del self._pending[register_id]
