"""The reference for throughput: a bare aiohttp forwarder doing the same two upstream calls.

``POST /api/v1/receipts`` over the same TLS set-up as the unit (a device certificate from
``tsed.net.identity``), forwarded as start (``PUT .../tx/{id}?tx_revision=1``, ACTIVE) and finish
(revision 2, FINISHED, the receipt) to the simulator over one keep-alive pool. No journal, no
validation, no idempotency: what any forwarder must at least do.

Run by the benchmark:  python -m tests.bench.forwarder --listen H:P --upstream URL --state-dir D
Prints one line once it serves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.bench.harness import KEY, SECRET
from tsed.net.identity import load_or_create_identity, server_ssl_context


async def serve(listen: str, upstream: str, state: Path) -> None:
    http = aiohttp.ClientSession(upstream, connector=aiohttp.TCPConnector(limit=100))
    async with http.post("/api/v2/auth", json={"api_key": KEY, "api_secret": SECRET}) as r:
        headers = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
    async with http.get("/api/v2/tss", headers=headers) as r:
        tss = next(t["_id"] for t in (await r.json())["data"] if t["state"] == "INITIALIZED")
    async with http.get(f"/api/v2/tss/{tss}/client", headers=headers) as r:
        client = next(c["_id"] for c in (await r.json())["data"] if c["state"] == "REGISTERED")

    async def receipts(request: web.Request) -> web.Response:
        receipt = await request.json()
        tx = str(uuid.uuid4())
        body = {"state": "ACTIVE", "client_id": client}
        async with http.put(
            f"/api/v2/tss/{tss}/tx/{tx}?tx_revision=1", json=body, headers=headers
        ) as r:
            await r.read()
        body = {
            "state": "FINISHED",
            "client_id": client,
            "schema": {"standard_v1": {"receipt": receipt}},
        }
        async with http.put(
            f"/api/v2/tss/{tss}/tx/{tx}?tx_revision=2", json=body, headers=headers
        ) as r:
            data = await r.read()
            return web.Response(body=data, status=r.status, content_type="application/json")

    app = web.Application()
    app.router.add_post("/api/v1/receipts", receipts)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    identity = load_or_create_identity(state, name="bench-forwarder", addresses=["127.0.0.1"])
    host, _, port = listen.rpartition(":")
    site = web.TCPSite(runner, host, int(port), ssl_context=server_ssl_context(identity))
    await site.start()
    print(json.dumps({"listening": listen}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await http.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args()
    args.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    asyncio.run(serve(args.listen, args.upstream, args.state_dir))


if __name__ == "__main__":
    main()
