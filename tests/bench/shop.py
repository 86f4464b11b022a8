"""Shop load: what a register sees on a mostly idle unit, not at saturation (issue 21).

50 registers each ring up one receipt per second, open loop: every register has a random
phase and then a fixed period, and a receipt is sent when it is due whether or not the
previous one was answered (closed loops at a fixed latency fall into lock-step and measure
their own bursts). fiskaly is the standalone simulator behind a delaying TCP proxy (100 ms
per call, ``wan_proxy.py``), for the unit and for the direct path alike. Rounds alternate
between the direct path (a keep-alive aiohttp client making the same two fiskaly calls) and
the registers through the unit (start, then finish, each with an Idempotency-Key), so that
the machine's noise hits both; added = percentile through the unit − same percentile direct.

Also measured, one register alone, alternating: start + finish and one-call receipts through
the unit against the direct path (with the WAN delay), and one-call receipts against the
simulator without any delay, through the unit and through the bare forwarder (the yardstick
of DESIGN §7); CPU per receipt of every process from ``/proc``. A third kind of round sends
the same open loop of one-call receipts through a bare forwarder behind the same proxy: the
stack's own cost at that load (one register request per receipt, the unit's start + finish
has two).

Run:  .venv/bin/python -m tests.bench --only shop   (``--quick`` for a short one)
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from tests.bench.harness import (
    RECEIPT,
    Proc,
    https_session,
    pair,
    prepare_unit_state,
    register_source,
    start_forwarder,
    start_unit,
    start_wan_proxy,
)
from tests.bench.load import Direct, pct

if TYPE_CHECKING:
    from tests.bench.figures import Bench

WAN_MS = 100.0
REGISTERS = 50
RATE_PER_REGISTER = 1.0  # receipts per second
SETTLE_SECONDS = 30.0  # how long a round waits for its last receipts
IDLE_SECONDS = 3.0


def arrivals(
    registers: int, rate: float, seconds: float, rng: random.Random
) -> list[tuple[float, int]]:
    """Open-loop schedule: (offset in seconds, register), sorted by offset.

    Register ``r`` rings at ``phase_r + k / rate`` for every ``k`` with an offset below
    ``seconds``; ``phase_r`` is uniform in one period.
    """
    period = 1.0 / rate
    schedule = []
    for register in range(registers):
        phase = rng.uniform(0.0, period)
        k = 0
        while (offset := phase + k * period) < seconds:
            schedule.append((offset, register))
            k += 1
    schedule.sort()
    return schedule


async def open_loop(
    schedule: list[tuple[float, int]], fire: Callable[[int], Coroutine[Any, Any, None]]
) -> list[float]:
    """Fire each arrival when due, each as its own task; the lag of each firing (seconds).

    Waits at most ``SETTLE_SECONDS`` after the last arrival; receipts still open then are
    cancelled (and missing from the samples: ``receipts`` figures show it).
    """
    loop = asyncio.get_running_loop()
    began = loop.time() + 0.05
    tasks: list[asyncio.Task[None]] = []
    lags: list[float] = []
    for offset, register in schedule:
        due = began + offset
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        lags.append(max(0.0, loop.time() - due))
        tasks.append(asyncio.create_task(fire(register)))
    if tasks:
        _done, pending = await asyncio.wait(tasks, timeout=SETTLE_SECONDS)
        for task in pending:
            task.cancel()
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError("a receipt failed") from task.exception()
    return lags


@dataclass
class Samples:
    """Everything one shop-load run measured (seconds; CPU as [seconds, receipts])."""

    direct: list[float] = field(default_factory=list)
    unit: list[float] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    forwarder: list[float] = field(default_factory=list)  # one-call, bare forwarder
    lag: list[float] = field(default_factory=list)
    alone: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    idle_cpu_s_per_s: float = float("nan")
    offered: int = 0
    failures: int = 0

    def add_cpu(self, name: str, seconds: float, receipts: int) -> None:
        total = self.cpu.setdefault(name, [0.0, 0.0])
        total[0] += seconds
        total[1] += receipts

    def alone_list(self, name: str) -> list[float]:
        return self.alone.setdefault(name, [])


def shop_figures(s: Samples) -> dict[str, float]:
    """The flat figures of one run (milliseconds unless named otherwise)."""
    f: dict[str, float] = {}
    f["shop_receipts_offered"] = float(s.offered)
    f["shop_receipts_each"] = float(min(len(s.direct), len(s.unit)))
    f["shop_tse_failures"] = float(s.failures)
    f["shop_arrival_lag_ms_p99"] = pct(s.lag, 0.99)
    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        f[f"shop_direct_ms_{name}"] = pct(s.direct, q)
        f[f"shop_unit_ms_{name}"] = pct(s.unit, q)
        f[f"shop_added_ms_{name}"] = pct(s.unit, q) - pct(s.direct, q)
        f[f"shop_start_ms_{name}"] = pct(s.start, q)
        if s.forwarder:
            f[f"shop_forwarder_ms_{name}"] = pct(s.forwarder, q)
            f[f"shop_forwarder_added_ms_{name}"] = pct(s.forwarder, q) - pct(s.direct, q)
    a = s.alone
    if a:
        direct = pct(a.get("direct", []), 0.5)
        f["shop_alone_direct_ms_p50"] = direct
        f["shop_alone_unit_ms_p50"] = pct(a.get("unit", []), 0.5)
        f["shop_alone_added_ms_p50"] = f["shop_alone_unit_ms_p50"] - direct
        f["shop_alone_start_ms_p50"] = pct(a.get("start", []), 0.5)
        f["shop_alone_onecall_ms_p50"] = pct(a.get("onecall", []), 0.5)
        f["shop_alone_onecall_added_ms_p50"] = f["shop_alone_onecall_ms_p50"] - direct
        f["shop_nowan_direct_ms_p50"] = pct(a.get("nowan_direct", []), 0.5)
        f["shop_nowan_onecall_ms_p50"] = pct(a.get("nowan_onecall", []), 0.5)
        f["shop_nowan_added_ms_p50"] = (
            f["shop_nowan_onecall_ms_p50"] - f["shop_nowan_direct_ms_p50"]
        )
        f["shop_nowan_forwarder_ms_p50"] = pct(a.get("nowan_forwarder", []), 0.5)
    for name, (seconds, receipts) in sorted(s.cpu.items()):
        f[f"shop_cpu_ms_per_receipt_{name}"] = (
            seconds / receipts * 1000 if receipts else float("nan")
        )
    f["shop_unit_idle_cpu_ms_per_s"] = s.idle_cpu_s_per_s * 1000
    return f


class ShopRegisters:
    """Paired registers, each on its own keep-alive TLS connection, with Idempotency-Keys."""

    def __init__(self, target: Proc, tokens: list[str]) -> None:
        self.target, self.tokens = target, tokens
        self.sessions: list[aiohttp.ClientSession] = []

    async def open(self) -> None:
        self.sessions = [
            https_session(self.target.base_url, limit=4, source=register_source(index))
            for index in range(len(self.tokens))
        ]

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()

    def _headers(self, register: int) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.tokens[register]}",
            "Idempotency-Key": str(uuid.uuid4()),
        }

    async def start_finish(self, register: int) -> tuple[float, float, bool]:
        """(start answered, whole receipt, tse_failure) in seconds."""
        http = self.sessions[register]
        started = time.monotonic()
        async with http.post("/api/v1/transactions", headers=self._headers(register)) as r:
            body = await r.json()
            assert r.status == 201, body
        start_time = time.monotonic() - started
        path = f"/api/v1/transactions/{body['id']}/finish"
        async with http.post(path, json=RECEIPT, headers=self._headers(register)) as r:
            body = await r.json()
            assert r.status == 200, body
        if not body["tse_failure"]:
            assert body["result"]["process_data"].startswith("Beleg^11.90"), body["result"]
        return start_time, time.monotonic() - started, bool(body["tse_failure"])

    async def one_call(self, register: int) -> tuple[float, bool]:
        http = self.sessions[register]
        started = time.monotonic()
        async with http.post(
            "/api/v1/receipts", json=RECEIPT, headers=self._headers(register)
        ) as r:
            body = await r.json()
            assert r.status == 200, body
        return time.monotonic() - started, bool(body.get("tse_failure", False))


def _self_cpu() -> float:
    times = os.times()
    return times.user + times.system


async def shop_load(bench: Bench) -> dict[str, float]:
    """The shop-load figures; starts its own WAN proxy and a unit that calls fiskaly through it."""
    plan = bench.plan
    s = Samples()
    rng = random.Random(21)  # a schedule, not a secret
    proxy = await asyncio.to_thread(start_wan_proxy, bench.sim.base_url, WAN_MS)
    state = bench.state.parent / "shop-unit"
    prepare_unit_state(state)
    unit: Proc | None = None
    fwd: Proc | None = None
    fwd_registers: ShopRegisters | None = None
    direct, nowan = Direct(proxy), Direct(bench.sim)
    registers: ShopRegisters | None = None
    nowan_registers = ShopRegisters(bench.unit, bench.tokens[:1])
    forwarder = ShopRegisters(bench.forwarder, bench.tokens[:1])  # the yardstick, no WAN
    try:
        unit = await asyncio.to_thread(start_unit, state, proxy)
        tokens = await pair(unit, state, [f"ERS shop-{i:02d}" for i in range(REGISTERS)])
        registers = ShopRegisters(unit, tokens)
        fwd = await asyncio.to_thread(start_forwarder, proxy, bench.state.parent / "shop-fwd")
        fwd_registers = ShopRegisters(fwd, tokens)  # the forwarder ignores the tokens
        for opened in (direct, nowan, registers, nowan_registers, forwarder, fwd_registers):
            await opened.open()
        reg, fwd_reg = registers, fwd_registers

        async def via_direct(_register: int) -> None:
            s.direct.append(await direct.receipt())

        async def via_unit(register: int) -> None:
            start, whole, failed = await reg.start_finish(register)
            s.start.append(start)
            s.unit.append(whole)
            s.failures += failed

        async def via_forwarder(register: int) -> None:
            s.forwarder.append((await fwd_reg.one_call(register))[0])

        # warm-up (connections, tokens, caches), not counted
        warm = arrivals(REGISTERS, RATE_PER_REGISTER, 2.0, rng)
        await open_loop(warm, via_direct)
        await open_loop(warm, via_unit)
        await open_loop(warm, via_forwarder)
        for warmed in (s.direct, s.unit, s.start, s.forwarder):
            warmed.clear()
        await nowan_registers.one_call(0)
        await forwarder.one_call(0)
        await nowan.receipt()

        # the unit idle: its own timers and probes, per second
        cpu0 = unit.cpu_seconds()
        await asyncio.sleep(IDLE_SECONDS)
        s.idle_cpu_s_per_s = (unit.cpu_seconds() - cpu0) / IDLE_SECONDS

        # one register alone, alternating
        for _ in range(plan.shop_alone):
            s.alone_list("direct").append(await direct.receipt())
            cpu0 = unit.cpu_seconds()
            start, whole, _failed = await registers.start_finish(0)
            seconds, _failed = await registers.one_call(0)
            s.add_cpu("unit_alone", unit.cpu_seconds() - cpu0, 2)
            s.alone_list("start").append(start)
            s.alone_list("unit").append(whole)
            s.alone_list("onecall").append(seconds)
            s.alone_list("nowan_direct").append(await nowan.receipt())
            cpu0 = bench.unit.cpu_seconds()
            seconds, _failed = await nowan_registers.one_call(0)
            s.add_cpu("unit_alone_nowan", bench.unit.cpu_seconds() - cpu0, 1)
            s.alone_list("nowan_onecall").append(seconds)
            cpu0 = bench.forwarder.cpu_seconds()
            seconds, _failed = await forwarder.one_call(0)
            s.add_cpu("forwarder_alone_nowan", bench.forwarder.cpu_seconds() - cpu0, 1)
            s.alone_list("nowan_forwarder").append(seconds)

        # 50 registers, open loop, the paths alternating (the order flips every round)
        kinds = {
            "direct": (via_direct, s.direct, {"simulator": bench.sim, "proxy": proxy}),
            "unit": (via_unit, s.unit, {"unit": unit, "simulator": bench.sim, "proxy": proxy}),
            "forwarder": (via_forwarder, s.forwarder, {"forwarder": fwd}),
        }
        prefixes = {"direct": "direct_", "unit": "", "forwarder": "at_load_"}
        for index in range(plan.shop_rounds):
            order = list(kinds) if index % 2 == 0 else list(reversed(kinds))
            for path in order:
                fire, samples, procs = kinds[path]
                schedule = arrivals(REGISTERS, RATE_PER_REGISTER, plan.shop_round_seconds, rng)
                s.offered += len(schedule) if path == "unit" else 0
                before = {name: p.cpu_seconds() for name, p in procs.items()}
                own, count = _self_cpu(), len(samples)
                lags = await open_loop(schedule, fire)
                done = len(samples) - count
                s.lag.extend(lags)
                for name, p in procs.items():
                    s.add_cpu(prefixes[path] + name, p.cpu_seconds() - before[name], done)
                if path != "forwarder":
                    s.add_cpu(prefixes[path] + "loadgen", _self_cpu() - own, done)
    finally:
        for closing in (direct, nowan, registers, nowan_registers, forwarder, fwd_registers):
            if closing is not None:
                await closing.close()
        for stopping in (unit, fwd):
            if stopping is not None:
                stopping.stop()
        proxy.stop()
    return shop_figures(s)
