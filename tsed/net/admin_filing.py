"""The notification duty's admin routes (same socket and setup-page mount as
:mod:`tsed.net.admin`); the answers are the frozen views of :mod:`tsed.filing`, as JSON by
:func:`tsed.net.wire.answer`.

===================================================  ==========================================
``GET  /admin/v1/filing``                             pending filings (days left), submissions
``GET  /admin/v1/filing/master-data``                 taxpayers, premises, registers
``PUT  /admin/v1/filing/taxpayers/{tenant}``          the tenant's taxpayer
``PUT  /admin/v1/filing/premises/{premises_id}``      a premises (``tenant`` to create one)
``PUT  /admin/v1/filing/registers/{ref}``             a register's data (id or serial)
``GET  /admin/v1/filing/premises/{id}/html``          the printable filing of the premises
``GET  /admin/v1/filing/premises/{id}/csv``           the same as CSV
``POST /admin/v1/filing/premises/{id}/submission``    submit through fiskaly SUBMIT DE
``POST /admin/v1/filing/premises/{id}/filed``         mark the premises' events as filed
===================================================  ==========================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from aiohttp import web

from tsed.errors import InputError
from tsed.net.http import read_json_object
from tsed.net.wire import answer


class FilingOperations(Protocol):
    async def filing_status(self) -> object: ...

    async def filing_master_data(self) -> object: ...

    async def filing_set_taxpayer(self, tenant: str, data: Mapping[str, Any]) -> object: ...

    async def filing_set_premises(
        self, premises_id: str, tenant: str | None, data: Mapping[str, Any]
    ) -> object: ...

    async def filing_set_register(
        self, ref: str, tenant: str | None, data: Mapping[str, Any]
    ) -> object: ...

    async def filing_document(self, premises_id: str, form: str) -> object: ...

    async def filing_submit(self, premises_id: str) -> object: ...

    async def filing_done(self, premises_id: str) -> object: ...


def _tenant(body: dict[str, Any]) -> str | None:
    tenant = body.pop("tenant", None)
    if tenant is not None and (not isinstance(tenant, str) or not tenant.strip()):
        raise InputError("tenant: a tenant id (text) expected", hint="List them: tsectl tenants")
    return tenant


def add_filing_routes(r: web.UrlDispatcher, given: object) -> None:
    ops = cast(FilingOperations, given)

    async def status(_request: web.Request) -> web.Response:
        return answer(await ops.filing_status())

    async def master_data(_request: web.Request) -> web.Response:
        return answer(await ops.filing_master_data())

    async def taxpayer(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        return answer(await ops.filing_set_taxpayer(request.match_info["tenant"], body))

    async def premises(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        tenant = _tenant(body)
        return answer(
            await ops.filing_set_premises(request.match_info["premises_id"], tenant, body)
        )

    async def register(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        tenant = _tenant(body)
        return answer(await ops.filing_set_register(request.match_info["ref"], tenant, body))

    async def html(request: web.Request) -> web.Response:
        return answer(await ops.filing_document(request.match_info["premises_id"], "html"))

    async def csv(request: web.Request) -> web.Response:
        return answer(await ops.filing_document(request.match_info["premises_id"], "csv"))

    async def submission(request: web.Request) -> web.Response:
        return answer(await ops.filing_submit(request.match_info["premises_id"]), status=201)

    async def filed(request: web.Request) -> web.Response:
        return answer(await ops.filing_done(request.match_info["premises_id"]))

    base = "/admin/v1/filing"
    r.add_get(base, status)
    r.add_get(base + "/master-data", master_data)
    r.add_put(base + "/taxpayers/{tenant}", taxpayer)
    r.add_put(base + "/premises/{premises_id}", premises)
    r.add_put(base + "/registers/{ref}", register)
    r.add_get(base + "/premises/{premises_id}/html", html)
    r.add_get(base + "/premises/{premises_id}/csv", csv)
    r.add_post(base + "/premises/{premises_id}/submission", submission)
    r.add_post(base + "/premises/{premises_id}/filed", filed)
