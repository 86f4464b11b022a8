"""The setup page's "Archiv" section in a real headless Chromium (TEST mode, built-in simulator).

A unit process on loopback signs a few receipts; the page shows the archive per TSS, runs the
archive with its progress, re-verifies it, writes the auditor's export and the DSFinV-K's TSE
tables, and refuses a half-typed day. Prints one JSON line with what it saw.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from tests.support.browser_flow import CHROMIUM_ARGS, tsectl, wait_for
from tests.support.unit import RECEIPT
from tsed.state.paths import DEVICE_CERT_FILE as CERT_FILE

PASSWORD = "Archiv-Filiale-7"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    work, shots = Path(sys.argv[1]), Path(sys.argv[2])
    state = work / "state"
    state.mkdir()
    (state / "tsed.toml").write_text("")
    port = _port()
    env = {**os.environ, "TSED_MDNS": "off"}
    env.pop("NOTIFY_SOCKET", None)
    unit = subprocess.Popen(
        [sys.executable, "-m", "tsed.cli.tsed", "serve", "--state-dir", str(state),
         "--config", str(state / "tsed.toml"), "--listen", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=(work / "tsed.log").open("wb"),
    )  # fmt: skip
    seen: dict[str, Any] = {}
    try:
        wait_for((state / "admin.sock").exists, "the unit's admin socket")
        tsectl(state, "password", stdin=PASSWORD + "\n")
        code = tsectl(state, "pair")["code"]
        base = f"https://127.0.0.1:{port}"
        pinned = ssl.create_default_context(cafile=str(state / CERT_FILE))
        with httpx.Client(base_url=base, verify=pinned, timeout=30) as register:
            paired = register.post(
                "/api/v1/pairings", json={"code": code, "register_serial": "Kasse 1"}
            ).json()
            auth = {"Authorization": f"Bearer {paired['token']}"}
            for _ in range(3):
                register.post("/api/v1/receipts", json=RECEIPT, headers=auth).raise_for_status()
        today = datetime.now(UTC).date().isoformat()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_context(ignore_https_errors=True, locale="de-DE").new_page()
            page.goto(f"{base}/setup/")
            page.fill("#login-password", PASSWORD)
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#archive-tss tbody tr")
            seen["heading"] = page.text_content("#archive-box h2")
            seen["before"] = page.locator("#archive-tss tbody tr").all_text_contents()
            seen["next_run"] = page.text_content("#archive-next-run")
            page.click("#archive-run")
            seen["run_disabled"] = page.is_disabled("#archive-run")
            page.wait_for_function(
                "() => document.querySelector('#message').textContent.includes('Archivierung')"
                " && !document.querySelector('#message').textContent.includes('läuft')",
                timeout=120_000,
            )
            seen["run_message"] = page.text_content("#message")
            seen["progress"] = page.locator("#archive-progress li").all_text_contents()
            page.wait_for_function(
                "() => !document.querySelector('#archive-tss tbody td:nth-child(2)')"
                ".textContent.includes('–')",
                timeout=30_000,
            )
            seen["after"] = page.locator("#archive-tss tbody tr").all_text_contents()
            seen["last_run"] = page.text_content("#archive-last-run")
            seen["disk"] = page.text_content("#archive-disk")
            page.click("#archive-verify")
            page.wait_for_selector("#message.ok", timeout=60_000)
            seen["verify_message"] = page.text_content("#message")
            page.fill("#archive-from", "")
            page.click("#archive-dsfinvk")
            seen["half_typed"] = page.text_content("#message")
            seen["focused"] = page.evaluate("document.activeElement.id")
            page.fill("#archive-from", today)
            page.fill("#archive-to", today)
            page.click("#archive-dsfinvk")
            page.wait_for_function(
                "() => document.querySelector('#message').textContent.includes('Vorgänge')",
                timeout=60_000,
            )
            seen["dsfinvk_message"] = page.text_content("#message")
            page.click("#archive-auditor")
            page.wait_for_function(
                "() => document.querySelector('#message').textContent.includes('tse-export')",
                timeout=60_000,
            )
            seen["auditor_message"] = page.text_content("#message")
            page.locator("#archive-box").screenshot(path=str(shots / "setup-archive.png"))
            page.set_viewport_size({"width": 375, "height": 800})
            seen["narrow_scroll"] = page.evaluate(
                "document.querySelector('#archive-box').scrollWidth"
                " <= document.querySelector('#archive-box').clientWidth + 1"
            )
            page.locator("#archive-box").screenshot(path=str(shots / "setup-archive-375.png"))
            page.click("#lang")
            seen["english_heading"] = page.text_content("#archive-box h2")
            browser.close()
    finally:
        unit.terminate()
        try:
            unit.wait(timeout=20)
        except subprocess.TimeoutExpired:
            unit.kill()
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main()
