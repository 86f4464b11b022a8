"""``python -m tests.support.listener_child NOFILE DIR``: a guarded listener short of files.

For ``test_connection_flood``: the process lowers its own file limit to NOFILE, serves a real
aiohttp app behind :class:`tsed.net.limits.GuardedListener` with caps deliberately *above* that
limit (so accepting runs out of descriptors), prints its port, and runs until standard input
closes; then it prints its listener's counters as JSON. Warnings go to standard error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import resource
import sys
from pathlib import Path

from tests.security.test_connection_flood import guarded
from tsed.net.limits import ConnectionLimits


async def main(nofile: int, directory: Path) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s %(message)s")
    limits = ConnectionLimits(
        1000, per_source=1000, register_headroom=0, handshake_timeout=60, idle_timeout=60
    )
    async with guarded(directory, limits) as listener:
        print(listener.port, flush=True)
        await asyncio.to_thread(sys.stdin.read)
        print(json.dumps(dataclasses.asdict(listener.snapshot())), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2])))
