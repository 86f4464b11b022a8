"""The connection test's building blocks: step results and the network steps.

DNS for the fiskaly host, the proxy (a real ``CONNECT`` to the fiskaly host, with the proxy
credentials when set) and TLS (a full handshake with certificate verification, through the
proxy tunnel when one is set). See :mod:`tsed.provisioning.conntest` for the whole test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from tsed.errors import TsedError
from tsed.fiskaly import errors as ferr
from tsed.fiskaly.transport import ProxySettings

_LOGGER = logging.getLogger(__name__)
Verdict = Literal["ok", "warn", "fail", "skipped"]
_MARKS = {"ok": "[ OK ]", "warn": "[WARN]", "fail": "[FAIL]", "skipped": "[SKIP]"}
_TITLES = {
    "config": "Configuration saved",
    "dns": "DNS",
    "proxy": "Proxy",
    "tls": "TLS",
    "auth": "Authentication",
    "environment": "TEST/LIVE",
    "tss": "TSS",
    "clients": "Registers",
    "clock": "Clock",
}


@dataclass(frozen=True, slots=True)
class StepResult:
    step: str
    verdict: Verdict
    detail: str
    hint: str | None = None
    tenant: str | None = None
    duration_ms: float = 0.0

    @property
    def title(self) -> str:
        title = _TITLES.get(self.step, self.step)
        return f"{title} ({self.tenant})" if self.tenant else title

    def line(self) -> str:
        text = f"{_MARKS[self.verdict]} {self.title}: {self.detail}"
        if self.hint and self.verdict in ("warn", "fail"):
            text += f"\n       -> {self.hint}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "title": self.title,
            "tenant": self.tenant,
            "verdict": self.verdict,
            "detail": self.detail,
            "hint": self.hint,
            "duration_ms": round(self.duration_ms, 1),
        }


def error_hint(err: BaseException) -> str | None:
    return err.hint if isinstance(err, TsedError) else None


def error_text(err: BaseException) -> str:
    return err.message if isinstance(err, TsedError) else f"{type(err).__name__}: {err}"


async def timed(
    name: str, tenant: str | None, step_timeout: float, body: Callable[[], Awaitable[StepResult]]
) -> StepResult:
    started = time.monotonic()
    try:
        async with asyncio.timeout(step_timeout):
            result = await body()
    except TimeoutError:
        result = StepResult(
            name,
            "fail",
            f"no answer within {step_timeout:.0f} s",
            "Check the network path to fiskaly (and the proxy).",
        )
    except TsedError as err:
        result = StepResult(name, "fail", error_text(err), error_hint(err))
    except Exception as err:  # a step never breaks the whole test
        _LOGGER.warning("connection test step %s failed unexpectedly: %r", name, err)
        result = StepResult(
            name, "fail", f"unexpected error: {type(err).__name__}", TsedError.default_hint
        )
    elapsed = (time.monotonic() - started) * 1000
    return StepResult(result.step, result.verdict, result.detail, result.hint, tenant, elapsed)


# -- network steps ----------------------------------------------------------------------------


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_dns(host: str, port: int, proxy: ProxySettings | None) -> StepResult:
    if _is_ip(host):
        return StepResult("dns", "ok", f"{host} is an IP address (no lookup needed)")
    try:
        addresses = await _resolve(host, port)
    except OSError as err:
        if proxy is not None:
            return StepResult(
                "dns", "skipped", f"the unit cannot resolve {host} itself; the proxy resolves it"
            )
        return StepResult(
            "dns",
            "fail",
            f"{host} cannot be resolved ({err.strerror or err})",
            ferr.DnsError.default_hint,
        )
    return StepResult("dns", "ok", f"{host} -> {', '.join(addresses[:4])}")


async def _connect_tunnel(
    proxy: ProxySettings, host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int, str]:
    """Open a CONNECT tunnel through the proxy; returns the streams and the proxy's status."""
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
    if proxy.username:
        token = base64.b64encode(f"{proxy.username}:{proxy.password or ''}".encode()).decode()
        request += f"Proxy-Authorization: Basic {token}\r\n"
    writer.write((request + "\r\n").encode("latin-1"))
    await writer.drain()
    status_line = (await reader.readline()).decode("latin-1").strip()
    for _ in range(100):  # the rest of the proxy's answer head
        if (await reader.readline()) in (b"\r\n", b"\n", b""):
            break
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not (parts[1].isascii() and parts[1].isdigit()):
        writer.close()
        return reader, writer, 0, status_line or "connection closed without an answer"
    return reader, writer, int(parts[1]), parts[2] if len(parts) > 2 else ""


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


async def check_proxy(proxy: ProxySettings, host: str, port: int) -> StepResult:
    try:
        _reader, writer, status, reason = await _connect_tunnel(proxy, host, port)
    except OSError as err:
        return StepResult(
            "proxy",
            "fail",
            f"the proxy {proxy.display} is unreachable ({err.strerror or err})",
            ferr.ProxyError.default_hint,
        )
    await _close(writer)
    if status == 200:
        return StepResult("proxy", "ok", f"{proxy.display} lets the unit through to {host}:{port}")
    if status == 407:
        what = "refused the proxy credentials" if proxy.username else "wants credentials"
        return StepResult(
            "proxy",
            "fail",
            f"the proxy {proxy.display} {what} (HTTP 407)",
            ferr.ProxyAuthRequired.default_hint,
        )
    shown = f"HTTP {status} {reason}".strip() if status else reason
    return StepResult(
        "proxy",
        "fail",
        f"the proxy {proxy.display} refused the way to {host}:{port} ({shown})",
        ferr.ProxyError.default_hint,
    )


async def check_tls(
    host: str, port: int, proxy: ProxySettings | None, context: ssl.SSLContext
) -> StepResult:
    writer: asyncio.StreamWriter | None = None
    try:
        if proxy is not None:
            _reader, writer, status, reason = await _connect_tunnel(proxy, host, port)
            if status != 200:
                return StepResult(
                    "tls",
                    "fail",
                    f"no tunnel through the proxy ({reason})",
                    ferr.ProxyError.default_hint,
                )
            await writer.start_tls(context, server_hostname=host)
        else:
            _reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host
            )
        tls = writer.get_extra_info("ssl_object")
        cert = tls.getpeercert() if tls is not None else None
        version = tls.version() if tls is not None else "?"
        until = f", certificate valid until {cert['notAfter']}" if cert else ""
        return StepResult("tls", "ok", f"{version} with {host}, certificate verified{until}")
    except ssl.SSLCertVerificationError as err:
        return StepResult(
            "tls",
            "fail",
            f"the certificate of {host} is not trusted ({err.verify_message})",
            ferr.TlsError.default_hint,
        )
    except (ssl.SSLError, OSError) as err:
        return StepResult(
            "tls", "fail", f"TLS with {host} failed ({err})", ferr.TlsError.default_hint
        )
    finally:
        if writer is not None:
            await _close(writer)


async def check_saved_proxy(proxy: ProxySettings, host: str, port: int, backend: str) -> StepResult:
    """The saved proxy while the unit's backend does not use it (the built-in simulator).

    The unit can still try the way it will need: a ``CONNECT`` to the fiskaly host through the
    proxy. The answer says what was checked and what not (the installer reads it on the page).
    """
    shown = f"Proxy {proxy.display}"
    later = f"Signiert wird derzeit mit {backend} (ohne Proxy)"
    target = f"fiskaly ({host}:{port})"
    try:
        _reader, writer, status, reason = await _connect_tunnel(proxy, host, port)
    except OSError as err:
        return StepResult(
            "proxy",
            "fail",
            f"{shown}: keine Verbindung ({err.strerror or err}); {target} über den Proxy "
            f"nicht geprüft. {later}.",
            "Proxy-Host und -Port prüfen (beim Netzwerk-Administrator erfragen) oder den Proxy "
            "aus der Konfiguration entfernen, wenn die Einheit direkt ins Internet kommt.",
        )
    await _close(writer)
    if status == 200:
        return StepResult(
            "proxy", "ok", f"{shown} erreichbar, {target} über den Proxy erreichbar. {later}."
        )
    if status == 407:
        what = "lehnt die Proxy-Anmeldedaten ab" if proxy.username else "verlangt Anmeldedaten"
        return StepResult(
            "proxy",
            "fail",
            f"{shown} {what} (HTTP 407); {target} über den Proxy nicht erreichbar. {later}.",
            "Proxy-Benutzer und -Passwort beim Netzwerk-Administrator erfragen und eintragen.",
        )
    answer = f"HTTP {status} {reason}".strip() if status else "ohne Antwort geschlossen"
    return StepResult(
        "proxy",
        "warn",
        f"{shown} antwortet, aber {target} ist über den Proxy nicht erreichbar ({answer}). "
        f"{later}.",
        "Der Proxy muss HTTPS-Verbindungen (CONNECT) zu fiskaly auf Port 443 erlauben: mit dem "
        "Netzwerk-Administrator klären. Mit echten fiskaly-Zugangsdaten könnte die Einheit so "
        "nicht signieren.",
    )
