"""First boot to LIVE receipts through the setup page, in a real headless Chromium.

Runs inside a private network and mount namespace (see ``test_web_browser.py``): only
loopback exists, and ``/etc/hosts`` (bind-mounted by the caller) sends fiskaly's real host
names to the simulator on 127.0.0.1:443, which serves HTTPS with a certificate from a test CA
that the unit trusts through ``SSL_CERT_FILE``. So the unit uses its real, locked LIVE URL.

Prints one JSON line with what it saw; the test asserts on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import trustme
from playwright.sync_api import Page, sync_playwright

from tests.support.provisioning import signed_activation
from tests.support.unit import RECEIPT
from tsed.fiskaly.tr03151 import verify_qr_code
from tsed.provisioning.document import generate_vendor_key, load_private_key
from tsed.state.paths import DEVICE_CERT_FILE as CERT_FILE

HOSTS = ("kassensichv-middleware.fiskaly.com", "dashboard.fiskaly.com")
PASSWORD = "Einrichtung-Filiale-7"
PORT = 8443
MGMT_KEY, MGMT_SECRET = "test_vendormanagementkey0000_live", "V" * 43
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def wait_for(check: Any, what: str, timeout: float = 30.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def start(work: Path) -> tuple[list[subprocess.Popen[bytes]], dict[str, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert(*HOSTS)
    paths = {name: work / f"{name}.pem" for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    cert.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    log = (work / "sim.log").open("wb")
    sim = subprocess.Popen(
        [sys.executable, "-m", "tsed.fiskaly.simulator", "--listen", "127.0.0.1:443",
         "--tls-cert", str(paths["cert"]), "--tls-key", str(paths["key"]),
         "--api-key", MGMT_KEY, "--api-secret", MGMT_SECRET, "--env", "LIVE",
         "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=log,
    )  # fmt: skip
    assert sim.stdout is not None and sim.stdout.readline()
    private_pem, public_pem = generate_vendor_key()
    (work / "vendor.pub").write_bytes(public_pem)
    (work / "vendor.key").write_bytes(private_pem)
    state = work / "state"
    state.mkdir()
    (state / "tsed.toml").write_text("")
    env = {**os.environ, "SSL_CERT_FILE": str(paths["ca"]), "TSED_MDNS": "off"}
    env.pop("TSED_FISKALY_BASE_URL", None)
    env.pop("NOTIFY_SOCKET", None)
    unit = subprocess.Popen(
        [sys.executable, "-m", "tests.support.unit_process",
         "--vendor-key", str(work / "vendor.pub"),
         "serve", "--state-dir", str(state),
         "--config", str(state / "tsed.toml"), "--listen", f"0.0.0.0:{PORT}",
         "--log-level", "INFO"],
        env=env, stdout=subprocess.DEVNULL, stderr=(work / "tsed.log").open("wb"),
    )  # fmt: skip
    wait_for((state / "admin.sock").exists, "the unit's admin socket")
    return [unit, sim], {**paths, "state": state}


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def tsectl(state: Path, *args: str, stdin: str | None = None) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "tsed.cli.tsectl", "--json", "--state-dir", str(state), *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return json.loads(result.stdout) if result.stdout.strip() else {"rc": result.returncode}


def live_activation(work: Path, device_id: str) -> Path:
    key = load_private_key((work / "vendor.key").read_bytes())
    path = work / "aktivierung-live.json"
    path.write_bytes(
        signed_activation(key, device_id, "LIVE", MGMT_KEY, MGMT_SECRET,
                          document_id="vendor-live-0001")
    )  # fmt: skip
    return path


def badge(page: Page) -> dict[str, str]:
    return page.eval_on_selector(
        "#mode-badge",
        "el => ({text: el.textContent, color: getComputedStyle(el).backgroundColor})",
    )


def presented_fingerprint(port: int) -> str:
    """SHA-256 of the certificate the unit's TLS listener presents, as a browser shows it."""
    der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", port)))
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


TSE_SIGNATURES = "#tse tbody tr td:nth-child(5)"


def main() -> None:
    work = Path(sys.argv[1])
    shots = Path(sys.argv[2])
    procs, paths = start(work)
    seen: dict[str, Any] = {}
    state = paths["state"]
    try:
        seen["password"] = tsectl(state, "password", stdin=PASSWORD + "\n")
        device = tsectl(state, "status")["device"]
        unit_url = f"https://127.0.0.1:{PORT}"
        pinned = ssl.create_default_context(cafile=str(state / CERT_FILE))  # the unit's own cert
        register = httpx.Client(base_url=unit_url, verify=pinned, timeout=30)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = browser.new_context(ignore_https_errors=True, locale="de-DE")
            page = context.new_page()
            page.goto(f"{unit_url}/setup/")
            page.wait_for_selector("#login-view:not([hidden])")
            page.wait_for_selector("#test-notice:not([hidden])", timeout=5000)
            seen["login_test_notice"] = page.is_visible("#test-notice")
            seen["login_badge"] = badge(page)
            page.fill("#login-password", "falsch-falsch-falsch")
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#message.error")
            seen["wrong_login"] = page.text_content("#message")
            page.fill("#login-password", PASSWORD)
            page.click("#login-form button[type=submit]")
            # set up without the wizard (the password came from tsectl): the full form
            page.wait_for_selector("#wizard-view:not([hidden])")
            page.click("#wz-skip")
            page.wait_for_selector("#app-view:not([hidden])")
            seen["test_badge"] = badge(page)
            seen["test_notice"] = page.is_visible("#test-notice")
            seen["anlegen_before_save"] = {
                "disabled": page.is_disabled("#anlegen"),
                "why": page.text_content("#anlegen-why"),
            }
            # the name field follows the daemon's rule: 1 to 48 bytes, not only spaces
            seen["name_maxlength"] = page.get_attribute("#f-name", "maxlength")
            page.fill("#f-name", "   ")
            page.click("#save")
            seen["name_blank"] = page.eval_on_selector("#f-name", "el => el.validationMessage")
            page.fill("#f-name", "Ä" * 25)  # 25 characters, 50 bytes
            seen["name_long"] = page.eval_on_selector("#f-name", "el => el.validationMessage")
            seen["name_saved_meanwhile"] = tsectl(state, "config", "show").get("saved")
            seen["activation_label"] = page.eval_on_selector(
                "#activation-file", "el => [...el.labels].map(l => l.textContent).join()"
            )
            page.wait_for_selector("#device-fp:not(:empty)", timeout=10_000)
            seen["device_fp_shown"] = page.text_content("#device-fp")
            seen["presented_fp"] = presented_fingerprint(PORT)
            page.wait_for_selector(TSE_SIGNATURES)
            signatures_before = page.text_content(TSE_SIGNATURES)
            page.fill("#f-name", "Filiale 7")
            page.check("#f-extended")
            page.click("#save")
            page.wait_for_selector("#message.ok")
            seen["saved"] = page.text_content("#message")
            seen["anlegen_without_activation"] = {
                "disabled": page.is_disabled("#anlegen"),
                "why": page.text_content("#anlegen-why"),
            }
            page.click("#pair")
            page.wait_for_selector("#pair-qr-img")
            code = page.text_content("#pair-code") or ""
            seen["qr_width"] = page.eval_on_selector(
                "#pair-qr-img", "img => img.decode().then(() => img.naturalWidth)"
            )
            seen["fingerprint_shown"] = page.text_content("#pair-fp")
            seen["fingerprint"] = device["fingerprint"]
            paired = register.post(
                "/api/v1/pairings", json={"code": code, "register_serial": "Kasse 1"}
            ).json()
            auth = {"Authorization": f"Bearer {paired['token']}"}
            seen["test_receipt"] = register.post(
                "/api/v1/receipts", json=RECEIPT, headers=auth
            ).json()
            open_tx = register.post("/api/v1/transactions", json={}, headers=auth).json()
            # no reload: the page shows the register, the used code and the new counter
            began = time.monotonic()
            page.wait_for_selector("#registers tbody tr td.mono", timeout=15_000)
            page.wait_for_function(
                "([sel, before]) => { const c = document.querySelector(sel);"
                " return c && c.textContent !== before; }",
                arg=[TSE_SIGNATURES, signatures_before],
                timeout=15_000,
            )
            seen["live_seconds"] = time.monotonic() - began
            seen["registers_rows"] = page.locator("#registers tbody tr").count()
            seen["pair_state"] = page.text_content("#pair-state")
            seen["pair_code_used"] = "used" in (page.get_attribute("#pair-code", "class") or "")
            seen["paired_message"] = page.text_content("#message")
            seen["receipts_signed_shown"] = page.text_content("#receipts-signed")
            seen["signatures"] = [signatures_before, page.text_content(TSE_SIGNATURES)]
            # a workplace override (Filiale scope) for this register, and the list filter
            override = "#workplaces tr[data-serial='Kasse 1'] input[data-key=register_deadline]"
            page.fill(override, "5")
            page.click("#save")
            page.wait_for_selector("#message.ok")
            page.check("#wp-filter")
            seen["workplace_rows"] = page.locator("#workplaces tbody tr").all_text_contents()
            seen["workplace_deadline"] = page.input_value(override)
            page.uncheck("#wp-filter")
            page.screenshot(path=str(shots / "setup-page-test.png"), full_page=True)
            # the vendor's LIVE activation file
            page.set_input_files("#activation-file", str(live_activation(work, device["id"])))
            page.click("#activation-upload")
            page.wait_for_selector("#mode-badge.badge-live")
            seen["live_badge"] = badge(page)
            seen["test_notice_after"] = page.is_visible("#test-notice")
            page.wait_for_selector("#anlegen:not([disabled])")
            page.click("#anlegen")
            page.click("#confirm button[value=yes]")
            page.wait_for_selector("#f-api-secret.revealed, #message.error")
            if page.is_visible("#message.error"):
                raise SystemExit(f"Anlegen failed: {page.text_content('#message')}")
            seen["secret_shown"] = len(page.text_content("#f-api-secret") or "")
            seen["anlegen_message"] = page.text_content("#message")
            page.click("#save")
            page.wait_for_selector("#message.ok")
            page.click("#test")
            page.wait_for_selector("#test-result li")
            seen["test_lines"] = page.locator("#test-result li").all_text_contents()
            seen["test_failures"] = page.locator("#test-result li.verdict-fail").count()
            live = register.post("/api/v1/receipts", json=RECEIPT, headers=auth)
            seen["live_receipt"] = live.json()
            seen["live_qr_valid"] = verify_qr_code(live.json()["result"]["qr_code_data"]).valid
            stale = register.post(
                f"/api/v1/transactions/{open_tx['id']}/finish", json=RECEIPT, headers=auth
            )
            seen["stale_test_tx"] = {"status": stale.status_code, **stale.json()}
            page.wait_for_function(  # the LIVE TSS, without a reload
                "() => [...document.querySelectorAll('#tse tbody tr')]"
                ".some(r => r.textContent.includes('LIVE'))",
                timeout=15_000,
            )
            seen["tse_rows"] = page.locator("#tse tbody tr").all_text_contents()
            page.click("#export")
            page.wait_for_selector("#export-files a", timeout=120_000)
            link = page.get_attribute("#export-files a", "href") or ""
            with page.expect_download() as download:
                page.click("#export-files a")
            saved = shots / "export-live.tar"
            download.value.save_as(str(saved))
            seen["export"] = {"link": link, "size": saved.stat().st_size}
            page.click("#lang")
            seen["english_title"] = page.text_content("h1 [data-i18n=title]")
            page.click("#lang")
            page.screenshot(path=str(shots / "setup-page.png"), full_page=True)
            # changing the password needs the current one; a wrong one keeps the session
            new_password = PASSWORD + "-neu"
            for field, value in (("#pw-current", "falsch-falsch-falsch"), ("#pw-new", new_password),
                                 ("#pw-repeat", new_password)):  # fmt: skip
                page.fill(field, value)
            page.click("#pw-change")
            page.wait_for_selector("#message.error")
            seen["pw_wrong"] = page.text_content("#message")
            seen["pw_wrong_still_in"] = page.is_visible("#app-view")
            for field, value in (("#pw-current", PASSWORD), ("#pw-new", new_password),
                                 ("#pw-repeat", new_password)):  # fmt: skip
                page.fill(field, value)
            page.click("#pw-change")
            page.wait_for_selector("#login-view:not([hidden])")
            seen["pw_changed"] = page.text_content("#message")
            page.fill("#login-password", new_password)
            page.click("#login-form button[type=submit]")
            # set up meanwhile (saved, registers paired): the overview, not the wizard
            page.wait_for_selector("#dashboard-view:not([hidden])")
            page.click("#logout")
            page.wait_for_selector("#login-view:not([hidden])")
            seen["after_logout"] = register.get(f"{unit_url}/setup/api/admin/v1/status").status_code
            browser.close()
        seen["status"] = tsectl(state, "status")
        seen["page_html_has_secret"] = False
    finally:
        stop(procs)
    print(json.dumps(seen, default=str))


if __name__ == "__main__":
    main()
