"""``python -m tests.support.archive_process POLL MAX_RECORDS serve ...``: ``tsed serve`` whose
archive polls exports every POLL seconds and exports at most MAX_RECORDS signatures per file
(the simulator finishes an export in 0.5 s; small files give a run many commit points)."""

from __future__ import annotations

import asyncio
import os
import sys

from tsed.archive.service import ArchiveService
from tsed.cli.tsed import build_parser
from tsed.unit.daemon import run
from tsed.unit.options import resolve_options


def main(argv: list[str]) -> int:
    ArchiveService.poll_interval = float(argv[0])
    ArchiveService.max_records = int(argv[1])
    options = resolve_options(build_parser().parse_args(argv[2:]), os.environ)
    return int(asyncio.run(run(options)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
