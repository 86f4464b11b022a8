"""The installer/technician admin API.

Served on the admin Unix socket in the state directory (``tsectl`` and the serial console use
it). Only root and the service user may connect: the socket lives in the service's private
state directory, and every request's peer credentials are checked (``SO_PEERCRED``).

The routes call an :class:`~tsed.net.admin_operations.AdminOperations` object that the daemon
implements and turn its typed answers into JSON (:func:`tsed.net.wire.answer`); this module
holds no logic of its own beyond HTTP. The setup page (:mod:`tsed.net.web`) mounts the same
application behind its session guard instead of the peer check. Every state-changing call is
written to the journal as an audit event (who, what, result; never a body).

==========================================  =========================================
``GET    /admin/v1/openapi.json``            the OpenAPI document of these routes
``GET    /admin/v1/status``                  mode, TSE state, registers, device identity
``POST   /admin/v1/pairing``                 open a window ``{minutes?, tenant?, password?}``
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
``POST   /admin/v1/credentials``             "Anlegen" ``{confirm, addresses?}`` (secret once)
``PUT    /admin/v1/config``                  save several keys at once ``{values}``
``GET    /admin/v1/password``                whether the admin password is set
``PUT    /admin/v1/password``                set the admin password ``{password, current?}``
``GET    /admin/v1/tenants``                 tenants (multi-tenant)
``POST   /admin/v1/tenants``                 add a tenant ``{id, name, vat_id?}``
``GET    /admin/v1/outages``                 the outage journal
``POST   /admin/v1/exports``                 start a TAR export ``{tss_id|tenant, range}``
``GET    /admin/v1/exports/{id}``            its progress
``GET    /admin/v1/exports/{id}/files/{n}``  download part n
``POST   /admin/v1/factory-reset``           back to first boot ``{confirm: true, password?}``
``GET    /admin/metrics``                    Prometheus metrics
``*      /admin/v1/archive…``                the fiscal archive (:mod:`tsed.net.admin_archive`)
``POST   /admin/v1/backup``                  an encrypted unit backup (:mod:`tsed.net.admin_backup`)
``*      /admin/v1/wizard…``                 the first-run wizard (:mod:`tsed.net.admin_wizard`)
``*      /admin/v1/decommission…``           a guided decommissioning
                                             (:mod:`tsed.net.admin_decommission`)
``GET    /admin/v1/health``                  nightly housekeeping (:mod:`tsed.net.admin_health`)
``*      /admin/v1/update…``                 A/B updates (:mod:`tsed.net.admin_update`)
==========================================  =========================================
"""

from __future__ import annotations

import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tsed.errors import AuthError, ForbiddenError, InputError
from tsed.logs import register_secret
from tsed.net.admin_archive import add_archive_routes
from tsed.net.admin_backup import add_backup_routes
from tsed.net.admin_decommission import add_decommission_routes
from tsed.net.admin_dsfinvk import add_dsfinvk_admin_routes
from tsed.net.admin_errors import admin_error_middleware
from tsed.net.admin_filing import add_filing_routes
from tsed.net.admin_health import add_health_routes
from tsed.net.admin_openapi import admin_openapi_document
from tsed.net.admin_operations import AdminOperations, PasswordProof
from tsed.net.admin_update import add_update_routes
from tsed.net.admin_wizard import add_wizard_routes
from tsed.net.http import client_source, read_json_object
from tsed.net.wire import answer
from tsed.tss.exports import ExportRange

_LOGGER = logging.getLogger(__name__)
ACTOR_KEY: web.RequestKey[str] = web.RequestKey("actor", str)
# Set by a guard whose callers must prove the admin password to change it or to reset the unit
# (the setup page). On the socket the proof is optional: root on the unit may always do both,
# and the serial console sends it (see tsed.cli.console_commands).
PROOF_REQUIRED_KEY: web.RequestKey[bool] = web.RequestKey("proof_required", bool)
AUDIT_MESSAGE_ID = "5f3c2a8e9b1d4c7e8a6b0d2f4e1c9a37"  # journalctl MESSAGE_ID=... for audits
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _proof(
    request: web.Request, body: dict[str, Any], name: str, *, required: bool | None = None
) -> PasswordProof:
    current = _optional_text(body, name)
    if required is None:
        required = request.get(PROOF_REQUIRED_KEY, False)
    if current is not None:
        register_secret(current)
    source = client_source(request) if required else request.get(ACTOR_KEY, "unknown")
    return PasswordProof(current, required, source)


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
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
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
        return await handler(request)

    return middleware


@web.middleware
async def _audit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state-changing admin call goes to the journal: who, what, result."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return await handler(request)
    route = request.match_info.route.resource
    path = route.canonical if route else request.path
    action = f"{request.method} {path[path.find('/admin/') :]}"  # the same for socket and page
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception as exc:
        status = int(getattr(exc, "status", 500))
        raise
    finally:
        actor = request.get(ACTOR_KEY, "unknown")
        _LOGGER.info(
            "audit: %s by %s: %s",
            action,
            actor,
            status,
            extra={
                "MESSAGE_ID": AUDIT_MESSAGE_ID,
                "TSED_EVENT": "admin_audit",
                "TSED_ACTOR": actor,
                "TSED_ACTION": action,
                "TSED_STATUS": str(status),
            },
        )


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InputError(f"{name} must be text")
    return value


def _text(body: dict[str, Any], name: str) -> str:
    value = _optional_text(body, name)
    if value is None:
        raise InputError(f"{name} must be text")
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false")
    return value


def _int_or_none(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name}: a whole number expected (Unix time or counter)")
    return value


def _export_range(body: dict[str, Any]) -> ExportRange:
    known = {"tenant", "tss_id", "start_date", "end_date", "start_transaction",
             "end_transaction", "start_signature_counter", "end_signature_counter"}  # fmt: skip
    unknown = set(body) - known
    if unknown:
        raise InputError(
            f"unknown field {sorted(unknown)[0]!r}", hint="Known: " + ", ".join(sorted(known))
        )
    return ExportRange(**{k: _int_or_none(body, k) for k in sorted(known - {"tenant", "tss_id"})})


def build_admin_app(
    ops: AdminOperations,
    *,
    allowed_uids: frozenset[int] | None = None,
    guard: Any = None,
) -> web.Application:
    """The admin application: for the Unix socket (peer check) or behind ``guard``."""
    uids = allowed_uids if allowed_uids is not None else frozenset({0, os.getuid()})
    app = web.Application(
        middlewares=[admin_error_middleware, guard or _peer_check(uids), _audit],
        client_max_size=64 * 1024,
    )
    add_admin_routes(app.router, ops)
    add_wizard_routes(app.router, ops, socket=guard is None)  # the setup code: socket only
    return app


def add_admin_routes(r: web.UrlDispatcher, ops: AdminOperations) -> None:
    async def status(_request: web.Request) -> web.Response:
        return answer(await ops.status())

    async def pairing(request: web.Request) -> web.Response:
        body = await read_json_object(request, allow_empty=True)
        minutes = body.get("minutes")
        if minutes is not None and (
            isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 60
        ):
            raise InputError(
                f"minutes: {minutes!r} is not a whole number from 1 to 60",
                hint="Leave it out for the configured default (5 minutes).",
            ).localized("pair.minutes", value=minutes)
        tenant = _optional_text(body, "tenant")
        # A setup-page session may pair without it; the serial console sends it once set.
        proof = _proof(request, body, "password", required=False)
        return answer(await ops.open_pairing(minutes, tenant, proof), status=201)

    async def registers(_request: web.Request) -> web.Response:
        return answer({"registers": await ops.list_registers()})

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
        return answer(await ops.config_show())

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
        return answer(result)

    async def config_update(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        values = body.get("values")
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            raise InputError(
                'the body must be {"values": {"<dotted key>": "<text>", ...}}',
                hint="Send every value as text; an empty text clears optional values.",
            )
        return answer(await ops.config_update(dict(values)))

    async def connection_test(_request: web.Request) -> web.Response:
        return answer(await ops.connection_test())

    async def reset(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        register_id, everything = _optional_text(body, "register_id"), _flag(body, "all")
        return answer(await ops.reset(register_id, everything))

    async def tss_status(_request: web.Request) -> web.Response:
        return answer(await ops.tss_status())

    async def tss_setup(request: web.Request) -> web.Response:
        body = await read_json_object(request, allow_empty=True)
        return answer(await ops.tss_setup(_flag(body, "new")))

    async def activate(request: web.Request) -> web.Response:
        document = await request.read()
        if not document.strip():
            raise InputError(
                "send the activation document as the request body", hint="tsectl activate FILE"
            )
        return answer(await ops.activate(document))

    async def credentials(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        key, secret, tenant = (
            body.get("api_key"),
            body.get("api_secret"),
            _optional_text(body, "tenant"),
        )
        if not isinstance(key, str) or not isinstance(secret, str):
            raise InputError(
                'the body must be {"api_key": "...", "api_secret": "..."}',
                hint="tsectl credentials set --api-key KEY reads the secret from standard input.",
            )
        return answer(await ops.set_credentials(key, secret, tenant))

    async def anlegen(request: web.Request) -> web.Response:
        body = await read_json_object(request, allow_empty=True)
        addresses = body.get("addresses")
        if addresses is not None and not (
            isinstance(addresses, dict)
            and all(
                isinstance(a, dict) and all(isinstance(v, str) for v in a.values())
                for a in addresses.values()
            )
        ):
            raise InputError(
                'addresses: {"<tenant>": {"street": "...", "zip": "...", "town": "..."}}'
            )
        created = await ops.create_credentials(_flag(body, "confirm"), addresses)
        return answer(created, status=201, headers={"Cache-Control": "no-store"})

    async def password_status(_request: web.Request) -> web.Response:
        return answer(await ops.password_status())

    async def password_set(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        password = _text(body, "password")
        return answer(await ops.set_password(password, _proof(request, body, "current")))

    async def tenants(_request: web.Request) -> web.Response:
        return answer(await ops.list_tenants())

    async def tenant_add(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        tenant_id, name = _text(body, "id"), _text(body, "name")
        vat_id = _optional_text(body, "vat_id")
        return answer(await ops.add_tenant(tenant_id, name, vat_id), status=201)

    async def outages(_request: web.Request) -> web.Response:
        return answer(await ops.outages())

    async def export_start(request: web.Request) -> web.Response:
        body = await read_json_object(request, allow_empty=True)
        export_range = _export_range(body)
        tenant, tss_id = _optional_text(body, "tenant"), _optional_text(body, "tss_id")
        return answer(await ops.start_export(tenant, tss_id, export_range), status=202)

    async def export_status(request: web.Request) -> web.Response:
        return answer(await ops.export_status(request.match_info["job_id"]))

    async def export_file(request: web.Request) -> web.StreamResponse:
        part_text = request.match_info["part"]
        if not (part_text.isascii() and part_text.isdigit()) or len(part_text) > 6:
            raise InputError(f"part {part_text!r} is not a number")
        path = await ops.export_file(request.match_info["job_id"], int(part_text))
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "application/x-tar",
                "Content-Disposition": f'attachment; filename="{path.name}"',
            },
        )

    async def factory_reset(request: web.Request) -> web.Response:
        body = await read_json_object(request, allow_empty=True)
        proof = _proof(request, body, "password")
        return answer(await ops.factory_reset(_flag(body, "confirm"), proof))

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(admin_openapi_document())

    async def metrics(_request: web.Request) -> web.Response:
        payload, content_type = await ops.metrics()
        return web.Response(body=payload, headers={"Content-Type": content_type})

    r.add_get("/admin/v1/openapi.json", openapi)
    r.add_get("/admin/v1/status", status)
    r.add_post("/admin/v1/pairing", pairing)
    r.add_get("/admin/v1/registers", registers)
    r.add_delete("/admin/v1/registers/{register_id}", revoke)
    r.add_get("/admin/v1/config", config_show)
    r.add_put("/admin/v1/config", config_update)
    r.add_put("/admin/v1/config/{key}", config_set)
    r.add_post("/admin/v1/test", connection_test)
    r.add_post("/admin/v1/reset", reset)
    r.add_get("/admin/v1/tss", tss_status)
    r.add_post("/admin/v1/tss", tss_setup)
    r.add_post("/admin/v1/activation", activate)
    r.add_put("/admin/v1/credentials", credentials)
    r.add_post("/admin/v1/credentials", anlegen)
    r.add_get("/admin/v1/password", password_status)
    r.add_put("/admin/v1/password", password_set)
    r.add_get("/admin/v1/tenants", tenants)
    r.add_post("/admin/v1/tenants", tenant_add)
    r.add_get("/admin/v1/outages", outages)
    r.add_post("/admin/v1/exports", export_start)
    r.add_get("/admin/v1/exports/{job_id}", export_status)
    r.add_get("/admin/v1/exports/{job_id}/files/{part}", export_file)
    r.add_post("/admin/v1/factory-reset", factory_reset)
    r.add_get("/admin/metrics", metrics)
    add_archive_routes(r, ops)  # /admin/v1/archive*: tsed.net.admin_archive
    add_backup_routes(r, ops)  # /admin/v1/backup: tsed.net.admin_backup
    add_dsfinvk_admin_routes(r, ops)  # /admin/v1/archive/dsfinvk: tsed.net.admin_dsfinvk
    add_decommission_routes(r, ops)  # /admin/v1/decommission*: tsed.net.admin_decommission
    add_health_routes(r, ops)  # /admin/v1/health: tsed.net.admin_health
    add_filing_routes(r, ops)  # /admin/v1/filing*: tsed.net.admin_filing
    add_update_routes(r, ops)  # /admin/v1/update*: tsed.net.admin_update
