"""The archive's admin routes (same socket and setup-page mount as :mod:`tsed.net.admin`).

==========================================  =========================================
``GET    /admin/v1/archive``                 per TSS: last archived counter and time, lag,
                                             gaps, findings, next run, disk use
``POST   /admin/v1/archive/run``             start a run now (202; one at a time)
``GET    /admin/v1/archive/run``             the running (or last) run's progress
``POST   /admin/v1/archive/verify``          re-verify the whole archive
``POST   /admin/v1/archive/export``          auditor export ``{from, to, tenant?}`` (dates)
==========================================  =========================================
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from aiohttp import web

from tsed.errors import InputError
from tsed.net.http import read_json_object


class ArchiveOperations(Protocol):
    async def archive_status(self) -> dict[str, Any]: ...

    async def archive_run(self) -> dict[str, Any]: ...

    async def archive_progress(self) -> dict[str, Any]: ...

    async def archive_verify(self) -> dict[str, Any]: ...

    async def archive_export(self, start: str, end: str, tenant: str | None) -> dict[str, Any]: ...


def _day(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must be a date YYYY-MM-DD", hint='Send {"from": DAY, "to": DAY}.')
    return value


def add_archive_routes(r: web.UrlDispatcher, given: object) -> None:
    ops = cast(ArchiveOperations, given)

    async def status(_request: web.Request) -> web.Response:
        return web.json_response(await ops.archive_status())

    async def run(_request: web.Request) -> web.Response:
        return web.json_response(await ops.archive_run(), status=202)

    async def progress(_request: web.Request) -> web.Response:
        return web.json_response(await ops.archive_progress())

    async def verify(_request: web.Request) -> web.Response:
        return web.json_response(await ops.archive_verify())

    async def export(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        unknown = set(body) - {"from", "to", "tenant"}
        if unknown:
            raise InputError(
                f"unknown field {sorted(unknown)[0]!r}", hint="Known: from, to, tenant"
            )
        tenant = body.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise InputError("tenant must be text")
        report = await ops.archive_export(_day(body, "from"), _day(body, "to"), tenant)
        return web.json_response(report, status=201)

    r.add_get("/admin/v1/archive", status)
    r.add_post("/admin/v1/archive/run", run)
    r.add_get("/admin/v1/archive/run", progress)
    r.add_post("/admin/v1/archive/verify", verify)
    r.add_post("/admin/v1/archive/export", export)
