"""``python -m tests.support.decommission_process HOLD RELEASE serve ...``: ``tsed serve`` whose
decommissioning holds one step open, so a test can SIGKILL the unit in it.

HOLD is ``STEP:before`` (the step is recorded ``running``, nothing of it done yet),
``STEP:after`` (its work is done, an irreversible call took effect, but the plan does not
say ``done`` yet) or ``-`` (no hold). The hold lasts until the file RELEASE exists, at most
60 s. Steps that call fiskaly are better held with the simulator's fault switches; this
holds the local ones (verify, offbox, record) and the moment after an irreversible call.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tsed.cli.tsed import build_parser
from tsed.provisioning.decommission import Plan
from tsed.unit.daemon import run
from tsed.unit.decommission_ops import Decommissioning
from tsed.unit.options import resolve_options

Step = Callable[[Decommissioning, Plan], Awaitable[str]]
HOLD_MAX = 60.0


async def _hold(release: Path) -> None:
    deadline = time.monotonic() + HOLD_MAX
    while not release.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def _held(step: Step, when: str, release: Path) -> Step:
    async def held(self: Decommissioning, plan: Plan) -> str:
        if when == "before":
            await _hold(release)
        detail = await step(self, plan)
        if when == "after":
            await _hold(release)
        return detail

    return held


def main(argv: list[str]) -> int:
    hold, release = argv[0], Path(argv[1])
    if hold != "-":
        name, when = hold.split(":")
        attribute = f"_{name}"
        setattr(Decommissioning, attribute,
                _held(getattr(Decommissioning, attribute), when, release))  # fmt: skip
    options = resolve_options(build_parser().parse_args(argv[2:]), os.environ)
    return int(asyncio.run(run(options)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
