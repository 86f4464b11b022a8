"""The archive's admin routes (same socket and setup-page mount as :mod:`tsed.net.admin`).

==========================================  =========================================
``GET    /admin/v1/archive``                 per TSS: last archived counter and time, lag,
                                             gaps, findings, next run, disk use
``POST   /admin/v1/archive/run``             start a run now (202; one at a time)
``GET    /admin/v1/archive/run``             the running (or last) run's progress
``POST   /admin/v1/archive/verify``          re-verify the whole archive
``POST   /admin/v1/archive/export``          auditor export ``{from, to, tenant?}`` (dates);
                                             files the box lost come from the off-box copy
``PUT    /admin/v1/archive/offbox-password``  the off-box repository's password
                                             ``{password}`` (kept in the vault, never echoed)
==========================================  =========================================
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from aiohttp import web

from tsed.errors import InputError
from tsed.net.http import read_json_object
from tsed.net.wire import JsonView, answer


class ArchiveOperations(Protocol):
    """The archive's operations; their answers are frozen views (:mod:`tsed.archive.views`),
    made JSON by :func:`tsed.net.wire.answer`."""

    async def archive_status(self) -> object: ...

    async def archive_run(self) -> object: ...

    async def archive_progress(self) -> object: ...

    async def archive_verify(self) -> object: ...

    async def archive_export(self, start: str, end: str, tenant: str | None) -> JsonView: ...

    async def offbox_password(self, password: str) -> object: ...


def _day(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must be a date YYYY-MM-DD", hint='Send {"from": DAY, "to": DAY}.')
    return value


def period_body(body: dict[str, Any]) -> tuple[str, str, str | None]:
    """``{from, to, tenant?}`` of the archive's period requests (export, DSFinV-K)."""
    unknown = set(body) - {"from", "to", "tenant"}
    if unknown:
        raise InputError(f"unknown field {sorted(unknown)[0]!r}", hint="Known: from, to, tenant")
    tenant = body.get("tenant")
    if tenant is not None and not isinstance(tenant, str):
        raise InputError("tenant must be text")
    return _day(body, "from"), _day(body, "to"), tenant


def add_archive_routes(r: web.UrlDispatcher, given: object) -> None:
    ops = cast(ArchiveOperations, given)

    async def status(_request: web.Request) -> web.Response:
        return answer(await ops.archive_status())

    async def run(_request: web.Request) -> web.Response:
        return answer(await ops.archive_run(), status=202)

    async def progress(_request: web.Request) -> web.Response:
        return answer(await ops.archive_progress())

    async def verify(_request: web.Request) -> web.Response:
        return answer(await ops.archive_verify())

    async def export(request: web.Request) -> web.Response:
        start, end, tenant = period_body(await read_json_object(request))
        return answer(await ops.archive_export(start, end, tenant), status=201)

    async def offbox_password(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        password = body.get("password")
        if set(body) != {"password"} or not isinstance(password, str):
            raise InputError(
                'send the repository password as {"password": TEXT} and nothing else',
                hint="tsectl archive offbox-password asks for it without echoing it.",
            )
        return answer(await ops.offbox_password(password))

    r.add_get("/admin/v1/archive", status)
    r.add_post("/admin/v1/archive/run", run)
    r.add_get("/admin/v1/archive/run", progress)
    r.add_post("/admin/v1/archive/verify", verify)
    r.add_post("/admin/v1/archive/export", export)
    r.add_put("/admin/v1/archive/offbox-password", offbox_password)
