"""The filing of a premises through fiskaly SUBMIT DE, followed until its state is final.

Order (fiskaly's guide for SIGN DE customers): the taxpayer (``PUT /taxpayer``), the premises
as establishment (``PUT /establishment/{id}``, its id is kept with the premises), each register
of the premises as additional data of its SIGN DE client, then the submission (``PUT
/submission/{id}``), which SUBMIT DE validates and turns into ELSTER XML on its own; once it is
READY_FOR_TRANSMISSION the unit triggers the transmission (the installer's submit command is
the taxpayer's consent) and follows it to TRANSMISSION_SUCCEEDED, when the premises' events are
closed. Every state seen is stored (``tsectl filing status`` shows it).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from tsed.filing.errors import FilingIncomplete, SubmissionFailed
from tsed.filing.form import Filing
from tsed.filing.model import RegisterData
from tsed.filing.service import FilingService
from tsed.filing.store import SubmissionRow
from tsed.fiskaly import Submission, SubmitClient

_LOGGER = logging.getLogger(__name__)


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
    unlinked = [r.serial for r in filing.registers if r.register_id not in links]
    if unlinked:
        raise FilingIncomplete(
            "Kasse(n) ohne fiskaly-Client (nicht am Gerät gekoppelt): " + ", ".join(unlinked),
            hint="Diese Mitteilung ausdrucken (tsectl filing print) und in Mein ELSTER erfassen, "
            "oder die Kassen zuerst koppeln.",
        )
    upto = max((e.id for e in await service.store.events()), default=0)
    est_id = filing.premises.establishment_id
    await client.upsert_taxpayer(taxpayer_body(filing))
    await client.upsert_establishment(est_id, establishment_body(filing))
    for register in filing.registers:
        assert register.register_id is not None
        tss_id, client_id = links[register.register_id]
        await client.upsert_client_data(tss_id, client_id, client_body(register, est_id))
    sub_id = str(uuid.uuid4())
    premises = filing.premises.premises_id
    sub = await client.create_submission(sub_id, est_id, {"tsed_premises": premises})
    row = await _record(service, sub, premises, None)
    deadline = time.monotonic() + within
    triggered = False
    for _ in range(int(within / poll) + 2):  # bounded in count and in time
        if sub.final or time.monotonic() > deadline:
            break
        if sub.state == "READY_FOR_TRANSMISSION" and not triggered:
            sub = await client.trigger_transmission(sub_id)
            triggered = True
        else:
            await asyncio.sleep(poll)
            sub = await client.get_submission(sub_id)
        row = await _record(service, sub, premises, row)
    if sub.state != "TRANSMISSION_SUCCEEDED":
        reason = sub.error_description or ("still " + sub.state if not sub.final else sub.state)
        raise SubmissionFailed(
            f"Die Mitteilung für {premises} wurde nicht übermittelt: {sub.state} ({reason})"
        )
    closed = await service.mark_filed(premises, by=sub_id, upto=upto)
    _LOGGER.info(
        "filing of %s transmitted by fiskaly SUBMIT DE (submission %s, %d event(s) closed)",
        premises, sub_id, closed,
        extra={"TSED_EVENT": "filing_submitted", "TSED_PREMISES": premises},
    )  # fmt: skip
    return row


async def _record(
    service: FilingService, sub: Submission, premises: str, row: SubmissionRow | None
) -> SubmissionRow:
    if row is not None and row.state == sub.state:
        return row
    now = time.time()
    new = SubmissionRow(
        sub.id, premises, sub.state, row.created_at if row else now, now, sub.error_description
    )
    await service.store.save_submission(new)
    return new
