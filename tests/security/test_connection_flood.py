"""Issue 13, item 2: one LAN host cannot stop signing by holding connections.

Before: no cap, aiohttp's keep-alive of about an hour; 1 001 idle TLS connections from one host
made every receipt fail and the accept error was logged 62 000 times in 35 s.

The first tests drive :class:`tsed.net.limits.GuardedListener` with small limits in front of a
real aiohttp application on loopback TLS (several source addresses: Linux routes all of
127.0.0.0/8 to the loopback device). The last one is the issue's test: the unit as a real
process with its file limit lowered to 256, a flood of idle and slow connections for 30 s, a
paired register signing all along.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.support.reliability import pair_token, stop, wait_for, wait_ready
from tests.support.unit import RECEIPT, free_port, running_unit, serve_argv
from tsed.net.identity import load_or_create_identity, server_ssl_context
from tsed.net.limits import MAX_CONNECTIONS, ConnectionLimits, GuardedListener
from tsed.net.ratelog import RateLimitedLog

TOKEN = "good"
REGISTER: web.RequestKey[str] = web.RequestKey("register", str)


def _client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@asynccontextmanager
async def guarded(tmp_path: Path, limits: ConnectionLimits) -> AsyncIterator[GuardedListener]:
    """A real aiohttp app behind the listener; ``Bearer good`` marks a register's request."""
    identity = load_or_create_identity(tmp_path, name="t", addresses=["127.0.0.1"])

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") == f"Bearer {TOKEN}":
            request[REGISTER] = "kasse-1"
        return await handler(request)

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"register": request.get(REGISTER)})

    app = web.Application(middlewares=[auth])
    listener = GuardedListener(server_ssl_context(identity), limits)
    app.middlewares.append(listener.middleware(REGISTER))

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"bytes": len(await request.read())})

    app.router.add_get("/", hello)
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(
        app,
        keepalive_timeout=limits.idle_timeout,
        lingering_time=limits.lingering_time,
        access_log=None,
        handle_signals=False,
    )
    await runner.setup()
    assert runner.server is not None
    await listener.start(runner.server, "127.0.0.1", 0)
    try:
        yield listener
    finally:
        await listener.stop()
        await runner.cleanup()


async def _tls(port: int, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(
        asyncio.open_connection(
            "127.0.0.1", port, ssl=_client_context(), server_hostname="tsed",
            local_addr=(source, 0),
        ),
        10,
    )  # fmt: skip


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, token: str | None = TOKEN
) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(f"GET / HTTP/1.1\r\nHost: tsed\r\n{auth}\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    return head + await asyncio.wait_for(reader.readexactly(length), 10)


async def _closed_by_server(reader: asyncio.StreamReader, bound: float = 20) -> bool:
    """True once the server closed the connection (read gives EOF or an error)."""
    try:
        return await asyncio.wait_for(reader.read(1), bound) == b""
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        return True


async def _settle(listener: GuardedListener, predicate: Any, what: str) -> None:
    """Wait (bounded) until the listener's counters satisfy ``predicate``."""
    for _ in range(1000):
        if predicate(listener.snapshot()):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{what}: {listener.snapshot()}")


async def _try_tls(
    port: int, source: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        return await _tls(port, source)
    except (ConnectionError, ssl.SSLError, OSError, asyncio.IncompleteReadError):
        return None


def _close_all(writers: list[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.transport.abort()


async def test_one_source_gets_its_cap_and_the_rest_is_refused_before_tls(tmp_path: Path) -> None:
    limits = ConnectionLimits(40, per_source=4, register_headroom=8, idle_timeout=30)
    async with guarded(tmp_path, limits) as listener:
        held = []
        for _ in range(10):  # bounded
            conn = await _try_tls(listener.port, "127.0.0.2")
            if conn is not None:
                held.append(conn)
        await _settle(listener, lambda s: s.refused_source >= 6, "refusals")
        stats = listener.snapshot()
        assert stats.sources.get("127.0.0.2") == 4 and stats.refused_source == 6, stats
        # the refused ones were closed at accept: no handshake, no slot left behind
        conn = await _tls(listener.port, "127.0.0.3")
        assert b'"register": "kasse-1"' in await _request(*conn)
        _close_all([w for _r, w in held] + [conn[1]])
        await _settle(listener, lambda s: s.open == 0, "all slots free after close")


async def test_a_paired_register_gets_in_while_unknown_hosts_fill_the_unit(tmp_path: Path) -> None:
    limits = ConnectionLimits(12, per_source=4, register_headroom=4, idle_timeout=30)
    async with guarded(tmp_path, limits) as listener:
        port = listener.port
        writers: list[asyncio.StreamWriter] = []
        for register in ("127.0.0.9", "127.0.0.10"):  # both registers once signed: known
            reader, writer = await _tls(port, register)
            await _request(reader, writer)
            writer.transport.abort()
        await _settle(listener, lambda s: s.open == 0, "register connections closed")
        for source in ("127.0.0.2", "127.0.0.3"):
            for _ in range(4):
                writers.append((await _tls(port, source))[1])
        await _settle(listener, lambda s: s.open == 8, "unknown hosts hold 8")
        assert await _try_tls(port, "127.0.0.4") is None  # refused at accept
        await _settle(listener, lambda s: s.refused_full == 1, "a third unknown host refused")
        for _ in range(4):  # the register takes the headroom
            reader, writer = await _tls(port, "127.0.0.9")
            await _request(reader, writer)
            writers.append(writer)
        assert listener.snapshot().open == 12
        # all full: the other register still gets in, the oldest unknown connection goes
        reader, writer = await _tls(port, "127.0.0.10")
        assert b'"register": "kasse-1"' in await _request(reader, writer)
        writers.append(writer)
        stats = listener.snapshot()
        assert stats.evicted == 1 and stats.sources["127.0.0.2"] == 3, stats
        _close_all(writers)
        await _settle(listener, lambda s: s.open == 0, "all slots free after close")


async def test_a_trickling_body_gets_408_and_the_connection_closes(tmp_path: Path) -> None:
    limits = ConnectionLimits(40, per_source=8, register_headroom=8, body_timeout=0.5)
    async with guarded(tmp_path, limits) as listener:
        reader, writer = await _tls(listener.port, "127.0.0.2")
        writer.write(b"POST /echo HTTP/1.1\r\nHost: tsed\r\nContent-Length: 4\r\n\r\nabcd")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200"), head  # a body sent at once is read normally
        await asyncio.wait_for(reader.readuntil(b"}"), 10)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: tsed\r\nContent-Length: 100\r\n\r\n")
        answer = b""
        for _ in range(100):  # bounded: one byte every 0.1 s, 10 s at most
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                writer.write(b"x")
            with contextlib.suppress(asyncio.TimeoutError):
                answer += await asyncio.wait_for(reader.read(4096), 0.1)
            if b"BODY_TIMEOUT" in answer:
                break
        assert answer.startswith(b"HTTP/1.1 408") and b"BODY_TIMEOUT" in answer, answer
        assert await _closed_by_server(reader)
        writer.transport.abort()
        await _settle(listener, lambda s: s.open == 0, "the slot is free")


async def test_register_addresses_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with running_unit(state) as unit:
        assert unit.daemon.listener.known_sources == ()
        register = await unit.pair()
        assert unit.daemon.listener.known_sources == ()  # pairing is not yet signing
        await register.receipt()
        assert unit.daemon.listener.known_sources == ("127.0.0.1",)
    assert json.loads((state / "register_sources.json").read_text()) == ["127.0.0.1"]
    async with running_unit(state) as unit:  # known before its first request
        assert unit.daemon.listener.known_sources == ("127.0.0.1",)
        transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://tsed", timeout=60
        ) as admin:  # the reset archives the TSS first
            reset = await admin.post("/admin/v1/factory-reset", json={"confirm": True})
        assert reset.status_code == 200, reset.text
        assert unit.daemon.listener.known_sources == ()  # its registers are gone
    assert json.loads((state / "register_sources.json").read_text()) == []
    (state / "register_sources.json").write_text("{broken")
    async with running_unit(state) as unit:  # damaged: no priority until the next receipt
        assert unit.daemon.listener.known_sources == ()
        assert (await unit.pair("ERS kasse-2")) is not None


async def test_handshake_header_and_idle_timeouts_close_connections(tmp_path: Path) -> None:
    limits = ConnectionLimits(
        40, per_source=8, register_headroom=8, handshake_timeout=0.5, idle_timeout=0.5
    )
    async with guarded(tmp_path, limits) as listener:
        port = listener.port
        # no ClientHello at all
        reader, raw = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
        assert await _closed_by_server(reader)
        raw.close()
        # TLS done, never a request
        reader, writer = await _tls(port, "127.0.0.2")
        assert await _closed_by_server(reader)
        writer.close()
        # a request head trickling in, one byte every 0.1 s (bounded: 200 bytes at most)
        reader, writer = await _tls(port, "127.0.0.2")
        writer.write(b"GET / HTTP/1.1\r\nHost: tsed\r\nX-Slow: ")
        sent = 0
        closed = False
        for _ in range(200):
            try:
                writer.write(b"a")
                await writer.drain()
            except (ConnectionError, ssl.SSLError):
                closed = True
                break
            sent += 1
            if reader.at_eof() or writer.transport.is_closing():
                closed = True
                break
            with contextlib.suppress(asyncio.TimeoutError):
                if await asyncio.wait_for(reader.read(1), 0.1) == b"":
                    closed = True
                    break
        assert closed, f"a slow request head was kept open for {sent} bytes"
        writer.transport.abort()
        # keep-alive idle after a request
        reader, writer = await _tls(port, "127.0.0.2")
        await _request(reader, writer, token=None)
        assert await _closed_by_server(reader)
        writer.close()
        await _settle(listener, lambda s: s.open == 0, "timed-out connections freed")
        print(f"slow head closed after {sent} trickled bytes (~{sent * 0.1:.1f} s)")


async def test_malformed_requests_do_not_flood_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", b"\x00\x01garbage\r\n\r\n")

    def send(port: int, data: bytes) -> bytes:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            _client_context().wrap_socket(raw, server_hostname="tsed") as tls,
        ):
            tls.sendall(data)
            with contextlib.suppress(OSError):
                return tls.recv(4096)
            return b""

    async with running_unit(tmp_path / "state") as unit:
        caplog.clear()
        caplog.set_level(logging.DEBUG)
        answers = [await asyncio.to_thread(send, unit.port, bad[n % 2]) for n in range(100)]
        assert all(a.startswith(b"HTTP/1.") and b" 400 " in a[:20] for a in answers)
        noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
        text = "\n".join(r.getMessage() for r in noisy)
        assert len(noisy) <= 2, text
        assert not any(r.exc_info for r in noisy) and "Bad Header" not in text, text
        print(f"100 malformed requests: {len(noisy)} log line(s): {text}")


def test_the_log_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = RateLimitedLog(interval=10, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, "tsed.net.ratelog")
    for _ in range(10_000):  # bounded; a flood's worth of accept errors within 1 s
        log.emit("accept_failed", "cannot accept: %s", "Too many open files")
        now[0] += 0.0001
    assert len(caplog.records) == 1
    now[0] += 10
    log.emit("accept_failed", "cannot accept: %s", "Too many open files")
    assert len(caplog.records) == 2 and "9999 more" in caplog.records[1].getMessage()
    assert caplog.records[1].TSED_HELD_BACK == 9999  # type: ignore[attr-defined]


def test_limits_follow_the_file_limit() -> None:
    small = ConnectionLimits.for_file_limit(256)
    assert small.max_connections == 256 - 96 and small.per_source == 32
    assert small.register_headroom == 20
    tiny = ConnectionLimits.for_file_limit(64)
    assert tiny.max_connections == 16 and tiny.per_source < tiny.max_connections
    assert ConnectionLimits.for_file_limit(65536).max_connections == 1024


def _drain(child: subprocess.Popen[str]) -> tuple[str, str]:
    assert child.stdout is not None and child.stderr is not None
    with child.stdout, child.stderr:
        out = child.stdout.read()
        err = child.stderr.read()
    child.wait(timeout=60)
    return out, err


async def test_running_out_of_descriptors_evicts_and_logs_once_per_interval(
    tmp_path: Path,
) -> None:
    """Accepting fails with EMFILE: no log storm, no busy loop, unauthenticated ones go."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.listener_child", "48", str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    try:
        port = int(await asyncio.to_thread(child.stdout.readline))
        writers = []
        for _ in range(120):  # bounded; far more than the child's 48 descriptors
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0)), 5
                )
                writers.append(writer)
        await asyncio.sleep(3)  # the child keeps hitting its limit meanwhile
        _close_all(writers)
        child.stdin.close()
        out, err = await asyncio.to_thread(_drain, child)
    finally:
        if child.poll() is None:
            child.kill()
            _drain(child)
    stats = json.loads(out.strip().splitlines()[-1])
    lines = [line for line in err.splitlines() if "cannot accept" in line]
    print(f"accept errors {stats['accept_errors']}, evicted {stats['evicted']}, log lines {lines}")
    assert stats["accept_errors"] >= 1 and stats["evicted"] >= 1, stats
    assert 1 <= len(lines) <= 2, err[-3000:]
    assert "Traceback" not in err, err[-3000:]


def test_the_service_unit_is_sized_for_the_full_cap() -> None:
    service = Path(__file__).resolve().parents[2] / "systemd" / "tsed.service"
    settings = dict(line.split("=", 1) for line in service.read_text().splitlines() if "=" in line)
    nofile = int(settings["LimitNOFILE"])
    assert ConnectionLimits.for_file_limit(nofile).max_connections == MAX_CONNECTIONS
    mega = {"M": 1, "G": 1024}
    high = int(settings["MemoryHigh"][:-1]) * mega[settings["MemoryHigh"][-1]]
    top = int(settings["MemoryMax"][:-1]) * mega[settings["MemoryMax"][-1]]
    # measured: 70 MB at rest + 57 kB per idle TLS connection at the cap (about 130 MB)
    assert high >= 2 * (70 + MAX_CONNECTIONS * 57 // 1024) and top > high


# -- the test: a real unit process with 256 file descriptors --------------------------

FLOOD_SECONDS = 30.0
# (hosts, connections per host): more connections than the unit's 256 files, from one host as
# in the issue, and from ten hosts together (the global cap and the registers' headroom)
FLOODS = {"one host": (1, 300), "ten hosts": (10, 36)}


def _drained_to(pid: int, most: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return _fds(pid) <= most

    return check


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _flooder(port: int, source: str, mode: str, until: float, counts: dict[str, int]) -> None:
    """Hold one connection of ``mode`` from ``source``; reconnect when closed (bounded)."""
    for _ in range(200):
        if time.monotonic() >= until:
            return
        writer: asyncio.StreamWriter | None = None
        try:
            if mode == "tcp":  # never a ClientHello
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, local_addr=(source, 0)
                )
            else:
                reader, writer = await _tls(port, source)
                if mode == "slow":
                    writer.write(b"POST /api/v1/receipts HTTP/1.1\r\nHost: tsed\r\nX-Slow: ")
            counts[mode] += 1
            while time.monotonic() < until:
                if mode == "slow":
                    writer.write(b"a")
                    await writer.drain()
                with contextlib.suppress(asyncio.TimeoutError):
                    if await asyncio.wait_for(reader.read(1024), 1.0) == b"":
                        break
        except (TimeoutError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
            counts["refused"] += 1
        finally:
            if writer is not None:
                writer.transport.abort()
        await asyncio.sleep(1.0)  # bounded reconnect rate: 1/s per task


async def _register_loop(port: int, token: str, until: float) -> list[tuple[bool, float]]:
    """A paired register: one receipt every 0.5 s, half on a new connection each time."""
    results: list[tuple[bool, float]] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{port}", verify=False, timeout=15
    ) as kept:
        for n in range(200):  # bounded
            if time.monotonic() >= until:
                break
            began = time.monotonic()
            try:
                if n % 2:
                    response = await kept.post("/api/v1/receipts", json=RECEIPT, headers=headers)
                else:
                    async with httpx.AsyncClient(
                        base_url=f"https://127.0.0.1:{port}", verify=False, timeout=15
                    ) as fresh:
                        response = await fresh.post(
                            "/api/v1/receipts", json=RECEIPT, headers=headers
                        )
                ok = response.status_code == 200 and response.json()["tse_failure"] is False
            except httpx.HTTPError:
                ok = False
            results.append((ok, time.monotonic() - began))
            await asyncio.sleep(0.5)
    return results


@pytest.mark.timeout(180)
@pytest.mark.parametrize("flood_kind", list(FLOODS))
async def test_a_flood_from_lan_hosts_does_not_stop_a_paired_register(
    tmp_path: Path, flood_kind: str
) -> None:
    hosts, per_host = FLOODS[flood_kind]
    # The case (one host): within 10 MB of the start. Ten hosts keep up to ten times
    # as many handshakes in flight; measured 5-12 MB left mapped after a first flood, so a
    # leak (growth per flood) is caught at 16 MB.
    allowed_kb = 10 * 1024 if hosts == 1 else 16 * 1024
    sources = [f"127.0.0.{2 + n}" for n in range(hosts)]
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "tsed.toml").write_text("")
    port = free_port()
    log = tmp_path / "unit.log"
    env = {**os.environ, "TSED_MDNS": "off"}
    env.pop("NOTIFY_SOCKET", None)
    env.pop("TSED_FISKALY_BASE_URL", None)
    with log.open("wb") as log_handle:
        unit = subprocess.Popen(
            ["prlimit", "--nofile=256:256", sys.executable, *serve_argv(state, port, "INFO")],
            env=env, stdout=subprocess.DEVNULL, stderr=log_handle,
        )  # fmt: skip
    try:
        await wait_ready(port)
        token = await pair_token(port, state, "ERS kasse-1")
        warm = await _register_loop(port, token, time.monotonic() + 5)  # warm-up, known source
        assert all(ok for ok, _ in warm)
        if hosts > 1:
            fds0 = _fds(unit.pid)
            # Many hosts at once: the allocator's arenas grow with the number of handshakes
            # in flight and stay mapped (fragmentation, not a leak). The case (one
            # host) compares with the unit's first state; this one asks that a second flood
            # leaves no more behind than the first did: a leak shows as growth here too.
            until = time.monotonic() + 5
            counts0 = {"tcp": 0, "idle": 0, "slow": 0, "refused": 0}
            modes0 = ("tcp", "idle", "slow")
            await asyncio.gather(
                *(
                    _flooder(port, source, modes0[n % 3], until, counts0)
                    for source in sources
                    for n in range(per_host)
                )
            )
            await wait_for(_drained_to(unit.pid, fds0 + 4), 30, "pre-flood drained")
        rss_before, fds_before, log_before = _rss_kb(unit.pid), _fds(unit.pid), log.stat().st_size
        until = time.monotonic() + FLOOD_SECONDS
        counts = {"tcp": 0, "idle": 0, "slow": 0, "refused": 0}
        modes = ("tcp", "idle", "slow")
        flood = [
            asyncio.create_task(_flooder(port, source, modes[n % 3], until, counts))
            for source in sources
            for n in range(per_host)
        ]
        await asyncio.sleep(3)  # let the flood reach its caps first
        peak_fds = _fds(unit.pid)
        receipts = await _register_loop(port, token, until)
        peak_fds = max(peak_fds, _fds(unit.pid))
        rss_peak = _rss_kb(unit.pid)
        await asyncio.gather(*flood)

        # the flood has ended: the unit lets go of what it held
        async def drained() -> bool:
            return _fds(unit.pid) <= fds_before + 4

        await wait_for(drained, 30, "file descriptors back")
        for _ in range(40):  # bounded: the unit gives memory back within 5 s of the closes
            rss_after = _rss_kb(unit.pid)
            if rss_after - rss_before < allowed_kb:
                break
            await asyncio.sleep(0.5)
        grown = log.stat().st_size - log_before
        latencies = sorted(seconds for _ok, seconds in receipts)
        print(
            f"flood {FLOOD_SECONDS:.0f} s from {hosts} host(s): connections "
            f"{counts}; unit fds {fds_before} -> peak {peak_fds}; RSS {rss_before} -> peak "
            f"{rss_peak} -> after {rss_after} kB; log +{grown} bytes; receipts "
            f"{sum(ok for ok, _ in receipts)}/{len(receipts)} ok, latency p50 "
            f"{statistics.median(latencies) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        )
        assert receipts and all(ok for ok, _ in receipts), receipts
        assert counts["refused"] > 0  # the flood did hit the caps
        assert peak_fds < 256
        assert rss_after - rss_before < allowed_kb, (rss_before, rss_after)
        assert grown < 100 * 1024, log.read_text()[-3000:]
        assert unit.poll() is None
    finally:
        stop(unit)
