"""Benchmark: HTTP client transports for the fiskaly client (requests per second).

A register request is forwarded as two upstream calls (like start + finish); 50 requests run
concurrently against a small aiohttp upstream on 127.0.0.1. Compared in one run:

* httpx with its default transport,
* httpx's API over aiohttp's transport (httpx-aiohttp) through ``AsyncClient.put``,
* the same through tsed's ``HttpCore`` (the transport called directly, body read at once),
* aiohttp's own ClientSession (the ceiling).

Run:  .venv/bin/python tests/bench/bench_transport.py [--requests 3000] [--seconds 20]
Prints one line per transport and a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from aiohttp import web
from httpx_aiohttp import HttpxAiohttpClient

from tsed.fiskaly.transport import HttpCore

CONCURRENCY = 50


async def _upstream() -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True, "state": "FINISHED"})

    app = web.Application()
    app.router.add_put("/tx/{id}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def _run(call: Callable[[int], Awaitable[None]], requests: int, seconds: float) -> float:
    done = 0
    stop_at = time.monotonic() + seconds
    counter = iter(range(requests))

    async def worker() -> None:
        nonlocal done
        for index in counter:
            if time.monotonic() > stop_at:
                return
            await call(index)
            await call(index)
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done / (time.monotonic() - started)


async def main(requests: int, seconds: float) -> dict[str, float]:
    runner, base = await _upstream()
    body = {"state": "FINISHED", "client_id": "x", "schema": {"standard_v1": {}}}
    results: dict[str, float] = {}
    try:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=base, limits=limits, trust_env=False) as plain:

            async def httpx_default(i: int) -> None:
                (await plain.put(f"/tx/{i}", json=body)).raise_for_status()

            results["httpx default transport"] = await _run(httpx_default, requests, seconds)
        async with HttpxAiohttpClient(base_url=base, limits=limits, trust_env=False) as fast:

            async def httpx_aiohttp(i: int) -> None:
                (await fast.put(f"/tx/{i}", json=body)).raise_for_status()

            results["httpx over aiohttp transport"] = await _run(httpx_aiohttp, requests, seconds)
        core = HttpCore(base)
        await core.start()
        try:

            async def tsed_core(i: int) -> None:
                await core.request("PUT", f"/tx/{i}", what="bench", json=body)

            results["tsed HttpCore (same, fewer layers)"] = await _run(tsed_core, requests, seconds)
        finally:
            await core.stop()
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(base, connector=connector) as session:

            async def aiohttp_native(i: int) -> None:
                async with session.put(f"/tx/{i}", json=body) as response:
                    response.raise_for_status()
                    await response.read()

            results["aiohttp ClientSession"] = await _run(aiohttp_native, requests, seconds)
    finally:
        await runner.cleanup()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    figures = asyncio.run(main(args.requests, args.seconds))
    for name, rate in figures.items():
        print(
            f"{name:40s} {rate:8.0f} requests/s (2 upstream calls each, {CONCURRENCY} concurrent)"
        )
    base_rate = figures["httpx default transport"]
    print(
        json.dumps(
            {k: round(v) for k, v in figures.items()}
            | {
                "speedup_vs_httpx_default": round(
                    figures["tsed HttpCore (same, fewer layers)"] / base_rate, 1
                )
            }
        )
    )
