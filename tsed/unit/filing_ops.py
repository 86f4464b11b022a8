"""The notification duty in the running unit (``/admin/v1/filing*``, ``tsectl filing``).

Wiring like :mod:`tsed.unit.admin_ops`: :class:`FilingUnit` hands the unit's changes to the
:class:`~tsed.filing.service.FilingService` (a register paired or removed, the TSS it has) and
offers the admin operations: master data in, pending filings out (with their days left, also
as metrics), the filing of a premises as printable page or CSV, its submission through fiskaly
SUBMIT DE (the built-in simulator's, when the unit signs with it; one at a time per premises,
a submission a restart cut taken up at start), and "filed" by hand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tsed.errors import ConflictError
from tsed.filing.events import FilingStatus, SubmissionView
from tsed.filing.form import to_csv, to_html
from tsed.filing.model import Premises, RegisterData, Taxpayer
from tsed.filing.service import FINAL_STATES, FilingService, MasterData, TssSeen
from tsed.filing.submissions import Submissions
from tsed.state.store import Store
from tsed.tss.certwatch import CertificationEvent
from tsed.unit.backend import Backend

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FilingDocument:
    """The filing of a premises as a printable page (``html``) or a CSV (``csv``)."""

    premises: str
    format: str
    content: str


@dataclass(frozen=True, slots=True)
class FilingsDue:
    """The overview's "Fällige Meldungen": how many filings are due (one per premises; an
    event of a whole tenant, a TSS say, counts for each of its premises, or once while the
    tenant has none), the events behind them, how many are overdue, the nearest deadline."""

    filings: int
    events: int
    overdue: int
    next_due_on: str | None  # ISO day; None: nothing due
    days_left: int | None  # negative: the deadline is missed


@dataclass(frozen=True, slots=True)
class FilingDone:
    premises: str
    closed: int  # events marked as filed


class FilingUnit:
    """See the module."""

    def __init__(
        self, service: FilingService, backend: Backend, store: Store,
        check_tenant: Callable[[str], object],
    ) -> None:  # fmt: skip
        self.service = service
        self._backend = backend
        self._store = store
        self._check_tenant = check_tenant  # refuses an unknown tenant (with a hint)
        self.submissions = Submissions(service)
        self._resuming: asyncio.Task[int] | None = None

    # -- submissions a restart cut ------------------------------------------------------------

    def start_resume(self) -> None:
        """Follow, in the background, every submission a restart cut (see
        :mod:`tsed.filing.submissions`)."""
        self._resuming = asyncio.get_running_loop().create_task(self.resume(), name="filing-resume")

    async def resume(self) -> int:
        try:
            return await self.submissions.resume(self._backend.submit_client)
        except Exception:  # the record keeps them open for the next submit or start
            _LOGGER.exception("the open submissions could not be resumed")
            return -1

    async def close(self) -> None:
        resuming, self._resuming = self._resuming, None
        if resuming is not None:
            resuming.cancel()
            await asyncio.gather(resuming, return_exceptions=True)
        await self.submissions.close()

    # -- the daily reminder in the journal ----------------------------------------------------

    async def remind(self) -> int:
        """One journal line per pending filing (``TSED_EVENT=filing_pending``, a missed
        deadline as an error); returns how many are pending."""
        status = await self.service.status()
        for event in status.pending:
            _LOGGER.log(
                logging.ERROR if event.overdue else logging.WARNING,
                "filing due by %s (%d day(s) left): %s (%s), tenant %s, premises %s",
                event.due_on, event.days_left, event.kind, event.subject, event.tenant,
                event.premises or "all",
                extra={"TSED_EVENT": "filing_pending", "TSED_FILING_KIND": event.kind,
                       "TSED_FILING_DUE": event.due_on, "TSED_TENANT": event.tenant},
            )  # fmt: skip
        return len(status.pending)

    async def run_reminders(self, every: float = 86400.0, times: int | None = None) -> None:
        """Remind at once and then every ``every`` seconds (``times``: how often, for tests)."""
        for n in range(times if times is not None else 1 << 62):
            if n:
                await asyncio.sleep(every)
            try:
                await self.remind()
            except Exception:
                _LOGGER.exception("the filing reminder failed")

    # -- what the unit reports ----------------------------------------------------------------

    async def sync(self) -> None:
        """The TSS the unit has (its bindings in the current mode) to the filing service."""
        mode = self._backend.upstreams.mode
        seen = [
            TssSeen(row.tss_id, row.tenant_id,
                    row.archived_at is None and row.state != "DISABLED", row.serial)
            for row in await self._store.bindings(include_archived=True)
            if row.env == mode
        ]  # fmt: skip
        await self.service.sync_tss(seen)

    async def enrolled(
        self, register_id: str, serial: str, tenant_id: str, details: Mapping[str, Any]
    ) -> None:
        try:
            await self.service.register_paired(register_id, serial, tenant_id, details)
            await self.sync()  # the first pairing of a tenant creates its TSS
        except Exception:  # the pairing stands; the journal tells what the filing missed
            _LOGGER.exception("the notification duty did not record the pairing of %s", register_id)

    async def certification_changed(self, tenant_id: str, tss_id: str, certification: str) -> bool:
        """The BSI certification id of a TSS (the certification watch calls this): a change of
        a known id is a reportable event (see :meth:`FilingService.certification_changed`)."""
        return await self.service.certification_changed(tenant_id, tss_id, certification)

    async def certification_event(self, event: CertificationEvent) -> None:
        """The certification watch saw a TSS's BSI certification id change (subscribed with
        :meth:`~tsed.unit.housekeeping.Housekeeping.on_certification_event`)."""
        await self.service.certification_changed(event.tenant, event.tss_id, event.previous)
        await self.service.certification_changed(event.tenant, event.tss_id, event.current)

    async def decommissioned(self, register_id: str | None, day: str, reason: str) -> None:
        """A guided decommissioning recorded its date and reason: the register's data for
        the filing get them (a TSS or the unit: the TSS events follow from the bindings)."""
        try:
            if register_id is not None:
                await self.service.set_register(
                    register_id, {"decommissioned_on": day, "decommission_reason": reason}
                )
            await self.sync()
        except Exception:  # the decommissioning stands; the journal tells what the filing missed
            _LOGGER.exception("the notification duty did not record the decommissioning")

    async def revoked(self, register_id: str) -> None:
        try:
            await self.service.register_removed(register_id)
        except Exception:
            _LOGGER.exception("the notification duty did not record the removal of %s", register_id)

    # -- admin operations -----------------------------------------------------------------

    async def filing_status(self) -> FilingStatus:
        await self.sync()
        return await self.service.status()

    async def filings_due(self) -> FilingsDue:
        """What the overview shows (``GET /admin/v1/dashboard``), see :class:`FilingsDue`."""
        status = await self.filing_status()
        premises = (await self.service.master_data()).premises
        due: set[tuple[str, str | None]] = set()
        for event in status.pending:
            if event.premises is not None:
                due.add((event.tenant, event.premises))
                continue
            own = {(event.tenant, p.premises_id) for p in premises if p.tenant_id == event.tenant}
            due |= own or {(event.tenant, None)}
        nearest = min((e.due_on for e in status.pending), default=None)
        return FilingsDue(len(due), len(status.pending), status.overdue, nearest,
                          status.min_days_left)  # fmt: skip

    async def filing_master_data(self) -> MasterData:
        return await self.service.master_data()

    async def filing_set_taxpayer(self, tenant: str, data: Mapping[str, Any]) -> Taxpayer:
        self._check_tenant(tenant)
        return await self.service.set_taxpayer(tenant, data)

    async def filing_set_premises(
        self, premises_id: str, tenant: str | None, data: Mapping[str, Any]
    ) -> Premises:
        if tenant is not None:
            self._check_tenant(tenant)
        return await self.service.set_premises(premises_id, tenant, data)

    async def filing_set_register(
        self, ref: str, tenant: str | None, data: Mapping[str, Any]
    ) -> RegisterData:
        if tenant is not None:
            self._check_tenant(tenant)
        return await self.service.set_register(ref, data, tenant)

    async def filing_document(self, premises_id: str, form: str) -> FilingDocument:
        filing = await self.service.filing(premises_id)
        content = to_csv(filing) if form == "csv" else to_html(filing)
        return FilingDocument(premises_id, "csv" if form == "csv" else "html", content)

    async def filing_submit(self, premises_id: str) -> SubmissionView:
        await self.sync()
        filing = await self.service.filing(premises_id)
        tenant = filing.premises.tenant_id
        upstreams = self._backend.upstreams
        binding = upstreams.binding(tenant)
        links: dict[str, tuple[str, str]] = {}
        for register in filing.registers:
            client = (
                upstreams.register_client(register.register_id, binding.tss_id)
                if binding is not None and register.register_id is not None
                else None
            )
            if client is not None:
                links[client.register_id] = (client.tss_id, client.client_id)
        row = await self.submissions.submit(
            filing, lambda: self._backend.submit_client(tenant), links
        )
        return SubmissionView(row.id, row.premises_id, row.state, row.state in FINAL_STATES,
                              row.error)  # fmt: skip

    async def filing_done(self, premises_id: str) -> FilingDone:
        return FilingDone(premises_id, await self.service.mark_filed(premises_id))

    async def metrics(self) -> bytes:
        """The pending filings as Prometheus gauges."""
        try:
            status = await self.service.status()
        except ConflictError:
            return b""
        lines = [
            "# HELP tsed_filing_pending Reportable events (§ 146a Abs. 4 AO) not filed yet.",
            "# TYPE tsed_filing_pending gauge",
            f"tsed_filing_pending {len(status.pending)}",
            "# HELP tsed_filing_overdue Reportable events whose one-month deadline has passed.",
            "# TYPE tsed_filing_overdue gauge",
            f"tsed_filing_overdue {status.overdue}",
        ]
        if status.min_days_left is not None:
            lines += [
                "# HELP tsed_filing_days_left Days until the most urgent filing is due.",
                "# TYPE tsed_filing_days_left gauge",
                f"tsed_filing_days_left {status.min_days_left}",
            ]
        return ("\n".join(lines) + "\n").encode()
