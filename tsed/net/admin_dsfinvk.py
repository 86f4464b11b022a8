"""The admin route of the DSFinV-K's TSE tables (same socket and setup-page mount as
:mod:`tsed.net.admin`).

==========================================  =========================================
``POST   /admin/v1/archive/dsfinvk``         ``tse.csv`` and ``transactions_tse.csv`` of a
                                             period ``{from, to, tenant?}`` (days) into a
                                             new folder of the auditor's directory (201)
==========================================  =========================================
"""

from __future__ import annotations

from typing import Protocol, cast

from aiohttp import web

from tsed.errors import InputError
from tsed.net.http import read_json_object
from tsed.net.wire import answer


class DsfinvkOperations(Protocol):
    async def archive_dsfinvk(self, start: str, end: str, tenant: str | None) -> object: ...


def _day(body: dict[str, object], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must be a date YYYY-MM-DD", hint='Send {"from": DAY, "to": DAY}.')
    return value


def add_dsfinvk_admin_routes(r: web.UrlDispatcher, given: object) -> None:
    ops = cast(DsfinvkOperations, given)

    async def dsfinvk(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        unknown = set(body) - {"from", "to", "tenant"}
        if unknown:
            raise InputError(
                f"unknown field {sorted(unknown)[0]!r}", hint="Known: from, to, tenant"
            )
        tenant = body.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise InputError("tenant must be text")
        report = await ops.archive_dsfinvk(_day(body, "from"), _day(body, "to"), tenant)
        return answer(report, status=201)

    r.add_post("/admin/v1/archive/dsfinvk", dsfinvk)
