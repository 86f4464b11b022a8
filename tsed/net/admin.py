"""The installer/technician admin API.

Served on the admin Unix socket in the state directory (``tsectl`` and the serial console use
it). Only root and the service user may connect: the socket lives in the service's private
state directory, and every request's peer credentials are checked (``SO_PEERCRED``).

The routes call an :class:`AdminOperations` object that the daemon implements; this module
holds no logic of its own beyond HTTP.

==========================================  =========================================
``GET    /admin/v1/status``                  mode, TSE state, registers, device identity
``POST   /admin/v1/pairing``                 open a pairing window ``{minutes?}``
``GET    /admin/v1/registers``               paired registers
``DELETE /admin/v1/registers/{id}``          revoke a register
``GET    /admin/v1/config``                  the configuration (no secrets)
``PUT    /admin/v1/config/{key}``            set one dotted key ``{value}``
``POST   /admin/v1/test``                    the connection test, one line per step
``POST   /admin/v1/reset``                   re-initialize a register or all ``{register_id|all}``
``GET    /admin/v1/tss``                     TSS per tenant: state, counters, clients
``POST   /admin/v1/tss``                     set up / resume the TSS ``{new?}`` (new: replace)
``POST   /admin/v1/activation``              a vendor activation document (body)
``PUT    /admin/v1/credentials``             own fiskaly TEST credentials (TEST only)
``GET    /admin/metrics``                    Prometheus metrics
==========================================  =========================================
"""

from __future__ import annotations

import logging
import os
import socket
import struct
from typing import Any, Protocol

from aiohttp import web

from tsed.errors import AuthError, ForbiddenError, InputError
from tsed.net.http import error_middleware, read_json_object

_LOGGER = logging.getLogger(__name__)
ACTOR_KEY: web.RequestKey[str] = web.RequestKey("actor", str)


class AdminOperations(Protocol):
    """What the admin API can ask the daemon to do."""

    async def status(self) -> dict[str, Any]: ...

    async def open_pairing(self, minutes: int | None) -> dict[str, Any]: ...

    async def list_registers(self) -> list[dict[str, Any]]: ...

    async def revoke_register(self, register_id: str) -> None: ...

    async def config_show(self) -> dict[str, Any]: ...

    async def config_set(self, key: str, value: str) -> dict[str, Any]: ...

    async def connection_test(self) -> dict[str, Any]: ...

    async def reset(self, register_id: str | None, everything: bool) -> dict[str, Any]: ...

    async def tss_status(self) -> dict[str, Any]: ...

    async def activate(self, document: bytes) -> dict[str, Any]: ...

    async def tss_setup(self, new: bool) -> dict[str, Any]: ...

    async def set_credentials(
        self, api_key: str, api_secret: str, tenant: str | None
    ) -> dict[str, Any]: ...

    def metrics(self) -> tuple[bytes, str]: ...


def peer_uid(request: web.Request) -> int | None:
    """The uid of the process on the other end of a Unix socket, or None for TCP."""
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _peer_check(allowed_uids: frozenset[int]) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        uid = peer_uid(request)
        if uid is None:
            raise AuthError(
                "the admin API is only served on the local admin socket",
                hint="Use tsectl on the unit, or the setup page.",
            )
        if uid not in allowed_uids:
            _LOGGER.warning(
                "admin socket refused uid %s",
                uid,
                extra={"TSED_EVENT": "admin_refused", "TSED_UID": str(uid)},
            )
            raise ForbiddenError(
                f"user id {uid} may not use the admin socket",
                hint="Run tsectl as root or as the service user tsed.",
            )
        request[ACTOR_KEY] = f"uid:{uid}"
        response: web.StreamResponse = await handler(request)
        return response

    return middleware


def build_admin_app(
    ops: AdminOperations, *, allowed_uids: frozenset[int] | None = None
) -> web.Application:
    """The admin application for the Unix socket."""
    uids = allowed_uids if allowed_uids is not None else frozenset({0, os.getuid()})
    app = web.Application(
        middlewares=[error_middleware, _peer_check(uids)], client_max_size=64 * 1024
    )

    async def status(_request: web.Request) -> web.Response:
        return web.json_response(await ops.status())

    async def pairing(request: web.Request) -> web.Response:
        body = await read_json_object(request, allow_empty=True)
        minutes = body.get("minutes")
        if minutes is not None and (
            isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 60
        ):
            raise InputError(
                f"minutes: {minutes!r} is not a whole number from 1 to 60",
                hint="Leave it out for the configured default (5 minutes).",
            )
        return web.json_response(await ops.open_pairing(minutes), status=201)

    async def registers(_request: web.Request) -> web.Response:
        return web.json_response({"registers": await ops.list_registers()})

    async def revoke(request: web.Request) -> web.Response:
        register_id = request.match_info["register_id"]
        await ops.revoke_register(register_id)
        _LOGGER.info(
            "register %s revoked by %s",
            register_id,
            request.get(ACTOR_KEY),
            extra={"TSED_EVENT": "register_revoked", "TSED_REGISTER": register_id},
        )
        return web.json_response({"revoked": register_id})

    async def config_show(_request: web.Request) -> web.Response:
        return web.json_response(await ops.config_show())

    async def config_set(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        body = await read_json_object(request)
        value = body.get("value")
        if not isinstance(value, str):
            raise InputError(
                'the body must be {"value": "<text>"}',
                hint="Send the new value as a string; an empty string clears optional values.",
            )
        result = await ops.config_set(key, value)
        _LOGGER.info(
            "configuration %s changed by %s",
            key,
            request.get(ACTOR_KEY),
            extra={"TSED_EVENT": "config_changed", "TSED_CONFIG_KEY": key},
        )
        return web.json_response(result)

    async def connection_test(_request: web.Request) -> web.Response:
        return web.json_response(await ops.connection_test())

    async def reset(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        register_id, everything = body.get("register_id"), body.get("all", False)
        if register_id is not None and not isinstance(register_id, str):
            raise InputError("register_id must be text")
        if not isinstance(everything, bool):
            raise InputError("all must be true or false")
        return web.json_response(await ops.reset(register_id, everything))

    async def tss_status(_request: web.Request) -> web.Response:
        return web.json_response(await ops.tss_status())

    async def tss_setup(request: web.Request) -> web.Response:
        body = await read_json_object(request, allow_empty=True)
        new = body.get("new", False)
        if not isinstance(new, bool):
            raise InputError("new must be true or false")
        return web.json_response(await ops.tss_setup(new))

    async def activate(request: web.Request) -> web.Response:
        document = await request.read()
        if not document.strip():
            raise InputError(
                "send the activation document as the request body", hint="tsectl activate FILE"
            )
        return web.json_response(await ops.activate(document))

    async def credentials(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        key, secret, tenant = body.get("api_key"), body.get("api_secret"), body.get("tenant")
        if not isinstance(key, str) or not isinstance(secret, str):
            raise InputError(
                'the body must be {"api_key": "...", "api_secret": "..."}',
                hint="tsectl credentials set --api-key KEY reads the secret from standard input.",
            )
        if tenant is not None and not isinstance(tenant, str):
            raise InputError("tenant must be text")
        return web.json_response(await ops.set_credentials(key, secret, tenant))

    async def metrics(_request: web.Request) -> web.Response:
        payload, content_type = ops.metrics()
        return web.Response(body=payload, headers={"Content-Type": content_type})

    app.router.add_get("/admin/v1/status", status)
    app.router.add_post("/admin/v1/pairing", pairing)
    app.router.add_get("/admin/v1/registers", registers)
    app.router.add_delete("/admin/v1/registers/{register_id}", revoke)
    app.router.add_get("/admin/v1/config", config_show)
    app.router.add_put("/admin/v1/config/{key}", config_set)
    app.router.add_post("/admin/v1/test", connection_test)
    app.router.add_post("/admin/v1/reset", reset)
    app.router.add_get("/admin/v1/tss", tss_status)
    app.router.add_post("/admin/v1/tss", tss_setup)
    app.router.add_post("/admin/v1/activation", activate)
    app.router.add_put("/admin/v1/credentials", credentials)
    app.router.add_get("/admin/metrics", metrics)
    return app
