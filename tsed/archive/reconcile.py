"""The outage journal reconciled with the archive: every late-signed transaction is archived.

A transaction whose register was answered ``tse_failure`` is signed later (the outage
journal, :mod:`tsed.signing.completion`); its signature, like every other, must end up in an
archived, verified TAR export. The reconciliation looks each one up by its TSS and signature
counter in the archive's index:

* ``archived``: its counter lies in an archived file of its TSS;
* ``pending``: not yet, but it was signed after the archive run the check follows started
  (the next run takes it);
* a **finding** otherwise: signed before the run, and still in no archived file (its TSS was
  not archived to the end, a gap, or the signature has no counter). Findings show in
  ``tsectl status`` and ``tsectl health`` until a later run archives the signature.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from tsed.archive.store import ArchiveStore, Entry
from tsed.state.rows import TxRow
from tsed.texts.notices import Notice, notice

SHOWN = 20  # findings listed by name; the count says how many there are


@dataclass(frozen=True, slots=True)
class Unarchived:
    """A late-signed transaction that is in no archived export."""

    local_id: str
    tenant: str
    tss_id: str
    signature_counter: int | None
    signed_at: float
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.local_id, "tenant": self.tenant, "tss_id": self.tss_id,
                "signature_counter": self.signature_counter, "signed_at": self.signed_at,
                "reason": self.reason}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reconciliation:
    late_signed: int
    archived: int
    pending: int  # signed after the archive run started: for the next run
    findings: tuple[Unarchived, ...]  # the first SHOWN
    finding_count: int

    @property
    def ok(self) -> bool:
        return self.finding_count == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "late_signed": self.late_signed,
            "archived": self.archived,
            "pending": self.pending,
            "finding_count": self.finding_count,
            "findings": [f.to_json() for f in self.findings],
        }


def _counter(row: TxRow) -> int | None:
    try:
        result = row.json_field("result")
    except ValueError:
        return None
    value = result.get("signature_counter") if isinstance(result, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Ranges:
    """The archived counter ranges of each TSS, for lookups by counter."""

    def __init__(self, entries: list[Entry]) -> None:
        self._by_tss: dict[str, list[tuple[int, int]]] = {}
        for entry in entries:
            if entry.state == "archived":
                self._by_tss.setdefault(entry.tss_id, []).append(
                    (entry.first_counter, entry.last_counter)
                )
        for ranges in self._by_tss.values():
            ranges.sort()
        self._starts = {tss: [r[0] for r in ranges] for tss, ranges in self._by_tss.items()}

    def holds(self, tss_id: str, counter: int) -> bool:
        ranges = self._by_tss.get(tss_id, [])
        at = bisect.bisect_right(self._starts.get(tss_id, []), counter) - 1
        return at >= 0 and ranges[at][0] <= counter <= ranges[at][1]

    def last(self, tss_id: str) -> int | None:
        ranges = self._by_tss.get(tss_id)
        return max(r[1] for r in ranges) if ranges else None


def reconcile(store: ArchiveStore, rows: list[TxRow], run_started_at: float) -> Reconciliation:
    """Check every late-signed ``rows`` against the archive (blocking: run it in a thread).
    ``run_started_at``: when the archive run this check follows started."""
    ranges = _Ranges(store.entries())
    archived = pending = 0
    findings: list[Unarchived] = []
    for row in rows:
        if row.state not in ("finished", "cancelled"):
            continue  # not signed yet: the outage journal still holds it open
        counter = _counter(row)
        if counter is not None and ranges.holds(row.tss_id, counter):
            archived += 1
            continue
        if row.updated_at >= run_started_at:
            pending += 1
            continue
        if counter is None:
            reason = "its signature has no signature counter in the journal"
        elif (last := ranges.last(row.tss_id)) is not None and counter <= last:
            reason = f"counter {counter} lies in a gap of the archive of TSS {row.tss_id}"
        else:
            reason = (f"the archive of TSS {row.tss_id} ends at counter "
                      f"{last if last is not None else 'none'}")  # fmt: skip
        findings.append(
            Unarchived(row.id, row.tenant_id, row.tss_id, counter, row.updated_at, reason)
        )
    return Reconciliation(len(rows), archived, pending, tuple(findings[:SHOWN]), len(findings))


def finding_notices(result: Reconciliation) -> list[Notice]:
    """For ``tsectl status``: one notice per finding shown, one for the rest."""
    found = [
        notice(
            f"housekeeping: the late-signed transaction {f.local_id} (TSS {f.tss_id}, signature "
            f"counter {f.signature_counter}) is in no archived export: {f.reason}; see tsectl "
            "archive status",
            "notice.reconcile.finding",
            tx=f.local_id,
            tss=f.tss_id,
            counter="-" if f.signature_counter is None else f.signature_counter,
        )
        for f in result.findings[:3]
    ]
    more = result.finding_count - len(found)
    if more > 0:
        found.append(notice(f"housekeeping: {more} more late-signed transaction(s) are in no "
                            "archived export (tsectl health)", "notice.reconcile.more",
                            count=more))  # fmt: skip
    return found


def finding_texts(result: Reconciliation) -> list[str]:
    """The findings' English lines."""
    return [n.text for n in finding_notices(result)]
