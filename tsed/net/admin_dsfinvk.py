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

from tsed.net.admin_archive import period_body
from tsed.net.http import read_json_object
from tsed.net.wire import answer


class DsfinvkOperations(Protocol):
    async def archive_dsfinvk(self, start: str, end: str, tenant: str | None) -> object: ...


def add_dsfinvk_admin_routes(r: web.UrlDispatcher, given: object) -> None:
    ops = cast(DsfinvkOperations, given)

    async def dsfinvk(request: web.Request) -> web.Response:
        start, end, tenant = period_body(await read_json_object(request))
        return answer(await ops.archive_dsfinvk(start, end, tenant), status=201)

    r.add_post("/admin/v1/archive/dsfinvk", dsfinvk)
