"""A unit process on loopback for the setup page's section walks (archive, decommissioning):
TEST mode with the built-in simulator, the admin password set, "Kasse 1" paired and a few
receipts signed; and the login past the wizard to the full form."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from tests.support.browser_flow import tsectl, wait_for
from tests.support.reliability import seed_state
from tests.support.unit import RECEIPT
from tsed.state.paths import DEVICE_CERT_FILE as CERT_FILE


@dataclass(frozen=True)
class PageUnit:
    state: Path
    base: str
    pinned: ssl.SSLContext
    auth: dict[str, str]  # the register's Authorization header
    register_id: str


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def page_unit(
    work: Path, password: str, receipts: int, fiskaly: str | None = None
) -> Iterator[PageUnit]:
    """``fiskaly``: the URL of a standalone simulator (``start_sim_process``) instead of the
    built-in one, for what only its control routes can do (a certificate near its end)."""
    state = work / "state"
    port = _port()
    env = {**os.environ, "TSED_MDNS": "off"}
    if fiskaly is None:
        state.mkdir()
        (state / "tsed.toml").write_text("")
    else:
        seed_state(state)  # the simulator's API key and secret in the vault
        env["TSED_FISKALY_BASE_URL"] = fiskaly
    env.pop("NOTIFY_SOCKET", None)
    unit = subprocess.Popen(
        [sys.executable, "-m", "tsed.cli.tsed", "serve", "--state-dir", str(state),
         "--config", str(state / "tsed.toml"), "--listen", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=(work / "tsed.log").open("wb"),
    )  # fmt: skip
    try:
        wait_for((state / "admin.sock").exists, "the unit's admin socket")
        tsectl(state, "password", stdin=password + "\n")
        code = tsectl(state, "pair")["code"]
        base = f"https://127.0.0.1:{port}"
        pinned = ssl.create_default_context(cafile=str(state / CERT_FILE))
        with httpx.Client(base_url=base, verify=pinned, timeout=30) as register:
            paired = register.post(
                "/api/v1/pairings", json={"code": code, "register_serial": "Kasse 1"}
            ).json()
            auth = {"Authorization": f"Bearer {paired['token']}"}
            for _ in range(receipts):
                register.post("/api/v1/receipts", json=RECEIPT, headers=auth).raise_for_status()
        yield PageUnit(state, base, pinned, auth, str(paired["register_id"]))
    finally:
        unit.terminate()
        try:
            unit.wait(timeout=20)
        except subprocess.TimeoutExpired:
            unit.kill()


def log_in_to_the_form(page: Page, base: str, password: str) -> None:
    """Log in; the wizard (not yet saved) or the overview comes first: the full form is one
    click away."""
    page.goto(f"{base}/setup/")
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#wizard-view:not([hidden]), #dashboard-view:not([hidden])")
    page.click("#wz-skip" if page.is_visible("#wizard-view") else "#open-form")


def run_page_flow(helper: Path, tmp_path: Path, artifacts: Path) -> dict[str, Any]:
    """Run a section walk (``helper``, a script of tests/support) in its own process; what it
    saw (its last output line), or the failure with the unit's log."""
    artifacts.mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, str(helper), str(tmp_path), str(artifacts)],
        capture_output=True, text=True, timeout=280, check=False,
        env={**os.environ, "PYTHONPATH": str(helper.parents[2])},
    )  # fmt: skip
    log_file = tmp_path / "tsed.log"
    log = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
    assert result.returncode == 0, result.stderr[-4000:] + log
    seen: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return seen
