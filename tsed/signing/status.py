"""What the signing service shows of itself: the TSE's state, counters, the outage journal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tsed.state.rows import OutageRow
from tsed.texts.notices import Notice, ids, texts


@dataclass(frozen=True, slots=True)
class TseStatus:
    available: bool
    since: float | None  # failing since (Unix time), None while available
    reason: str | None


@dataclass(frozen=True, slots=True)
class SigningStatus:
    mode: str
    backend: str
    tse: TseStatus
    open_transactions: int
    receipts_signed: int
    failures: int
    notices: tuple[Notice, ...]  # English in "notices", the catalogue's in "notice_ids"

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "backend": self.backend,
            "tse": {
                "available": self.tse.available,
                "since": self.tse.since,
                "reason": self.tse.reason,
            },
            "open_transactions": self.open_transactions,
            "receipts_signed": self.receipts_signed,
            "failures": self.failures,
            "notices": texts(self.notices),
            "notice_ids": ids(self.notices),
        }


@dataclass(frozen=True, slots=True)
class Outages:
    """The outage journal, newest first (each row: id, started_at, ended_at, reason, count)."""

    outages: tuple[OutageRow, ...]
