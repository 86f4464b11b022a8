"""The one-month deadline and how a pending event shows."""

from __future__ import annotations

from datetime import date

import pytest

from tsed.filing.events import PendingEvent, due_day
from tsed.filing.store import Event


@pytest.mark.parametrize(
    ("occurred", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),
        (date(2026, 12, 15), date(2027, 1, 15)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 5, 10), date(2026, 6, 10)),
    ],
)
def test_due_day_is_one_month_later(occurred: date, due: date) -> None:
    assert due_day(occurred) == due


def test_days_left_and_overdue() -> None:
    event = Event(1, "default", "f1", "register_paired", "S1", "2026-01-10", "2026-02-10")
    soon = PendingEvent.of(event, date(2026, 2, 1))
    assert (soon.days_left, soon.overdue, soon.text) == (9, False, "Kasse in Betrieb genommen")
    late = PendingEvent.of(event, date(2026, 2, 20))
    assert (late.days_left, late.overdue) == (-10, True)
