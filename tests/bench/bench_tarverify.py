"""Benchmark: logs per second of the TAR verifier (``tsed.fiskaly.tarverify.verify_tar``).

An in-process simulator on 127.0.0.1 signs ``--sales`` receipts (Start + Finish each, 20 at a
time), exports the whole TSS, and the verifier checks the TAR (parse, names, signatures,
chain, counters, transactions). Prints the numbers; bounded by count and time.

Run:  .venv/bin/python -m tests.bench.bench_tarverify [--sales 2000] [--seconds 120]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx

from tests.fiskaly.simulator.conftest import Api
from tests.support.tar import download_export
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.tarverify import verify_tar

CONCURRENCY = 20


async def _make_tar(sales: int, seconds: float) -> tuple[bytes, int]:
    sim = Simulator()
    server = SimulatorServer(sim)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as http:
            api = Api(http, sim.add_api_key("TEST"))
            await api.auth()
            tss_id, client_id = await api.setup_tss()
            deadline = time.monotonic() + seconds
            done = 0

            async def worker(count: int) -> None:
                nonlocal done
                for _ in range(count):
                    if time.monotonic() > deadline:
                        return
                    await api.sale(tss_id, client_id)
                    done += 1

            share = [sales // CONCURRENCY + (i < sales % CONCURRENCY) for i in range(CONCURRENCY)]
            await asyncio.gather(*(worker(n) for n in share))
            return await download_export(api, tss_id), done
    finally:
        await server.stop()
        sim.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=120.0, help="cap on signing time")
    args = parser.parse_args()
    tar, sales = asyncio.run(_make_tar(args.sales, args.seconds))
    start, cpu = time.perf_counter(), time.process_time()
    report = verify_tar(tar, name=f"bench-{uuid.uuid4().hex[:6]}.tar")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    logs = report.transaction_logs + report.system_logs + report.audit_logs
    print(f"sales signed: {sales}, TAR size: {len(tar)} bytes, logs: {logs}, ok: {report.ok}")
    print(f"verify_tar: {elapsed:.2f} s wall, {cpu:.2f} s CPU, {logs / elapsed:.0f} logs/s, "
          f"{cpu / logs * 1e6:.0f} µs CPU per log")  # fmt: skip


if __name__ == "__main__":
    main()
