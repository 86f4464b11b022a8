"""Reportable events (meldepflichtige Vorgänge) and their deadline: one month.

§ 146a Abs. 4 AO: the acquisition and the decommissioning of an electronic record-keeping
system are reported within one month. The unit keeps an event for each such change it sees,
with its due day (the same day of the next month, or that month's last day), until a filing of
its premises is submitted or marked as filed; a missed deadline stays visible (negative days
left) until then.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from tsed.filing.store import Event

KINDS = {
    "register_paired": "Kasse in Betrieb genommen",
    "register_removed": "Kasse außer Betrieb genommen",
    "tss_created": "TSE in Betrieb genommen",
    "tss_disabled": "TSE außer Betrieb genommen",
    "certification_changed": "BSI-Zertifizierung der TSE geändert",
    "premises_changed": "Daten der Betriebsstätte geändert",
}


def due_day(occurred: date) -> date:
    """One month after ``occurred`` (31 January → 28/29 February)."""
    year, month = (
        (occurred.year + 1, 1) if occurred.month == 12 else (occurred.year, occurred.month + 1)
    )
    return date(year, month, min(occurred.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An open event as the admin API, tsectl status and the setup page show it."""

    id: int
    tenant: str
    premises: str | None
    kind: str
    text: str  # German
    subject: str
    occurred_on: str
    due_on: str
    days_left: int  # negative: the deadline is missed
    overdue: bool

    @classmethod
    def of(cls, event: Event, today: date) -> PendingEvent:
        left = (date.fromisoformat(event.due_on) - today).days
        return cls(
            event.id, event.tenant_id, event.premises_id, event.kind,
            KINDS.get(event.kind, event.kind), event.subject, event.occurred_on, event.due_on,
            left, left < 0,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class FilingStatus:
    """The open events, the most urgent first, and the submissions the unit made."""

    pending: tuple[PendingEvent, ...]
    overdue: int
    min_days_left: int | None
    submissions: tuple[SubmissionView, ...] = ()


@dataclass(frozen=True, slots=True)
class SubmissionView:
    id: str
    premises: str
    state: str
    final: bool
    error: str | None
