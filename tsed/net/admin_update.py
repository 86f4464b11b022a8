"""The update's admin routes (same socket and setup-page mount as :mod:`tsed.net.admin`).

==========================================  =========================================
``GET    /admin/v1/update``                  running version, booted slot, the other slot's
                                             version and state, the last update's result
``POST   /admin/v1/update/install``          ``{source}``: a bundle file on the unit or an
                                             http(s) URL (through the proxy); 202, the
                                             install runs on, ``GET /admin/v1/update`` follows
==========================================  =========================================
"""

from __future__ import annotations

from typing import Protocol, cast

from aiohttp import web

from tsed.errors import InputError
from tsed.net.http import read_json_object
from tsed.net.wire import answer


class UpdateOperations(Protocol):
    async def update_status(self) -> object: ...

    async def update_install(self, source: str) -> object: ...


def add_update_routes(r: web.UrlDispatcher, given: object) -> None:
    ops = cast(UpdateOperations, given)

    async def status(_request: web.Request) -> web.Response:
        return answer(await ops.update_status())

    async def install(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        unknown = set(body) - {"source"}
        if unknown:
            raise InputError(f"unknown field {sorted(unknown)[0]!r}", hint="Known: source")
        source = body.get("source")
        if not isinstance(source, str) or not source.strip() or len(source) > 2048:
            raise InputError(
                "source must be a bundle's absolute path on the unit or an http(s) URL",
                hint='Send {"source": "/var/lib/tsed/update/x.raucb"} or {"source": "https://…"}.',
            )
        return answer(await ops.update_install(source), status=202)

    r.add_get("/admin/v1/update", status)
    r.add_post("/admin/v1/update/install", install)
