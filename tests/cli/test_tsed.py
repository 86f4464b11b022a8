"""`tsed` option resolution: flag, then environment variable, then default."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tsed.cli.tsed import build_parser, main
from tsed.errors import ConfigError
from tsed.state.paths import ADMIN_SOCKET_NAME, DEFAULT_STATE_DIR
from tsed.unit.options import (
    DEFAULT_CONFIG,
    ListenAddress,
    parse_listen,
    resolve_options,
)


def _resolve(argv: list[str], environ: dict[str, str]):
    args = build_parser().parse_args(["serve", *argv])
    return resolve_options(args, environ)


def test_defaults() -> None:
    options = _resolve([], {})
    assert options.state_dir == Path(DEFAULT_STATE_DIR)
    assert options.config_path == Path(DEFAULT_CONFIG)
    assert options.listen == ListenAddress("0.0.0.0", 8443)
    assert options.admin_socket == Path(DEFAULT_STATE_DIR) / ADMIN_SOCKET_NAME


def test_environment_beats_default() -> None:
    env = {"TSED_STATE_DIR": "/srv/s", "TSED_CONFIG": "/srv/c.toml", "TSED_LISTEN": "127.0.0.1:9"}
    options = _resolve([], env)
    assert options.state_dir == Path("/srv/s")
    assert options.config_path == Path("/srv/c.toml")
    assert options.listen == ListenAddress("127.0.0.1", 9)


def test_flag_beats_environment() -> None:
    env = {"TSED_STATE_DIR": "/srv/s", "TSED_CONFIG": "/srv/c.toml", "TSED_LISTEN": "127.0.0.1:9"}
    options = _resolve(["--state-dir", "/a", "--config", "/b.toml", "--listen", "[::1]:8444"], env)
    assert options.state_dir == Path("/a")
    assert options.config_path == Path("/b.toml")
    assert options.listen == ListenAddress("::1", 8444)
    assert str(options.listen) == "[::1]:8444"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("8443", "HOST:PORT"),
        ("0.0.0.0:0", "1 to 65535"),
        ("0.0.0.0:70000", "1 to 65535"),
        ("0.0.0.0:http", "1 to 65535"),
        ("shop.example:8443", "not an IP address"),
        ("[::1:8443", "HOST:PORT"),
    ],
)
def test_bad_listen_names_the_problem(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_listen(value, source="TSED_LISTEN")
    assert fragment in info.value.message
    assert "TSED_LISTEN" in info.value.message
    assert info.value.hint


def test_bad_listen_from_environment_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["TSED_LISTEN"] = "nonsense"
    try:
        assert main(["serve"]) == 1
    finally:
        del os.environ["TSED_LISTEN"]
    err = capsys.readouterr().err
    assert "TSED_LISTEN" in err and "hint:" in err
    assert "Traceback" not in err


def test_help_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "serve" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def serve_once(state: Path) -> subprocess.CompletedProcess[str]:
    """``tsed serve`` in a real process on ``state``, until it exits (a refusal at start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TSED_MDNS": "off", "TSED_STATE_DIR": str(state),
           "TSED_CONFIG": str(state / "tsed.toml"), "TSED_LISTEN": f"127.0.0.1:{port}"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "tsed.cli.tsed", "serve"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_daemon_exits_3_on_a_store_a_newer_tsed_wrote(tmp_path: Path) -> None:
    """A downgrade in a real process: ``tsed serve`` names the problem, changes nothing in
    the store and exits 3, which ``tsed.service`` does not restart (RestartPreventExitStatus)."""
    import asyncio
    import hashlib
    import sqlite3

    from tsed.state.paths import StatePaths
    from tsed.state.store import SCHEMA_VERSION, Store

    state = tmp_path / "state"
    store_path = StatePaths(state).store

    async def written() -> None:
        store = Store(store_path)
        await store.open()
        await store.audit("test", "written_by_the_newer_tsed")
        await store.close()

    asyncio.run(written())
    conn = sqlite3.connect(store_path)  # the newer tsed's migration, checkpointed on close
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    before = hashlib.sha256(store_path.read_bytes()).hexdigest()
    done = serve_once(state)
    assert done.returncode == 3, done.stderr
    assert "written by a newer tsed" in done.stderr and "hint:" in done.stderr
    assert "Traceback" not in done.stderr
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == before


def test_the_daemon_exits_3_on_a_filing_store_a_newer_tsed_wrote(tmp_path: Path) -> None:
    """The notification duty's store is refused like the main store: exit 3, no traceback,
    the file byte for byte as it was."""
    import hashlib
    import sqlite3

    from tsed.state.paths import StatePaths

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    filing = StatePaths(state).filing
    conn = sqlite3.connect(filing)  # what a newer tsed's migration leaves, checkpointed
    conn.executescript("CREATE TABLE submissions_3 (id TEXT); PRAGMA user_version=3;")
    conn.close()
    before = hashlib.sha256(filing.read_bytes()).hexdigest()
    done = serve_once(state)
    assert done.returncode == 3, done.stderr
    assert f"{filing} was written by a newer tsed (schema 3" in done.stderr
    assert "hint:" in done.stderr and "Traceback" not in done.stderr
    assert hashlib.sha256(filing.read_bytes()).hexdigest() == before


def test_the_daemon_exits_3_on_an_unreadable_restore_plan(tmp_path: Path) -> None:
    """An interrupted restore whose plan cannot be read needs a person: ``tsed serve`` names
    it and the command that clears it, exits 3 (no restart loop), and touches nothing."""
    import hashlib

    from tsed.state.paths import StatePaths

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    plan = StatePaths(state).restore_swap
    plan.write_text("{ not json")
    before = hashlib.sha256(plan.read_bytes()).hexdigest()
    done = serve_once(state)
    assert done.returncode == 3, done.stderr
    assert "--abandon-swap" in done.stderr and "Traceback" not in done.stderr
    assert hashlib.sha256(plan.read_bytes()).hexdigest() == before
