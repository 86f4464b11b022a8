"""``GET /admin/v1/health`` (``tsectl health``): the nightly housekeeping's records, the daily
health record, the certificate watch with the setup page's banner, and the notices
``tsectl status`` shows. Wiring code; the pieces live in their domains."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from tsed.archive.health import HousekeepingRecord
from tsed.archive.reconcile import finding_notices
from tsed.errors import TsedError
from tsed.texts.notices import Notice, ids, notice, texts
from tsed.tss.certwatch import (
    DAY,
    CertificateStatus,
    CertificationEvent,
    german_day,
    threshold_for,
)
from tsed.unit.housekeeping import Housekeeping

STALE_HOURS = 48.0  # a last record older than this: the routine did not run


@dataclass(frozen=True, slots=True)
class HealthView:
    running: bool  # a housekeeping run is running now
    step: str | None  # its step
    next_run: float | None
    last: HousekeepingRecord | None
    days: tuple[HousekeepingRecord, ...]  # the kept records, newest first
    certificates: tuple[CertificateStatus, ...]
    certification_events: tuple[CertificationEvent, ...]
    banner: str | None  # German: the setup page shows it as a banner while it is set
    notices: tuple[Notice, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "step": self.step,
            "next_run": self.next_run,
            "result": None if self.last is None else self.last.result,
            "last": None if self.last is None else self.last.to_json(),
            "days": [
                {
                    "day": r.day,
                    "result": r.result,
                    "finished_at": r.finished_at,
                    "steps": {s.step: s.result for s in r.steps},
                }
                for r in self.days
            ],
            "certificates": [c.to_json() for c in self.certificates],
            "certification_events": [e.to_json() for e in self.certification_events],
            "banner": self.banner,
            "notices": texts(self.notices),
            "notice_ids": ids(self.notices),
        }


def certificate_notice(status: CertificateStatus) -> Notice | None:
    """A certificate that is due or unreadable (its ``text`` is German: the journal's too)."""
    shown = {"tss": status.tss_id, "tenant": status.tenant}
    if status.error is not None and status.text:  # unreadable: no threshold, due all the same
        return notice(status.text, "notice.certificate.unreadable", **shown)
    if not status.text or status.threshold is None:
        return None
    day = "?" if status.not_after is None else german_day(status.not_after)
    if (status.days_left or 0) < 0:
        return notice(status.text, "notice.certificate.expired", day=day, **shown)
    return notice(status.text, "notice.certificate.expires", day=day, days=status.days_left,
                  **shown)  # fmt: skip


def _fresh(status: CertificateStatus, now: float) -> CertificateStatus:
    """Days left counted from now (the reading may be from last night)."""
    if status.not_after is None:
        return status
    days = int((status.not_after - now) // DAY)
    return replace(status, days_left=days, threshold=threshold_for(days))


class HealthAdminOps:
    def __init__(self, housekeeping: Housekeeping) -> None:
        self._hk = housekeeping

    def certificates(self) -> tuple[CertificateStatus, ...]:
        """The last reading per TSS still in use (a replaced TSS drops out at once)."""
        hk = self._hk
        if not hk.backend.running:  # nothing to compare with: the last reading as it is
            return self._read()
        in_use = {b.tss_id for b in hk.backend.upstreams.all_bindings().values()}
        return tuple(s for s in self._read() if s.tss_id in in_use)

    def _read(self) -> tuple[CertificateStatus, ...]:
        hk = self._hk
        now = hk.clock()
        if hk.watch is not None:
            return tuple(_fresh(s, now) for s in hk.watch.tss)
        step = None if hk.last is None else hk.last.step("certificates")
        if step is None:
            return ()
        found = []
        for item in step.details.get("tss", []):
            found.append(_fresh(CertificateStatus(
                str(item["tenant"]), str(item["tss_id"]), item.get("not_after"), None, None,
                item.get("certification_id"), item.get("error"),
            ), now))  # fmt: skip
        return tuple(found)

    def notices(self) -> list[Notice]:
        """For ``tsectl status``: what is due (certificates), findings, a failed or missing
        night."""
        hk = self._hk
        out = [n for c in self.certificates() if (n := certificate_notice(c)) is not None]
        if hk.reconciliation is not None:
            out += finding_notices(hk.reconciliation)
        last = hk.last
        if last is not None:
            failed = ", ".join(s.step for s in last.steps if s.result == "failed")
            if failed:
                out.append(notice(f"housekeeping: last night's {failed} failed ({last.day}); "
                                  "see tsectl health", "notice.housekeeping.failed",
                                  steps=failed, day=last.day))  # fmt: skip
            age = f"{(hk.clock() - last.finished_at) / 3600:.0f}"
            if float(age) > STALE_HOURS:
                out.append(notice(
                    f"housekeeping: the last health record is {age} hours old; the nightly "
                    "run did not happen (journal: TSED_EVENT=housekeeping_done)",
                    "notice.housekeeping.stale", hours=age,
                ))  # fmt: skip
        return out

    async def health(self) -> HealthView:
        hk = self._hk
        try:
            records = await asyncio.to_thread(hk.log.records)
            events = await asyncio.to_thread(hk.certification.events)
        except TsedError:
            records, events = [], ()
        certificates = self.certificates()
        urgent = sorted((c for c in certificates if c.text and c.threshold is not None),
                        key=lambda c: c.days_left if c.days_left is not None else -1)  # fmt: skip
        return HealthView(
            running=hk.running, step=hk.current, next_run=hk.archive.schedule.next_at,
            last=hk.last, days=tuple(reversed(records)), certificates=certificates,
            certification_events=tuple(events), banner=urgent[0].text if urgent else None,
            notices=tuple(self.notices()),
        )  # fmt: skip

    async def health_run(self) -> HealthView:
        """Start the routine now (202); the answer shows it running, ``GET`` follows it."""
        self._hk.start_run()
        await self._hk.store.audit("admin", "housekeeping_run", {})
        return await self.health()

    def metrics(self) -> bytes:
        for status in self.certificates():  # counted from now, also after a restart
            self._hk.metrics.certificate(status.tss_id, status.days_left)
        return self._hk.metrics.render(self._hk.clock())
