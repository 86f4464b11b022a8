"""The first-run wizard's admin routes (same socket and setup-page mount as :mod:`tsed.net.admin`).

==========================================  =========================================
``GET    /admin/v1/wizard``                  the wizard's step ``{step, steps, done}``
``PUT    /admin/v1/wizard``                  move on ``{step?, done?}``
``GET    /admin/v1/dashboard``               certificate dates, filings due (the overview)
``POST   /admin/v1/test-receipt``            sign a TEST receipt (signature, QR code)
``GET    /admin/v1/setup-code``              the one-time setup code: **admin socket only**
==========================================  =========================================

The setup code is what lets a person at the box set the first password in the browser; the
page's mount never serves it (``socket=False``), so a browser cannot read it back.
"""

from __future__ import annotations

from typing import Protocol, cast

from aiohttp import web

from tsed.errors import InputError
from tsed.net.http import read_json_object
from tsed.net.wire import answer


class WizardOperations(Protocol):
    async def wizard_state(self) -> object: ...

    async def wizard_update(self, step: int | None, done: bool) -> object: ...

    async def test_receipt(self) -> object: ...

    async def dashboard(self) -> object: ...

    async def setup_code(self) -> object: ...


def add_wizard_routes(r: web.UrlDispatcher, given: object, *, socket: bool) -> None:
    ops = cast(WizardOperations, given)

    async def state(_request: web.Request) -> web.Response:
        return answer(await ops.wizard_state())

    async def update(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        unknown = set(body) - {"step", "done"}
        if unknown:
            raise InputError(f"unknown field {sorted(unknown)[0]!r}", hint="Known: step, done")
        step, done = body.get("step"), body.get("done", False)
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise InputError("step must be a whole number")
        if not isinstance(done, bool):
            raise InputError("done must be true or false")
        return answer(await ops.wizard_update(step, done))

    async def test_receipt(_request: web.Request) -> web.Response:
        return answer(await ops.test_receipt(), status=201)

    async def dashboard(_request: web.Request) -> web.Response:
        return answer(await ops.dashboard())

    async def setup_code(_request: web.Request) -> web.Response:
        return answer(await ops.setup_code(), headers={"Cache-Control": "no-store"})

    r.add_get("/admin/v1/wizard", state)
    r.add_put("/admin/v1/wizard", update)
    r.add_post("/admin/v1/test-receipt", test_receipt)
    r.add_get("/admin/v1/dashboard", dashboard)
    if socket:
        r.add_get("/admin/v1/setup-code", setup_code)
