"""The options tsed, tsectl and tsed-console share: same flags, same help, same resolution."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from tsed.cli import common
from tsed.cli.console import build_parser as console_parser
from tsed.cli.tsectl import build_parser as tsectl_parser
from tsed.cli.tsed import build_parser as tsed_parser
from tsed.state.paths import DEFAULT_STATE_DIR
from tsed.unit.options import DEFAULT_CONFIG

Builder = Callable[[], argparse.ArgumentParser]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    common.add_state_dir(parser)
    common.add_config(parser)
    common.add_socket(parser)
    common.add_log_level(parser)
    return parser


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    """The action of ``flag`` in ``parser`` or in one of its sub-commands."""
    parsers = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers.extend(action.choices.values())
    for each in parsers:
        for action in each._actions:
            if flag in action.option_strings:
                return action
    raise AssertionError(f"{parser.prog} has no {flag}")


def test_flag_then_environment_then_default() -> None:
    args = _parser().parse_args([])
    assert common.state_dir(args, {}) == Path(DEFAULT_STATE_DIR)
    assert common.config_path(args, {}) == Path(DEFAULT_CONFIG)
    assert common.socket_path(args, {}) == Path(DEFAULT_STATE_DIR) / "admin.sock"
    environ = {"TSED_STATE_DIR": "/srv/state", "TSED_CONFIG": "/srv/tsed.toml"}
    assert common.state_dir(args, environ) == Path("/srv/state")
    assert common.config_path(args, environ) == Path("/srv/tsed.toml")
    assert common.socket_path(args, environ) == Path("/srv/state/admin.sock")
    flags = _parser().parse_args(["--state-dir", "/s", "--config", "/c.toml"])
    assert common.state_dir(flags, environ) == Path("/s")
    assert common.config_path(flags, environ) == Path("/c.toml")
    assert common.socket_path(flags, environ) == Path("/s/admin.sock")
    own = _parser().parse_args(["--state-dir", "/s", "--socket", "/run/a.sock"])
    assert common.socket_path(own, environ) == Path("/run/a.sock")
    assert args.log_level == "INFO"


def test_an_unknown_log_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _parser().parse_args(["--log-level", "LOUD"])
    assert caught.value.code == 2 and "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("build", [tsed_parser, tsectl_parser, console_parser])
def test_every_command_line_uses_the_shared_state_dir(build: Builder) -> None:
    action = _option(build(), "--state-dir")
    assert action.help is not None
    assert action.help.endswith(f"(env TSED_STATE_DIR, default {DEFAULT_STATE_DIR})")


@pytest.mark.parametrize("build", [tsectl_parser, console_parser])
def test_the_tools_share_the_socket_option(build: Builder) -> None:
    assert (
        _option(build(), "--socket").help == "admin socket of tsed (default: STATE_DIR/admin.sock)"
    )
    assert _option(build(), "--state-dir").help == (
        f"state directory of tsed (env TSED_STATE_DIR, default {DEFAULT_STATE_DIR})"
    )


@pytest.mark.parametrize("build", [tsed_parser, console_parser])
def test_config_and_log_level_are_the_same(build: Builder) -> None:
    config = _option(build(), "--config")
    assert config.help == f"configuration file (env TSED_CONFIG, default {DEFAULT_CONFIG})"
    level = _option(build(), "--log-level")
    assert level.default == "INFO" and level.choices == ["DEBUG", "INFO", "WARNING", "ERROR"]
