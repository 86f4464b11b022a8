"""The certificate watch's banner on the setup page in a real headless Chromium (TEST mode, a
standalone simulator whose TSS certificate is re-issued to end in 25 days).

A unit process on loopback signs a receipt; the housekeeping runs on demand (``tsectl health
run``) and reads the certificate; the banner shows after the login on every view, in German,
with what to do and the TSS id behind "Details"; English behind the language switch; gone
after the logout. Prints one JSON line with what it saw; screenshots in the artifacts folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from tests.support.browser_flow import CHROMIUM_ARGS, tsectl
from tests.support.page_unit import _port, page_unit
from tests.support.reliability import start_sim_process, stop
from tests.support.wizard_flow import axe, phone_check

PASSWORD = "Zertifikat-Filiale-7"
DAYS = 25
FIRST_VIEW = "#wizard-view:not([hidden]), #dashboard-view:not([hidden])"


def main() -> None:
    work, shots = Path(sys.argv[1]), Path(sys.argv[2])
    seen: dict[str, Any] = {}
    sim_port = _port()
    sim = start_sim_process(work / "sim", sim_port)
    try:
        with page_unit(work, PASSWORD, receipts=1, fiskaly=f"http://127.0.0.1:{sim_port}") as unit:
            tsectl(unit.state, "config", "set", "name", "Filiale 7")  # saved: the self-check
            first = tsectl(unit.state, "health", "run")  # can test the connection
            assert first.get("last", {}).get("result") in ("ok", "warn"), first
            (cert,) = first["certificates"]
            seen["days_before"], seen["tss_id"] = cert["days_left"], cert["tss_id"]
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                page = browser.new_context(ignore_https_errors=True, locale="de-DE").new_page()
                page.goto(f"{unit.base}/setup/")
                page.fill("#login-password", PASSWORD)
                page.click("#login-form button[type=submit]")
                page.wait_for_selector(FIRST_VIEW)
                page.wait_for_timeout(1500)  # the live poll has asked /health by now
                seen["banner_while_due_nothing"] = page.is_visible("#cert-banner")

                faults = {"tss_certificate_days": {cert["tss_id"]: DAYS}}
                httpx.post(f"http://127.0.0.1:{sim_port}/_sim/faults", json=faults,
                           timeout=30).raise_for_status()  # fmt: skip
                due = tsectl(unit.state, "health", "run")
                seen["days_after"] = due["certificates"][0]["days_left"]
                seen["server_banner"] = due["banner"]

                page.reload()  # still logged in: the page asks /health again at once
                page.wait_for_selector("#cert-banner:not([hidden])", timeout=30_000)
                page.wait_for_selector(FIRST_VIEW)
                seen["first_view"] = "wizard" if page.is_visible("#wizard-view") else "dashboard"
                seen["text"] = page.text_content("#cert-banner-text")
                seen["critical"] = "critical" in (page.get_attribute("#cert-banner", "class") or "")
                seen["ids_hidden"] = not page.is_visible("#cert-banner-ids")
                page.click("#cert-banner summary")
                seen["ids"] = page.locator("#cert-banner-ids li").all_text_contents()
                page.click("#wz-skip" if seen["first_view"] == "wizard" else "#open-form")
                page.wait_for_selector("#app-view:not([hidden])")
                seen["on_form"] = page.is_visible("#cert-banner")
                page.screenshot(path=str(shots / "setup-certificate-banner.png"))
                seen["axe"] = axe(page)
                page.set_viewport_size({"width": 375, "height": 800})
                page.wait_for_timeout(100)
                seen["phone"] = phone_check(page)
                seen["axe"] += axe(page)
                page.locator("#cert-banner").screenshot(
                    path=str(shots / "setup-certificate-banner-375.png")
                )
                page.set_viewport_size({"width": 1280, "height": 900})
                page.click("#lang")
                seen["english"] = page.text_content("#cert-banner-text")
                page.click("#lang")
                page.click("#logout")
                page.wait_for_selector("#login-view:not([hidden])")
                seen["after_logout"] = page.is_visible("#cert-banner")
                browser.close()
    finally:
        stop(sim)
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main()
