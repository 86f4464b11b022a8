"""What this run holds of the transactions it is working on.

Shared by the register calls (:mod:`tsed.signing.service`) and the completion behind them
(:mod:`tsed.signing.completion`); the journal (:class:`tsed.state.store.Store`) stays the
truth, this is the newer view while a write is queued, and the clock of abandonment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from tsed.state.rows import TxRow


class InFlight:
    """The latest row of each transaction on its way, its upstream start while that runs,
    the started ones not journaled as active yet, and when each open transaction began on the
    monotonic clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.rows: dict[str, TxRow] = {}
        self.starts: dict[str, asyncio.Task[None]] = {}
        # Started at fiskaly while the journal still says journaled: the finish journals the
        # revision with its own update; a transaction left open is marked by the next drain.
        self.activated: set[str] = set()
        self._born: dict[str, float] = {}

    def born_now(self, local_id: str) -> None:
        self._born[local_id] = time.monotonic()

    def note_born(self, row: TxRow) -> None:
        """Remember when an open transaction began, on the monotonic clock.

        Rows journaled by an earlier run count their wall-clock age at start-up (never
        negative); from then on a jump of the wall clock changes no transaction's age.
        """
        age = max(0.0, self._clock() - row.created_at)
        self._born.setdefault(row.id, time.monotonic() - age)

    def age(self, row: TxRow) -> float:
        born = self._born.get(row.id)
        if born is None:  # not seen by this run yet
            self.note_born(row)
            born = self._born[row.id]
        return time.monotonic() - born

    def ended(self, local_id: str) -> None:
        """The transaction is no longer open: its age no longer counts."""
        self._born.pop(local_id, None)
