"""How long one admin-password check takes: scrypt at several costs, on this machine.

    .venv/bin/python -m tests.bench.scrypt [--rounds N]

Prints, per cost, the CPU time of one check (fastest and median of N; CPU time leaves out the
waits for a core on a busy machine), the wall time, and what the fastest means on the slowest
supported device (``DEVICE_FACTOR`` times slower). The chosen cost is marked; the figure is
recorded in docs/security.md (## Password hashing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from tsed.net.passwords import COST, DEVICE_FACTOR, ScryptCost, hash_password, verify_password


def measure(cost: ScryptCost, rounds: int) -> tuple[list[float], list[float]]:
    """CPU seconds of this thread (what a check costs) and wall seconds (with the noise)."""
    stored = hash_password("a sentence as a password", cost=cost)
    cpu, wall = [], []
    for _ in range(rounds):
        began, began_cpu = time.perf_counter(), time.thread_time()
        assert verify_password("a sentence as a password", stored)
        cpu.append(time.thread_time() - began_cpu)
        wall.append(time.perf_counter() - began)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, device factor {DEVICE_FACTOR}")
    for log2_n in range(11, 16):
        cost = ScryptCost(log2_n, 8, 1)
        cpu, wall = measure(cost, args.rounds)
        fastest = min(cpu) * 1000
        mark = "  <- COST" if cost == COST else ""
        print(
            f"N=2^{log2_n} r=8 p=1 ({(128 * 8 << log2_n) >> 20:2} MiB): CPU fastest {fastest:6.1f}"
            f" ms, median {statistics.median(cpu) * 1000:6.1f} ms; wall median "
            f"{statistics.median(wall) * 1000:6.1f} ms; on the device ~"
            f"{fastest * DEVICE_FACTOR:5.0f} ms{mark}"
        )


if __name__ == "__main__":
    main()
