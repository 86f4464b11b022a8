"""The five measurements of the benchmark (DESIGN §7), each a coroutine over one :class:`Bench`.

Each returns flat figures (``{name: number}``) and fills ``bench.series`` for the chart.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench.harness import Proc, https_session, sim_faults, start_unit
from tests.bench.load import Direct, LeanRegisters, Registers, pct, run_workers, timed_rounds

WAN_MS = 100.0
REGISTERS = 50
ALONE_RECEIPTS = 20


@dataclass(frozen=True)
class Plan:
    """How much of each measurement to run (``--quick`` or full)."""

    latency_rounds: int
    latency_per_round: int
    throughput_levels: tuple[int, ...]
    throughput_receipts: int
    throughput_seconds: float
    memory_receipts: int
    memory_seconds: float
    journal_rows: int
    outage_receipts: int
    shop_rounds: int = 4  # shop load: rounds per path (direct, unit alternating)
    shop_round_seconds: float = 20.0  # of arrivals per round (50 registers × 1/s)
    shop_alone: int = 30  # one register alone: receipts per kind


FULL = Plan(6, 250, (10, 25, 50, 100), 4000, 8.0, 100_000, 600.0, 10_000, 20)
QUICK = Plan(2, 100, (25, 50), 600, 3.0, 3000, 60.0, 10_000, 8, 2, 6.0, 10)


@dataclass
class Bench:
    plan: Plan
    sim: Proc
    unit: Proc
    forwarder: Proc
    state: Path
    tokens: list[str]
    series: dict[str, Any] = field(default_factory=dict)


def _self_cpu() -> float:
    times = os.times()
    return times.user + times.system


async def added_latency(bench: Bench) -> dict[str, float]:
    """Figures 1 and 2: direct vs through the unit at 100 ms WAN, alternating rounds."""
    plan = bench.plan
    await sim_faults(bench.sim, {"latency_ms": WAN_MS})
    direct, registers = Direct(bench.sim), Registers(bench.unit, bench.tokens)
    await direct.open()
    await registers.open()
    direct_times: list[float] = []
    unit_times: list[float] = []
    starts: list[float] = []
    failures = 0

    async def via_direct(_worker: int) -> None:
        direct_times.append(await direct.receipt())

    async def via_unit(worker: int) -> None:
        nonlocal failures
        start, whole, failed = await registers.start_finish(worker)
        starts.append(start)
        unit_times.append(whole)
        failures += failed

    try:
        # one warm-up round each (connections, tokens, caches); not counted
        await run_workers(via_direct, REGISTERS, REGISTERS, time.monotonic() + 30)
        await run_workers(via_unit, REGISTERS, REGISTERS, time.monotonic() + 30)
        # One register alone, alternating: what the unit's path costs without any queueing.
        alone: dict[str, list[float]] = {"direct": [], "unit": [], "start": []}
        for _ in range(ALONE_RECEIPTS):
            alone["direct"].append(await direct.receipt())
            start, whole, _failed = await registers.start_finish(0)
            alone["unit"].append(whole)
            alone["start"].append(start)
        direct_times.clear()
        unit_times.clear()
        starts.clear()
        await timed_rounds(
            {"direct": via_direct, "unit": via_unit},
            plan.latency_per_round,
            plan.latency_rounds,
            REGISTERS,
            time.monotonic() + 60 * plan.latency_rounds,
            stagger=2 * WAN_MS / 1000,  # over one receipt's time
        )
    finally:
        await direct.close()
        await registers.close()
        await sim_faults(bench.sim, None)
    figures = {"latency_receipts_each": float(min(len(direct_times), len(unit_times)))}
    figures["alone_added_ms_p50"] = pct(alone["unit"], 0.5) - pct(alone["direct"], 0.5)
    figures["alone_start_ms_p50"] = pct(alone["start"], 0.5)
    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        figures[f"direct_ms_{name}"] = pct(direct_times, q)
        figures[f"unit_ms_{name}"] = pct(unit_times, q)
        figures[f"added_ms_{name}"] = pct(unit_times, q) - pct(direct_times, q)
        figures[f"start_ms_{name}"] = pct(starts, q)
    figures["start_ms_max"] = max(starts) * 1000
    figures["latency_tse_failures"] = float(failures)
    bench.series["latency"] = {
        "direct": [pct(direct_times, q / 100) for q in range(1, 100)],
        "unit": [pct(unit_times, q / 100) for q in range(1, 100)],
    }
    return figures


async def throughput(bench: Bench) -> dict[str, float]:
    """Figure 3: receipts/s with no injected latency, unit and forwarder alternating per level;
    CPU time per receipt of each process."""
    plan = bench.plan
    unit = LeanRegisters(bench.unit, bench.tokens)
    fwd = LeanRegisters(bench.forwarder, bench.tokens)
    await unit.open()
    await fwd.open()
    curve: dict[str, list[tuple[int, float]]] = {"unit": [], "forwarder": []}
    figures: dict[str, float] = {}
    cpu: dict[str, list[float]] = {"unit": [0.0, 0.0], "forwarder": [0.0, 0.0]}
    failures = 0

    async def measure(name: str, target: LeanRegisters, proc: Proc, level: int) -> float:
        nonlocal failures

        async def one(worker: int) -> None:
            nonlocal failures
            failures += (await target.one_call(worker))[1]

        await run_workers(one, level, level, time.monotonic() + 10)  # warm the pool
        cpu0, sim0, own0 = proc.cpu_seconds(), bench.sim.cpu_seconds(), _self_cpu()
        began = time.monotonic()
        done = await run_workers(
            one, plan.throughput_receipts, level, began + plan.throughput_seconds
        )
        elapsed = time.monotonic() - began
        cpu[name][0] += proc.cpu_seconds() - cpu0
        cpu[name][1] += done
        if name == "unit" and level == REGISTERS:
            figures["sim_cpu_ms_per_receipt"] = (bench.sim.cpu_seconds() - sim0) / done * 1000
            figures["loadgen_cpu_ms_per_receipt"] = (_self_cpu() - own0) / done * 1000
        return done / elapsed

    try:
        for index, level in enumerate(plan.throughput_levels):
            order = [("unit", unit, bench.unit), ("forwarder", fwd, bench.forwarder)]
            for name, target, proc in order if index % 2 == 0 else order[::-1]:
                curve[name].append((level, await measure(name, target, proc, level)))
    finally:
        await unit.close()
        await fwd.close()
    bench.series["throughput"] = curve
    figures["unit_receipts_per_s"] = max(rate for _, rate in curve["unit"])
    figures["forwarder_receipts_per_s"] = max(rate for _, rate in curve["forwarder"])
    figures["unit_cpu_ms_per_receipt"] = cpu["unit"][0] / cpu["unit"][1] * 1000
    figures["forwarder_cpu_ms_per_receipt"] = cpu["forwarder"][0] / cpu["forwarder"][1] * 1000
    figures["throughput_tse_failures"] = float(failures)
    figures["rss_mb_after_saturation"] = bench.unit.rss_mb()
    return figures


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


async def memory(bench: Bench) -> dict[str, float]:
    """Figure 4a: RSS of the unit along many one-call receipts; the slope after warm-up."""
    plan = bench.plan
    registers = LeanRegisters(bench.unit, bench.tokens)
    await registers.open()
    samples: list[tuple[float, float]] = [(0.0, bench.unit.rss_mb())]
    done = 0
    step = max(500, plan.memory_receipts // 50)
    deadline = time.monotonic() + plan.memory_seconds
    failures = 0

    async def one(worker: int) -> None:
        nonlocal done, failures
        failures += (await registers.one_call(worker))[1]
        done += 1
        if done % step == 0:
            samples.append((float(done), bench.unit.rss_mb()))

    try:
        began = time.monotonic()
        await run_workers(one, plan.memory_receipts, REGISTERS, deadline)
        elapsed = time.monotonic() - began
    finally:
        await registers.close()
    samples.append((float(done), bench.unit.rss_mb()))
    bench.series["rss"] = samples
    settled = [p for p in samples if p[0] >= done * 0.2]
    return {
        "memory_receipts": float(done),
        "memory_receipts_per_s": done / elapsed,
        "rss_mb_start": samples[0][1],
        "rss_mb_end": samples[-1][1],
        "rss_mb_max": max(mb for _, mb in samples),
        "rss_slope_mb_per_10k": _slope(settled) * 10_000,
        "memory_tse_failures": float(failures),
    }


def _fill_journal(db: Path, rows: int) -> int:
    """Clone finished journal rows (new ids) until the journal holds ``rows``; the count."""
    with sqlite3.connect(db) as conn:
        have = int(conn.execute("SELECT COUNT(*) FROM transactions").fetchone()[0])
        if have < rows:
            cols = [r[1] for r in conn.execute("PRAGMA table_info(transactions)")]
            template = conn.execute(
                "SELECT * FROM transactions WHERE state = 'finished' LIMIT 1"
            ).fetchone()
            if template is None:
                raise RuntimeError("no finished transaction to clone")
            index = {name: i for i, name in enumerate(cols)}
            batch = []
            for _ in range(rows - have):
                values = list(template)
                values[index["id"]] = str(uuid.uuid4())
                values[index["tx_id"]] = str(uuid.uuid4())
                batch.append(values)
            marks = ",".join("?" * len(cols))
            conn.executemany(f"INSERT INTO transactions VALUES ({marks})", batch)
        return int(conn.execute("SELECT COUNT(*) FROM transactions").fetchone()[0])


async def cold_start(bench: Bench) -> dict[str, float]:
    """Figure 4b: restart the unit over a journal of at least ``journal_rows`` transactions."""
    bench.unit.stop()
    rows = await asyncio.to_thread(
        _fill_journal, bench.state / "tsed.sqlite", bench.plan.journal_rows
    )
    bench.unit = await asyncio.to_thread(start_unit, bench.state, bench.sim)
    registers = Registers(bench.unit, bench.tokens)
    await registers.open()
    try:
        first, failed = await registers.one_call(0)
    finally:
        await registers.close()
    assert not failed
    return {
        "journal_rows": float(rows),
        "cold_start_to_ready_s": bench.unit.extra["start_to_ready_s"],
        "cold_first_receipt_ms": first * 1000,
        "cold_rss_mb": bench.unit.rss_mb(),
    }


async def _tse_available(unit: Proc, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    async with https_session(unit.base_url) as http:
        while time.monotonic() < deadline:
            async with http.get("/api/v1/status") as r:
                if (await r.json())["tse"]["available"]:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError("the TSE did not become available again")


async def outage(bench: Bench) -> dict[str, float]:
    """Figure 5: fiskaly silent (no answer) and fiskaly down (connections dropped): the time
    to each ``tse_failure`` answer of one register calling in sequence."""
    figures: dict[str, float] = {}
    registers = Registers(bench.unit, bench.tokens)
    await registers.open()
    try:
        for name, fault in (
            ("silent", {"hang_rate": 1.0, "hang_seconds": 60.0}),
            ("down", {"down_for": 3600.0}),
        ):
            await _tse_available(bench.unit)
            await sim_faults(bench.sim, fault)
            times: list[float] = []
            for _ in range(bench.plan.outage_receipts):
                seconds, failed = await registers.one_call(0)
                assert failed, "a receipt was signed although fiskaly is down"
                times.append(seconds)
            await sim_faults(bench.sim, None)
            bench.series[f"outage_{name}"] = [t * 1000 for t in times]
            figures[f"outage_{name}_first_ms"] = times[0] * 1000
            slow = [t for t in times if t > 0.05]
            figures[f"outage_{name}_slow_answers"] = float(len(slow))
            rest = times[len(slow) :] or times[-1:]
            figures[f"outage_{name}_then_ms_max"] = max(rest) * 1000
            figures[f"outage_{name}_then_ms_p50"] = pct(rest, 0.5)
        await _tse_available(bench.unit, 60.0)
    finally:
        await registers.close()
    return figures
