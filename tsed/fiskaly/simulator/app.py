"""aiohttp routes of the simulator: SIGN DE ``/api/v2``, Management ``/api/v0``, ``/_sim``."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tsed.fiskaly.simulator import exports, management, metadata, retention, submit, transactions
from tsed.fiskaly.simulator.control import add_control_routes
from tsed.fiskaly.simulator.engine import SimState
from tsed.fiskaly.simulator.faults import FaultAction, FaultEngine
from tsed.fiskaly.simulator.keys import FAULTS_KEY, STATE_KEY
from tsed.fiskaly.simulator.model import (
    API_VERSION,
    CLIENT_SERIAL_RE,
    LIST_TX_PER_MINUTE,
    MAX_BODY,
    SimError,
    Tss,
    parse_uuid,
    schema_error,
)
from tsed.fiskaly.simulator.submitstate import SubmitState
from tsed.fiskaly.simulator.support import TokenInfo
from tsed.fiskaly.simulator.views import client_view, list_view, paginate, tss_view
from tsed.fiskaly.submit import SUBMIT_PREFIX

_LOGGER = logging.getLogger(__name__)
TSS_DESCRIPTION_RE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]{0,100}")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


def _error_response(err: SimError) -> web.Response:
    response = _json(err.body(), err.status)
    if err.retry_after is not None:
        response.headers["Retry-After"] = str(err.retry_after)
    return response


def _route_key(request: web.Request) -> str:
    info = request.match_info.route.resource
    canonical = info.canonical if info is not None else request.path
    return f"{request.method} {canonical}"


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state, faults = request.app[STATE_KEY], request.app[FAULTS_KEY]
    key = _route_key(request)
    if request.path.startswith("/api/"):
        faults.stats[key] += 1
        action = await faults.before(key)
        if action in (FaultAction.DROP, FaultAction.HANG):
            if action == FaultAction.HANG:
                await faults.hang()
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # nothing is answered
        if action == FaultAction.RATE_LIMIT:
            return _error_response(
                SimError(429, None, "Too Many Requests", retry_after=faults.config.retry_after)
            )
        if action == FaultAction.ERROR:
            cfg = faults.config
            return _error_response(SimError(cfg.error_status, cfg.error_code, "injected error"))
    try:
        retention.purge(state)
        if request.content_length and request.content_length > MAX_BODY:
            raise SimError(413, None, "Request Entity Too Large: the body exceeds 1 MB")
        response = await handler(request)
    except SimError as err:
        response = _error_response(err)
    except web.HTTPRequestEntityTooLarge:
        response = _error_response(SimError(413, None, "the request body exceeds 1 MB"))
    except web.HTTPNotFound:
        response = _error_response(SimError(404, None, f"no such path {request.path}"))
    except web.HTTPMethodNotAllowed:
        response = _error_response(
            SimError(405, None, f"method {request.method} not allowed on {request.path}")
        )
    response.headers["request-id"] = str(uuid.uuid4())
    return response


async def _body(request: web.Request) -> Any:
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise schema_error("request body is not valid JSON") from None


def _metadata(body: dict[str, Any]) -> dict[str, str | None]:
    return metadata.check(body.get("metadata"))


def _token(request: web.Request, api: str = "v2") -> TokenInfo:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise SimError(401, "E_UNAUTHORIZED", "missing bearer token")
    info = request.app[STATE_KEY].decode_token(header[7:].strip(), "access")
    if info is None or info.api != api:
        raise SimError(401, "E_UNAUTHORIZED", "invalid or expired token")
    return info


def _tss(request: web.Request) -> tuple[SimState, TokenInfo, Tss]:
    state = request.app[STATE_KEY]
    token = _token(request)
    tss_id = parse_uuid(request.match_info["tss_id"], "tss_id")
    try:
        tss = state.tss_for(token, tss_id)
    except SimError as err:
        wording = request.app[FAULTS_KEY].config.access_denied_message
        known = state.tss.get(tss_id)
        if wording and err.code == "E_ACCESS_DENIED" and known and known.env != token.env:
            raise SimError(403, "E_ACCESS_DENIED", wording) from None
        raise
    if request.app[FAULTS_KEY].config.tss_locked:
        raise SimError(503, "E_TSS_LOCKED", "The TSS is locked for maintenance", retry_after=1)
    return state, token, tss


# -- auth and TSS ----------------------------------------------------------------------------


async def auth(request: web.Request) -> web.Response:
    api = "v0" if request.path.startswith("/api/v0") else "v2"
    api = "submit" if request.path.startswith(SUBMIT_PREFIX) else api
    return _json(request.app[STATE_KEY].authenticate(await _body(request), api))


async def put_tss(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    token = _token(request)
    tss_id = parse_uuid(request.match_info["tss_id"], "tss_id")
    body = await _body(request)
    if not isinstance(body, dict) or set(body) - {"metadata"}:
        raise schema_error("createTss accepts only metadata")
    tss = state.create_tss(token, tss_id, _metadata(body))
    return _json(tss_view(state, tss, with_puk=True))


async def get_tss(request: web.Request) -> web.Response:
    state, _token_info, tss = _tss(request)
    return _json(tss_view(state, tss))


async def patch_tss(request: web.Request) -> web.Response:
    """updateTss: ``state`` is required, no other properties than state, description and
    metadata, ``description`` matches the contract's pattern (contract 2.2.2 UpdateTssRequest)."""
    state, token, tss = _tss(request)
    body = await _body(request)
    if not isinstance(body, dict) or set(body) - {"state", "description", "metadata"}:
        raise schema_error("updateTss accepts only the properties state, description, metadata")
    new_state = body.get("state")
    if new_state is None:
        raise schema_error("updateTss: the property state is required")
    if new_state not in ("UNINITIALIZED", "INITIALIZED", "DISABLED"):
        raise schema_error("state must be UNINITIALIZED, INITIALIZED or DISABLED")
    description = body.get("description")
    if description is not None and (
        not isinstance(description, str) or not TSS_DESCRIPTION_RE.fullmatch(description)
    ):
        raise schema_error(
            "description: at most 100 of the characters A-Z a-z 0-9 space ' ( ) + , - . / : = ?"
        )
    updated = state.update_tss(token, tss, new_state, description, _metadata(body))
    return _json(tss_view(state, updated))


async def list_tss(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    token = _token(request)
    items = [
        tss_view(state, t)
        for t in state.tss.values()
        if t.organization_id == token.organization_id and t.env == token.env
    ]
    return _json(list_view(paginate(request, items, "time_creation"), "TSS_LIST", token.env))


async def change_pin(request: web.Request) -> web.Response:
    state, _token_info, tss = _tss(request)
    body = await _body(request)
    puk, pin = body.get("admin_puk"), body.get("new_admin_pin")
    if not isinstance(puk, str) or len(puk) < 10 or not isinstance(pin, str) or len(pin) < 6:
        raise schema_error("admin_puk (≥ 10 chars) and new_admin_pin (≥ 6 chars) are required")
    state.change_pin(tss, puk, pin)
    return _json({})


async def admin_auth(request: web.Request) -> web.Response:
    state, token, tss = _tss(request)
    body = await _body(request)
    pin = body.get("admin_pin") if isinstance(body, dict) else None
    if not isinstance(pin, str) or len(pin) < 6:
        raise schema_error("admin_pin (≥ 6 chars) is required")
    state.admin_login(token, tss, pin)
    return _json({})


async def admin_logout(request: web.Request) -> web.Response:
    state, token, tss = _tss(request)
    state.admin_logout(token, tss)
    return _json({})


# -- clients ---------------------------------------------------------------------------------


async def put_client(request: web.Request) -> web.Response:
    state, token, tss = _tss(request)
    client_id = parse_uuid(request.match_info["client_id"], "client_id")
    body = await _body(request)
    if not isinstance(body, dict) or set(body) - {"serial_number", "metadata"}:
        raise schema_error("createClient accepts serial_number and metadata")
    serial = body.get("serial_number")
    if not isinstance(serial, str) or not CLIENT_SERIAL_RE.match(serial) or "/" in serial:
        raise SimError(
            400,
            "E_ILLEGAL_CLIENT_SERIAL",
            f"serial_number {serial!r}: 1 to 70 of A-Z a-z 0-9 space '()+,-.:=?, no '/' or "
            "'_', no leading or trailing space",
        )
    client = state.create_client(token, tss, client_id, serial, _metadata(body))
    return _json(client_view(client, created=client.time_update is None))


async def get_client(request: web.Request) -> web.Response:
    state, _token_info, tss = _tss(request)
    client = state.client_for(tss, parse_uuid(request.match_info["client_id"], "client_id"))
    return _json(client_view(client))


async def patch_client(request: web.Request) -> web.Response:
    state, token, tss = _tss(request)
    client = state.client_for(tss, parse_uuid(request.match_info["client_id"], "client_id"))
    body = await _body(request)
    if not isinstance(body, dict) or body.get("state") not in ("REGISTERED", "DEREGISTERED"):
        raise schema_error("state must be REGISTERED or DEREGISTERED")
    updated = state.update_client(token, tss, client, body["state"], _metadata(body))
    return _json(client_view(updated))


async def list_clients(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    token = _token(request)
    if "tss_id" in request.match_info:
        _s, _t, tss = _tss(request)
        pool = [c for c in state.clients.values() if c.tss_id == tss.id]
    else:
        pool = [
            c
            for c in state.clients.values()
            if state.tss[c.tss_id].organization_id == token.organization_id and c.env == token.env
        ]
    serial = request.query.get("serial_number")
    wanted = request.query.get("state")
    items = [
        client_view(c)
        for c in pool
        if (serial is None or c.serial_number == serial) and (wanted is None or c.state == wanted)
    ]
    return _json(list_view(paginate(request, items, "time_creation"), "CLIENT_LIST", token.env))


# -- transactions ----------------------------------------------------------------------------


def _revision_param(request: web.Request, required: bool) -> int | None:
    raw = request.query.get("tx_revision")
    if raw is None:
        if required:
            raise schema_error("query parameter tx_revision is required")
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise schema_error(f"tx_revision must be an integer ≥ 1, got {raw!r}")
    return int(raw)


async def put_tx(request: web.Request) -> web.Response:
    state, token, tss = _tss(request)
    ref = request.match_info["tx"]
    if not (ref.isascii() and ref.isdigit()):
        ref = parse_uuid(ref, "tx_id")
    revision = _revision_param(request, required=True)
    assert revision is not None
    body = await _body(request)
    answer = transactions.upsert(state, token, tss, ref, revision, body)
    return _json(transactions.maybe_pending(request.app[FAULTS_KEY].config, tss, answer))


async def get_tx(request: web.Request) -> web.Response:
    state, _token_info, tss = _tss(request)
    revision = _revision_param(request, required=False)
    answer = transactions.retrieve(state, tss, request.match_info["tx"], revision)
    return _json(transactions.maybe_pending(request.app[FAULTS_KEY].config, tss, answer))


async def list_txs(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    token = _token(request)
    client_id = request.match_info.get("client_id")
    if "tss_id" in request.match_info:
        _s, _t, tss = _tss(request)
        if client_id is not None:  # listClientTransactions: the client must exist
            client_id = state.client_for(tss, parse_uuid(client_id, "client_id")).id
        else:  # only listTransactions has the limit (contract 2.2.2)
            calls = state.list_calls.setdefault(tss.id, [])
            now = time.monotonic()
            calls[:] = [t for t in calls if now - t < 60]
            if len(calls) >= LIST_TX_PER_MINUTE:
                raise SimError(
                    429, None, "listTransactions: 20 requests per minute", retry_after=60
                )
            calls.append(now)
        pools = [(tss, state.txs.get(tss.id, {}).values())]
    else:
        pools = [
            (t, state.txs.get(t.id, {}).values())
            for t in state.tss.values()
            if t.organization_id == token.organization_id and t.env == token.env
        ]
    items = []
    for tss_obj, txs in pools:
        for tx in txs:
            if client_id is not None and tx.latest.client_id != client_id:
                continue
            view = transactions.tx_view(state, tss_obj, tx, tx.latest)
            items.append(view)
    return _json(list_view(paginate(request, items, "number"), "TRANSACTION_LIST", token.env))


# -- exports ---------------------------------------------------------------------------------


async def put_export(request: web.Request) -> web.Response:
    state, _token_info, tss = _tss(request)
    export_id = parse_uuid(request.match_info["export_id"], "export_id")
    params = {k: v for k, v in request.query.items() if k}
    return _json(exports.trigger(state, tss, export_id, params))


async def get_export(request: web.Request) -> web.Response:
    state, _token_info, tss = _tss(request)
    export = exports.find_export(state, tss, request.match_info["export_id"])
    exports.rate_limit_poll(export)
    return _json(exports.export_view(state, export))


async def delete_export(request: web.Request) -> web.Response:
    state, _token_info, tss = _tss(request)
    export = exports.find_export(state, tss, request.match_info["export_id"])
    return _json(exports.cancel(state, export))


async def export_file(request: web.Request) -> web.Response:
    state, _token_info, tss = _tss(request)
    export = exports.find_export(state, tss, request.match_info["export_id"])
    exports.rate_limit_poll(export)
    payload = exports.tar_file(state, tss, export)
    return web.Response(body=payload, content_type="application/x-tar")


async def list_exports(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    token = _token(request)
    if "tss_id" in request.match_info:
        _s, _t, tss = _tss(request)
        pool = list(state.exports.get(tss.id, {}).values())
    else:
        pool = [
            e for t in state.tss.values() if t.organization_id == token.organization_id
            for e in state.exports.get(t.id, {}).values()
        ]  # fmt: skip
    items = [exports.export_view(state, e) for e in pool]
    return _json(list_view(paginate(request, items, "time_request"), "EXPORT_LIST", token.env))


async def _metadata_owner(request: web.Request) -> tuple[Any, Callable[[], None]]:
    """The object whose metadata the path names, and how to store it."""
    state, _token_info, tss = _tss(request)
    persist = state.persist
    if "client_id" in request.match_info:
        client = state.client_for(tss, parse_uuid(request.match_info["client_id"], "client_id"))
        return client, lambda: state.save_client(client)
    if "tx" in request.match_info:
        tx = transactions.find_tx(state, tss, request.match_info["tx"])
        if tx is None:
            raise SimError(404, "E_TX_NOT_FOUND", "transaction not found")
        return tx, lambda: persist.save_tx(tx) if persist else None
    if "export_id" in request.match_info:
        export = exports.find_export(state, tss, request.match_info["export_id"])
        return export, lambda: persist.save_export(export) if persist else None
    return tss, lambda: state.save_tss(tss)


async def v1_refused(request: web.Request) -> web.Response:
    raise SimError(
        410,
        "E_API_V1_NOT_SUPPORTED",
        "SIGN DE API V1 is not supported; use the V2 API under /api/v2",
    )


def build_app(
    state: SimState, faults: FaultEngine, filing: SubmitState | None = None
) -> web.Application:
    app = web.Application(middlewares=[_middleware], client_max_size=MAX_BODY)
    app[STATE_KEY] = state
    app[FAULTS_KEY] = faults
    v2 = "/api/v2"
    tss = v2 + "/tss/{tss_id}"
    r = app.router
    r.add_post(v2 + "/auth", auth)
    r.add_get(v2 + "/tss", list_tss)
    r.add_put(tss, put_tss)
    r.add_get(tss, get_tss)
    r.add_patch(tss, patch_tss)
    r.add_patch(tss + "/admin", change_pin)
    r.add_post(tss + "/admin/auth", admin_auth)
    r.add_post(tss + "/admin/logout", admin_logout)
    r.add_get(tss + "/client", list_clients)
    r.add_get(v2 + "/client", list_clients)
    r.add_put(tss + "/client/{client_id}", put_client)
    r.add_get(tss + "/client/{client_id}", get_client)
    r.add_patch(tss + "/client/{client_id}", patch_client)
    r.add_get(tss + "/client/{client_id}/tx", list_txs)
    r.add_get(tss + "/tx", list_txs)
    r.add_get(v2 + "/tx", list_txs)
    r.add_put(tss + "/tx/{tx}", put_tx)
    r.add_get(tss + "/tx/{tx}", get_tx)
    r.add_get(tss + "/export", list_exports)
    r.add_get(v2 + "/export", list_exports)
    r.add_put(tss + "/export/{export_id}", put_export)
    r.add_get(tss + "/export/{export_id}", get_export)
    r.add_delete(tss + "/export/{export_id}", delete_export)
    r.add_get(tss + "/export/{export_id}/file", export_file)
    metadata.add_routes(app, tss, _metadata_owner, _body, _json)
    r.add_route("*", "/api/v1/{tail:.*}", v1_refused)
    management.add_routes(app, auth, _token, _body, _json)
    # SUBMIT DE (§ 146a Abs. 4 AO)
    filing = filing or SubmitState.opened(state.clock, state.persist)
    submit.add_routes(app, filing, auth, _token, _body, _json)
    add_control_routes(app)
    _LOGGER.debug("simulator app built (API %s)", API_VERSION)
    return app
