"""The register API v1 (HTTPS): pairing, status, receipts and transactions.

The contract is documented in ``docs/register-api.md`` and served as OpenAPI at
``GET /api/v1/openapi.json``. All calls but pairing, status and the API description need
``Authorization: Bearer <token>``. Every mutating call takes an optional ``Idempotency-Key``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from tsed.config.text import clean_register_text, has_control
from tsed.errors import AuthError, ConflictError, InputError
from tsed.net.api_dsfinvk import DsfinvkSource, add_dsfinvk_routes
from tsed.net.auth import PairingManager, hash_token, issue_token
from tsed.net.http import (
    MAX_BODY,
    client_source,
    error_middleware,
    json_response,
    read_json_object,
)
from tsed.net.lockout import FailureLimiter
from tsed.net.openapi import openapi_document
from tsed.signing.operations import SigningOperations
from tsed.signing.outcome import RegisterRef, TxOutcome
from tsed.signing.receipt import TEST_NOTICE, parse_receipt, qr_png
from tsed.tss.views import SimulatorFaults

_LOGGER = logging.getLogger(__name__)
IDEMPOTENCY_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
SERIAL_RE = re.compile(r"^(?!\s)[A-Za-z0-9 '()+,\-.:=?]{1,70}(?<!\s)$")
TX_STATES = ("journaled", "active", "finishing", "cancelling", "finished", "cancelled", "failed")
DEFAULT_PAGE, MAX_PAGE = 50, 200
SIM_FAULTS = "/api/v1/simulator/faults"
REGISTER_KEY: web.RequestKey[RegisterRef] = web.RequestKey("register", RegisterRef)


class RegisterDirectory(Protocol):
    def lookup(self, token_hash: str) -> RegisterRef | None: ...
    def check_enroll(self, serial: str, tenant: str | None) -> str: ...
    def bound_tenant(
        self, serial: str, window_tenant: str | None, requested: str | None
    ) -> str: ...
    async def enroll(
        self, serial: str, label: str | None, tenant: str | None, token_hash: str
    ) -> RegisterRef: ...


class SimulatorControl(Protocol):
    """The built-in simulator's fault switches (raises ConflictError without a simulator)."""

    @property
    def available(self) -> bool: ...
    def faults(self) -> SimulatorFaults: ...
    def set_faults(self, changes: dict[str, Any]) -> SimulatorFaults: ...
    def reset_faults(self) -> SimulatorFaults: ...


@dataclass(frozen=True, slots=True)
class RegisterApiDeps:
    signing: SigningOperations
    registers: RegisterDirectory
    pairing: PairingManager
    limiter: FailureLimiter
    fingerprint: str
    simulator: SimulatorControl | None = None
    dsfinvk: DsfinvkSource | None = None  # a register's TSE tables (tsed.net.api_dsfinvk)


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_RE.fullmatch(key):
        raise InputError(
            "Idempotency-Key must be 1 to 128 printable ASCII characters without spaces",
            hint="Use a UUID per request, e.g. 3f1c0a4e-....",
        )
    return key


def _local_id(request: web.Request) -> str:
    value = request.match_info["tx_id"]
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InputError(
            f"transaction id {value!r} is not a UUID",
            hint="Use the id returned by POST /api/v1/transactions.",
        ) from None


def _list_query(request: web.Request) -> tuple[tuple[str, ...] | None, int, str | None]:
    """``state`` (repeated or comma-separated), ``limit`` and ``before`` of the list call."""
    unknown = sorted(set(request.query) - {"state", "limit", "before"})
    if unknown:
        raise InputError(
            f"unknown query parameter {unknown[0]!r}", hint="Use state, limit and before."
        )
    states = tuple(
        part.strip() for value in request.query.getall("state", []) for part in value.split(",")
    )
    for state in states:
        if state not in TX_STATES:
            raise InputError(
                f"state: {state!r} is not a transaction state",
                hint=f"Use one or more of {', '.join(TX_STATES)}.",
            )
    raw = request.query.get("limit", str(DEFAULT_PAGE))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise InputError(f"limit: {raw!r} must be a whole number from 1 to {MAX_PAGE}")
    before = request.query.get("before")
    if before is not None:
        try:
            before = str(uuid.UUID(before))
        except ValueError:
            raise InputError(
                f"before: {before!r} is not a transaction id",
                hint="Send the 'next' value of the previous page.",
            ) from None
    return (states or None), int(raw), before


def _pairing_fields(body: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """register_serial, label and tenant of a pairing body (the code is checked apart)."""
    unknown = set(body) - {"code", "register_serial", "label", "tenant"}
    if unknown:
        raise InputError(
            f"unknown field {sorted(unknown)[0]!r}",
            hint="Send code, register_serial and optionally label, tenant.",
        )
    code, serial = body.get("code"), body.get("register_serial")
    if not isinstance(code, str) or not code.strip():
        raise InputError("code: the pairing code shown by the installer is required")
    if not isinstance(serial, str) or not SERIAL_RE.fullmatch(serial) or "/" in serial:
        raise InputError(
            f"register_serial: {serial!r} must be 1 to 70 of A-Z a-z 0-9 space '()+,-.:=? "
            "(no '/' or '_', no leading or trailing space)",
            hint="Use the register's serial number as printed on receipts.",
        )
    label, tenant = body.get("label"), body.get("tenant")
    for name, value in (("label", label), ("tenant", tenant)):
        if value is not None and (not isinstance(value, str) or len(value) > 64):
            raise InputError(f"{name}: text of at most 64 characters expected")
    if label is not None:  # control and bidi characters removed: shown on terminals later
        label = clean_register_text(label) or None
    if tenant is not None and has_control(tenant):
        raise InputError("tenant: a tenant id has no control characters")
    return serial, label, tenant


def build_register_app(deps: RegisterApiDeps) -> web.Application:
    """The register API application (mounted at the root of the TLS listener)."""
    public = {"/api/v1/pairings", "/api/v1/status", "/api/v1/openapi.json"}

    @web.middleware
    async def bearer(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in public or not request.path.startswith("/api/"):
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        register = deps.registers.lookup(hash_token(token.strip())) if scheme == "Bearer" else None
        if register is None:
            # Only a request without a valid token is throttled: a paired register behind
            # the same address as a failing host (NAT, terminal server) always gets through.
            source = client_source(request)
            deps.limiter.check(source)
            deps.limiter.failed(source)
            raise AuthError(
                "missing, unknown or revoked register token"
                if header
                else "this call needs 'Authorization: Bearer <token>'",
                hint="Pair the register (POST /api/v1/pairings with the installer's code) and "
                "send its token with every call.",
            )
        request[REGISTER_KEY] = register
        return await handler(request)

    @web.middleware
    async def with_mode(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Error answers carry the mode too (registers show TEST in red on every screen)."""
        response = await handler(request)
        if response.status == 401:  # RFC 9110 11.6.1: a 401 names the scheme to use
            response.headers["WWW-Authenticate"] = 'Bearer realm="tsed register API"'
        if response.status >= 400 and isinstance(response, web.Response) and response.text:
            try:
                body = json.loads(response.text)
            except ValueError:
                return response
            mode = deps.signing.status()["mode"]
            body["mode"] = mode
            if mode == "TEST":
                body["notice"] = TEST_NOTICE
            response.text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return response

    app = web.Application(
        middlewares=[with_mode, error_middleware, bearer], client_max_size=MAX_BODY
    )
    signing = deps.signing

    async def answer(outcome: TxOutcome, status: int = 200) -> web.Response:
        return json_response(outcome.to_json(), status)

    async def pairings(request: web.Request) -> web.Response:
        with deps.limiter.attempt(client_source(request)) as attempt:  # before any await
            body = await read_json_object(request)
            serial, label, requested = _pairing_fields(body)
            try:
                window = deps.pairing.check(body["code"])
            except AuthError:
                attempt.failed()
                raise
            except ConflictError:
                attempt.uncounted()  # no window open: nothing was guessed
                raise
            attempt.succeeded()
        # The installer's choice (workplace, then window) binds; the window stays open when
        # the register asks for another tenant, so the right register can still pair.
        tenant = deps.registers.bound_tenant(serial, window.tenant, requested)
        # A known serial or an unknown tenant is refused before the code is used up: the
        # installer's window stays open for the corrected request.
        deps.registers.check_enroll(serial, tenant)
        deps.pairing.close()  # consumed: no await since the code was checked
        token, token_hash = issue_token()
        register = await deps.registers.enroll(serial, label, tenant, token_hash)
        return json_response(
            {
                "token": token,
                "register_id": register.register_id,
                "tenant": register.tenant_id,
                "fingerprint": deps.fingerprint,
            },
            201,
        )

    async def status(_request: web.Request) -> web.Response:
        data = signing.status()
        body = {
            "mode": data["mode"],
            "backend": data["backend"],
            "tse": data["tse"],
            "notice": TEST_NOTICE if data["mode"] == "TEST" else None,
            "pairing_open": deps.pairing.is_open,
            "api_version": 1,
            "simulator": {"faults": SIM_FAULTS}
            if deps.simulator is not None and deps.simulator.available
            else None,
        }
        return json_response(body)

    async def openapi(_request: web.Request) -> web.Response:
        return json_response(openapi_document())

    async def receipts(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        outcome = await signing.sign_receipt(
            request[REGISTER_KEY], parse_receipt(body), idempotency_key=_idempotency_key(request)
        )
        return await answer(outcome)

    async def start(request: web.Request) -> web.Response:
        body = await read_json_object(request, allow_empty=True)
        if body:
            raise InputError("start takes no body; send the receipt with finish")
        outcome = await signing.start_transaction(
            request[REGISTER_KEY], idempotency_key=_idempotency_key(request)
        )
        return await answer(outcome, 201)

    async def update(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        outcome = await signing.update_transaction(
            request[REGISTER_KEY],
            _local_id(request),
            parse_receipt(body),
            idempotency_key=_idempotency_key(request),
        )
        return await answer(outcome)

    async def finish(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        outcome = await signing.finish_transaction(
            request[REGISTER_KEY],
            _local_id(request),
            parse_receipt(body),
            idempotency_key=_idempotency_key(request),
        )
        return await answer(outcome)

    async def cancel(request: web.Request) -> web.Response:
        body = await read_json_object(request, allow_empty=True)
        receipt = parse_receipt(body) if body else None
        outcome = await signing.cancel_transaction(
            request[REGISTER_KEY],
            _local_id(request),
            receipt,
            idempotency_key=_idempotency_key(request),
        )
        return await answer(outcome)

    async def get(request: web.Request) -> web.Response:
        return await answer(
            await signing.get_transaction(request[REGISTER_KEY], _local_id(request))
        )

    async def transactions(request: web.Request) -> web.Response:
        states, limit, before = _list_query(request)
        page = await signing.list_transactions(request[REGISTER_KEY], states, limit + 1, before)
        more = len(page) > limit
        page = page[:limit]
        return json_response(
            {
                "transactions": [outcome.to_json() for outcome in page],
                "next": page[-1].local_id if more else None,
            }
        )

    async def qr(request: web.Request) -> web.Response:
        outcome = await signing.get_transaction(request[REGISTER_KEY], _local_id(request))
        if outcome.result is None or not outcome.result.qr_code_data:
            raise InputError(
                "this transaction has no signature yet, so no QR code",
                hint="Print the failure text from the finish answer instead.",
            )
        return web.Response(body=qr_png(outcome.result.qr_code_data), content_type="image/png")

    def simulator() -> SimulatorControl:
        if deps.simulator is None:
            raise ConflictError("this unit has no built-in simulator")
        return deps.simulator

    async def get_faults(_request: web.Request) -> web.Response:
        return json_response(simulator().faults().to_json())

    async def set_faults(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        return json_response(simulator().set_faults(body).to_json())

    async def reset_faults(_request: web.Request) -> web.Response:
        return json_response(simulator().reset_faults().to_json())

    r = app.router
    r.add_get(SIM_FAULTS, get_faults)
    r.add_post(SIM_FAULTS, set_faults)
    r.add_delete(SIM_FAULTS, reset_faults)
    r.add_post("/api/v1/pairings", pairings)
    r.add_get("/api/v1/status", status)
    r.add_get("/api/v1/openapi.json", openapi)
    r.add_post("/api/v1/receipts", receipts)
    r.add_post("/api/v1/transactions", start)
    r.add_get("/api/v1/transactions", transactions)
    r.add_put("/api/v1/transactions/{tx_id}", update)
    r.add_get("/api/v1/transactions/{tx_id}", get)
    r.add_post("/api/v1/transactions/{tx_id}/finish", finish)
    r.add_post("/api/v1/transactions/{tx_id}/cancel", cancel)
    r.add_get("/api/v1/transactions/{tx_id}/qr.png", qr)
    add_dsfinvk_routes(r, deps.dsfinvk, REGISTER_KEY)  # /api/v1/dsfinvk*
    return app
