"""The filing of a premises through fiskaly SUBMIT DE, followed until its state is final.

Order (fiskaly's guide for SIGN DE customers): the taxpayer (``PUT /taxpayer``), the premises
as establishment (``PUT /establishment/{id}``, its id is kept with the premises), each register
of the premises as additional data of its SIGN DE client, then the submission (``PUT
/submission/{id}``), which SUBMIT DE validates and turns into ELSTER XML on its own; once it is
READY_FOR_TRANSMISSION the unit triggers the transmission (the installer's submit command is
the taxpayer's consent) and follows it to TRANSMISSION_SUCCEEDED, when the premises' events are
closed. Every state seen is stored (``tsectl filing status`` shows it), the submission itself
before it is made (:func:`prepare`), so that :func:`follow` can take it up again after a
restart (:mod:`tsed.filing.submissions`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from tsed.filing.errors import FilingIncomplete, PremisesUnknown, SubmissionFailed
from tsed.filing.form import Filing
from tsed.filing.model import RegisterData
from tsed.filing.service import FilingService
from tsed.filing.store import SubmissionRow
from tsed.fiskaly import FiskalyNotFound, SubmitClient

_LOGGER = logging.getLogger(__name__)
CREATING = "CREATING"  # recorded, not yet answered by SUBMIT DE (the unit's own state)
ABANDONED = "ABANDONED"  # SUBMIT DE no longer knows it, or its premises is gone (the unit's
# own state, final)
TRIGGER_PAUSE_MAX = 30.0  # seconds at most between two triggers answered READY_FOR_TRANSMISSION


def _day(iso: str | None) -> str | None:
    return date.fromisoformat(iso).strftime("%d.%m.%Y") if iso else None


def taxpayer_body(filing: Filing) -> dict[str, Any]:
    t = filing.taxpayer
    if t.person == "legal":
        info: dict[str, Any] = {"company_name": t.name}
        if t.legal_form:
            info["legal_form"] = t.legal_form
    else:
        info = {"first_name": t.first_name, "last_name": t.last_name}
    address = {"street": t.address.street, "house_number": t.address.house_number,
               "town": t.address.town, "zip_code": t.address.zip_code}  # fmt: skip
    return {
        "tax_number": t.tax_number, "tax_office_number": t.tax_number[:4],
        "general_information": {"person": t.person, "information": info,
                                "address": {"post_address": address}},
        "metadata": {"tsed_tenant": t.tenant_id},
    }  # fmt: skip


def establishment_body(filing: Filing) -> dict[str, Any]:
    p = filing.premises
    body: dict[str, Any] = {
        "address": {"street": p.address.street, "house_number": p.address.house_number,
                    "town": p.address.town, "zip_code": p.address.zip_code},
        "designation": p.name, "metadata": {"tsed_premises": p.premises_id},
    }  # fmt: skip
    if p.decommissioned_on:
        body["decommissioning_date"] = _day(p.decommissioned_on)
    return body


def client_body(register: RegisterData, establishment_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date_acquisition": _day(register.purchased_on),
        "date_commissioning": _day(register.first_use),
        "establishment_id": establishment_id,
        "manufacturer": register.maker, "model": register.model,
        "software": register.software, "type": register.kind,
    }  # fmt: skip
    optional = {
        "software_version": register.software_version, "remarks": register.remarks,
        "date_decommissioning": _day(register.decommissioned_on),
        "decommissioning_reason": register.decommission_reason,
    }  # fmt: skip
    body.update({k: v for k, v in optional.items() if v})
    return body


def digest(filing: Filing) -> str:
    """The filing's content (without the day it was made and the last event when it was
    read), as SHA-256: the same data filed again has the same digest."""
    content = dataclasses.asdict(filing)
    content.pop("made_on", None)
    content.pop("upto", None)
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def check_links(filing: Filing, links: Mapping[str, tuple[str, str]]) -> None:
    unlinked = [r.serial for r in filing.registers if r.register_id not in links]
    if unlinked:
        raise FilingIncomplete(
            "Kasse(n) ohne fiskaly-Client (nicht am Gerät gekoppelt): " + ", ".join(unlinked),
            hint="Diese Mitteilung ausdrucken (tsectl filing print) und in Mein ELSTER erfassen, "
            "oder die Kassen zuerst koppeln.",
        )


async def prepare(
    service: FilingService, filing: Filing, client: SubmitClient,
    links: Mapping[str, tuple[str, str]],
) -> SubmissionRow:  # fmt: skip
    """The master data to SUBMIT DE, then the submission recorded (``CREATING``: its id, the
    filing's digest, the last event it covers: the last one when the filing's data was read,
    :attr:`Filing.upto`) before it is made, so that a restart at any moment after finds it
    again and never makes a second one."""
    check_links(filing, links)
    est_id = filing.premises.establishment_id
    await client.upsert_taxpayer(taxpayer_body(filing))
    await client.upsert_establishment(est_id, establishment_body(filing))
    for register in filing.registers:
        assert register.register_id is not None
        tss_id, client_id = links[register.register_id]
        await client.upsert_client_data(tss_id, client_id, client_body(register, est_id))
    now = time.time()
    row = SubmissionRow(
        str(uuid.uuid4()), filing.premises.premises_id, CREATING, now, now, None,
        digest(filing), filing.upto,
    )  # fmt: skip
    await service.store.save_submission(row)
    return row


async def follow(
    service: FilingService, row: SubmissionRow, client: SubmitClient, *,
    within: float = 300.0, poll: float = 0.05,
) -> SubmissionRow:  # fmt: skip
    """Make the recorded submission ``row`` at SUBMIT DE if it is not there yet, trigger its
    transmission once it is READY_FOR_TRANSMISSION (the submit command was the taxpayer's
    consent) and follow it until final; on TRANSMISSION_SUCCEEDED the events it covers are
    closed, then the row records the final state. :class:`SubmissionFailed` (with fiskaly's
    reason) otherwise; the events stay open."""
    premises = row.premises_id
    known = {p.premises_id: p.establishment_id for p in await service.store.premises()}
    if premises not in known:  # never followed with another tenant's data
        await abandon(service, row)
        raise PremisesUnknown(
            f"Die Betriebsstätte {premises!r} gibt es nicht mehr: die Übermittlung {row.id} "
            "wird nicht weiter verfolgt"
        )
    try:
        sub = await client.get_submission(row.id)
    except FiskalyNotFound:
        if row.state != CREATING:  # seen at SUBMIT DE before: not made again elsewhere
            await _record(service, row, ABANDONED, "SUBMIT DE kennt die Übermittlung nicht mehr")
            raise SubmissionFailed(
                f"Die Übermittlung {row.id} für {premises} ist bei fiskaly SUBMIT DE nicht "
                "(mehr) vorhanden"
            ) from None
        sub = await client.create_submission(row.id, known[premises], {"tsed_premises": premises})
    if not sub.final:  # a final state is recorded below, after what it closes
        row = await _record(service, row, sub.state, sub.error_description)
    deadline = time.monotonic() + within
    trigger_at, pause = 0.0, poll  # a trigger answered READY again: the next one waits longer
    for _ in range(int(within / poll) + 2):  # bounded in count and in time
        if sub.final or time.monotonic() > deadline:
            break
        if sub.state == "READY_FOR_TRANSMISSION" and time.monotonic() >= trigger_at:
            sub = await client.trigger_transmission(row.id)
            trigger_at, pause = time.monotonic() + pause, min(pause * 2, TRIGGER_PAUSE_MAX)
        else:
            await asyncio.sleep(poll)
            sub = await client.get_submission(row.id)
        if not sub.final:
            row = await _record(service, row, sub.state, sub.error_description)
    if sub.state != "TRANSMISSION_SUCCEEDED":
        if sub.final:
            row = await _record(service, row, sub.state, sub.error_description)
        reason = sub.error_description or ("still " + sub.state if not sub.final else sub.state)
        _LOGGER.warning(
            "the filing of %s was not transmitted by fiskaly SUBMIT DE (submission %s): %s (%s)",
            premises, row.id, sub.state, reason,
            extra={"TSED_EVENT": "filing_not_submitted", "TSED_PREMISES": premises},
        )  # fmt: skip
        raise SubmissionFailed(
            f"Die Mitteilung für {premises} wurde nicht übermittelt: {sub.state} ({reason})"
        )
    closed = await _close(service, row)  # before the row: a cut between them closes nothing
    row = await _record(service, row, sub.state, None)  # twice
    _LOGGER.info(
        "filing of %s transmitted by fiskaly SUBMIT DE (submission %s, %d event(s) closed)",
        premises, row.id, closed,
        extra={"TSED_EVENT": "filing_submitted", "TSED_PREMISES": premises},
    )  # fmt: skip
    return row


async def abandon(service: FilingService, row: SubmissionRow) -> SubmissionRow:
    """End the open ``row`` whose premises is gone (``ABANDONED``, with the reason): no
    tenant's client follows it any more, its events are not closed."""
    reason = f"Die Betriebsstätte {row.premises_id} gibt es nicht mehr"
    _LOGGER.warning(
        "the submission %s is abandoned: the premises %s is gone", row.id, row.premises_id,
        extra={"TSED_EVENT": "filing_abandoned", "TSED_PREMISES": row.premises_id},
    )  # fmt: skip
    return await _record(service, row, ABANDONED, reason)


async def _close(service: FilingService, row: SubmissionRow) -> int:
    """Close the events the succeeded ``row`` covers: none if it does not know which (made
    by an older release, which did not record its last event; the events carry only their
    day, so none of them is known to have been raised before it) or the premises is gone."""
    if row.upto is None:
        _LOGGER.warning(
            "the submission %s of %s succeeded, but it does not record which events it covers "
            "(made by an older tsed): they stay open; once checked, mark them filed "
            "(tsectl filing done --premises %s) or submit again",
            row.id, row.premises_id, row.premises_id,
            extra={"TSED_EVENT": "filing_events_kept", "TSED_PREMISES": row.premises_id},
        )  # fmt: skip
        return 0
    try:
        return await service.mark_filed(row.premises_id, by=row.id, upto=row.upto)
    except PremisesUnknown:
        _LOGGER.warning(
            "the submission %s succeeded, but the premises %s is gone: no event closed",
            row.id, row.premises_id,
            extra={"TSED_EVENT": "filing_events_kept", "TSED_PREMISES": row.premises_id},
        )  # fmt: skip
        return 0


async def submit_filing(
    service: FilingService,
    filing: Filing,
    client: SubmitClient,
    links: Mapping[str, tuple[str, str]],
    *,
    within: float = 300.0,
    poll: float = 0.05,
) -> SubmissionRow:
    """Submit ``filing`` (``links``: register id → its SIGN DE TSS and client id) and follow
    it until final; :class:`SubmissionFailed` if it did not reach TRANSMISSION_SUCCEEDED."""
    row = await prepare(service, filing, client, links)
    return await follow(service, row, client, within=within, poll=poll)


async def _record(
    service: FilingService, row: SubmissionRow, state: str, error: str | None
) -> SubmissionRow:
    if row.state == state and row.error == error:
        return row
    new = dataclasses.replace(row, state=state, updated_at=time.time(), error=error)
    await service.store.save_submission(new)
    return new
