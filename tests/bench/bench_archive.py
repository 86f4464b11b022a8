"""Benchmark: an archive run's time, CPU and bytes per 10,000 receipts, and a shop's disk need.

A standalone simulator process (so its TAR building is not counted) signs ``--receipts``
receipts (Start + Finish each, 20 at a time); then the unit's :class:`~tsed.archive.run.Archiver`
archives the whole TSS (the first run: export, download, verify, record) and, after
``--day`` more receipts, the next night's incremental run. Prints run time, CPU of this
process during each run, archived bytes per 10,000 receipts and the projection for a busy
shop (``--per-day`` receipts a day for ten years). Bounded by count and time.

Run:  .venv/bin/python -m tests.bench.bench_archive [--receipts 10000] [--day 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from tests.fiskaly.simulator.conftest import Api
from tests.support.reliability import start_sim_process, stop
from tests.support.unit import KEY, SECRET, free_port
from tsed.archive.run import Archiver, ArchiveTarget, RunState
from tsed.archive.store import ArchiveStore
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.simulator.support import SimCredentials

CONCURRENCY = 20


async def _sales(api: Api, tss_id: str, client_id: str, count: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    done = 0

    async def worker(share: int) -> None:
        nonlocal done
        for _ in range(share):
            if time.monotonic() > deadline:
                return
            await api.sale(tss_id, client_id)
            done += 1

    shares = [count // CONCURRENCY + (i < count % CONCURRENCY) for i in range(CONCURRENCY)]
    await asyncio.gather(*(worker(n) for n in shares))
    return done


def _line(what: str, state: RunState, receipts: int) -> str:
    took = (state.finished_at or state.started_at) - state.started_at
    per = state.bytes * 10_000 / receipts if receipts else 0
    return (
        f"{what}: {receipts} receipts, {state.files} file(s), {state.bytes / 1e6:.2f} MB "
        f"({per / 1e6:.2f} MB per 10 000 receipts) in {took:.1f} s, CPU {state.cpu_seconds:.2f} s"
    )


async def main(receipts: int, day: int, per_day: int, seconds: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    port = free_port()
    sim = start_sim_process(work / "sim", port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30.0) as http:
            api = Api(http, SimCredentials(KEY, SECRET, "TEST", "bench"))
            await api.auth()
            tss_id, client_id = await api.setup_tss()
            made = await _sales(api, tss_id, client_id, receipts, seconds)
            client = FiskalyClient(api_key=KEY, api_secret=SECRET, base_url=base)
            store = ArchiveStore(work / "archive")
            store.open()
            archiver = Archiver(store, lambda: [ArchiveTarget("default", tss_id, client)],
                                poll_interval=0.5)  # fmt: skip
            first = await archiver.run("bench")
            print(_line("first run (whole TSS)", first, made))
            more = await _sales(api, tss_id, client_id, day, seconds)
            nightly = await archiver.run("bench")
            print(_line("nightly run (one day)", nightly, more))
            await client.stop()
        per_receipt = (first.bytes + nightly.bytes) / (made + more)
        ten_years = per_receipt * per_day * 365 * 10
        print(
            f"disk: {per_receipt:.0f} bytes per receipt; a shop with {per_day} receipts a day "
            f"needs {per_receipt * per_day / 1e6:.1f} MB a day, "
            f"{ten_years / 1e9:.1f} GB for ten years"
        )
    finally:
        stop(sim)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receipts", type=int, default=10_000)
    parser.add_argument("--day", type=int, default=1_000)
    parser.add_argument("--per-day", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args()
    asyncio.run(main(args.receipts, args.day, args.per_day, args.seconds))
