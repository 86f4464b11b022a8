"""The notification duty's operations: master data in, events kept, filings made.

The unit tells the service what happens (a register paired or removed, the TSS it sees, a
changed certification); the service keeps the master data (:mod:`tsed.filing.store`), raises
the reportable events with their deadline (:mod:`tsed.filing.events`) and makes the complete
filing of a premises (:mod:`tsed.filing.form`). The journal gets ``TSED_EVENT=filing_due`` for
each new event, ``filing_filed`` when a premises' events are closed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from tsed.filing.errors import FilingIncomplete, FilingInvalid, PremisesUnknown
from tsed.filing.events import FilingStatus, PendingEvent, SubmissionView, due_day
from tsed.filing.form import Filing, TseData
from tsed.filing.model import Premises, RegisterData, Taxpayer
from tsed.filing.store import Event, FilingStore

_LOGGER = logging.getLogger(__name__)
FINAL_STATES = frozenset(
    {"INTERNAL_VALIDATION_FAILED", "EXTERNAL_VALIDATION_FAILED", "XML_GENERATION_FAILED",
     "TRANSMISSION_FAILED", "TRANSMISSION_SUCCEEDED", "TRANSMISSION_CANCELLED", "ERROR",
     "ABANDONED"}  # the unit's own: SUBMIT DE no longer knows the submission
)  # fmt: skip
REMOVED_REASON = "Außerbetriebnahme (Kopplung am TSE-LAN-Gerät aufgehoben)"


@dataclass(frozen=True, slots=True)
class TssSeen:
    """A TSS of a tenant as the unit sees it (from its bindings)."""

    tss_id: str
    tenant_id: str
    active: bool
    serial: str | None = None


@dataclass(frozen=True, slots=True)
class MasterData:
    """What the admin API shows of the master data."""

    taxpayers: tuple[Taxpayer, ...]
    premises: tuple[Premises, ...]
    registers: tuple[RegisterData, ...]


class FilingService:
    """See the module."""

    def __init__(self, store: FilingStore, *, today: Callable[[], date] = date.today) -> None:
        self.store = store
        self.today = today

    async def _raise(
        self, tenant_id: str, premises_id: str | None, kind: str, subject: str
    ) -> Event:
        occurred = self.today()
        event = await self.store.add_event(
            tenant_id, premises_id, kind, subject, occurred.isoformat(),
            due_day(occurred).isoformat(),
        )  # fmt: skip
        _LOGGER.warning(
            "reportable event (§ 146a Abs. 4 AO): %s (%s), tenant %s, premises %s, file by %s",
            kind, subject, tenant_id, premises_id or "-", event.due_on,
            extra={"TSED_EVENT": "filing_due", "TSED_FILING_KIND": kind,
                   "TSED_TENANT": tenant_id, "TSED_FILING_DUE": event.due_on},
        )  # fmt: skip
        return event

    # -- master data --------------------------------------------------------------------------

    async def master_data(self) -> MasterData:
        return MasterData(
            tuple(await self.store.taxpayers()), tuple(await self.store.premises()),
            tuple(await self.store.registers()),
        )  # fmt: skip

    async def set_taxpayer(self, tenant_id: str, data: Mapping[str, Any]) -> Taxpayer:
        taxpayer = Taxpayer.parse(tenant_id, data)
        await self.store.save_taxpayer(taxpayer)  # no new filing: fiskaly's rule as well
        return taxpayer

    async def set_premises(
        self, premises_id: str, tenant_id: str | None, data: Mapping[str, Any]
    ) -> Premises:
        known = {p.premises_id: p for p in await self.store.premises()}
        old = known.get(premises_id)
        tenant = tenant_id or (old.tenant_id if old else None) or "default"
        if old is not None and tenant != old.tenant_id:
            raise FilingInvalid(
                f"Die Betriebsstätte {premises_id} gehört zum Mandanten {old.tenant_id}",
                hint="Eine Betriebsstätte wechselt den Mandanten nicht: eine neue anlegen.",
                field="tenant",
            )
        merged: dict[str, Any] = {}
        if old is not None:
            merged = {"name": old.name, **_address(old), "decommissioned_on": old.decommissioned_on}
        merged.update({k: v for k, v in data.items() if k != "tenant"})
        premises = Premises.parse(
            premises_id, tenant, old.establishment_id if old else str(uuid.uuid4()), merged
        )
        await self.store.save_premises(premises)
        if old is not None and old != premises:
            await self._raise(tenant, premises_id, "premises_changed", premises.name)
        return premises

    async def set_register(
        self, ref: str, data: Mapping[str, Any], tenant_id: str | None = None
    ) -> RegisterData:
        """Change (or, for a serial not known yet, enter) the data of the register ``ref``: a
        register id, a serial, or a new serial before the register is paired."""
        registers = await self.store.registers()
        found = next((r for r in registers if ref in (r.key, r.register_id)), None)
        by_serial = [r for r in registers if r.serial == ref]  # the one in use first
        by_serial.sort(key=lambda r: (r.decommissioned_on is None, r.paired_on or ""))
        found = found or (by_serial[-1] if by_serial else None)
        if found is None:
            if not 0 < len(ref) <= 70 or any(ord(c) < 32 or c in "/_" for c in ref):
                raise FilingInvalid(
                    f"Seriennummer {ref!r} ist ungültig",
                    hint="Die Seriennummer der Kasse wie auf dem Beleg (1 bis 70 Zeichen, ohne "
                    "'/' und '_'), oder die Kennung einer gekoppelten Kasse (tsectl registers).",
                    field="serial",
                )
            found = RegisterData(key=ref, tenant_id=tenant_id or "default", serial=ref)
        updated = found.updated(data)
        if updated.premises_id is not None:
            await self._premises(updated.premises_id, updated.tenant_id)
        await self.store.save_register(updated)
        return updated

    async def _premises(self, premises_id: str, tenant_id: str | None = None) -> Premises:
        for premises in await self.store.premises():
            if premises.premises_id == premises_id:
                if tenant_id is not None and premises.tenant_id != tenant_id:
                    raise FilingInvalid(
                        f"Die Betriebsstätte {premises_id} gehört zum Mandanten "
                        f"{premises.tenant_id}, die Kasse zu {tenant_id}",
                        hint="Eine Betriebsstätte desselben Mandanten wählen.",
                        field="premises",
                    )
                return premises
        raise PremisesUnknown(f"Die Betriebsstätte {premises_id!r} gibt es nicht")

    # -- what the unit reports ----------------------------------------------------------------

    async def register_paired(
        self, register_id: str, serial: str, tenant_id: str, details: Mapping[str, Any]
    ) -> RegisterData:
        """A register was paired: its record gets the pairing (and what the register sent);
        the first pairing of a serial is a reportable event."""
        registers = await self.store.registers()
        first = not any(r.serial == serial and r.paired_on for r in registers)
        entered = next((r for r in registers if r.serial == serial and r.register_id is None), None)
        earlier = [r for r in registers if r.serial == serial and r.register_id is not None]
        found = entered or (
            replace(earlier[-1], purchased_on=earlier[-1].purchased_on, first_use_on=None)
            if earlier  # the same register paired again: its data is taken over
            else RegisterData(key=register_id, tenant_id=tenant_id, serial=serial)
        )
        sent = {k: v for k, v in details.items() if v not in (None, "")}
        try:
            record = replace(found, decommissioned_on=None, decommission_reason=None).updated(sent)
        except FilingInvalid as err:  # what the register sent is kept out, the pairing stands
            _LOGGER.warning("register %s sent master data that was refused: %s", register_id, err)
            record = found
        record = replace(
            record, key=register_id, register_id=register_id, tenant_id=tenant_id,
            paired_on=self.today().isoformat(), decommissioned_on=None, decommission_reason=None,
        )  # fmt: skip
        await self.store.save_register(record, replaces=entered.key if entered else None)
        if first:
            await self._raise(tenant_id, record.premises_id, "register_paired", serial)
        return record

    async def register_removed(self, register_id: str) -> None:
        for record in await self.store.registers():
            if record.register_id == register_id and record.decommissioned_on is None:
                await self.store.save_register(
                    replace(
                        record, decommissioned_on=self.today().isoformat(),
                        decommission_reason=record.decommission_reason or REMOVED_REASON,
                    )
                )  # fmt: skip
                await self._raise(
                    record.tenant_id, record.premises_id, "register_removed", record.serial
                )

    async def sync_tss(self, seen: Iterable[TssSeen]) -> None:
        """The TSS the unit has now: a new one, or one no longer active, is an event."""
        known = await self.store.known_tss()
        for tss in seen:
            state = "active" if tss.active else "disabled"
            before = known.get(tss.tss_id)
            if before is not None and before["state"] == state:
                continue
            certification = before["certification"] if before else None
            await self.store.save_tss(tss.tss_id, tss.tenant_id, state, tss.serial, certification)
            if (before is None or before["state"] == "unknown") and tss.active:
                await self._raise(tss.tenant_id, None, "tss_created", tss.tss_id)
            elif not tss.active:
                await self._raise(tss.tenant_id, None, "tss_disabled", tss.tss_id)

    async def certification_changed(self, tenant_id: str, tss_id: str, certification: str) -> bool:
        """The BSI certification id of a TSS is ``certification`` now (the certification
        watch calls this); a change of a known id is a reportable event. True if it changed."""
        known = (await self.store.known_tss()).get(tss_id)
        before = known["certification"] if known else None
        if before == certification:
            return False
        await self.store.save_tss(
            tss_id, tenant_id, known["state"] if known else "unknown",  # sync tells the state
            known["serial"] if known else None, certification,
        )  # fmt: skip
        if before is not None:
            await self._raise(
                tenant_id, None, "certification_changed", f"{before} → {certification}"
            )
        return before is not None

    # -- status and filing ----------------------------------------------------------------

    async def status(self) -> FilingStatus:
        today = self.today()
        pending = tuple(PendingEvent.of(e, today) for e in await self.store.events(open_only=True))
        submissions = tuple(
            SubmissionView(s.id, s.premises_id, s.state, s.state in FINAL_STATES, s.error)
            for s in await self.store.submissions()
        )
        return FilingStatus(
            pending, sum(1 for e in pending if e.overdue),
            min((e.days_left for e in pending), default=None), submissions,
        )  # fmt: skip

    async def filing(self, premises_id: str) -> Filing:
        """The complete filing of ``premises_id``; :class:`FilingIncomplete` lists what the
        filing still needs."""
        data = await self.store.filing_data(premises_id)  # one read, with the last event
        premises, taxpayer, registers = data.premises, data.taxpayer, data.registers
        if premises is None:
            raise PremisesUnknown(f"Die Betriebsstätte {premises_id!r} gibt es nicht")
        gaps = [] if taxpayer else [f"Steuerpflichtige/r des Mandanten {premises.tenant_id}"]
        if not registers:
            gaps.append("mindestens eine Kasse (tsectl registers set SERIAL --premises ...)")
        gaps += [f"Kasse {r.serial}: {', '.join(r.missing())}" for r in registers if r.missing()]
        if gaps or taxpayer is None:
            raise FilingIncomplete(
                f"Die Mitteilung für {premises_id} ist unvollständig: " + "; ".join(gaps)
            )
        tses = tuple(
            TseData(tss_id, row["serial"], row["certification"], row["state"])
            for tss_id, row in sorted(data.known_tss.items())
            if row["tenant_id"] == premises.tenant_id
        )
        return Filing(
            taxpayer, premises, registers, tses, self.today().isoformat(), data.last_event
        )

    async def mark_filed(
        self, premises_id: str, by: str = "manual", upto: int | None = None
    ) -> int:
        """Close the open events of ``premises_id`` (up to event ``upto``, default: all now)."""
        premises = await self._premises(premises_id)
        if upto is None:
            upto = max((e.id for e in await self.store.events()), default=0)
        closed = await self.store.close_events(
            premises.tenant_id, premises_id, self.today().isoformat(), by, upto=upto
        )
        _LOGGER.info(
            "filing of premises %s recorded (%s): %d event(s) closed", premises_id, by, closed,
            extra={"TSED_EVENT": "filing_filed", "TSED_PREMISES": premises_id},
        )  # fmt: skip
        return closed


def _address(premises: Premises) -> dict[str, str]:
    a = premises.address
    return {"street": a.street, "house_number": a.house_number, "zip_code": a.zip_code,
            "town": a.town}  # fmt: skip
