"""Processes of the benchmark on 127.0.0.1: the standalone simulator, the unit, the forwarder.

Every process is a real one (``python -m ...``) so that CPU time and RSS can be read from
``/proc`` per process. The unit is started with a ``NOTIFY_SOCKET`` of our own so that
"start to READY" is what systemd would see.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.support.unit import RECEIPT, serve_argv

__all__ = ["RECEIPT"]
KEY, SECRET = "test_benchbenchbenchbenchbench_sim", "B" * 43
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    """One benchmark process and its /proc counters."""

    name: str
    popen: subprocess.Popen[bytes]
    base_url: str
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def start_simulator() -> Proc:
    """The standalone fiskaly simulator (in memory) with the benchmark's API key, plain HTTP."""
    port = free_port()
    popen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tsed.fiskaly.simulator",
            "--listen",
            f"127.0.0.1:{port}",
            "--api-key",
            KEY,
            "--api-secret",
            SECRET,
            "--env",
            "TEST",
            "--log-level",
            "ERROR",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert popen.stdout is not None
    line = popen.stdout.readline()
    if not line:
        raise RuntimeError("the simulator did not start")
    return Proc("simulator", popen, f"http://127.0.0.1:{port}")


def prepare_unit_state(state: Path) -> None:
    """A state directory whose vault holds credentials for the standalone simulator."""
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    vault = state / "vault.json"
    if not vault.exists():
        vault.write_text(
            json.dumps(
                {"fiskaly.test.default.api_key": KEY, "fiskaly.test.default.api_secret": SECRET}
            )
        )
        vault.chmod(0o600)


def start_unit(state: Path, sim: Proc, profile_threads: Path | None = None) -> Proc:
    """``tsed serve`` against the simulator; returns once it told us READY=1.

    ``extra["start_to_ready_s"]`` is the time from spawning the process to READY.
    ``profile_threads``: run it under cProfile in every thread (``profiled.py``), stats there.
    """
    port = free_port()
    notify_path = state.parent / f"notify-{port}.sock"
    notify_path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    env = {
        **os.environ,
        "TSED_FISKALY_BASE_URL": sim.base_url,
        "TSED_MDNS": "off",
        "NOTIFY_SOCKET": str(notify_path),
    }
    env.pop("WATCHDOG_USEC", None)
    started = time.monotonic()
    profile = os.environ.get("TSED_BENCH_PROFILE")  # cProfile output file for the unit
    argv = serve_argv(state, port, "ERROR")
    if profile_threads is not None:
        argv = [
            "-m",
            "tests.bench.profiled",
            str(profile_threads),
            *argv[2:],
        ]  # no -m tsed.cli.tsed
    elif profile:
        argv = ["-m", "cProfile", "-o", profile, *argv]
    popen = subprocess.Popen(
        [sys.executable, *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("TSED_BENCH_LOG") else subprocess.DEVNULL,
    )
    proc = Proc("unit", popen, f"https://127.0.0.1:{port}")
    try:
        listener.settimeout(0.5)
        while True:
            if time.monotonic() - started > START_TIMEOUT or popen.poll() is not None:
                raise RuntimeError("the unit did not become READY")
            try:
                message = listener.recv(4096)
            except TimeoutError:
                continue
            if b"READY=1" in message:
                break
        proc.extra["start_to_ready_s"] = time.monotonic() - started
    except BaseException:
        proc.stop()
        raise
    finally:
        listener.close()
        notify_path.unlink(missing_ok=True)
    return proc


def start_forwarder(sim: Proc, state: Path) -> Proc:
    """The reference: a bare aiohttp forwarder doing the same two upstream calls."""
    port = free_port()
    popen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.bench.forwarder",
            "--listen",
            f"127.0.0.1:{port}",
            "--upstream",
            sim.base_url,
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert popen.stdout is not None
    if not popen.stdout.readline():
        raise RuntimeError("the forwarder did not start")
    return Proc("forwarder", popen, f"https://127.0.0.1:{port}")


def register_source(index: int) -> str:
    """The loopback address register ``index`` connects from: 127.0.1.1, 127.0.1.2, ...
    (each register its own host, as on a shop's LAN: the unit holds at most 32 connections
    per address)."""
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


def https_session(base: str, limit: int = 200, source: str | None = None) -> aiohttp.ClientSession:
    """A register-side session (the unit's certificate is self-signed: pinned elsewhere);
    ``source``: the loopback address it connects from (a register of its own on the LAN: the
    unit holds at most 32 connections per address)."""
    local = (source, 0) if source is not None else None
    connector = aiohttp.TCPConnector(limit=limit, ssl=False, local_addr=local)
    return aiohttp.ClientSession(base, connector=connector)


async def pair(unit: Proc, state: Path, serials: list[str]) -> list[str]:
    """Pair one register per serial (pairing window over the admin socket): their tokens."""
    tokens = []
    admin = aiohttp.UnixConnector(path=str(state / "admin.sock"))
    async with (
        aiohttp.ClientSession("http://unit", connector=admin) as ctl,
        https_session(unit.base_url) as http,
    ):
        for serial in serials:
            async with ctl.post("/admin/v1/pairing", json={}) as r:
                opened = await r.json()
                if r.status != 201:
                    raise RuntimeError(f"opening pairing failed: {opened}")
                code = opened["code"]
            body = {"code": code, "register_serial": serial}
            async with http.post("/api/v1/pairings", json=body) as r:
                answer = await r.json()
                if r.status != 201:
                    raise RuntimeError(f"pairing failed: {answer}")
                tokens.append(str(answer["token"]))
    return tokens


async def sim_faults(sim: Proc, changes: dict[str, object] | None) -> None:
    """Merge fault settings into the simulator (``None`` resets them)."""
    async with aiohttp.ClientSession(sim.base_url) as http:
        method = "DELETE" if changes is None else "POST"
        async with http.request(method, "/_sim/faults", json=changes) as response:
            await response.read()


def start_wan_proxy(upstream_url: str, delay_ms: float) -> Proc:
    """The delaying proxy (``tests/bench/wan_proxy.py``) in front of ``http://host:port``
    (the simulator): the WAN."""
    port = free_port()
    upstream = upstream_url.removeprefix("http://")
    popen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.bench.wan_proxy",
            "--listen",
            f"127.0.0.1:{port}",
            "--upstream",
            upstream,
            "--delay-ms",
            str(delay_ms),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert popen.stdout is not None
    line = popen.stdout.readline()
    popen.stdout.close()  # it prints nothing else
    if not line:
        popen.wait(timeout=10)
        raise RuntimeError("the WAN proxy did not start")
    return Proc("wan-proxy", popen, f"http://127.0.0.1:{port}")
