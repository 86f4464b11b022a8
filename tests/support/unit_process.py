"""``python -m tests.support.unit_process --vendor-key PUB serve ...``: ``tsed serve`` with a test
key.

The production entry point (``tsed serve``) has no way to choose the vendor key: it is fixed at
:data:`tsed.unit.options.VENDOR_KEY_PATH`, installed root-owned with the image. Tests that run the
unit
as a real process and need their own vendor key start it through this module instead, which
builds the same :class:`~tsed.unit.options.DaemonOptions` and only replaces ``vendor_key``. It
lives in
``tests/`` and is not part of the installed package.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path

from tsed.cli.tsed import build_parser
from tsed.unit.daemon import run
from tsed.unit.options import resolve_options


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--vendor-key":
        print(
            "usage: python -m tests.support.unit_process --vendor-key PUB serve ...",
            file=sys.stderr,
        )
        return 2
    vendor_key, rest = Path(argv[1]), argv[2:]
    args = build_parser().parse_args(rest)
    options = replace(resolve_options(args, os.environ), vendor_key=vendor_key)
    return int(asyncio.run(run(options)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
