"""Shared HTTP plumbing of the unit's servers: JSON errors, body parsing, security headers.

No listener announces ``Server: Python/... aiohttp/...``: :func:`hide_server_banner` replaces
the banner for every response of the process, also the ones aiohttp's parser sends itself
(a malformed request line gets its 400 before any application middleware runs).

Every error becomes ``{"error": {status, code, message, hint}}`` with its status. Unknown
routes, wrong methods and oversized bodies answer in the same JSON shape; anything unexpected
is logged with its traceback and answered as a generic 500 without internals.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web, web_response

from tsed.errors import InputError, NotFoundError, TsedError

_LOGGER = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 64 * 1024
MAX_JSON_DEPTH = 20
# A JSON string (skipped) or one bracket: the nesting depth needs only the brackets.
_STRUCTURE_RE = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')
SERVER_BANNER = "tsed"


def hide_server_banner() -> None:
    """Answer ``Server: tsed`` instead of the Python and aiohttp versions (whole process)."""
    # aiohttp sets the header with ``setdefault(SERVER, SERVER_SOFTWARE)`` when it prepares any
    # response, read from the module at that moment; tests/security/test_tls.py pins this.
    setattr(web_response, "SERVER_SOFTWARE", SERVER_BANNER)  # noqa: B010


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )


ErrorBody = Callable[[TsedError], dict[str, Any]]


def error_response(err: TsedError, body: ErrorBody | None = None) -> web.Response:
    """``err`` as its JSON answer: ``body`` builds it (default :meth:`TsedError.to_dict`)."""
    headers = {}
    retry_after = err.details.get("retry_after")
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return json_response((body or TsedError.to_dict)(err), err.status, headers)


class NoSuchRoute(NotFoundError, code="NO_SUCH_ROUTE"):
    """No route has this path."""

    default_hint = "See the API description at /api/v1/openapi.json."


class MethodNotAllowed(InputError, status=405, code="METHOD_NOT_ALLOWED"):
    """The path exists, the method does not (the answer's ``Allow`` names the ones it has)."""


class BodyTooLarge(InputError, status=413, code="BODY_TOO_LARGE"):
    """The body is larger than the server takes (:data:`MAX_BODY` on the register API)."""

    default_hint = "Send smaller bodies; a receipt needs only a few hundred bytes."


class HttpRefused(TsedError, status=400, code="HTTP_ERROR"):
    """Any other refusal of the HTTP library; the instance carries the library's status."""

    default_hint = "See the API description."

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


INTERNAL_HINT = "Retry; if it persists, report it with the journal (journalctl -u tsed)."


def client_source(request: web.Request) -> str:
    """Who is calling (the peer address), for lockouts and the journal."""
    return request.remote or "unknown"


def error_middleware_with(body: ErrorBody | None) -> Callable[..., Any]:
    """The error middleware answering with ``body`` (the admin API adds its texts)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await _answer_errors(request, handler, body)

    return middleware


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await _answer_errors(request, handler, None)


async def _answer_errors(
    request: web.Request, handler: Handler, body: ErrorBody | None
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except TsedError as err:
        response = error_response(err, body)
    except web.HTTPRedirection:
        raise  # a redirect is an answer, not an error (keeps its Location header)
    except web.HTTPRequestEntityTooLarge:
        response = error_response(
            BodyTooLarge(f"the request body is larger than {request.app._client_max_size} bytes"),
            body,
        )
    except web.HTTPNotFound:
        response = error_response(NoSuchRoute(f"there is no {request.path}"), body)
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        response = error_response(
            MethodNotAllowed(
                f"{request.method} is not allowed on {request.path}", hint=f"Use {allowed}."
            ),
            body,
        )
        response.headers["Allow"] = allowed  # RFC 9110 15.5.6: a 405 names what is allowed
    except web.HTTPException as exc:
        response = error_response(HttpRefused(exc.status, exc.reason), body)
    except Exception:
        _LOGGER.exception(
            "internal error on %s %s",
            request.method,
            request.path,
            extra={"TSED_EVENT": "internal_error"},
        )
        response = error_response(
            TsedError("the unit failed to handle this request", hint=INTERNAL_HINT), body
        )
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (strings are skipped), in one pass."""
    depth = deepest = 0
    for match in _STRUCTURE_RE.finditer(text):
        found = match.group()
        if found in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif found in "]}":
            depth -= 1
    return deepest


def parse_json(raw: bytes | str) -> Any:
    """The one JSON parser for request bodies of every server of the unit.

    Stricter than :func:`json.loads`: nesting deeper than :data:`MAX_JSON_DEPTH` and a key
    repeated within one object are refused with :class:`InputError` (a fiscal record must not
    be ambiguous: with ``json.loads`` the last of two ``receipt_type`` keys would win).
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InputError("the request body is not UTF-8") from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InputError(
            f"the request body nests {depth} levels deep; at most {MAX_JSON_DEPTH} are allowed",
            hint="Send the documented flat structure; no request needs deep nesting.",
        )
    try:
        return json.loads(text, object_pairs_hook=_unique_object)
    except _DuplicateKey as err:
        raise InputError(
            f"the key {err.key[:64]!r} appears more than once in one JSON object",
            hint="Send each field once; the unit does not guess which of two values you meant.",
        ) from None
    except (ValueError, RecursionError) as err:
        raise InputError(
            f"the request body is not valid JSON: {str(err)[:200]}",
            hint='Send a JSON object, e.g. {"receipt_type": "RECEIPT", ...}.',
        ) from None


async def read_json_object(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object, or a clear 4xx."""
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            return {}
        raise InputError("the request body is empty; a JSON object is expected")
    if request.content_type not in ("application/json", "application/octet-stream", ""):
        raise InputError(
            f"Content-Type {request.content_type} is not supported",
            hint="Send JSON with Content-Type: application/json.",
        )
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise InputError(f"the request body must be a JSON object, not {type(data).__name__}")
    return data
