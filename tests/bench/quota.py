"""A CPU quota for one benchmark process: a slower board simulated on this machine.

What ``systemd-run --scope -p CPUQuota=25%`` does for a command, done for a running process
where no systemd runs (a container): a control group of its own with a CFS quota, ``25`` being
a quarter of one CPU in every 100 ms period, the process (all its threads, and the ones it
starts later) moved into it. cgroup v2 (``cpu.max``) and v1 (the ``cpu`` hierarchy's
``cpu.cfs_quota_us``) are both handled; the group is removed once its process has ended.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


class CpuQuota:
    """One control group limited to ``percent`` % of one CPU (needs write access to it)."""

    def __init__(self, percent: float, name: str, root: Path = CGROUP_ROOT) -> None:
        if not 1 <= percent <= 100 * (os.cpu_count() or 1):
            raise ValueError(f"a CPU quota of {percent} % of one CPU is out of range")
        self.percent = percent
        self.v2 = (root / "cgroup.controllers").is_file()
        self.path = (root if self.v2 else root / "cpu") / name
        self.path.mkdir()
        quota = round(PERIOD_US * percent / 100)
        if self.v2:
            (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}\n")
        else:
            (self.path / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
            (self.path / "cpu.cfs_quota_us").write_text(f"{quota}\n")

    def add(self, pid: int) -> None:
        """Move the process with all its threads into the group."""
        (self.path / "cgroup.procs").write_text(f"{pid}\n")

    def throttled_s(self) -> float:
        """How long the group was held back by its quota so far (seconds)."""
        stat = dict(
            line.split(maxsplit=1)
            for line in (self.path / "cpu.stat").read_text().splitlines()
            if " " in line
        )
        if "throttled_usec" in stat:
            return int(stat["throttled_usec"]) / 1e6
        return int(stat.get("throttled_time", "0")) / 1e9

    def remove(self, timeout: float = 10.0) -> None:
        """Remove the group once its processes have ended (the kernel refuses it before)."""
        ends = time.monotonic() + timeout
        while True:
            try:
                self.path.rmdir()
                return
            except OSError:
                if time.monotonic() > ends:
                    raise
                time.sleep(0.1)
