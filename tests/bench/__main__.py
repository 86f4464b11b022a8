"""The unit's benchmark: one command for every performance figure of DESIGN §7.

    .venv/bin/python -m tests.bench [--quick] [--json PATH] [--svg PATH] [--only NAME ...]

Processes on 127.0.0.1 only: the standalone simulator, the unit (``tsed serve``), a bare
aiohttp forwarder (the reference) and this load generator. Prints a table, writes JSON
(default ``build/bench.json``) and an SVG chart (default ``docs/benchmarks.svg``).
See ``docs/benchmarks.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.bench import figures as fig
from tests.bench.harness import (
    Proc,
    pair,
    prepare_unit_state,
    start_forwarder,
    start_simulator,
    start_unit,
)
from tests.bench.report import render_svg, table, write_json
from tests.bench.shop import shop_load

MEASUREMENTS: dict[str, Callable[[fig.Bench], Awaitable[dict[str, float]]]] = {
    "latency": fig.added_latency,
    "shop": shop_load,  # open loop, 50 registers × 1 receipt/s, WAN through a delaying proxy
    "memory": fig.memory,  # before the saturation run: a shop's 50 registers, not 100
    "throughput": fig.throughput,
    "coldstart": fig.cold_start,
    "outage": fig.outage,
}


async def run(plan: fig.Plan, only: list[str]) -> tuple[dict[str, float], dict[str, object]]:
    figures: dict[str, float] = {}
    procs: list[Proc] = []
    with tempfile.TemporaryDirectory(prefix="tsed-bench-") as tmp:
        root = Path(tmp)
        state = root / "unit"
        try:
            sim = start_simulator()
            procs.append(sim)
            prepare_unit_state(state)
            unit = await asyncio.to_thread(start_unit, state, sim)
            procs.append(unit)
            figures["start_to_ready_s"] = unit.extra["start_to_ready_s"]
            serials = [f"ERS bench-{i:02d}" for i in range(fig.REGISTERS)]
            tokens = await pair(unit, state, serials)
            forwarder = await asyncio.to_thread(start_forwarder, sim, root / "forwarder")
            procs.append(forwarder)
            bench = fig.Bench(plan, sim, unit, forwarder, state, tokens)
            for name, measure in MEASUREMENTS.items():
                if only and name not in only:
                    continue
                began = time.monotonic()
                print(f"== {name} ...", file=sys.stderr, flush=True)
                figures.update(await measure(bench))
                print(f"   {time.monotonic() - began:.1f} s", file=sys.stderr, flush=True)
            procs[1] = bench.unit  # the cold start replaced it
        finally:
            for proc in reversed(procs):
                proc.stop()
        return figures, bench.series


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (~1 minute)")
    parser.add_argument("--json", type=Path, default=Path("build/bench.json"))
    parser.add_argument("--svg", type=Path, default=Path("docs/benchmarks.svg"))
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(MEASUREMENTS))
    args = parser.parse_args()
    plan = fig.QUICK if args.quick else fig.FULL
    began = time.monotonic()
    load_before = os.getloadavg()[0]
    figures, series = asyncio.run(run(plan, args.only))
    meta = {
        # the machine is shared: a load average above the core count means every process
        # (and so every latency figure) waited for a CPU
        "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "mode": "quick" if args.quick else "full",
        "only": args.only,
        "seconds": round(time.monotonic() - began, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(table(figures))
    write_json(args.json, figures, meta, series)
    render_svg(args.svg, figures, series)
    print(
        f"\nJSON: {args.json}   chart: {args.svg}   ({meta['seconds']} s, load average "
        f"{meta['loadavg_1min_before_after']} on {meta['cpus']} CPUs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
