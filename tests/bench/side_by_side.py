"""Benchmark: two versions of the unit side by side, CPU per receipt in the same run.

The machine's speed changes from hour to hour, so a code change is measured against the
previous version at the same time: both units run on one simulator and the load rounds
alternate between them (ABBA...), each round a bounded number of one-call receipts from 50
registers. The other version is a checkout of another commit (``git worktree add``).

``--load shop``: the shop load of ``shop.py`` instead of saturation. Both units call fiskaly
through one delaying proxy (100 ms per call); each round is an open loop of 50 registers ×
1 receipt/s (start + finish with Idempotency-Keys), the units alternating; then one register
alone, alternating receipt by receipt. Per tree: CPU per receipt, latencies, start answered.
``--cpu-quota 25`` runs both units under a quarter of one CPU each (``quota.py``: what
``systemd-run --scope -p CPUQuota=25%`` does), a board several times slower than this machine.

Run:  .venv/bin/python -m tests.bench.side_by_side --other ../tsed-old [--rounds 10]
      .venv/bin/python -m tests.bench.side_by_side --other ../tsed-old --load shop \
          [--rounds 4] [--seconds 10] [--cpu-quota 25]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.harness import (
    Proc,
    pair,
    prepare_unit_state,
    start_simulator,
    start_unit,
    start_wan_proxy,
)
from tests.bench.load import LeanRegisters, pct, run_workers
from tests.bench.quota import CpuQuota
from tests.bench.shop import RATE_PER_REGISTER, WAN_MS, ShopRegisters, arrivals, open_loop

REGISTERS = 50
PER_ROUND = 1500
ROUND_SECONDS = 5.0
HERE = Path(__file__).resolve().parents[2]


def _tree(root: Path, name: str, source: Path) -> Path:
    """A directory whose ``tsed`` is the version to run and whose ``tests`` are these."""
    tree = root / name
    tree.mkdir()
    (tree / "tsed").symlink_to(source / "tsed")
    (tree / "tests").symlink_to(HERE / "tests")
    return tree


async def compare(other: Path, rounds: int) -> dict[str, tuple[float, int]]:
    with tempfile.TemporaryDirectory(prefix="tsed-side-") as tmp:
        root = Path(tmp)
        trees = {"other": _tree(root, "other", other), "this": _tree(root, "this", HERE)}
        sim = start_simulator()
        units: dict[str, tuple[Proc, LeanRegisters]] = {}
        cwd = Path.cwd()
        try:
            for name, tree in trees.items():
                os.chdir(tree)  # the unit's ``python -m tsed.cli.tsed`` imports this tree's tsed
                state = root / f"state-{name}"
                prepare_unit_state(state)
                unit = await asyncio.to_thread(start_unit, state, sim)
                os.chdir(cwd)
                tokens = await pair(unit, state, [f"ERS {name}-{i}" for i in range(REGISTERS)])
                units[name] = (unit, LeanRegisters(unit, tokens))
            cpu = {name: [0.0, 0] for name in units}
            for index in range(rounds):
                order = ["other", "this"] if index % 2 == 0 else ["this", "other"]
                for name in order:
                    unit, registers = units[name]

                    async def one(worker: int, registers: LeanRegisters = registers) -> None:
                        await registers.one_call(worker)

                    await run_workers(one, REGISTERS, REGISTERS, time.monotonic() + 10)
                    before = unit.cpu_seconds()
                    done = await run_workers(
                        one, PER_ROUND, REGISTERS, time.monotonic() + ROUND_SECONDS
                    )
                    cpu[name][0] += unit.cpu_seconds() - before
                    cpu[name][1] += done
            for _unit, registers in units.values():
                await registers.close()
            return {
                name: (total / count * 1000, int(count)) for name, (total, count) in cpu.items()
            }
        finally:
            os.chdir(cwd)
            for unit, _registers in units.values():
                unit.stop()
            sim.stop()


class ShopSide:
    """One tree's unit under the shop load: its registers and what they measured."""

    def __init__(self, unit: Proc, registers: ShopRegisters) -> None:
        self.unit, self.registers = unit, registers
        self.whole: list[float] = []
        self.start: list[float] = []
        self.alone: list[float] = []
        self.alone_start: list[float] = []
        self.cpu = [0.0, 0]  # seconds, receipts at load
        self.alone_cpu = [0.0, 0]
        self.failures = 0
        self.lag: list[float] = []

    async def fire(self, register: int) -> None:
        start, whole, failed = await self.registers.start_finish(register)
        self.start.append(start)
        self.whole.append(whole)
        self.failures += failed

    def figures(self) -> dict[str, float]:
        ms = 1000.0
        return {
            "cpu_ms_per_receipt": self.cpu[0] / max(1, self.cpu[1]) * ms,
            "alone_cpu_ms_per_receipt": self.alone_cpu[0] / max(1, self.alone_cpu[1]) * ms,
            "p50_ms": pct(self.whole, 0.5),
            "p99_ms": pct(self.whole, 0.99),
            "start_p50_ms": pct(self.start, 0.5),
            "start_p99_ms": pct(self.start, 0.99),
            "alone_p50_ms": pct(self.alone, 0.5),
            "alone_start_p50_ms": pct(self.alone_start, 0.5),
            "arrival_lag_p99_ms": pct(self.lag, 0.99),
            "receipts": float(self.cpu[1]),
            "tse_failures": float(self.failures),
        }


async def compare_shop(
    other: Path, rounds: int, seconds: float, alone: int, quota: float | None
) -> dict[str, dict[str, float]]:
    rng = random.Random(21)  # a schedule, not a secret
    with tempfile.TemporaryDirectory(prefix="tsed-side-") as tmp:
        root = Path(tmp)
        trees = {"other": _tree(root, "other", other), "this": _tree(root, "this", HERE)}
        sim = start_simulator()
        proxy = start_wan_proxy(sim.base_url, WAN_MS)
        sides: dict[str, ShopSide] = {}
        quotas: list[CpuQuota] = []
        cwd = Path.cwd()
        try:
            for name, tree in trees.items():
                os.chdir(tree)
                state = root / f"state-{name}"
                prepare_unit_state(state)
                unit = await asyncio.to_thread(start_unit, state, proxy)
                os.chdir(cwd)
                sides[name] = ShopSide(unit, ShopRegisters(unit, []))
                tokens = await pair(unit, state, [f"ERS {name}-{i}" for i in range(REGISTERS)])
                sides[name].registers = ShopRegisters(unit, tokens)
                await sides[name].registers.open()
                if quota is not None:
                    quotas.append(CpuQuota(quota, f"tsed-bench-{os.getpid()}-{name}"))
                    quotas[-1].add(unit.pid)
            for side in sides.values():  # warm-up: connections, tokens, caches
                await open_loop(arrivals(REGISTERS, RATE_PER_REGISTER, 2.0, rng), side.fire)
                side.whole.clear()
                side.start.clear()
            for index in range(rounds):
                order = ["other", "this"] if index % 2 == 0 else ["this", "other"]
                for name in order:
                    side = sides[name]
                    schedule = arrivals(REGISTERS, RATE_PER_REGISTER, seconds, rng)
                    before, count = side.unit.cpu_seconds(), len(side.whole)
                    side.lag.extend(await open_loop(schedule, side.fire))
                    side.cpu[0] += side.unit.cpu_seconds() - before
                    side.cpu[1] += len(side.whole) - count
            for index in range(alone):
                for name in ["other", "this"] if index % 2 == 0 else ["this", "other"]:
                    side = sides[name]
                    before = side.unit.cpu_seconds()
                    start, whole, _failed = await side.registers.start_finish(0)
                    side.alone_cpu[0] += side.unit.cpu_seconds() - before
                    side.alone_cpu[1] += 1
                    side.alone.append(whole)
                    side.alone_start.append(start)
            for side in sides.values():
                await side.registers.close()
            figures = {name: side.figures() for name, side in sides.items()}
            for name, group in zip(sides, quotas, strict=False):
                figures[name]["quota_throttled_s"] = group.throttled_s()
            return figures
        finally:
            os.chdir(cwd)
            for side in sides.values():
                side.unit.stop()
            for group in quotas:
                group.remove()
            proxy.stop()
            sim.stop()


def render_shop(results: dict[str, dict[str, float]]) -> str:
    names = list(results["this"])
    lines = [f"{'figure':26s} {'other':>10s} {'this':>10s} {'this/other':>10s}"]
    for figure in names:
        a, b = results["other"][figure], results["this"][figure]
        ratio = f"{b / a:10.2f}" if a else f"{'':10s}"
        lines.append(f"{figure:26s} {a:10.2f} {b:10.2f} {ratio}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", type=Path, required=True, help="checkout of the other version")
    parser.add_argument("--rounds", type=int, default=None, help="10 (saturation), 4 (shop)")
    parser.add_argument("--load", choices=["saturation", "shop"], default="saturation")
    parser.add_argument("--seconds", type=float, default=10.0, help="a shop round's length")
    parser.add_argument("--alone", type=int, default=30, help="shop: receipts of one register")
    parser.add_argument(
        "--cpu-quota", type=float, default=None, help="shop: percent of one CPU for each unit"
    )
    args = parser.parse_args()
    if not (args.other / "tsed" / "__init__.py").is_file():
        parser.error(f"{args.other} is not a tsed checkout")
    print(f"load average before: {os.getloadavg()}")
    if args.load == "shop":
        figures = asyncio.run(
            compare_shop(
                args.other.resolve(), args.rounds or 4, args.seconds, args.alone, args.cpu_quota
            )
        )
        print(render_shop(figures))
        print(f"load average after: {os.getloadavg()}")
        return 0
    if args.cpu_quota is not None:
        parser.error("--cpu-quota goes with --load shop")
    args.rounds = args.rounds or 10
    results = asyncio.run(compare(args.other.resolve(), args.rounds))
    for name, (ms, count) in results.items():
        print(f"{name:6s} {ms:6.2f} ms unit CPU per receipt over {count} receipts")
    change = results["this"][0] / results["other"][0] - 1
    print(f"this tree vs the other: {change:+.1%}")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
