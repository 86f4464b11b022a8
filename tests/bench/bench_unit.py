"""Benchmark: what the unit adds to a receipt, how fast a start answers, how much it carries.

Processes on 127.0.0.1: the standalone simulator (fiskaly stand-in), the unit (``tsed serve``
with credentials for the simulator) and this load generator. Measured in one run:

1. added latency: 50 concurrent registers doing start + finish with 100 ms injected WAN
   latency, (a) straight to the simulator with the same fiskaly calls, (b) through the unit;
   added = (b) - (a) per receipt percentile;
2. start latency: register-visible time of ``POST /api/v1/transactions`` at 100 ms WAN latency;
3. throughput: one-call receipts per second through the unit with no injected latency, and
   the unit's CPU time per receipt; RSS of the unit afterwards.

Run:  .venv/bin/python tests/bench/bench_unit.py [--receipts 2000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

CONCURRENCY = 50
KEY, SECRET = "test_benchbenchbenchbenchbench_sim", "B" * 43
RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _direct(base: str, count: int, deadline: float) -> list[float]:
    """Start + finish straight against the simulator (what a register would do alone)."""
    async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=100)) as http:
        async with http.post("/api/v2/auth", json={"api_key": KEY, "api_secret": SECRET}) as r:
            headers = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
        async with http.get("/api/v2/tss", headers=headers) as r:
            tss = (await r.json())["data"][0]["_id"]
        async with http.get(f"/api/v2/tss/{tss}/client", headers=headers) as r:
            client = (await r.json())["data"][0]["_id"]
        times: list[float] = []
        todo = iter(range(count))

        async def worker() -> None:
            for _ in todo:
                if time.monotonic() > deadline:
                    return
                tx, started = str(uuid.uuid4()), time.monotonic()
                body = {"state": "ACTIVE", "client_id": client}
                async with http.put(
                    f"/api/v2/tss/{tss}/tx/{tx}?tx_revision=1", json=body, headers=headers
                ) as r:
                    await r.read()
                body = {
                    "state": "FINISHED",
                    "client_id": client,
                    "schema": {"standard_v1": {"receipt": RECEIPT}},
                }
                async with http.put(
                    f"/api/v2/tss/{tss}/tx/{tx}?tx_revision=2", json=body, headers=headers
                ) as r:
                    assert r.status == 200
                times.append(time.monotonic() - started)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return times


async def _through_unit(
    base: str, token: str, count: int, deadline: float, *, one_call: bool
) -> tuple[list[float], list[float]]:
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=100, ssl=False)
    async with aiohttp.ClientSession(base, connector=connector) as http:
        times: list[float] = []
        starts: list[float] = []
        todo = iter(range(count))

        async def worker() -> None:
            for _ in todo:
                if time.monotonic() > deadline:
                    return
                started = time.monotonic()
                if one_call:
                    async with http.post("/api/v1/receipts", json=RECEIPT, headers=headers) as r:
                        assert r.status == 200, await r.text()
                        await r.read()
                else:
                    async with http.post("/api/v1/transactions", headers=headers) as r:
                        tx = (await r.json())["id"]
                    starts.append(time.monotonic() - started)
                    async with http.post(
                        f"/api/v1/transactions/{tx}/finish", json=RECEIPT, headers=headers
                    ) as r:
                        body = await r.json()
                        assert r.status == 200 and not body["tse_failure"], body
                times.append(time.monotonic() - started)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return times, starts


async def _sim_faults(base: str, method: str, body: dict[str, float] | None) -> None:
    async with (
        aiohttp.ClientSession(base) as http,
        http.request(method, "/_sim/faults", json=body) as response,
    ):
        await response.read()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(receipts: int, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "unit"
        state.mkdir(mode=0o700)
        (state / "vault.json").write_text(
            json.dumps(
                {"fiskaly.test.default.api_key": KEY, "fiskaly.test.default.api_secret": SECRET}
            )
        )
        sim_port, port = _port(), _port()
        sim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tsed.fiskaly.simulator",
                "--listen",
                f"127.0.0.1:{sim_port}",
                "--api-key",
                KEY,
                "--api-secret",
                SECRET,
                "--env",
                "TEST",
                "--log-level",
                "WARNING",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sim.stdout is not None and sim.stdout.readline()
        env = {
            **os.environ,
            "TSED_FISKALY_BASE_URL": f"http://127.0.0.1:{sim_port}",
            "TSED_MDNS": "off",
        }
        started = time.monotonic()
        unit = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tsed.cli",
                "serve",
                "--state-dir",
                str(state),
                "--config",
                str(state / "tsed.toml"),
                "--listen",
                f"127.0.0.1:{port}",
                "--log-level",
                "WARNING",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"https://127.0.0.1:{port}"
        sim_base = f"http://127.0.0.1:{sim_port}"
        figures: dict[str, float] = {}
        try:
            connector = aiohttp.TCPConnector(ssl=False)
            async with aiohttp.ClientSession(base, connector=connector) as http:
                while True:
                    try:
                        async with http.get("/api/v1/status") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.02)
                figures["process_start_to_serving_s"] = time.monotonic() - started
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "tsed.tsectl",
                        "--state-dir",
                        str(state),
                        "--json",
                        "pair",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                code = json.loads(out.stdout)["code"]
                async with http.post(
                    "/api/v1/pairings", json={"code": code, "register_serial": "ERS bench"}
                ) as r:
                    token = (await r.json())["token"]
            await _sim_faults(sim_base, "POST", {"latency_ms": 100})
            n = min(receipts, 1000)
            direct = await _direct(sim_base, n, time.monotonic() + seconds)
            via, starts = await _through_unit(
                base, token, n, time.monotonic() + seconds, one_call=False
            )
            for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
                figures[f"added_ms_{name}"] = _pct(via, q) - _pct(direct, q)
                figures[f"start_ms_{name}"] = _pct(starts, q)
            figures["direct_ms_p50"] = _pct(direct, 0.5)
            figures["unit_ms_p50"] = _pct(via, 0.5)
            await _sim_faults(sim_base, "DELETE", None)
            cpu0 = _cpu_seconds(unit.pid)
            t0 = time.monotonic()
            done, _ = await _through_unit(
                base, token, receipts, time.monotonic() + seconds, one_call=True
            )
            elapsed = time.monotonic() - t0
            figures["receipts_per_s"] = len(done) / elapsed
            figures["unit_cpu_ms_per_receipt"] = (_cpu_seconds(unit.pid) - cpu0) / len(done) * 1000
            figures["receipts_done"] = len(done)
            figures["unit_rss_mb"] = _rss_mb(unit.pid)
            figures["one_call_ms_p50"] = _pct(done, 0.5)
            figures["one_call_ms_p99"] = _pct(done, 0.99)
            statistics.mean(done)
        finally:
            unit.send_signal(signal.SIGTERM)
            unit.wait(timeout=30)
            sim.terminate()
            sim.communicate(timeout=30)
        return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    result = asyncio.run(main(args.receipts, args.seconds))
    for key, value in result.items():
        print(f"{key:32s} {value:10.2f}")
    print(json.dumps({k: round(v, 2) for k, v in result.items()}))
