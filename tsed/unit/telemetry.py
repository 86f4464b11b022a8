"""Fleet telemetry: the unit's metrics pushed to the chain's Prometheus Pushgateway.

Units sit behind shop NAT and proxies, so the chain's Prometheus cannot scrape them; with
``telemetry.enabled`` the unit pushes instead. Every ``telemetry.interval`` seconds
:class:`TelemetryPusher` reads the unit's registry (:class:`~tsed.unit.fleetmetrics.
FleetMetrics`), lets :func:`prometheus_client.exposition.push_to_gateway` build the request (the
exposition format and the grouping-key path are prometheus-client's: job ``tsed``, labels
``unit`` = the device id plus the configured ``chain`` and ``shop``) and sends it with httpx:
through the shop's proxy (:func:`tsed.tss.access.proxy_settings`), over TLS verified against the
system CA bundle or ``telemetry.ca_file``, with the unit's own credential from the vault
(:data:`TOKEN_KEY`: a Basic password or a bearer token, ``tsectl telemetry set-token``).

The gateway going away never touches signing: the pushes run in their own task, one at a
time, each within :func:`push_timeout`; a failure waits longer before the next try
(:func:`next_delay`, doubling up to :data:`MAX_BACKOFF`), and nothing is queued: each push
sends the values of its moment, so a gateway that was down for a day gets one push when it is
back. What happened last is in :meth:`TelemetryPusher.status` (``tsectl status``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.exposition import push_to_gateway

from tsed.config.model import Config
from tsed.config.telemetry import Telemetry
from tsed.errors import TsedError
from tsed.fiskaly.transport import ProxySettings
from tsed.state.vault import Vault
from tsed.tss.access import proxy_settings
from tsed.unit.fleetmetrics import FleetMetrics, FleetSources

_LOGGER = logging.getLogger(__name__)

TOKEN_KEY = "telemetry.token"  # noqa: S105 - the vault entry name
JOB = "tsed"
MAX_TIMEOUT = 10.0  # seconds for each step of a push (see push_timeout)
MAX_BACKOFF = 900.0  # the longest wait after failures (or the interval, if longer)
MAX_BODY = 256 * 1024  # a push larger than this is refused (the metrics are a few KiB)
IDLE_CHECK = 30.0  # while off, how often the configuration is looked at again


class TelemetryFailed(TsedError, status=502, code="TELEMETRY_FAILED"):
    """One push failed; the message says why, without any secret. Never reaches a register:
    the push task records it for ``tsectl status`` and tries again later."""

    default_hint = (
        "Check telemetry.gateway, the credential (tsectl telemetry set-token) and the proxy; "
        "signing is not affected."
    )


@dataclass(frozen=True, slots=True)
class TelemetryStatus:
    """What ``tsectl status`` shows of the telemetry push."""

    enabled: bool
    gateway: str | None
    token_set: bool
    last_push_at: float | None  # Unix time of the last successful push
    last_error: str | None
    last_error_at: float | None
    pushes: int
    failures: int
    last_bytes: int | None  # request body of the last successful push

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "gateway": self.gateway,
            "token_set": self.token_set,
            "last_push_at": self.last_push_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "pushes": self.pushes,
            "failures": self.failures,
            "last_bytes": self.last_bytes,
        }


@dataclass(frozen=True, slots=True)
class PushRequest:
    """The request prometheus-client built (URL with the grouping key, headers, body)."""

    url: str
    method: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def push_timeout(telemetry: Telemetry) -> float:
    """httpx's timeout for each step of a push (connect with the TLS handshake, write, read);
    the whole push is cut off at twice that, so it always ends within half the interval."""
    return min(MAX_TIMEOUT, telemetry.interval / 4)


def next_delay(interval: float, failures: int, jitter: float = 0.0) -> float:
    """Seconds until the next push: the interval, doubled per failure in a row up to
    :data:`MAX_BACKOFF` (never below the interval); ``jitter`` (0..1) adds up to 10 %."""
    delay = interval if failures == 0 else min(interval * 2**failures, max(MAX_BACKOFF, interval))
    return delay * (1 + 0.1 * jitter)


def build_request(telemetry: Telemetry, metrics: FleetMetrics, unit_id: str) -> PushRequest:
    """prometheus-client's push, with a handler that keeps the request instead of sending it
    (the sending is async, through the proxy: :meth:`TelemetryPusher.push`)."""
    assert telemetry.gateway is not None
    built: list[PushRequest] = []

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        def keep() -> None:
            built.append(PushRequest(url, method, tuple(headers), data))

        return keep

    push_to_gateway(
        telemetry.gateway,
        job=JOB,
        registry=metrics.registry,
        grouping_key={"unit": unit_id, **telemetry.grouping},
        timeout=push_timeout(telemetry),
        handler=handler,
    )
    return built[0]


def _proxy(proxy: ProxySettings | None) -> httpx.Proxy | None:
    if proxy is None:
        return None
    auth = (proxy.username, proxy.password or "") if proxy.username else None
    return httpx.Proxy(f"http://{proxy.display}", auth=auth)


class TelemetryPusher:
    """The push task: ``start()`` / ``stop()`` (both safe to call twice), ``reconfigure()``
    when a telemetry setting or the token changed, ``status()``."""

    def __init__(
        self,
        *,
        config: Callable[[], Config],
        vault: Vault,
        unit_id: str,
        metrics: FleetMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._vault = vault
        self._unit_id = unit_id
        self._metrics = metrics
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        self._client_key: tuple[object, ...] | None = None
        self._contexts: dict[str | None, ssl.SSLContext] = {}
        self._failures_in_row = 0
        self._last_push_at: float | None = None
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._pushes = 0
        self._failures = 0
        self._last_bytes: int | None = None
        self._random = random.SystemRandom()

    @classmethod
    def for_unit(
        cls,
        *,
        config: Callable[[], Config],
        vault: Vault,
        sources: FleetSources,
        clock: Callable[[], float] = time.time,
    ) -> TelemetryPusher:
        """The unit's push: its device id in the grouping key, its registry as the metrics."""
        return cls(
            config=config, vault=vault, unit_id=sources.identity.device_id,
            metrics=FleetMetrics(sources), clock=clock,
        )  # fmt: skip

    @property
    def metrics(self) -> FleetMetrics:
        return self._metrics

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tsed-telemetry")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_client()

    def reconfigure(self) -> None:
        """A setting or the token changed: push soon with the new ones (or stop pushing)."""
        self._failures_in_row = 0
        self._contexts.clear()  # a replaced CA file is read again
        self._wake.set()

    def status(self) -> TelemetryStatus:
        telemetry = self._config().telemetry
        return TelemetryStatus(
            enabled=telemetry.enabled,
            gateway=telemetry.gateway,
            token_set=self._vault.get(TOKEN_KEY) is not None,
            last_push_at=self._last_push_at,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            pushes=self._pushes,
            failures=self._failures,
            last_bytes=self._last_bytes,
        )

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            telemetry = self._config().telemetry
            if not telemetry.enabled:
                await self._close_client()
                await self._sleep(IDLE_CHECK)
                continue
            try:
                await self.push()
            except TelemetryFailed as err:
                self._record_failure(err.message)
            except Exception as err:  # never let the task die: report and try again later
                _LOGGER.exception("telemetry push failed unexpectedly")
                self._record_failure(f"unexpected error: {type(err).__name__}")
            delay = next_delay(telemetry.interval, self._failures_in_row, self._random.random())
            await self._sleep(delay)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _record_failure(self, message: str) -> None:
        self._failures += 1
        self._failures_in_row += 1
        first = self._last_error != message
        self._last_error, self._last_error_at = message, self._clock()
        (_LOGGER.warning if first else _LOGGER.debug)(
            "telemetry push failed (%d in a row): %s",
            self._failures_in_row,
            message,
            extra={"TSED_EVENT": "telemetry_failed"},
        )

    # -- one push -------------------------------------------------------------------------

    async def push(self) -> int:
        """Push once now; returns the body's size in bytes. Raises :class:`TelemetryFailed`."""
        config = self._config()
        telemetry = config.telemetry
        if telemetry.gateway is None:
            raise TelemetryFailed("telemetry.gateway is not set")
        token = self._vault.get(TOKEN_KEY)
        if not token:
            raise TelemetryFailed("no telemetry credential: set it with tsectl telemetry set-token")
        await self._metrics.refresh()
        request = build_request(telemetry, self._metrics, self._unit_id)
        if len(request.body) > MAX_BODY:
            raise TelemetryFailed(f"the metrics are {len(request.body)} bytes (limit {MAX_BODY})")
        headers = dict(request.headers)
        auth: httpx.Auth | None = None
        if telemetry.auth == "bearer":
            headers["Authorization"] = f"Bearer {token}"
        else:
            auth = httpx.BasicAuth(telemetry.username or self._unit_id, token)
        client = await self._http(telemetry, proxy_settings(config, self._vault))
        timeout = push_timeout(telemetry)
        try:
            # httpx's own timeouts end a hung handshake and close its socket; this one is the
            # backstop for a gateway that answers a byte at a time
            async with asyncio.timeout(2 * timeout):
                response = await client.request(
                    request.method, request.url, content=request.body, headers=headers, auth=auth
                )
        except TimeoutError:
            await self._close_client()
            raise TelemetryFailed(f"no answer from the gateway within {timeout:g} s") from None
        except httpx.TimeoutException:
            await self._close_client()
            raise TelemetryFailed(f"no answer from the gateway within {timeout:g} s") from None
        except httpx.ProxyError as err:
            await self._close_client()
            raise TelemetryFailed(f"the proxy refused the connection: {_reason(err)}") from None
        except httpx.TransportError as err:
            await self._close_client()
            raise TelemetryFailed(f"cannot reach the gateway: {_reason(err)}") from None
        if response.status_code in (401, 403):
            raise TelemetryFailed(
                f"the gateway refused the unit's credential (HTTP {response.status_code})"
            )
        if not 200 <= response.status_code < 300:
            raise TelemetryFailed(f"the gateway answered HTTP {response.status_code}")
        self._pushes += 1
        self._failures_in_row = 0
        self._last_push_at = self._clock()
        self._last_bytes = len(request.body)
        if self._last_error is not None:
            _LOGGER.info(
                "telemetry pushes again to %s", telemetry.gateway,
                extra={"TSED_EVENT": "telemetry_recovered"},
            )  # fmt: skip
            self._last_error = None
        return len(request.body)

    async def _http(self, telemetry: Telemetry, proxy: ProxySettings | None) -> httpx.AsyncClient:
        """One client per (proxy, CA, timeout): kept between pushes, so the TLS session is too."""
        timeout = push_timeout(telemetry)
        key = (proxy, telemetry.ca_file, timeout)
        if self._client is not None and self._client_key == key:
            return self._client
        await self._close_client()
        context = await self._context(telemetry.ca_file)
        self._client = httpx.AsyncClient(
            verify=context,
            proxy=_proxy(proxy),
            timeout=httpx.Timeout(timeout),
            trust_env=False,  # the shop's proxy is the configured one, never the environment's
            follow_redirects=False,
        )
        self._client_key = key
        return self._client

    async def _context(self, ca_file: str | None) -> ssl.SSLContext:
        """The system CA bundle, or only the configured CA file (read off the event loop)."""
        if ca_file not in self._contexts:
            try:
                context = await asyncio.to_thread(ssl.create_default_context, cafile=ca_file)
            except (OSError, ssl.SSLError) as err:
                reason = getattr(err, "strerror", None) or err
                raise TelemetryFailed(f"cannot use telemetry.ca_file {ca_file}: {reason}") from None
            self._contexts[ca_file] = context
        return self._contexts[ca_file]

    async def _close_client(self) -> None:
        client, self._client, self._client_key = self._client, None, None
        if client is not None:
            await client.aclose()


def _reason(err: Exception) -> str:
    """An httpx error in a few words (its text never holds the credential: it is a header)."""
    text = str(err).strip() or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."
