"""The unit backup's admin route (same socket and setup-page mount as :mod:`tsed.net.admin`).

==========================================  =========================================
``POST   /admin/v1/backup``                  write an encrypted backup of the unit
                                             ``{password, remember?}`` (201: where, size)
==========================================  =========================================

The password is registered with the log redactor before anything else happens; it is never
part of an answer. A restore is no route: it runs while the unit is stopped
(``tsectl backup restore``, :mod:`tsed.state.restore`).
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from aiohttp import web

from tsed.errors import InputError
from tsed.logs import register_secret
from tsed.net.http import read_json_object
from tsed.net.wire import answer


class BackupOperations(Protocol):
    async def backup_create(self, password: str, remember: bool = False) -> object: ...


def add_backup_routes(r: web.UrlDispatcher, given: object) -> None:
    ops = cast(BackupOperations, given)

    async def create(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        password = body.get("password")
        if isinstance(password, str):
            register_secret(password)
        unknown = set(body) - {"password", "remember"}
        if unknown:
            raise InputError(f"unknown field {sorted(unknown)[0]!r}", hint="Known: password, "
                             "remember")  # fmt: skip
        if not isinstance(password, str) or not password:
            raise InputError(
                "password must be the backup password (text)",
                hint='Send {"password": "..."}; tsectl backup create asks for it.',
            )
        remember = body.get("remember", False)
        if not isinstance(remember, bool):
            raise InputError("remember must be true or false")
        return answer(await ops.backup_create(password, remember), status=201)

    r.add_post("/admin/v1/backup", create)


def backup_paths(op: Any, body: Any, text: dict[str, Any]) -> dict[str, Any]:
    """The route's entry in the admin OpenAPI document (``op``, ``body``: its builders)."""
    return {
        "/admin/v1/backup": {
            "post": op(
                "Write an encrypted backup of the unit into the state directory",
                "201",
                body=body({"password": text, "remember": {"type": "boolean"}}, ["password"]),
            )
        }
    }
