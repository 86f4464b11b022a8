"""The admin routes of the guided decommissioning (same socket and setup-page mount as
:mod:`tsed.net.admin`; the steps: :mod:`tsed.provisioning.decommission`).

==========================================  =========================================
``GET    /admin/v1/decommission``            the plan: kind, steps and their state, what
                                             is left to do (``{"plan": null}`` if none)
``POST   /admin/v1/decommission``            start one: ``{kind, reason, confirm, tenant?,
                                             register?, date?}`` (202; runs in the unit)
``POST   /admin/v1/decommission/resume``     go on after a failed step (202)
==========================================  =========================================
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from aiohttp import web

from tsed.errors import InputError
from tsed.net.http import read_json_object
from tsed.net.wire import answer

FIELDS = {"kind", "reason", "confirm", "tenant", "register", "date"}


class DecommissionOperations(Protocol):
    async def decommission_status(self) -> object | None: ...

    async def decommission_begin(
        self,
        kind: str,
        *,
        reason: str,
        confirm: str | None,
        tenant: str | None = None,
        register_id: str | None = None,
        day: str | None = None,
    ) -> object: ...

    async def decommission_resume(self) -> object: ...


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InputError(f"{name} must be text", hint=f"Send {name} as a JSON string.")
    return value


def add_decommission_routes(r: web.UrlDispatcher, given: object) -> None:
    ops = cast(DecommissionOperations, given)

    async def status(_request: web.Request) -> web.Response:
        return answer({"plan": await ops.decommission_status()})

    async def begin(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        unknown = set(body) - FIELDS
        if unknown:
            raise InputError(f"unknown field {sorted(unknown)[0]!r}",
                             hint=f"Known: {', '.join(sorted(FIELDS))}")  # fmt: skip
        plan = await ops.decommission_begin(
            _text(body, "kind", required=True) or "",
            reason=_text(body, "reason", required=True) or "",
            confirm=_text(body, "confirm"),
            tenant=_text(body, "tenant"),
            register_id=_text(body, "register"),
            day=_text(body, "date"),
        )
        return answer({"plan": plan}, status=202)

    async def resume(_request: web.Request) -> web.Response:
        return answer({"plan": await ops.decommission_resume()}, status=202)

    r.add_get("/admin/v1/decommission", status)
    r.add_post("/admin/v1/decommission", begin)
    r.add_post("/admin/v1/decommission/resume", resume)
