"""The per-register cap on open transactions.

A TSS allows a fixed number of open transactions (2000 at fiskaly) shared by every register
of the TSS; without a cap one register (or one stolen token) could open them all and block
the others. Each register may hold at most ``max_open_per_register`` (configuration, default
100) transactions that are started and not yet finished or cancelled; one more start is
refused with 409 ``TOO_MANY_OPEN_TRANSACTIONS`` until the register finishes or cancels some.

The count is taken inside the start's own journal write (:func:`tsed.state.journal.insert_tx`):
the writer thread runs one write at a time, so concurrent starts from one register cannot
overtake the cap, and a start makes no store request of its own for it.
"""

from __future__ import annotations

from collections.abc import Callable

from tsed.errors import ConflictError


class TooManyOpen(ConflictError, code="TOO_MANY_OPEN_TRANSACTIONS"):
    default_hint = (
        "Finish or cancel this register's open transactions first (GET the ones you started "
        "and did not end); the limit is the setting max_open_per_register."
    )


class OpenCap:
    def __init__(self, limit: Callable[[], int] | int) -> None:
        self._limit = limit

    @property
    def limit(self) -> int:
        return self._limit() if callable(self._limit) else self._limit

    def refused(self, open_now: int) -> TooManyOpen:
        return TooManyOpen(
            f"this register has {open_now} open transactions; at most {self.limit} "
            "may be open at a time"
        )
