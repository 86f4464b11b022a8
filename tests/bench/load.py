"""Load generators: registers through the unit, the same fiskaly calls made directly, and the
reference forwarder. Every loop is bounded by a count and a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from tests.bench.harness import KEY, RECEIPT, SECRET, Proc, https_session, register_source


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of seconds, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_workers(
    one: Callable[[int], Awaitable[None]],
    count: int,
    concurrency: int,
    deadline: float,
    *,
    stagger: float = 0.0,
) -> int:
    """``count`` calls of ``one(worker)`` spread over ``concurrency`` workers, until deadline.

    ``stagger`` spreads the workers' first calls evenly over that many seconds: registers in
    a shop are not synchronized, and 50 workers started at once against a fixed latency stay
    in lock-step and measure their own bursts.
    """
    todo = iter(range(count))
    done = 0

    async def worker(index: int) -> None:
        nonlocal done
        if stagger:
            await asyncio.sleep(stagger * index / concurrency)
        for _ in todo:
            if time.monotonic() > deadline:
                return
            await one(index)
            done += 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return done


@dataclass
class Direct:
    """What a register would do alone: start + finish straight at (simulated) fiskaly."""

    sim: Proc
    http: aiohttp.ClientSession | None = None
    headers: dict[str, str] = field(default_factory=dict)
    tss: str = ""
    client: str = ""

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=100)
        self.http = aiohttp.ClientSession(self.sim.base_url, connector=connector)
        body = {"api_key": KEY, "api_secret": SECRET}
        async with self.http.post("/api/v2/auth", json=body) as r:
            self.headers = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
        async with self.http.get("/api/v2/tss", headers=self.headers) as r:
            data = (await r.json())["data"]
            self.tss = next(t["_id"] for t in data if t["state"] == "INITIALIZED")
        async with self.http.get(f"/api/v2/tss/{self.tss}/client", headers=self.headers) as r:
            data = (await r.json())["data"]
            self.client = next(c["_id"] for c in data if c["state"] == "REGISTERED")

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()

    async def receipt(self) -> float:
        assert self.http is not None
        tx, started = str(uuid.uuid4()), time.monotonic()
        path = f"/api/v2/tss/{self.tss}/tx/{tx}"
        body: dict[str, object] = {"state": "ACTIVE", "client_id": self.client}
        async with self.http.put(f"{path}?tx_revision=1", json=body, headers=self.headers) as r:
            await r.read()
            assert r.status == 200, r.status
        body = {
            "state": "FINISHED",
            "client_id": self.client,
            "schema": {"standard_v1": {"receipt": RECEIPT}},
        }
        async with self.http.put(f"{path}?tx_revision=2", json=body, headers=self.headers) as r:
            await r.read()
            assert r.status == 200, r.status
        return time.monotonic() - started


@dataclass
class Registers:
    """Paired registers calling one unit (or the forwarder): one keep-alive pool."""

    target: Proc
    tokens: list[str]
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    async def open(self) -> None:  # each register from its own loopback address
        self.sessions = [
            https_session(self.target.base_url, limit=8, source=register_source(index))
            for index in range(len(self.tokens))
        ]

    async def close(self) -> None:
        sessions, self.sessions = self.sessions, []
        for session in sessions:
            await session.close()

    def _http(self, register: int) -> aiohttp.ClientSession:
        assert self.sessions, "open() first"
        return self.sessions[register % len(self.sessions)]

    def _auth(self, register: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[register % len(self.tokens)]}"}

    async def start_finish(self, register: int) -> tuple[float, float, bool]:
        """(start answered, whole receipt, tse_failure) in seconds."""
        http = self._http(register)
        headers = self._auth(register)
        started = time.monotonic()
        async with http.post("/api/v1/transactions", headers=headers) as r:
            body = await r.json()
            assert r.status == 201, body
        start_time = time.monotonic() - started
        path = f"/api/v1/transactions/{body['id']}/finish"
        async with http.post(path, json=RECEIPT, headers=headers) as r:
            body = await r.json()
            assert r.status == 200, body
        if not body["tse_failure"]:  # the sale was signed, not something else
            assert body["result"]["process_data"].startswith("Beleg^11.90"), body["result"]
        return start_time, time.monotonic() - started, bool(body["tse_failure"])

    async def one_call(self, register: int) -> tuple[float, bool]:
        """A one-call receipt: (seconds, tse_failure)."""
        started = time.monotonic()
        async with self._http(register).post(
            "/api/v1/receipts", json=RECEIPT, headers=self._auth(register)
        ) as r:
            body = await r.json()
            assert r.status == 200, body
        return time.monotonic() - started, bool(body.get("tse_failure", False))


class LeanRegisters:
    """Registers for the saturation and memory runs: one keep-alive HTTPS connection per
    worker, speaking just enough HTTP/1.1 (a request with Content-Length, an answer with
    Content-Length). The load generator shares the 2 CPUs with the unit and the simulator;
    aiohttp's client costs about as much CPU per request as the unit's own work on it
    (measured 0.3-0.6 ms), this about a quarter of that."""

    def __init__(self, target: Proc, tokens: list[str]) -> None:
        url = target.base_url.removeprefix("https://")
        host, _, port = url.partition(":")
        self.host, self.port = host, int(port)
        self.tokens = tokens
        self.body = json.dumps(RECEIPT).encode()
        self._ssl = ssl.create_default_context()
        self._ssl.check_hostname = False
        self._ssl.verify_mode = ssl.CERT_NONE  # the unit's key is pinned elsewhere
        self._conns: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        conns, self._conns = self._conns, {}
        for _reader, writer in conns.values():
            writer.close()
        for _reader, writer in conns.values():
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    def _request(self, register: int) -> bytes:
        token = self.tokens[register % len(self.tokens)]
        head = (
            f"POST /api/v1/receipts HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\n\r\n"
        )
        return head.encode() + self.body

    async def one_call(self, register: int) -> tuple[float, bool]:
        """A one-call receipt on this worker's connection: (seconds, tse_failure)."""
        conn = self._conns.get(register)
        if conn is None:
            source = (register_source(register % len(self.tokens)), 0)  # a register's own host
            conn = await asyncio.open_connection(
                self.host, self.port, ssl=self._ssl, local_addr=source
            )
            self._conns[register] = conn
        reader, writer = conn
        started = time.monotonic()
        writer.write(self._request(register))
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"an answer without Content-Length: {head!r}")
        body = json.loads(await reader.readexactly(length))
        assert status == 200, body
        return time.monotonic() - started, bool(body.get("tse_failure", False))


async def timed_rounds(
    kinds: dict[str, Callable[[int], Awaitable[None]]],
    per_round: int,
    rounds: int,
    concurrency: int,
    deadline: float,
    stagger: float = 0.0,
) -> None:
    """Alternate the kinds round by round (ABAB...; the order flips every round) so that
    machine noise hits all of them alike."""
    names = list(kinds)
    for index in range(rounds):
        order = names if index % 2 == 0 else list(reversed(names))
        for name in order:
            if time.monotonic() > deadline:
                return
            await run_workers(kinds[name], per_round, concurrency, deadline, stagger=stagger)
