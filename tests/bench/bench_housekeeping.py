"""Benchmark: the nightly housekeeping's wall time and CPU, per step, on a real unit.

A unit in this process (built-in simulator, so the CPU includes the simulator building the
TAR export) signs ``--receipts`` receipts through the register API (10 at a time), with one
receipt answered ``tse_failure`` and signed late; then the whole housekeeping runs (abandon
sweep, archive run, reconciliation, certificate watch, self-check), and again after ``--day``
more receipts (the next night's incremental run). Prints each step's seconds and the
process CPU of each night. Bounded by count and time.

Run:  .venv/bin/python -m tests.bench.bench_housekeeping [--receipts 2000] [--day 500]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from tests.support.unit import Register, running_unit
from tsed.archive.health import HousekeepingRecord

CONCURRENCY = 10


async def _sales(register: Register, count: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    done = 0

    async def worker(share: int) -> None:
        nonlocal done
        for _ in range(share):
            if time.monotonic() > deadline:
                return
            await register.receipt()
            done += 1

    shares = [count // CONCURRENCY + (i < count % CONCURRENCY) for i in range(CONCURRENCY)]
    await asyncio.gather(*(worker(n) for n in shares))
    return done


def _print(name: str, record: HousekeepingRecord, wall: float, cpu: float) -> None:
    steps = ", ".join(f"{s.step} {s.result} {s.seconds:.2f} s" for s in record.steps)
    archive = record.step("archive")
    files = archive.details.get("files") if archive else None
    size = archive.details.get("bytes") if archive else None
    print(f"{name}: {record.result}, wall {wall:.2f} s, CPU {cpu:.2f} s; {steps}; "
          f"archive {files} file(s), {size} bytes")  # fmt: skip


async def main(receipts: int, day: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with running_unit(Path(tmp) / "state") as unit:
            unit.daemon.archive.archiver.poll_interval = 0.2
            await unit.tsectl("config", "set", "name", "Benchmark")
            hk = unit.daemon.running.ops.housekeeping
            register = await unit.pair()
            sim = unit.daemon.sim
            assert sim is not None
            sim.faults.update({"error_rate": 1.0, "error_status": 503, "route": "/tx/"})
            await register.receipt()  # answered tse_failure, signed late
            sim.faults.reset()
            signed = await _sales(register, receipts, seconds)
            await asyncio.sleep(3)  # the late signing after the outage
            for name, count in (("first night", signed), ("next night", day)):
                if name == "next night":
                    count = await _sales(register, day, seconds)
                cpu, wall = time.process_time(), time.monotonic()
                record = await hk.run("nightly")
                _print(f"{name} ({count} receipts)", record, time.monotonic() - wall,
                       time.process_time() - cpu)  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--receipts", type=int, default=2000)
    parser.add_argument("--day", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=300.0, help="signing time bound")
    args = parser.parse_args()
    asyncio.run(main(args.receipts, args.day, args.seconds))
