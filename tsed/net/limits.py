"""Connection limits of the register API listener: one LAN host cannot stop signing.

The unit accepts its TLS connections itself (:class:`GuardedListener`) instead of leaving the
accept loop to asyncio, so every connection is counted and judged *before* its TLS handshake:

- **per-source cap** (:attr:`ConnectionLimits.per_source`): one address holds at most this many
  connections (handshaking, idle or busy); more are closed at once, before any TLS work;
- **global cap** (:attr:`ConnectionLimits.max_connections`), sized from the process's file
  limit minus a reserve for the store, the upstream pool, exports and logs;
- **priority for paired registers**: the last :attr:`ConnectionLimits.register_headroom` slots
  are kept for addresses a paired register has called from (a connection is *trusted* once a
  request on it carried a valid register token; its address is remembered). When even those
  are full, a register's new connection evicts the oldest connection that never carried a
  token. The addresses are kept in ``<state_dir>/register_sources.json``
  (:func:`load_known_sources`, :func:`save_known_sources`), so the priority holds right after a
  restart too;
- **timeouts**: the TLS handshake must finish within ``handshake_timeout``; aiohttp's keep-alive
  timer (``idle_timeout``, set on the runner) then closes a connection that sends no complete
  request head within that time after the handshake or between two requests;
- **request bodies** must arrive within ``body_timeout`` once the head is in
  (:meth:`GuardedListener.middleware` reads them under that deadline; the answer is a 408 and
  the connection is closed after ``lingering_time``, set on the runner), so a body trickling in
  does not hold a slot either;
- **accept errors** (out of file descriptors or memory) make the loop evict an untrusted
  connection and back off, and are logged at most once per 10 s with a count;
- **malformed requests** answered by aiohttp's parser itself (400 before any middleware) are
  logged by aiohttp with a traceback each: :class:`MalformedRequestLog` turns them into one
  line per 10 s with a count and the error's class (no attacker bytes; :mod:`tsed.net.ratelog`);
- **memory comes back**: once :data:`TRIM_AFTER` connections have closed since the last time
  (and once more for the stragglers after that), glibc's ``malloc_trim`` returns the freed heap
  to the system, at most once per :data:`TRIM_INTERVAL` (without it, RSS stayed at the flood's
  peak).

The aiohttp server still owns the HTTP side: :class:`GuardedListener` hands each accepted
socket to ``loop.connect_accepted_socket`` with the runner's protocol factory, wrapped so that
the close of a connection frees its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import ipaddress
import json
import logging
import resource
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tsed.errors import InputError, TsedError
from tsed.net.http import error_response
from tsed.net.ratelog import MalformedRequestLog, RateLimitedLog
from tsed.state.files import atomic_write

_LOGGER = logging.getLogger(__name__)

MAX_CONNECTIONS = 1024
PER_SOURCE = 32
RESERVED_FDS = 96
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 15.0
BODY_TIMEOUT = 10.0
KNOWN_SOURCES = 4096
TRIM_INTERVAL = 5.0
TRIM_AFTER = 32  # closed connections; fewer leave little to give back
_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, or None on a C library without it."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_connections: int = MAX_CONNECTIONS
    per_source: int = PER_SOURCE
    register_headroom: int = MAX_CONNECTIONS // 8
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    # how long aiohttp still reads (and drops) a body the answer did not need before it closes
    # (its default is 10 s; a trickling body would hold the slot that long)
    lingering_time: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.register_headroom < self.max_connections or self.per_source < 1:
            raise ValueError(f"inconsistent connection limits {self}")

    @classmethod
    def for_file_limit(cls, nofile: int | None = None) -> ConnectionLimits:
        """Caps that fit the soft ``RLIMIT_NOFILE`` (the process's own unless given)."""
        if nofile is None:
            nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        usable = max(16, min(MAX_CONNECTIONS, nofile - RESERVED_FDS))
        headroom = max(4, usable // 8)
        return cls(
            max_connections=usable,
            per_source=max(2, min(PER_SOURCE, (usable - headroom) // 2)),
            register_headroom=headroom,
        )


def load_known_sources(path: Path) -> tuple[str, ...]:
    """The addresses paired registers signed from (a damaged file counts as none, with a note)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError("not a list")
        return tuple(str(ipaddress.ip_address(item)) for item in data[-KNOWN_SOURCES:])
    except FileNotFoundError:
        return ()
    except (OSError, ValueError, TypeError) as err:
        _LOGGER.warning(
            "%s is unreadable (%s): registers get their priority back with their next receipt",
            path,
            err,
            extra={"TSED_EVENT": "register_sources_damaged"},
        )
        return ()


def save_known_sources(path: Path, sources: Iterable[str]) -> None:
    try:
        atomic_write(path, (json.dumps(list(sources)) + "\n").encode(), mode=0o600)
    except TsedError as err:  # the priority is a help, never a reason to fail a receipt
        _LOGGER.warning("%s", err.message, extra={"TSED_EVENT": "register_sources_not_saved"})


@dataclass(slots=True, eq=False)
class _Connection:
    source: str
    opened: float
    task: asyncio.Task[None] | None = None
    transport: asyncio.BaseTransport | None = None
    trusted: bool = False
    released: bool = False


@dataclass(slots=True)
class ListenerStats:
    accepted: int = 0
    refused_source: int = 0
    refused_full: int = 0
    evicted: int = 0
    handshake_failed: int = 0
    accept_errors: int = 0
    open: int = 0
    peak: int = 0
    sources: dict[str, int] = field(default_factory=dict)


class BodyTimeout(InputError, status=408, code="BODY_TIMEOUT"):
    default_hint = (
        "Send the whole request body at once (it is at most 64 KiB); the connection was closed."
    )


class _Tracked(asyncio.Protocol):
    """Forwards to aiohttp's protocol; frees the slot when the connection closes."""

    def __init__(self, listener: GuardedListener, record: _Connection, inner: asyncio.Protocol):
        self._listener = listener
        self._record = record
        self._inner = inner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._record.transport = transport
        self._listener._by_transport[transport] = self._record
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._inner.connection_lost(exc)
        finally:
            self._listener._release(self._record)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedListener:
    """The register API's TLS listener with the caps, priorities and timeouts above."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        limits: ConnectionLimits,
        *,
        known_sources: Iterable[str] = (),
        on_new_source: Callable[[tuple[str, ...]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.stats = ListenerStats()
        self._factory: Callable[[], asyncio.Protocol] = asyncio.Protocol
        self._ssl = ssl_context
        self._clock = clock
        self._sockets: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._open: OrderedDict[_Connection, None] = OrderedDict()  # oldest first
        self._per_source: dict[str, int] = {}
        self._by_transport: dict[asyncio.BaseTransport, _Connection] = {}
        self._known: OrderedDict[str, None] = OrderedDict.fromkeys(known_sources)
        self._on_new_source = on_new_source
        self._log = RateLimitedLog(clock=clock)
        self._trim = _malloc_trim()
        self._closed_since_trim = 0
        self._trim_trailing = False
        self._trim_at = 0.0
        self._trim_handle: asyncio.TimerHandle | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(
        self, factory: Callable[[], asyncio.Protocol], host: str, port: int, backlog: int = 512
    ) -> None:
        """Listen on ``host:port``; ``factory`` makes the HTTP protocol (aiohttp's server)."""
        self._factory = factory
        MalformedRequestLog.install()
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        seen: set[tuple[Any, ...]] = set()
        for family, kind, proto, _name, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(backlog)
                sock.setblocking(False)
            except OSError:
                sock.close()
                await self.stop()
                raise
            self._sockets.append(sock)
        for sock in self._sockets:
            self._accepting.append(asyncio.create_task(self._accept_loop(sock)))

    async def stop(self) -> None:
        """Stop accepting; open connections are left to the runner's shutdown."""
        for task in self._accepting:
            task.cancel()
        for task in self._accepting:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._accepting.clear()
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        for record in list(self._open):
            if record.transport is None and record.task is not None:
                record.task.cancel()  # still in the TLS handshake
        if self._trim_handle is not None:
            self._trim_handle.cancel()
            self._trim_handle = None

    @property
    def port(self) -> int:
        return int(self._sockets[0].getsockname()[1])

    # -- registers ------------------------------------------------------------------------

    def trust(self, transport: asyncio.BaseTransport | None) -> None:
        """A request on ``transport`` carried a valid register token."""
        record = self._by_transport.get(transport) if transport is not None else None
        if record is None or record.trusted:
            return
        record.trusted = True
        new = record.source not in self._known
        self._known[record.source] = None
        self._known.move_to_end(record.source)
        while len(self._known) > KNOWN_SOURCES:
            self._known.popitem(last=False)
        if new and self._on_new_source is not None:
            self._on_new_source(tuple(self._known))

    @property
    def known_sources(self) -> tuple[str, ...]:
        return tuple(self._known)

    def forget_sources(self) -> None:
        """No address has priority any more (factory reset: the registers are gone)."""
        self._known.clear()
        if self._on_new_source is not None:
            self._on_new_source(())

    def middleware(self, register_key: web.RequestKey[Any]) -> Callable[..., Awaitable[Any]]:
        """aiohttp middleware (innermost): marks the connection of an authenticated request and
        reads the body under ``body_timeout`` (the handler then gets it from aiohttp's cache)."""

        @web.middleware
        async def mark_registers(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            if register_key in request:
                self.trust(request.transport)
            if request.body_exists:
                try:
                    async with asyncio.timeout(self.limits.body_timeout):
                        await request.read()
                except ConnectionError as err:  # the peer went away mid-body
                    raise InputError(
                        "the connection closed before the request body arrived",
                        hint="Send the request again on a new connection.",
                    ) from err
                except TimeoutError:
                    response = error_response(
                        BodyTimeout(
                            f"the request body did not arrive within "
                            f"{self.limits.body_timeout:.0f} s"
                        )
                    )
                    response.force_close()
                    return response
            return await handler(request)

        return mark_registers

    # -- accepting ------------------------------------------------------------------------

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.0
        while True:
            try:
                sock, address = await loop.sock_accept(listener)
            except OSError as err:
                if err.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EAGAIN, errno.EINTR):
                    continue
                self.stats.accept_errors += 1
                freed = err.errno in _RESOURCE_ERRORS and self._evict_one("resources")
                self._log.emit(
                    "accept_failed",
                    "cannot accept a register connection: %s (%d open)",
                    err.strerror or err,
                    len(self._open),
                )
                if freed:
                    await asyncio.sleep(0.01)  # let the evicted socket close before retrying
                else:
                    delay = min(1.0, max(0.05, delay * 2))
                    await asyncio.sleep(delay)
                continue
            delay = 0.0
            self._admit(sock, str(address[0]))

    def _admit(self, sock: socket.socket, source: str) -> None:
        limits = self.limits
        if self._per_source.get(source, 0) >= limits.per_source:
            self.stats.refused_source += 1
            sock.close()
            self._log.emit(
                "connection_refused_source",
                "connection from %s refused: it holds %d connections already (limit)",
                source,
                limits.per_source,
            )
            return
        known = source in self._known
        ceiling = limits.max_connections - (0 if known else limits.register_headroom)
        if len(self._open) >= ceiling and not (known and self._evict_one("register")):
            self.stats.refused_full += 1
            sock.close()
            self._log.emit(
                "connection_refused_full",
                "connection from %s refused: %d connections open (limit %d for %s sources)",
                source,
                len(self._open),
                ceiling,
                "register" if known else "unknown",
            )
            return
        record = _Connection(source, self._clock())
        self._open[record] = None
        self._per_source[source] = self._per_source.get(source, 0) + 1
        self.stats.accepted += 1
        self.stats.peak = max(self.stats.peak, len(self._open))
        record.task = asyncio.create_task(self._handshake(sock, record))

    async def _handshake(self, sock: socket.socket, record: _Connection) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(
                lambda: _Tracked(self, record, self._factory()),
                sock,
                ssl=self._ssl,
                ssl_handshake_timeout=self.limits.handshake_timeout,
            )
        except asyncio.CancelledError:
            sock.close()
            self._release(record)
            raise
        except Exception as err:  # any failure of one handshake frees its slot
            self.stats.handshake_failed += 1
            _LOGGER.debug("TLS handshake with %s failed: %r", record.source, err)
            sock.close()
            self._release(record)
        finally:
            record.task = None

    def _release(self, record: _Connection) -> None:
        if record.released:
            return
        record.released = True
        self._open.pop(record, None)
        if record.transport is not None:
            self._by_transport.pop(record.transport, None)
        left = self._per_source.get(record.source, 1) - 1
        if left > 0:
            self._per_source[record.source] = left
        else:
            self._per_source.pop(record.source, None)
        self._closed_since_trim += 1
        if (
            self._trim is not None
            and self._trim_handle is None
            and (self._closed_since_trim >= TRIM_AFTER or self._trim_trailing)
        ):
            delay = max(0.5, self._trim_at + TRIM_INTERVAL - self._clock())
            self._trim_handle = asyncio.get_running_loop().call_later(delay, self._give_back)

    def _give_back(self) -> None:
        """Return the heap freed by closed connections to the system (see module docstring)."""
        self._trim_handle = None
        self._trim_at = self._clock()
        self._trim_trailing = self._closed_since_trim >= TRIM_AFTER  # one more for the tail
        self._closed_since_trim = 0
        if self._trim is not None:
            self._trim()

    def _evict_one(self, why: str) -> bool:
        """Close the oldest connection that never carried a register token."""
        for record in self._open:
            if record.trusted or record.released:
                continue
            self.stats.evicted += 1
            if record.transport is not None:
                record.transport.abort()  # type: ignore[attr-defined]
            elif record.task is not None:
                record.task.cancel()
            self._release(record)
            self._log.emit(
                "connection_evicted",
                "closed an unauthenticated connection from %s to make room (%s)",
                record.source,
                why,
            )
            return True
        return False

    def snapshot(self) -> ListenerStats:
        self.stats.open = len(self._open)
        self.stats.sources = dict(self._per_source)
        return self.stats
