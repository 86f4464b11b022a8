"""The installer's setup page: ``/setup/`` on the register API's TLS listener.

A static page (HTML, CSS and JavaScript shipped in the package, no external assets) that calls
the admin API (:mod:`tsed.net.admin`, the same routes ``tsectl`` uses) under
``/setup/api/admin/v1/…``. Instead of the socket's peer check, those routes sit behind a web
session (:mod:`tsed.net.websession`) with a CSRF token on every state-changing call.

==========================================  ==============================================
``GET  /setup/``                             the page
``GET  /setup/static/{name}``                its script and style sheet
``GET  /setup/session``                      ``{logged_in, password_set, mode, lockout,
                                             csrf?}``
``GET  /setup/live``                         what the page polls (:mod:`tsed.net.live`)
``POST /setup/login``                        ``{password}`` → cookie + ``{csrf}``
``POST /setup/first-password``               ``{code, password}``: the first admin password
                                             with the one-time setup code → cookie + ``{csrf}``
``POST /setup/logout``                       ends the session
``*    /setup/api/admin/v1/…``               the admin API (session + CSRF)
==========================================  ==============================================
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any, Protocol

from aiohttp import web

from tsed.errors import AuthError, ForbiddenError, InputError
from tsed.net.admin import ACTOR_KEY, PROOF_REQUIRED_KEY, Handler, build_admin_app
from tsed.net.admin_errors import admin_error_middleware
from tsed.net.admin_operations import AdminOperations
from tsed.net.http import client_source, read_json_object
from tsed.net.live import LiveFeed
from tsed.net.lockout import FailureLimiter
from tsed.net.passwords import PasswordStatus
from tsed.net.setupcode import SetupCodeWrong
from tsed.net.websession import COOKIE, CSRF_HEADER, MAX_SECONDS, WebSessions

_LOGGER = logging.getLogger(__name__)

STATIC = {
    "text.js": "application/javascript; charset=utf-8",
    "common.js": "application/javascript; charset=utf-8",
    "setup.js": "application/javascript; charset=utf-8",
    "archive.js": "application/javascript; charset=utf-8",
    "decommission.js": "application/javascript; charset=utf-8",
    "filingtext.js": "application/javascript; charset=utf-8",
    "filing.js": "application/javascript; charset=utf-8",
    "wizard.js": "application/javascript; charset=utf-8",
    "dashboard.js": "application/javascript; charset=utf-8",
    "certbanner.js": "application/javascript; charset=utf-8",
    "setup.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SetupOperations(AdminOperations, Protocol):
    async def check_password(self, password: str) -> bool: ...

    async def first_password(self, code: str, password: str) -> PasswordStatus: ...


def _asset(name: str) -> bytes:
    return resources.files("tsed.net").joinpath("static", name).read_bytes()


def build_setup_app(
    ops: SetupOperations, sessions: WebSessions, limiter: FailureLimiter
) -> web.Application:
    """The setup page application, mounted at ``/setup`` of the TLS listener."""
    page = _asset("setup.html")
    assets = {name: _asset(name) for name in STATIC}
    feed = LiveFeed(ops)

    @web.middleware
    async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        session = sessions.get(request.cookies.get(COOKIE))
        if session is None:
            raise AuthError(
                "not logged in, or the session has ended",
                hint="Log in on the setup page with the admin password.",
            ).localized("auth.no_session")
        if request.method not in ("GET", "HEAD") and not sessions.csrf_ok(
            session, request.headers.get(CSRF_HEADER)
        ):
            raise ForbiddenError(
                "the request has no valid CSRF token",
                hint="Reload the setup page and try again.",
            ).localized("auth.csrf")
        request[ACTOR_KEY] = session.actor
        request[PROOF_REQUIRED_KEY] = True  # a session alone may not replace the password
        return await handler(request)

    app = web.Application(middlewares=[headers, admin_error_middleware], client_max_size=64 * 1024)

    async def index(_request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html", charset="utf-8")

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in assets:
            raise web.HTTPNotFound()
        return web.Response(body=assets[name], headers={"Content-Type": STATIC[name]})

    async def session_info(request: web.Request) -> web.Response:
        session = sessions.get(request.cookies.get(COOKIE))
        answer: dict[str, Any] = {
            "logged_in": session is not None,
            "password_set": (await ops.password_status()).set,
            # public anyway (mDNS announces it): the login page shows the TEST banner too
            "mode": (await ops.status()).to_json().get("mode"),
        }
        left, wait = limiter.standing(client_source(request))  # survives a reload of the page
        answer["lockout"] = {"attempts_left": left, "retry_after": wait}
        if session is not None:
            answer["csrf"] = session.csrf
        return web.json_response(answer)

    async def live(request: web.Request) -> web.Response:
        if sessions.peek(request.cookies.get(COOKIE)) is None:
            raise AuthError(
                "not logged in, or the session has ended",
                hint="Log in on the setup page with the admin password.",
            )
        return web.json_response(await feed.snapshot())

    async def login(request: web.Request) -> web.Response:
        source = client_source(request)
        with limiter.attempt(source) as attempt:  # checked and counted before any await
            body = await read_json_object(request)
            password = body.get("password")
            if not isinstance(password, str):
                raise InputError('the body must be {"password": "..."}')
            if not (await ops.password_status()).set:
                attempt.uncounted()
                raise AuthError(
                    "no admin password is set yet",
                    hint="Set it first on this page with the setup code (serial console, or "
                    "tsectl setup-code on the unit), or on the unit: tsectl password.",
                ).localized("auth.no_password")
            if not await ops.check_password(password):
                attempt.failed()
                _LOGGER.warning(
                    "setup page: wrong admin password from %s",
                    source,
                    extra={"TSED_EVENT": "login_failed", "TSED_SOURCE": source},
                )
                raise AuthError(
                    "wrong admin password", hint="Check the password and try again."
                ).localized("auth.wrong_password")
            attempt.succeeded()
        return logged_in(source)

    async def first_password(request: web.Request) -> web.Response:
        source = client_source(request)
        with limiter.attempt(source) as attempt:  # wrong codes count like wrong passwords
            body = await read_json_object(request)
            code, password = body.get("code"), body.get("password")
            if not isinstance(code, str) or not isinstance(password, str):
                raise InputError('the body must be {"code": "...", "password": "..."}')
            try:
                await ops.first_password(code, password)
            except SetupCodeWrong:
                attempt.failed()
                _LOGGER.warning(
                    "setup page: wrong setup code from %s",
                    source,
                    extra={"TSED_EVENT": "setup_code_failed", "TSED_SOURCE": source},
                )
                raise
            except Exception:
                attempt.uncounted()  # the code was right (or not checked): no failure
                raise
            attempt.succeeded()
        return logged_in(source)

    def logged_in(source: str) -> web.Response:
        cookie, session = sessions.create(source)
        _LOGGER.info(
            "setup page: %s logged in",
            session.actor,
            extra={"TSED_EVENT": "login", "TSED_ACTOR": session.actor},
        )
        response = web.json_response({"csrf": session.csrf})
        response.set_cookie(
            COOKIE,
            cookie,
            path="/setup",
            secure=True,
            httponly=True,
            samesite="Strict",
            max_age=MAX_SECONDS,
        )
        return response

    async def logout(request: web.Request) -> web.Response:
        session = sessions.get(request.cookies.get(COOKIE))
        if session is not None:
            if not sessions.csrf_ok(session, request.headers.get(CSRF_HEADER)):
                raise ForbiddenError("the request has no valid CSRF token")
            sessions.drop(request.cookies.get(COOKIE))
            _LOGGER.info("setup page: %s logged out", session.actor,
                         extra={"TSED_EVENT": "logout", "TSED_ACTOR": session.actor})  # fmt: skip
        response = web.json_response({"logged_in": False})
        response.del_cookie(COOKIE, path="/setup")
        return response

    async def redirect(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/setup/")

    app.router.add_get("", redirect)
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/session", session_info)
    app.router.add_get("/live", live)
    app.router.add_post("/login", login)
    app.router.add_post("/first-password", first_password)
    app.router.add_post("/logout", logout)
    app.add_subapp("/api", build_admin_app(ops, guard=guard))
    return app
