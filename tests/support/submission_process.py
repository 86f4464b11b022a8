"""``python -m tests.support.submission_process CONTROL STEP serve ...``: ``tsed serve`` on the
built-in simulator whose filing submissions can be held at a named point, so that a test can
SIGKILL the unit there.

CONTROL is a file the test writes at any time; its text names the point to hold at:
``create:after`` (``PUT /submission`` answered, the unit has not recorded the answer),
``trigger:after`` (the transmission triggered, not yet recorded), ``get:STATE`` (a poll
answered STATE), or nothing. At the point the process writes ``CONTROL.held`` (the point's
name) and waits, at most 60 s, until the test kills it. STEP is the seconds per state of the
built-in simulator's SUBMIT DE (slow enough to kill "while pending").
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tsed.cli.tsed import build_parser
from tsed.fiskaly import Submission, SubmitClient
from tsed.fiskaly.simulator.core import Simulator
from tsed.unit.daemon import run
from tsed.unit.options import resolve_options

HOLD_MAX = 60.0
Call = Callable[..., Awaitable[Submission]]


async def _hold_if(control: Path, point: str) -> None:
    wanted = control.read_text().strip() if control.exists() else ""
    if wanted != point:
        return
    Path(f"{control}.held").write_text(point)
    deadline = time.monotonic() + HOLD_MAX
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def _held(call: Call, name: str, control: Path) -> Call:
    @functools.wraps(call)
    async def held(self: SubmitClient, *args: Any, **kwargs: Any) -> Submission:
        answer = await call(self, *args, **kwargs)
        await _hold_if(control, f"{name}:after")
        await _hold_if(control, f"{name}:{answer.state}")
        return answer

    return held


def _paced(init: Callable[..., None], step: float) -> Callable[..., None]:
    @functools.wraps(init)
    def paced(self: Simulator, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.submit.step = step

    return paced


def main(argv: list[str]) -> int:
    control, step = Path(argv[0]), float(argv[1])
    for name, attribute in (("create", "create_submission"), ("trigger", "trigger_transmission"),
                            ("get", "get_submission")):  # fmt: skip
        setattr(SubmitClient, attribute, _held(getattr(SubmitClient, attribute), name, control))
    Simulator.__init__ = _paced(Simulator.__init__, step)  # type: ignore[method-assign]
    options = resolve_options(build_parser().parse_args(argv[2:]), os.environ)
    return int(asyncio.run(run(options)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
