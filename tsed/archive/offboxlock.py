"""One restic run per unit at a time, across processes.

The daemon copies the archive after every run; ``tsectl archive copy|check|restore`` may run
by hand meanwhile. Two restic processes creating the same new repository at once leave it
unreadable ("config or key ... is damaged"), so every run holds an exclusive lock file in the
off-box folder of the state directory (``flock``: released by the kernel when the process
ends, also when it is killed).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from tsed.errors import OffboxError
from tsed.state.paths import StatePaths

POLL = 0.2  # seconds between attempts while another run holds the lock


@contextlib.asynccontextmanager
async def repository_lock(state_dir: Path, wait: float) -> AsyncIterator[None]:
    """Wait (at most ``wait`` seconds) until no other restic run of this unit is under way."""
    folder = StatePaths(state_dir).offbox
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "restic.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OffboxError(
                        f"another copy of the archive has been running for over {wait:.0f} s",
                        hint="Wait for it (tsectl archive copy-status) and try again.",
                    ) from None
                await asyncio.sleep(POLL)
        yield
    finally:
        os.close(fd)  # releases the lock
