"""The nightly housekeeping's abandon sweep: its result, whoever cancelled.

Transactions a register left ACTIVE (or only journaled) longer than ``abandon_minutes`` are
cancelled at fiskaly by the signing service's own housekeeping timer
(:meth:`tsed.signing.completion.Completion.drain`, every half of ``abandon_minutes``, at most
30 s). The nightly routine runs the same drain once more and records what happened since its
last record: how many abandoned transactions were cancelled (by the timer or by this sweep)
and how many are still open past the limit (fiskaly unreachable: they wait for the next
drain; the outage journal keeps them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tsed.signing.completion import Completion
from tsed.signing.service import SigningService

OPEN = ("journaled", "active")


@dataclass(frozen=True, slots=True)
class SweepResult:
    cancelled: int  # abandoned transactions cancelled since the previous sweep
    still_abandoned: int  # open past abandon_minutes after this sweep
    open: int  # open transactions (journaled or active) after this sweep
    abandon_minutes: float

    @property
    def ok(self) -> bool:
        return self.still_abandoned == 0

    def to_json(self) -> dict[str, Any]:
        return {"cancelled": self.cancelled, "still_abandoned": self.still_abandoned,
                "open": self.open, "abandon_minutes": self.abandon_minutes}  # fmt: skip


class AbandonSweep:
    """Counts across sweeps; a reload of the backend (a new signing service) starts at 0."""

    def __init__(self) -> None:
        self._completion: Completion | None = None
        self._counted = 0

    async def sweep(self, service: SigningService) -> SweepResult:
        completion = service.completion
        if not service.breaker.open:
            await completion.drain()  # waits for a drain of the timer in progress
        if completion is not self._completion:
            self._completion, self._counted = completion, 0
        cancelled, self._counted = completion.abandoned - self._counted, completion.abandoned
        rows = await service.store.txs_in_states(list(OPEN))
        late = sum(1 for row in rows if service.inflight.age(row) >= completion.abandon_after)
        return SweepResult(cancelled, late, len(rows), round(completion.abandon_after / 60, 2))
