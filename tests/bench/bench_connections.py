"""Benchmark: memory and file descriptors of idle TLS connections held at the unit's cap.

The unit runs as its own process (``tsed serve``, embedded simulator) with a file limit of
``--nofile`` (as ``LimitNOFILE=`` in systemd/tsed.service sets it); connections come from
several loopback source addresses (32 per source, the per-source cap) and stay idle after
their TLS handshake. Printed: the cap the unit derived, RSS before, at the peak, per connection,
and after the connections closed. Sizes ``MemoryHigh=``/``MemoryMax=`` of the service.
Bounded: ``--connections`` at most, each held ``--hold`` seconds (below the idle timeout).

Run:  .venv/bin/python -m tests.bench.bench_connections [--nofile 4096] [--connections 1100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.reliability import stop, wait_ready
from tests.support.unit import free_port, serve_argv


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _open(port: int, count: int) -> list[asyncio.StreamWriter]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    writers: list[asyncio.StreamWriter] = []
    gate = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        source = f"127.0.{1 + n // 8192}.{2 + (n // 32) % 250}"
        async with gate:
            with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
                _reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        "127.0.0.1", port, ssl=context, server_hostname="tsed",
                        local_addr=(source, 0),
                    ),
                    10,
                )  # fmt: skip
                writers.append(writer)

    await asyncio.gather(*(one(n) for n in range(count)))
    return writers


async def main(nofile: int, connections: int, hold: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        state.mkdir(mode=0o700)
        (state / "tsed.toml").write_text("")
        port = free_port()
        env = {**os.environ, "TSED_MDNS": "off"}
        env.pop("NOTIFY_SOCKET", None)
        unit = subprocess.Popen(
            ["prlimit", f"--nofile={nofile}:{nofile}", sys.executable,
             *serve_argv(state, port, "WARNING")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await wait_ready(port)
            await asyncio.sleep(1)
            before = _rss_kb(unit.pid)
            began = time.monotonic()
            writers = await _open(port, connections)
            opened = time.monotonic() - began
            await asyncio.sleep(min(hold, 1.0))
            held = len(os.listdir(f"/proc/{unit.pid}/fd"))
            peak = _rss_kb(unit.pid)
            for writer in writers:
                writer.transport.abort()
            await asyncio.sleep(3)
            after = _rss_kb(unit.pid)
            open_ok = len(writers)
            print(
                f"nofile {nofile}: {open_ok} of {connections} connections held "
                f"(opened in {opened:.1f} s), unit fds {held}; RSS {before / 1024:.1f} MB -> "
                f"{peak / 1024:.1f} MB at the peak ({(peak - before) / max(1, held):.1f} kB per "
                f"connection) -> {after / 1024:.1f} MB 3 s after they closed"
            )
        finally:
            stop(unit)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nofile", type=int, default=4096)
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--hold", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(main(args.nofile, args.connections, args.hold))
