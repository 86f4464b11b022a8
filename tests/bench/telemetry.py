"""Fleet telemetry: bytes and CPU per push (the figures of docs/fleet.md).

    .venv/bin/python -m tests.bench.telemetry [--pushes N] [--receipts N]

A unit in process (built-in simulator) signs receipts, then pushes N times to a real
Pushgateway on 127.0.0.1 (TLS, Basic auth), once through a loopback proxy. Per push: the
request body (the exposition prometheus-client builds; gzip size for comparison) and the
unit's CPU time (``time.process_time``: reading the values, the exposition, TLS and HTTP).
The first push of each client pays the CA bundle and the TLS handshake; the rest reuse the
connection. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.proxyserver import ProxyServer
from tests.support.pushgateway import TOKEN, pushgateway
from tests.support.unit import running_unit
from tsed.net.identity import load_or_create_identity
from tsed.state.paths import StatePaths
from tsed.state.vault import Vault
from tsed.unit.telemetry import TOKEN_KEY, build_request


async def _measure(tmp: Path, pushes: int, receipts: int, via_proxy: bool) -> dict[str, Any]:
    state = tmp / "unit"
    unit_id = load_or_create_identity(state, name="bench").device_id
    async with pushgateway(tmp / "gw", user=unit_id) as gateway:
        proxy = ProxyServer()
        await proxy.start()
        config = (
            f'[telemetry]\nenabled = true\ngateway = "{gateway.url}"\ninterval = 3600\n'
            f'shop = "filiale-7"\nchain = "kette-nord"\nca_file = "{gateway.ca_file}"\n'
        )
        if via_proxy:
            config += f'\n[proxy]\nhost = "127.0.0.1"\nport = {proxy.port}\n'
        Vault(StatePaths(state).vault).set(TOKEN_KEY, TOKEN)
        try:
            async with running_unit(state, config=config) as unit:
                register = await unit.pair()
                for _ in range(receipts):
                    await register.receipt()
                telemetry = unit.daemon.telemetry
                await telemetry.stop()  # the bench pushes itself, one at a time
                cpu: list[float] = []
                wall: list[float] = []
                for _ in range(pushes):
                    began_cpu, began = time.process_time(), time.perf_counter()
                    size = await telemetry.push()
                    cpu.append((time.process_time() - began_cpu) * 1000)
                    wall.append((time.perf_counter() - began) * 1000)
                body = build_request(unit.daemon.config.telemetry, telemetry.metrics, unit_id).body
                await telemetry.stop()
        finally:
            await proxy.stop()
    steady = cpu[1:] or cpu
    return {
        "via_proxy": via_proxy,
        "body_bytes": size,
        "body_gzip_bytes": len(gzip.compress(body)),
        "cpu_ms_first": round(cpu[0], 2),
        "cpu_ms_median": round(statistics.median(steady), 2),
        "cpu_ms_p95": round(sorted(steady)[int(0.95 * (len(steady) - 1))], 2),
        "wall_ms_median": round(statistics.median(wall[1:] or wall), 2),
        "proxy_connections": proxy.total,
    }


async def _main(pushes: int, receipts: int) -> list[dict[str, Any]]:
    results = []
    for via_proxy in (False, True):
        with tempfile.TemporaryDirectory(prefix="tsed-bench-telemetry-") as tmp:
            results.append(await _measure(Path(tmp), pushes, receipts, via_proxy))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--receipts", type=int, default=20)
    args = parser.parse_args()
    for row in asyncio.run(_main(args.pushes, args.receipts)):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
