"""The ``tsed`` command: run the daemon (``tsed serve``).

The options themselves (flag, then environment variable, then default) are
:mod:`tsed.unit.options`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from tsed import __version__
from tsed.cli.common import add_config, add_log_level, add_state_dir
from tsed.errors import TsedError
from tsed.unit.options import DEFAULT_LISTEN, resolve_options

_LOGGER = logging.getLogger(__name__)
EXIT_DATA_TOO_NEW = 3  # a person must act first (tsed.service does not restart on it)
# the state was written by a newer tsed, or an interrupted restore needs a person: starting again
# would only refuse again, and the journal would fill with the same lines
NEEDS_A_PERSON = frozenset({"STORE_TOO_NEW", "RESTORE_UNFINISHED", "RESTORE_PLAN_UNREADABLE"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsed",
        description="TSE-LAN unit daemon: local KassenSichV signing API backed by fiskaly "
        "SIGN DE V2 (or, without credentials, by the built-in simulator in TEST mode).",
    )
    parser.add_argument("--version", action="version", version=f"tsed {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the daemon", description="Run the daemon.")
    add_state_dir(serve, "device state: store, vault, identity")
    add_config(serve)
    serve.add_argument(
        "--listen",
        help=f"register API address HOST:PORT (env TSED_LISTEN, default {DEFAULT_LISTEN})",
    )
    add_log_level(serve, "log level (default INFO; extended logging is a configuration setting)")

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            args.listen = args.listen or None
            options = resolve_options(args, os.environ)
            from tsed.unit.daemon import run  # noqa: PLC0415 - keep `tsed --help` fast

            return int(asyncio.run(run(options)))
    except TsedError as err:
        print(f"tsed: {err.message}\n  hint: {err.hint}", file=sys.stderr)
        # no restart would help (RestartPreventExitStatus=3)
        return EXIT_DATA_TOO_NEW if err.code in NEEDS_A_PERSON else 1
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
