"""fiskaly SUBMIT DE in the simulator: taxpayer, establishments, client data, submissions.

Under :data:`~tsed.fiskaly.submit.SUBMIT_PREFIX` (``/api/submission/v1``, assumed), with
SIGN DE's authentication (``POST …/auth``; tokens of this API are not valid for SIGN DE) and
error bodies (``{status_code, error, code, message}``). Each organization has one taxpayer;
establishments and submissions are created with a UUIDv4 in the path; a client's additional
data belongs to a SIGN DE client of the same organization.

A submission is checked when it is created (its data is what is filed): the taxpayer, the
establishment, at least one client of the establishment, the fields the ELSTER form needs, and
dates ``DD.MM.YYYY`` in order. Then it runs on its own, one :attr:`SubmitState.step` each::

    CREATED → VALIDATION_TRIGGERED → VALIDATION_SUCCEEDED | INTERNAL_VALIDATION_FAILED
        | EXTERNAL_VALIDATION_FAILED → XML_GENERATION_SUCCEEDED → READY_FOR_TRANSMISSION

``PUT …/transmission`` with ``legal_consent: true`` (only when READY_FOR_TRANSMISSION) →
TRANSMISSION_PENDING → TRANSMISSION_IN_PROGRESS → TRANSMISSION_SUCCEEDED; ``DELETE
…/transmission`` while PENDING → TRANSMISSION_CANCELLED. EXTERNAL_VALIDATION_FAILED follows
fiskaly's test recipe (a taximeter or odometer, type 4 or 5, without remarks); the faults
``transmission`` (TRANSMISSION_FAILED or ERROR) and ``xml`` (XML_GENERATION_FAILED) stand for
what fiskaly cannot trigger on purpose (both fixed when the submission is created or
transmitted), ``trigger: "ignored"`` for a trigger answered READY_FOR_TRANSMISSION without the
transmission starting (it stays READY until a trigger after the fault is off). With a state
directory everything is kept across restarts (:mod:`.submitstate`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tsed.fiskaly.simulator.keys import STATE_KEY
from tsed.fiskaly.simulator.model import SimError, parse_uuid, schema_error
from tsed.fiskaly.simulator.submitstate import SimSubmission, SubmitState
from tsed.fiskaly.submit import SUBMIT_PREFIX

DAY = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")
CLIENT_TYPES = ("1", "2", "3", "4", "5")
_REQUIRED_CLIENT = ("date_acquisition", "date_commissioning", "manufacturer", "model", "software",
                    "type")  # fmt: skip


def _day(value: object, name: str) -> str:
    if not isinstance(value, str) or not DAY.fullmatch(value):
        raise schema_error(f"{name} must be a date DD.MM.YYYY, got {value!r}")
    day, month, year = DAY.fullmatch(value).groups()  # type: ignore[union-attr]
    try:
        return datetime(int(year), int(month), int(day), tzinfo=UTC).date().isoformat()
    except ValueError:
        raise schema_error(f"{name}: {value!r} is not a date") from None


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise schema_error(f"{what}: the body must be an object")
    return body


def _check_address(address: Any, what: str) -> None:
    if not isinstance(address, dict):
        raise schema_error(f"{what}: address is required")
    for name in ("street", "house_number", "town", "zip_code"):
        if not isinstance(address.get(name), str) or not address[name].strip():
            raise schema_error(f"{what}: address.{name} is required")


def _check_taxpayer(body: dict[str, Any]) -> None:
    if not re.fullmatch(r"\d{13}", str(body.get("tax_number", ""))):
        raise schema_error("tax_number must have 13 digits (ELSTER format)")
    if not re.fullmatch(r"\d{4}", str(body.get("tax_office_number", ""))):
        raise schema_error("tax_office_number must have 4 digits")
    info = body.get("general_information")
    if not isinstance(info, dict) or info.get("person") not in ("legal", "natural"):
        raise schema_error("general_information.person must be legal or natural")
    names = info.get("information")
    if not isinstance(names, dict):
        raise schema_error("general_information.information is required")
    wanted = ("company_name",) if info["person"] == "legal" else ("first_name", "last_name")
    for name in wanted:
        if not isinstance(names.get(name), str) or not names[name].strip():
            raise schema_error(f"general_information.information.{name} is required")
    address = info.get("address")
    _check_address(address.get("post_address") if isinstance(address, dict) else None, "taxpayer")


def _check_client(body: dict[str, Any]) -> None:
    for name in _REQUIRED_CLIENT:
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise schema_error(f"{name} is required")
    if body["type"] not in CLIENT_TYPES:
        raise schema_error(f"type must be one of {', '.join(CLIENT_TYPES)}")
    acquired = _day(body["date_acquisition"], "date_acquisition")
    commissioned = _day(body["date_commissioning"], "date_commissioning")
    if commissioned < acquired:
        raise schema_error("date_commissioning is before date_acquisition")
    if body.get("date_decommissioning") is not None:
        if _day(body["date_decommissioning"], "date_decommissioning") < commissioned:
            raise schema_error("date_decommissioning is before date_commissioning")
        if not body.get("decommissioning_reason"):
            raise schema_error("decommissioning_reason is required with date_decommissioning")


def add_routes(
    app: web.Application,
    submit: SubmitState,
    auth: Callable[[web.Request], Awaitable[web.Response]],
    token_of: Callable[..., Any],
    body_of: Callable[[web.Request], Awaitable[Any]],
    as_json: Callable[..., web.Response],
) -> None:
    def org(request: web.Request) -> str:
        return str(token_of(request, "submit").organization_id)

    async def put_taxpayer(request: web.Request) -> web.Response:
        owner = org(request)
        body = _object(await body_of(request), "taxpayer")
        _check_taxpayer(body)
        return as_json(submit.put_taxpayer(owner, {**body, "_type": "TAXPAYER"}))

    async def get_taxpayer(request: web.Request) -> web.Response:
        found = submit.taxpayers.get(org(request))
        if found is None:
            raise SimError(404, "E_TAXPAYER_NOT_FOUND", "no taxpayer in this organization")
        return as_json(found)

    async def put_establishment(request: web.Request) -> web.Response:
        owner = org(request)
        est_id = parse_uuid(request.match_info["establishment_id"], "establishment_id")
        body = _object(await body_of(request), "establishment")
        _check_address(body.get("address"), "establishment")
        if body.get("decommissioning_date") is not None:
            _day(body["decommissioning_date"], "decommissioning_date")
        stored = {**body, "id": est_id, "_type": "ESTABLISHMENT"}
        return as_json(submit.put_establishment(owner, est_id, stored))

    async def list_establishments(request: web.Request) -> web.Response:
        owner = org(request)
        found = [e for (o, _), e in sorted(submit.establishments.items()) if o == owner]
        return as_json({"results": found, "count": len(found)})

    def sign_client(request: web.Request, owner: str) -> tuple[str, str]:
        state = request.app[STATE_KEY]
        tss_id = parse_uuid(request.match_info["tss_id"], "tss_id")
        client_id = parse_uuid(request.match_info["client_id"], "client_id")
        tss = state.tss.get(tss_id)
        client = state.clients.get(client_id)
        if tss is None or tss.organization_id != owner or client is None or client.tss_id != tss_id:
            raise SimError(404, "E_CLIENT_NOT_FOUND", f"no SIGN DE client {client_id} of {tss_id}")
        return tss_id, client_id

    async def put_client_data(request: web.Request) -> web.Response:
        owner = org(request)
        tss_id, client_id = sign_client(request, owner)
        body = _object(await body_of(request), "client additional data")
        _check_client(body)
        est = body.get("establishment_id")
        if est is not None and (owner, str(est)) not in submit.establishments:
            raise SimError(404, "E_ESTABLISHMENT_NOT_FOUND", f"no establishment {est}")
        stored = {**body, "_type": "CLIENT_ADDITIONAL_DATA"}
        return as_json(submit.put_client_data((owner, tss_id, client_id), stored))

    async def get_client_data(request: web.Request) -> web.Response:
        owner = org(request)
        tss_id, client_id = sign_client(request, owner)
        found = submit.client_data.get((owner, tss_id, client_id))
        if found is None:
            raise SimError(404, "E_CLIENT_ADDITIONAL_DATA_NOT_FOUND", "no additional data")
        return as_json(found)

    def validate(owner: str, est_id: str) -> tuple[str, str | None]:
        if owner not in submit.taxpayers:
            return "INTERNAL_VALIDATION_FAILED", "the organization has no taxpayer"
        clients = [d for (o, _, _), d in submit.client_data.items()
                   if o == owner and d.get("establishment_id") == est_id]  # fmt: skip
        if not clients:
            return "INTERNAL_VALIDATION_FAILED", "the establishment has no client"
        for data in clients:
            if data["type"] in ("4", "5") and not data.get("remarks"):
                return "EXTERNAL_VALIDATION_FAILED", "ELSTER: remarks are required for type 4/5"
        return "VALIDATION_SUCCEEDED", None

    def submission(request: web.Request) -> SimSubmission:
        owner = org(request)
        sub_id = parse_uuid(request.match_info["submission_id"], "submission_id")
        found = submit.submissions.get(sub_id)
        if found is None or found.organization_id != owner:
            raise SimError(404, "E_SUBMISSION_NOT_FOUND", f"no submission {sub_id}")
        return found

    async def put_submission(request: web.Request) -> web.Response:
        owner = org(request)
        sub_id = parse_uuid(request.match_info["submission_id"], "submission_id")
        body = _object(await body_of(request), "submission")
        est_id = str(body.get("establishment_id", ""))
        if (owner, est_id) not in submit.establishments:
            raise SimError(404, "E_ESTABLISHMENT_NOT_FOUND", f"no establishment {est_id!r}")
        existing = submit.submissions.get(sub_id)
        if existing is not None:
            if existing.organization_id != owner or existing.establishment_id != est_id:
                raise SimError(409, "E_SUBMISSION_CONFLICT", f"submission {sub_id} exists")
            return as_json(submit.view(existing))  # an identical retry
        metadata = body.get("metadata") or {}
        sub = SimSubmission(
            sub_id, owner, est_id, submit.clock(), validate(owner, est_id),
            {str(k): str(v) for k, v in dict(metadata).items()}, step=submit.step,
            xml_failed=bool(submit.faults.get("xml")),
        )  # fmt: skip
        return as_json(submit.view(submit.save_submission(sub)))

    async def get_submission(request: web.Request) -> web.Response:
        return as_json(submit.view(submission(request)))

    async def list_submissions(request: web.Request) -> web.Response:
        owner = org(request)
        found = [submit.view(s) for s in submit.submissions.values() if s.organization_id == owner]
        return as_json({"results": found, "count": len(found)})

    async def transmit(request: web.Request) -> web.Response:
        sub = submission(request)
        body = _object(await body_of(request), "transmission")
        if body.get("legal_consent") is not True:
            raise schema_error("legal_consent must be true: the taxpayer agreed to the filing")
        state, _ = submit.state_of(sub)
        if state != "READY_FOR_TRANSMISSION":
            if sub.transmission is not None and sub.cancelled is None:
                return as_json(submit.view(sub))  # a retry of the same transmission
            raise SimError(409, "E_SUBMISSION_NOT_READY", f"the submission is {state}")
        if submit.faults.get("trigger") == "ignored":  # not taken (yet): still READY
            return as_json(submit.view(sub))
        sub.transmission = submit.clock()
        sub.transmission_result = submit.faults.get("transmission") or "TRANSMISSION_SUCCEEDED"
        return as_json(submit.view(submit.save_submission(sub)))

    async def cancel(request: web.Request) -> web.Response:
        sub = submission(request)
        state, _ = submit.state_of(sub)
        if state != "TRANSMISSION_PENDING":
            raise SimError(409, "E_SUBMISSION_NOT_PENDING", f"the submission is {state}")
        sub.cancelled = submit.clock()
        return as_json(submit.view(submit.save_submission(sub)))

    r, base = app.router, SUBMIT_PREFIX
    r.add_post(base + "/auth", auth)
    r.add_put(base + "/taxpayer", put_taxpayer)
    r.add_get(base + "/taxpayer", get_taxpayer)
    r.add_get(base + "/establishment", list_establishments)
    r.add_put(base + "/establishment/{establishment_id}", put_establishment)
    client = base + "/sign-de-v2/tss/{tss_id}/client/{client_id}/additional_data"
    r.add_put(client, put_client_data)
    r.add_get(client, get_client_data)
    r.add_get(base + "/submission", list_submissions)
    r.add_put(base + "/submission/{submission_id}", put_submission)
    r.add_get(base + "/submission/{submission_id}", get_submission)
    r.add_put(base + "/submission/{submission_id}/transmission", transmit)
    r.add_delete(base + "/submission/{submission_id}/transmission", cancel)
