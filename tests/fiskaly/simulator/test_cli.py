"""The standalone ``tsed-fiskaly-sim`` command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(*args: str) -> tuple[subprocess.Popen[str], dict]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsed.fiskaly.simulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    return proc, json.loads(line)


def test_standalone_prints_generated_credentials_and_stops_on_sigterm(tmp_path) -> None:
    port = _free_port()
    proc, info = _start("--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path))
    try:
        assert info["base_url"] == f"http://127.0.0.1:{port}"
        assert info["api_key"].startswith("test_") and len(info["api_secret"]) == 43
        auth = httpx.post(
            info["base_url"] + "/api/v2/auth",
            json={"api_key": info["api_key"], "api_secret": info["api_secret"]},
        )
        assert auth.status_code == 200
        assert auth.json()["access_token_claims"]["env"] == "TEST"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert (tmp_path / "simulator.sqlite").exists()


def test_seeded_keys_and_environments() -> None:
    port = _free_port()
    proc, info = _start(
        "--listen", f"127.0.0.1:{port}",
        "--api-key", "test_key", "--api-secret", "s" * 43, "--env", "TEST",
        "--api-key", "live_key", "--api-secret", "l" * 43, "--env", "LIVE",
    )  # fmt: skip
    try:
        assert "api_secret" not in info
        for key, secret, env in (("test_key", "s" * 43, "TEST"), ("live_key", "l" * 43, "LIVE")):
            auth = httpx.post(
                info["base_url"] + "/api/v2/auth", json={"api_key": key, "api_secret": secret}
            )
            assert auth.json()["access_token_claims"]["env"] == env
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_bad_arguments() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tsed.fiskaly.simulator", "--listen", "nonsense"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "HOST:PORT" in result.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "tsed.fiskaly.simulator", "--help"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert helped.returncode == 0 and "--api-key" in helped.stdout


def test_retention_and_export_limit_arguments() -> None:
    for args, says in (
        (["--retention-days", "0"], "--retention-days must be positive"),
        (["--max-export-records", "0"], "--max-export-records must be at least 1"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "tsed.fiskaly.simulator", "--listen", "127.0.0.1:0", *args],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert result.returncode == 2 and says in result.stderr
    port = _free_port()
    proc, info = _start(
        "--listen", f"127.0.0.1:{port}", "--retention-days", "90", "--max-export-records", "10"
    )  # fmt: skip
    try:
        auth = httpx.post(
            info["base_url"] + "/api/v2/auth",
            json={"api_key": info["api_key"], "api_secret": info["api_secret"]},
        )
        assert auth.status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_a_state_of_a_newer_simulator_is_refused_with_a_message(tmp_path) -> None:
    import sqlite3

    from tsed.fiskaly.simulator import Simulator

    Simulator(state_dir=tmp_path).close()
    with sqlite3.connect(tmp_path / "simulator.sqlite") as db:
        db.execute("UPDATE settings SET value = '99' WHERE name = 'schema_version'")
    done = subprocess.run(
        [sys.executable, "-m", "tsed.fiskaly.simulator", "--listen", f"127.0.0.1:{_free_port()}",
         "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert "newer simulator (schema 99" in done.stderr and "Traceback" not in done.stderr
