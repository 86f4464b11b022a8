"""Benchmark: transaction upserts per second of the fiskaly simulator.

The simulator runs standalone (``tsed-fiskaly-sim``, its own process) on 127.0.0.1; a load
generator (aiohttp, 50 concurrent) drives start+finish pairs on one TSS, in memory and with a
state directory (SQLite persistence). Bounded by count and time.

Run:  .venv/bin/python tests/bench/bench_simulator.py [--pairs 4000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import aiohttp

CONCURRENCY = 50
RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _setup(
    http: aiohttp.ClientSession, creds: dict[str, str]
) -> tuple[dict[str, str], str, str]:
    async with http.post(
        "/api/v2/auth", json={"api_key": creds["api_key"], "api_secret": creds["api_secret"]}
    ) as r:
        token = (await r.json())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    tss, client = str(uuid.uuid4()), str(uuid.uuid4())
    async with http.put(f"/api/v2/tss/{tss}", json={}, headers=headers) as r:
        puk = (await r.json())["admin_puk"]
    steps = [
        ("PATCH", f"/api/v2/tss/{tss}", {"state": "UNINITIALIZED"}),
        ("PATCH", f"/api/v2/tss/{tss}/admin", {"admin_puk": puk, "new_admin_pin": "123456"}),
        ("POST", f"/api/v2/tss/{tss}/admin/auth", {"admin_pin": "123456"}),
        ("PATCH", f"/api/v2/tss/{tss}", {"state": "INITIALIZED"}),
        ("PUT", f"/api/v2/tss/{tss}/client/{client}", {"serial_number": "ERS bench"}),
    ]
    for method, path, body in steps:
        async with http.request(method, path, json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
    return headers, tss, client


async def _load(base: str, creds: dict[str, str], pairs: int, seconds: float) -> float:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(base, connector=connector) as http:
        headers, tss, client = await _setup(http, creds)
        counter = iter(range(pairs))
        stop_at = time.monotonic() + seconds
        done = 0

        async def worker() -> None:
            nonlocal done
            for _ in counter:
                if time.monotonic() > stop_at:
                    return
                tx = str(uuid.uuid4())
                start = {"state": "ACTIVE", "client_id": client}
                async with http.put(
                    f"/api/v2/tss/{tss}/tx/{tx}?tx_revision=1", json=start, headers=headers
                ) as r:
                    assert r.status == 200, await r.text()
                finish = {
                    "state": "FINISHED",
                    "client_id": client,
                    "schema": {"standard_v1": {"receipt": RECEIPT}},
                }
                async with http.put(
                    f"/api/v2/tss/{tss}/tx/{tx}?tx_revision=2", json=finish, headers=headers
                ) as r:
                    assert r.status == 200, await r.text()
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return 2 * done / (time.monotonic() - started)


def _run(state_dir: str | None, pairs: int, seconds: float) -> float:
    port = _port()
    args = [
        sys.executable,
        "-m",
        "tsed.fiskaly.simulator",
        "--listen",
        f"127.0.0.1:{port}",
        "--log-level",
        "WARNING",
    ]
    if state_dir:
        args += ["--state-dir", state_dir]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        creds = json.loads(proc.stdout.readline())
        return asyncio.run(_load(creds["base_url"], creds, pairs, seconds))
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    memory = _run(None, args.pairs, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        persisted = _run(tmp, args.pairs, args.seconds)
    print(f"simulator, in memory:        {memory:7.0f} transaction upserts/s")
    print(f"simulator, with --state-dir: {persisted:7.0f} transaction upserts/s")
    print(
        json.dumps(
            {"upserts_per_s_memory": round(memory), "upserts_per_s_state_dir": round(persisted)}
        )
    )
