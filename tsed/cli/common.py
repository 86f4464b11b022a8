"""The options the command lines share: ``tsed serve``, ``tsectl`` and ``tsed-console``.

Each helper adds one option with its help text; :func:`state_dir`, :func:`config_path` and
:func:`socket_path` resolve them the same way everywhere: the flag, then the environment
variable, then the default (:mod:`tsed.unit.options` resolves the daemon's own set).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from tsed.state.paths import ADMIN_SOCKET_NAME, DEFAULT_STATE_DIR, StatePaths
from tsed.unit.options import DEFAULT_CONFIG

STATE_DIR_ENV = "TSED_STATE_DIR"
CONFIG_ENV = "TSED_CONFIG"
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
TOOL_STATE_DIR_HELP = "state directory of tsed"  # tsectl and the console: the daemon's folder


def add_state_dir(parser: argparse.ArgumentParser, what: str = TOOL_STATE_DIR_HELP) -> None:
    parser.add_argument(
        "--state-dir", help=f"{what} (env {STATE_DIR_ENV}, default {DEFAULT_STATE_DIR})"
    )


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", help=f"configuration file (env {CONFIG_ENV}, default {DEFAULT_CONFIG})"
    )


def add_socket(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--socket", help=f"admin socket of tsed (default: STATE_DIR/{ADMIN_SOCKET_NAME})"
    )


def add_log_level(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS, help=help_text)


def state_dir(args: argparse.Namespace, environ: Mapping[str, str]) -> Path:
    return Path(args.state_dir or environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def config_path(args: argparse.Namespace, environ: Mapping[str, str]) -> Path:
    return Path(args.config or environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def socket_path(args: argparse.Namespace, environ: Mapping[str, str]) -> Path:
    """``--socket``, else the admin socket in the state directory."""
    if args.socket:
        return Path(args.socket)
    return StatePaths(state_dir(args, environ)).admin_socket
