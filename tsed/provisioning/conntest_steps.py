"""The connection test's building blocks: step results and the network steps.

DNS for the fiskaly host, the proxy (a real ``CONNECT`` to the fiskaly host, with the proxy
credentials when set) and TLS (a full handshake with certificate verification, through the
proxy tunnel when one is set). See :mod:`tsed.provisioning.conntest` for the whole test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from tsed.errors import TsedError
from tsed.fiskaly.transport import ProxySettings
from tsed.texts.steps import ERROR_ID, step_detail, step_hint

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
    """One step's verdict. ``detail`` and ``hint`` are English (the journal, ``--lang en``);
    ``detail_id`` and ``detail_args`` name the catalogue line they were made from
    (:mod:`tsed.texts.lines_conntest`), so tsectl, the console and the page show it in German."""

    step: str
    verdict: Verdict
    detail: str
    hint: str | None = None
    tenant: str | None = None
    duration_ms: float = 0.0
    detail_id: str | None = None
    detail_args: Mapping[str, str] = field(default_factory=dict)

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
            "detail_id": self.detail_id,
            "detail_args": dict(self.detail_args),
        }


def outcome(
    step: str, verdict: Verdict, detail_id: str, tenant: str | None = None, **values: Any
) -> StepResult:
    """A step's result from its catalogue line: the English detail and hint filled in."""
    args = {name: str(value) for name, value in values.items()}
    return StepResult(
        step, verdict, step_detail(detail_id, args, "en"),
        step_hint(detail_id, args, "en") if verdict in ("warn", "fail") else None,
        tenant, detail_id=detail_id, detail_args=args,
    )  # fmt: skip


def failed(step: str, err: BaseException) -> StepResult:
    """A step that failed with an error: its own English message and hint, its code for the
    catalogue (``conn.error``)."""
    if not isinstance(err, TsedError):
        return outcome(step, "fail", "conn.unexpected", error=type(err).__name__)
    return StepResult(
        step, "fail", err.message, err.hint, detail_id=ERROR_ID, detail_args={"code": err.code}
    )


def reason(err: OSError) -> str:
    """An OS error as a name that reads the same in every language (``ECONNREFUSED``)."""
    if isinstance(err, socket.gaierror):
        return _EAI.get(err.errno or 0, "EAI")
    if err.errno is not None and err.errno in errno.errorcode:
        return errno.errorcode[err.errno]
    return type(err).__name__


_EAI = {
    getattr(socket, name): name
    for name in ("EAI_NONAME", "EAI_AGAIN", "EAI_FAIL", "EAI_NODATA", "EAI_SERVICE")
    if hasattr(socket, name)
}


async def timed(
    name: str, tenant: str | None, step_timeout: float, body: Callable[[], Awaitable[StepResult]]
) -> StepResult:
    started = time.monotonic()
    try:
        async with asyncio.timeout(step_timeout):
            result = await body()
    except TimeoutError:
        result = outcome(name, "fail", "conn.timeout", seconds=f"{step_timeout:.0f}")
    except TsedError as err:
        result = failed(name, err)
    except Exception as err:  # a step never breaks the whole test
        _LOGGER.warning("connection test step %s failed unexpectedly: %r", name, err)
        result = failed(name, err)
    elapsed = (time.monotonic() - started) * 1000
    return replace(result, tenant=tenant, duration_ms=elapsed)


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
        return outcome("dns", "ok", "conn.dns.ip", host=host)
    try:
        addresses = await _resolve(host, port)
    except OSError as err:
        if proxy is not None:
            return outcome("dns", "skipped", "conn.dns.by_proxy", host=host)
        return outcome("dns", "fail", "conn.dns.unresolvable", host=host, reason=reason(err))
    return outcome("dns", "ok", "conn.dns.ok", host=host, addresses=", ".join(addresses[:4]))


async def _connect_tunnel(
    proxy: ProxySettings, host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int, str]:
    """Open a CONNECT tunnel through the proxy; returns the streams and the proxy's status."""
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    target = _target(host, port)
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


def _target(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _tunnel_outcome(
    prefix: str, proxy: ProxySettings, status: int, target: str, refused: Verdict = "fail"
) -> StepResult:
    """What the proxy's answer to the ``CONNECT`` says (``prefix``: ``conn.proxy`` or, for the
    proxy saved while the simulator signs, ``conn.saved_proxy``)."""
    shown = {"proxy": proxy.display, "target": target}
    if status == 200:
        return outcome("proxy", "ok", f"{prefix}.ok", **shown)
    if status == 407:
        what = "credentials_refused" if proxy.username else "needs_credentials"
        return outcome("proxy", "fail", f"{prefix}.{what}", **shown)
    if status == 0:
        return outcome("proxy", refused, f"{prefix}.no_answer", **shown)
    return outcome("proxy", refused, f"{prefix}.refused", status=status, **shown)


async def check_proxy(proxy: ProxySettings, host: str, port: int) -> StepResult:
    try:
        _reader, writer, status, _reason = await _connect_tunnel(proxy, host, port)
    except OSError as err:
        return outcome(
            "proxy", "fail", "conn.proxy.unreachable", proxy=proxy.display, reason=reason(err)
        )
    await _close(writer)
    return _tunnel_outcome("conn.proxy", proxy, status, _target(host, port))


async def check_tls(
    host: str, port: int, proxy: ProxySettings | None, context: ssl.SSLContext
) -> StepResult:
    writer: asyncio.StreamWriter | None = None
    try:
        if proxy is not None:
            _reader, writer, status, _reason = await _connect_tunnel(proxy, host, port)
            if status != 200:
                return outcome("tls", "fail", "conn.tls.no_tunnel", status=status)
            await writer.start_tls(context, server_hostname=host)
        else:
            _reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host
            )
        tls = writer.get_extra_info("ssl_object")
        cert = tls.getpeercert() if tls is not None else None
        version = tls.version() if tls is not None else "?"
        if cert:
            return outcome(
                "tls", "ok", "conn.tls.ok_until", version=version, host=host,
                until=cert["notAfter"],
            )  # fmt: skip
        return outcome("tls", "ok", "conn.tls.ok", version=version, host=host)
    except ssl.SSLCertVerificationError as err:
        return outcome("tls", "fail", "conn.tls.untrusted", host=host, code=err.verify_code)
    except ssl.SSLError as err:
        return outcome("tls", "fail", "conn.tls.failed", host=host,
                       reason=err.reason or type(err).__name__)  # fmt: skip
    except OSError as err:
        return outcome("tls", "fail", "conn.tls.failed", host=host, reason=reason(err))
    finally:
        if writer is not None:
            await _close(writer)


async def check_saved_proxy(proxy: ProxySettings, host: str, port: int) -> StepResult:
    """The saved proxy while the unit's backend does not use it (the built-in simulator).

    The unit can still try the way it will need: a ``CONNECT`` to the fiskaly host through the
    proxy. The answer says what was checked and what not (the installer reads it on the page).
    """
    target = f"fiskaly ({_target(host, port)})"
    try:
        _reader, writer, status, _reason = await _connect_tunnel(proxy, host, port)
    except OSError as err:
        return outcome("proxy", "fail", "conn.saved_proxy.unreachable", proxy=proxy.display,
                       target=target, reason=reason(err))  # fmt: skip
    await _close(writer)
    return _tunnel_outcome("conn.saved_proxy", proxy, status, target, refused="warn")
