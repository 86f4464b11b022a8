"""HTTP to fiskaly: one warm connection pool, proxy, timeouts, retries, error mapping.

The httpx API runs over aiohttp's transport (``httpx-aiohttp``): on this hardware it forwards
about 7x more requests per second than httpx's default transport (see
``tests/bench/bench_transport.py``), keeps httpx's testability (respx) and supports proxies.
``trust_env`` is off: the proxy is installer configuration, never inherited from the
environment, and when it is set every request goes through it.

Retries happen only where they are safe: network errors, 5xx, 429 (honouring
``Retry-After``), ``503 E_TSS_LOCKED``, 499 and 444 ``E_MIDDLEWARE_PENDING_REQUEST`` (fiskaly
asks for those to be retried), and only for idempotent calls (every fiskaly PUT/PATCH/GET is
idempotent by design; ``POST /auth`` is safe to repeat). Backoff is exponential with jitter,
and no retry ever runs past the call's deadline.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json as _json
import logging
import os
import random
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import certifi
import httpx
from httpx_aiohttp import HttpxAiohttpClient

from tsed.fiskaly import errors as err

_LOGGER = logging.getLogger(__name__)
USER_AGENT = "tsed (TSE-LAN unit)"


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """The shop's HTTP proxy. The password never appears in a repr, log or message."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def to_httpx(self) -> httpx.Proxy:
        # Credentials never go inside the URL. aiohttp takes the proxy's credentials from the
        # "Authorization" entry of the proxy headers and sends them as Proxy-Authorization,
        # with CONNECT (https targets) and with absolute-URI requests (http targets) alike.
        headers = {}
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return httpx.Proxy(f"http://{self.display}", headers=headers)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds per call class. TSS personalization can take long (fiskaly: ≥ 30 s)."""

    default: float = 10.0
    transaction: float = 3.0
    tss_setup: float = 60.0
    export: float = 60.0
    connect: float = 5.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.1
    max_delay: float = 2.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter for the ``attempt``-th retry (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** (attempt - 1)))
        return ceiling / 2 + random.random() * ceiling / 2  # noqa: S311 - jitter, not crypto


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_from_response(response: httpx.Response, what: str) -> err.FiskalyError:
    """The typed error for a fiskaly error answer."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = body.get("code") if isinstance(body.get("code"), str) else None
    message = str(body.get("message") or response.reason_phrase or "")
    text = f"{what}: fiskaly answered {status}" + (f" {code}" if code else "") + f": {message}"
    kwargs: dict[str, Any] = {
        "fiskaly_status": status,
        "fiskaly_code": code,
        "fiskaly_message": message,
        "details": {"fiskaly_status": status, "fiskaly_code": code},
    }
    if status == 407:
        return err.ProxyAuthRequired(f"{what}: the proxy requires authentication (HTTP 407)")
    # fiskaly's code first: the same code comes with more than one status (E_CLIENT_DEREGISTERED
    # as 400 and as 401), and one status means different things (401: token, key or admin PIN).
    if code in _BY_CODE:
        return _BY_CODE[code](text, **kwargs)
    if code == "E_MIDDLEWARE_PENDING_REQUEST" or status in (444, 499):
        return err.FiskalyBusy(text, details=kwargs["details"])
    if status == 429:
        return err.FiskalyRateLimited(text, retry_after=_retry_after(response))
    if status == 401:
        return err.BadCredentials(text, **kwargs)
    if status >= 500:
        return err.FiskalyUnavailable(text, details=kwargs["details"])
    if status == 404:
        return err.FiskalyNotFound(text, **kwargs)
    return err.FiskalyRejected(text, **kwargs)


_BY_CODE: dict[str, type[err.FiskalyRejected]] = {
    "E_CLIENT_DEREGISTERED": err.ClientDeregistered,
    "E_ADMIN_PIN_BLOCKED": err.AdminPinBlocked,
    "E_ACCESS_DENIED": err.AccessDenied,
    "E_CLIENT_LIMIT_REACHED": err.ClientLimitReached,
    "E_TX_LIMIT_REACHED": err.TransactionLimitReached,
    "E_TSS_LIMIT_REACHED": err.LimitReached,
    "E_TSS_LIMIT_PER_DAY_REACHED": err.LimitReached,
    "E_TX_UPSERT": err.RevisionConflict,
    "E_TSS_NOT_INITIALIZED": err.TssNotReady,
    "E_TSS_DISABLED": err.TssNotReady,
    "E_TSS_LOCKED": err.TssLocked,
    "E_TSS_DEFECTIVE": err.TssUnusable,
    "E_TSS_DELETED": err.TssUnusable,
    "E_TSS_EVICTED": err.TssUnusable,
    "E_CERTIFICATE_EXPIRED": err.TssUnusable,
}


def error_from_exception(
    exc: BaseException, what: str, proxy: ProxySettings | None, host: str
) -> err.FiskalyError:
    """The typed error for a failure below HTTP (network, DNS, TLS, proxy, timeout)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 6:
        chain.append(current)
        current = current.__cause__ or current.__context__
    kinds = tuple(type(item) for item in chain)

    def has(*types: type[BaseException]) -> bool:
        return any(issubclass(kind, types) for kind in kinds)

    detail = type(chain[-1]).__name__
    # httpx-aiohttp labels every aiohttp connection error a "ConnectTimeout": look at the
    # original aiohttp/OS exceptions in the chain, and only call it a timeout when one is.
    if proxy is not None:
        for item in chain:
            if isinstance(item, aiohttp.ClientHttpProxyError) and item.status == 407:
                return err.ProxyAuthRequired(
                    f"{what}: the proxy {proxy.display} requires authentication (HTTP 407)"
                )
        if has(aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError, httpx.ProxyError):
            return err.ProxyError(
                f"{what}: the proxy {proxy.display} is unreachable or refused the connection "
                f"({detail})"
            )
    if has(aiohttp.ClientConnectorDNSError):
        return err.DnsError(f"{what}: the name {host} cannot be resolved")
    if has(ssl.SSLError, aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError):
        return err.TlsError(f"{what}: TLS with {host} failed ({detail})")
    if has(TimeoutError):
        return err.FiskalyTimeout(f"{what}: fiskaly ({host}) did not answer in time")
    if proxy is not None and has(aiohttp.ClientConnectorError, ConnectionError):
        return err.ProxyError(
            f"{what}: the proxy {proxy.display} is unreachable or refused the connection"
        )
    if has(aiohttp.ClientConnectorError, ConnectionRefusedError):
        return err.FiskalyUnavailable(f"{what}: cannot connect to fiskaly ({host}): {detail}")
    return err.FiskalyUnavailable(f"{what}: cannot reach fiskaly ({host}): {detail}")


@functools.lru_cache(maxsize=4)
def tls_context(cafile: str) -> ssl.SSLContext:
    """What fiskaly's certificate is checked against: the Mozilla bundle (certifi), or the file
    named by ``SSL_CERT_FILE`` (OpenSSL's convention: the image's store, or a test CA). The
    environment is otherwise ignored (``trust_env=False``: no proxy from the environment)."""
    return ssl.create_default_context(cafile=cafile)


class _NoCookies(httpx.Cookies):
    """fiskaly's API sets no cookies: nothing to parse out of every answer."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _Client(HttpxAiohttpClient):
    """The httpx client without a cookie jar (feeding it cost about 5 % of the unit's CPU)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        return None


_NO_COOKIES = _NoCookies()


_PLAIN_PATH = re.compile(r"[A-Za-z0-9/_.~-]*")
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9_.~=&-]*")


class _UrlMaker:
    """URLs of calls under one base URL, without parsing each one again.

    httpx checks every character of a URL string it parses (about 5 % of the unit's CPU per
    receipt). fiskaly paths are fixed words and UUIDs, so the parsed base is reused and only
    path and query are set. The shortcut proves itself against httpx's own parser once (and
    stays off if httpx's internals differ); a path or query with other characters is parsed.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        base = httpx.URL(base_url)
        self._reference: Any = getattr(base, "_uri_reference", None)
        self._fast = False
        if self._reference is not None and not base.query and not base.fragment:
            sample = "/tss/0b6f5b9e-0000-4000-8000-000000000000/tx/x_y.z~1", "a=2&b_c=x.y"
            try:
                made, parsed = self._make(*sample), self._parse(*sample)
                self._fast = made == parsed and str(made) == str(parsed)
            except (AttributeError, TypeError, ValueError):
                self._fast = False

    def url(self, path: str, query: str | None) -> httpx.URL:
        if (
            self._fast
            and _PLAIN_PATH.fullmatch(path)
            and (query is None or _PLAIN_QUERY.fullmatch(query))
        ):
            return self._make(path, query)
        return self._parse(path, query)

    def _parse(self, path: str, query: str | None) -> httpx.URL:
        return httpx.URL(self.base_url + path + (f"?{query}" if query else ""))

    def _make(self, path: str, query: str | None) -> httpx.URL:
        url = httpx.URL.__new__(httpx.URL)
        reference = self._reference
        url._uri_reference = reference._replace(path=reference.path + path, query=query)
        return url


class HttpCore:
    """One keep-alive pool to one fiskaly host, with timeouts, retries and error mapping."""

    def __init__(
        self,
        base_url: str,
        *,
        proxy: ProxySettings | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.proxy = proxy
        self.last_failure: err.FiskalyError | None = None  # of the latest attempt, if it failed
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._transport = transport
        self._max_connections = max_connections
        self._client: httpx.AsyncClient | None = None
        self._headers: dict[str, str] = {}
        self.host = httpx.URL(self.base_url).host
        self._urls = _UrlMaker(self.base_url)
        self._header_cache: dict[tuple[str | None, bool], httpx.Headers] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._client is not None:
            return
        limits = httpx.Limits(
            max_connections=self._max_connections,
            max_keepalive_connections=self._max_connections,
            keepalive_expiry=60.0,
        )
        self._client = _Client(
            base_url=self.base_url,
            proxy=self.proxy.to_httpx() if self.proxy else None,
            transport=self._transport,
            trust_env=False,
            verify=tls_context(os.environ.get("SSL_CERT_FILE") or certifi.where()),
            limits=limits,
            timeout=httpx.Timeout(self.timeouts.default, connect=self.timeouts.connect),
            headers={"User-Agent": USER_AGENT},
        )
        self._headers = dict(self._client.headers)

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        retiring, self._retiring = self._retiring, set()
        for task in retiring:
            task.cancel()  # closes its pool now
        await asyncio.gather(*retiring, return_exceptions=True)

    async def set_proxy(self, proxy: ProxySettings | None) -> None:
        """Use ``proxy`` from the next call on (the installer changed it). Calls in flight end
        on the old pool, which closes once the longest call could have taken."""
        if proxy == self.proxy:
            return
        self.proxy = proxy
        old, self._client = self._client, None
        if old is not None:
            task = asyncio.create_task(self._retire(old), name="tsed-fiskaly-old-pool")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, client: httpx.AsyncClient) -> None:
        t = self.timeouts
        try:
            await asyncio.sleep(max(t.default, t.transaction, t.tss_setup, t.export))
        finally:
            await client.aclose()

    def _headers_for(self, token: str | None, has_body: bool) -> httpx.Headers:
        """The request headers, checked and normalized by httpx once per token rather than
        for every request (character by character; a bearer token has about 600)."""
        key = (token, has_body)
        headers = self._header_cache.get(key)
        if headers is None:
            plain = dict(self._headers)
            if token:
                plain["Authorization"] = f"Bearer {token}"
            if has_body:
                plain["Content-Type"] = "application/json"
            headers = httpx.Headers(plain)
            if len(self._header_cache) >= 8:  # old tokens
                self._header_cache.clear()
            self._header_cache[key] = headers
        return headers

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Hand ``request`` to the transport and read the whole answer.

        ``AsyncClient.send`` is skipped on purpose: its auth flow, redirect handling, event
        hooks and the stream wrappers it reads the body through are not used with fiskaly
        and cost about a third of the CPU of a call (``tests/bench/bench_transport.py``).
        The transport is still the one the client chooses for the URL (the proxy mount;
        respx patches exactly this choice in the tests).
        """
        assert self._client is not None
        transport = self._client._transport_for_url(request.url)
        response = await transport.handle_async_request(request)
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        try:
            body = b"".join([chunk async for chunk in stream])
        finally:
            await stream.aclose()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            request=request,
            extensions=response.extensions,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: Any = None,
        token: str | None = None,
        attempt_timeout: float | None = None,
        deadline: float | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send one call; returns the 2xx response or raises a :class:`FiskalyError`.

        ``deadline`` is a ``time.monotonic()`` instant no attempt or retry may pass.
        """
        if self._client is None:
            await self.start()
        assert self._client is not None
        per_attempt = attempt_timeout if attempt_timeout is not None else self.timeouts.default
        url = self._urls.url(path, str(httpx.QueryParams(params)) if params else None)
        content = None
        if json is not None:
            content = _json.dumps(
                json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
        headers = self._headers_for(token, content is not None)
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise err.FiskalyTimeout(f"{what}: no time left to ask fiskaly")
            budget = per_attempt if remaining is None else min(per_attempt, remaining)
            started = time.monotonic()
            failure: err.FiskalyError
            retry_after: float | None = None
            try:
                # The request is built here rather than by ``client.request``: merging URLs,
                # headers and cookies there parsed every URL three times (~15 % of the unit's
                # CPU per receipt); what goes on the wire is the same.
                # One deadline for the whole attempt (``asyncio.timeout`` below) and a connect
                # timeout for a new connection: no per-chunk read timeout, no pool timeout.
                # Those are covered by the deadline, and aiohttp re-armed a timer for each
                # chunk it read (4 of the 8 timers a start + finish armed).
                timeout = httpx.Timeout(None, connect=min(budget, self.timeouts.connect))
                request = httpx.Request(
                    method,
                    url,
                    headers=headers,
                    content=content,
                    extensions={"timeout": timeout.as_dict()},
                )
                async with asyncio.timeout(budget):
                    response = await self._send(request)
            except (httpx.HTTPError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                failure = error_from_exception(exc, what, self.proxy, self.host)
                if isinstance(failure, err.ProxyAuthRequired):
                    raise failure from None
            else:
                elapsed_ms = (time.monotonic() - started) * 1000
                _LOGGER.debug(
                    "fiskaly %s %s -> %s in %.1f ms", method, path, response.status_code,
                    elapsed_ms,
                    extra={"TSED_EVENT": "fiskaly_call", "TSED_HTTP_STATUS": response.status_code},
                )  # fmt: skip
                if response.status_code < 400:
                    self.last_failure = None
                    return response
                failure = error_from_response(response, what)
                if isinstance(failure, err.FiskalyRateLimited):
                    retry_after = failure.retry_after
                elif isinstance(failure, err.TssLocked):
                    retry_after = _retry_after(response)
                retryable = isinstance(
                    failure, err.FiskalyUnavailable | err.TssLocked
                ) and not isinstance(failure, err.ProxyAuthRequired)
                if not retryable:
                    _LOGGER.info(
                        "%s", failure.message,
                        extra={"TSED_EVENT": "fiskaly_rejected",
                               "TSED_FISKALY_CODE": getattr(failure, "fiskaly_code", None)},
                    )  # fmt: skip
                    raise failure
            self.last_failure = failure
            if not idempotent or attempt >= self.retry.attempts:
                raise failure
            delay = self.retry.delay(attempt)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.retry.max_retry_after))
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise failure
            _LOGGER.info(
                "%s; retry %d in %.2f s", failure.message, attempt, delay,
                extra={"TSED_EVENT": "fiskaly_retry"},
            )  # fmt: skip
            await asyncio.sleep(delay)
