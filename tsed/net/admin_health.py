"""The nightly housekeeping's admin route (same socket and setup-page mount as
:mod:`tsed.net.admin`).

==========================================  =========================================
``GET    /admin/v1/health``                  the last housekeeping record (the daily health
                                             record), the last days, the certificate watch,
                                             certification changes, the page's ``banner``
``POST   /admin/v1/health/run``              run the routine now (202; one at a time)
==========================================  =========================================
"""

from __future__ import annotations

from typing import Protocol, cast

from aiohttp import web

from tsed.net.wire import JsonView, answer


class HealthOperations(Protocol):
    async def health(self) -> JsonView: ...
    async def health_run(self) -> JsonView: ...


def add_health_routes(r: web.UrlDispatcher, given: object) -> None:
    ops = cast(HealthOperations, given)

    async def health(_request: web.Request) -> web.Response:
        return answer(await ops.health())

    async def run(_request: web.Request) -> web.Response:
        return answer(await ops.health_run(), status=202)

    r.add_get("/admin/v1/health", health)
    r.add_post("/admin/v1/health/run", run)
