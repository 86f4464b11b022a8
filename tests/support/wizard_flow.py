"""The first-run wizard in a real headless Chromium: a brand-new unit to a signed TEST receipt.

Runs inside the private namespaces of ``test_web_browser.py`` (only loopback). Counts the
installer's actions on the happy path (clicks, field fills, uploads), runs axe-core inside the
page on every wizard step and the overview, checks the page at 375 px width, and saves a
screenshot of every step at desktop width and at 375 px. The error paths it also walks (a wrong
setup code, a port out of range, a half-typed date, the lockout) are checks, not counted.

Prints one JSON line with what it saw; the test asserts on it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from tests.support.browser_flow import CHROMIUM_ARGS, PORT, badge, start, stop, tsectl
from tsed.fiskaly.tr03151 import verify_qr_code
from tsed.state.paths import DEVICE_CERT_FILE

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".axe" / "axe.min.js"  # scripts/bootstrap fetches it (pinned, integrity checked)
PASSWORD = "Einrichtung-Filiale-7"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
SERIOUS = ("serious", "critical")
FOCUS = "() => [document.activeElement.id, document.activeElement.getAttribute('aria-invalid')]"


class Installer:
    """The installer's hands: every click, fill and upload on the happy path is counted."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.actions: list[str] = []

    def click(self, selector: str) -> None:
        self.actions.append(f"click {selector}")
        self.page.click(selector)

    def fill(self, selector: str, value: str) -> None:
        self.actions.append(f"fill {selector}")
        self.page.fill(selector, value)


def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))  # through the debugger: not a page script
    result = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))"
    )
    return [v for v in result if v["impact"] in SERIOUS]


def phone_check(page: Page) -> dict[str, Any]:
    """At 375 px: no sideways scrolling, "Abmelden" (when logged in) inside the screen."""
    return dict(
        page.evaluate(
            """() => {
              const out = document.getElementById('logout');
              const box = out.getBoundingClientRect();
              return {
                scroll_width: document.documentElement.scrollWidth,
                width: window.innerWidth,
                logout_visible: !out.hidden && box.width > 0 && box.right <= window.innerWidth
                  && box.left >= 0,
                logout_hidden: out.hidden,
                wider: [...document.querySelectorAll('body *')]
                  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                          && !e.closest('.table-wrap'))
                  .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className + ':'
                          + Math.round(e.getBoundingClientRect().right)),
              };
            }"""
        )
    )


def screen(page: Page, shots: Path, name: str, seen: dict[str, Any]) -> None:
    """Screenshot at desktop and at 375 px, axe at both, the phone layout checked."""
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(shots / f"{name}-desktop.png"), full_page=True)
    findings = axe(page)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(100)
    seen["phone"][name] = phone_check(page)
    findings += axe(page)
    page.screenshot(path=str(shots / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    seen["axe"][name] = findings
    seen["step_text"][name] = page.evaluate(
        "() => { const c = [...document.querySelectorAll('.step-count')]"
        ".find(e => e.offsetParent !== null); return c ? c.textContent : ''; }"
    )


def step_visible(page: Page, step: int) -> None:
    page.wait_for_selector(f".wz-step[data-step='{step}']:not([hidden])")


def main() -> None:
    work, shots = Path(sys.argv[1]), Path(sys.argv[2])
    procs, paths = start(work)
    state = paths["state"]
    seen: dict[str, Any] = {"axe": {}, "phone": {}, "step_text": {}}
    try:
        code = tsectl(state, "setup-code")["code"]  # read off the console by the installer
        seen["code_len"] = len(code)
        unit_url = f"https://127.0.0.1:{PORT}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(  # a German installer's browser (file, date pickers)
                executable_path="/usr/bin/chromium",
                args=[*CHROMIUM_ARGS, "--lang=de-DE"],
                env={
                    **os.environ,
                    "LANGUAGE": "de",
                    "LANG": "de_DE.UTF-8",
                    "LC_ALL": "de_DE.UTF-8",
                },
            )
            context = browser.new_context(
                ignore_https_errors=True, locale="de-DE", timezone_id="Europe/Berlin",
                viewport=DESKTOP,
            )  # fmt: skip
            page = context.new_page()
            you = Installer(page)
            page.goto(f"{unit_url}/setup/")
            page.wait_for_selector("#first-view:not([hidden])")
            seen["login_badge"] = badge(page)
            screen(page, shots, "wizard-1", seen)
            seen["first_focus"] = page.evaluate("() => document.activeElement.id")
            # a wrong code (a check, not counted): refused in German, the code field marked
            page.fill("#fp-code", "AAAA-AAAA")
            page.fill("#fp-password", PASSWORD)
            page.fill("#fp-repeat", PASSWORD)
            page.click("#fp-submit")
            page.wait_for_selector("#message.error")
            seen["wrong_code"] = page.text_content("#message")
            seen["wrong_code_focus"] = page.evaluate(FOCUS)
            # -- the installer's walk: counted from here ------------------------------------
            began = time.monotonic()
            you.fill("#fp-code", code.lower().replace("-", " "))
            you.fill("#fp-password", PASSWORD)
            you.fill("#fp-repeat", PASSWORD)
            you.click("#fp-submit")
            step_visible(page, 2)
            seen["focus_after_login"] = page.evaluate("() => document.activeElement.id")
            screen(page, shots, "wizard-2", seen)
            # a port out of range (a check, not counted): the port field marked and focused
            page.fill("#w-name", "Filiale 7")
            page.fill("#w-proxy-host", "proxy.filiale.lan")
            page.fill("#w-proxy-port", "70000")
            page.click("#wz2-next")
            page.wait_for_selector("#message.error")
            seen["port_error"] = page.text_content("#message")
            seen["port_focus"] = page.evaluate(FOCUS)
            page.fill("#w-proxy-host", "")
            page.fill("#w-proxy-port", "")
            page.fill("#w-name", "")
            you.fill("#w-name", "Filiale 7")
            you.click("#wz2-next")
            step_visible(page, 3)
            page.wait_for_selector("#wz-test-result li", timeout=60_000)
            page.wait_for_selector("#wz3-again:not([disabled])", timeout=60_000)
            seen["test_lines"] = page.locator("#wz-test-result li").all_text_contents()
            seen["test_verdict"] = page.text_content("#wz-test-verdict")
            screen(page, shots, "wizard-3", seen)
            you.click("#wz3-next")
            step_visible(page, 4)
            page.reload()  # the wizard's step is kept on the unit
            step_visible(page, 4)
            seen["after_reload"] = page.text_content("#wz-count")
            seen["activation_label"] = page.eval_on_selector(
                "#w-activation-file", "el => [...el.labels].map(l => l.textContent).join()"
            )
            screen(page, shots, "wizard-4", seen)
            you.click("#wz4-test")
            step_visible(page, 5)
            seen["anlegen_test"] = {
                "disabled": page.is_disabled("#wz5-anlegen"),
                "why": page.text_content("#wz5-why"),
            }
            screen(page, shots, "wizard-5", seen)
            you.click("#wz5-next")
            step_visible(page, 6)
            seen["single_tenant"] = page.is_visible("#wz6-single")
            screen(page, shots, "wizard-6", seen)
            you.click("#wz6-next")
            step_visible(page, 7)
            page.wait_for_selector("#wz-pair-qr-img")
            pair_code = page.text_content("#wz-pair-code") or ""
            seen["pair_fp"] = page.text_content("#wz-pair-fp")
            seen["fingerprint"] = tsectl(state, "status")["device"]["fingerprint"]
            screen(page, shots, "wizard-7", seen)
            pinned = httpx.create_ssl_context(verify=str(state / DEVICE_CERT_FILE))
            with httpx.Client(base_url=unit_url, verify=pinned, timeout=30) as register:
                paired = register.post(
                    "/api/v1/pairings", json={"code": pair_code, "register_serial": "Kasse 1"}
                )
                seen["paired_status"] = paired.status_code
            page.wait_for_selector("#wz-pair-state.used", timeout=15_000)
            seen["pair_state"] = page.text_content("#wz-pair-state")
            seen["pair_code_used"] = "used" in (page.get_attribute("#wz-pair-code", "class") or "")
            screen(page, shots, "wizard-7-paired", seen)
            you.click("#wz7-next")
            step_visible(page, 8)
            screen(page, shots, "wizard-8", seen)
            you.click("#wz8-sign")
            page.wait_for_selector("#wz-receipt:not([hidden])", timeout=30_000)
            seen["walk_seconds"] = round(time.monotonic() - began, 1)
            seen["actions"] = list(you.actions)
            # -- signed: what the page shows of the receipt --------------------------------
            seen["receipt"] = {
                "register": page.text_content("#wr-register"),
                "mode": page.text_content("#wr-mode"),
                "counter": page.text_content("#wr-counter"),
                "time": page.text_content("#wr-time"),
                "signature": page.text_content("#wr-signature"),
                "qr_valid": verify_qr_code(page.text_content("#wr-qr-data") or "").valid,
                "qr_width": page.eval_on_selector(
                    "#wr-qr", "img => img.decode().then(() => img.naturalWidth)"
                ),
            }
            screen(page, shots, "wizard-8-signed", seen)
            page.click("#wz8-done")
            page.wait_for_selector("#dashboard-view:not([hidden])")
            page.wait_for_function("() => document.getElementById('db-version').textContent")
            seen["dashboard"] = {
                key: page.text_content(f"#db-{key}")
                for key in ("mode", "tse", "registers", "outages", "archive", "filings", "cert",
                            "version")
            }  # fmt: skip
            seen["what_next"] = page.locator("#next-list li").all_text_contents()
            screen(page, shots, "dashboard", seen)
            page.reload()  # set up: the overview again, not the wizard
            page.wait_for_selector("#dashboard-view:not([hidden])")
            seen["dashboard_after_reload"] = page.is_visible("#wizard-view") is False
            page.click("#open-form")
            page.wait_for_selector("#app-view:not([hidden])")
            page.wait_for_selector("#registers tbody tr td.mono")
            screen(page, shots, "form", seen)
            seen["form_created"] = page.text_content("#f-created")
            seen["outages_empty"] = page.text_content("#outages tbody")
            # a half-typed date is refused, the field marked and focused
            page.focus("#x-from")
            page.keyboard.type("12")
            page.click("#export")
            page.wait_for_selector("#message.error")
            seen["date_error"] = page.text_content("#message")
            seen["date_focus"] = page.evaluate("() => document.activeElement.id")
            # a confirmation names what it acts on and reports the result
            page.click("#registers tbody button")
            seen["confirm_text"] = page.text_content("#confirm-text")
            page.click("#confirm button[value=yes]")
            page.wait_for_selector("#message.ok")
            seen["revoked_message"] = page.text_content("#message")
            page.click("#lang")
            seen["english_title"] = page.text_content("h1 [data-i18n=title]")
            page.click("#lang")
            # the lockout: a warning before the last attempt, a countdown, both after a reload
            page.click("#logout")
            page.wait_for_selector("#login-view:not([hidden])")
            for _ in range(4):
                page.fill("#login-password", "falsch-falsch-falsch")
                page.click("#login-form button[type=submit]")
                page.wait_for_selector("#message.error")
                page.wait_for_selector("#login-form button[type=submit]:not([disabled])")
            seen["wrong_login"] = page.text_content("#message")
            seen["lock_warning"] = page.text_content("#login-lock")
            page.reload()
            page.wait_for_selector("#login-lock:not([hidden])")
            seen["lock_warning_reload"] = page.text_content("#login-lock")
            page.fill("#login-password", "falsch-falsch-falsch")
            page.click("#login-form button[type=submit]")
            page.wait_for_function(
                "() => document.getElementById('login-lock').textContent.includes('gesperrt')"
            )
            seen["lock_countdown"] = page.text_content("#login-lock")
            page.reload()
            page.wait_for_selector("#login-lock:not([hidden])")
            seen["lock_countdown_reload"] = page.text_content("#login-lock")
            seen["login_disabled"] = page.is_disabled("#login-form button[type=submit]")
            screen(page, shots, "login-locked", seen)
            browser.close()
        seen["status"] = tsectl(state, "status")
    finally:
        stop(procs)
    print(json.dumps(seen, default=str))


if __name__ == "__main__":
    main()
