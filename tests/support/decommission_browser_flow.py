"""The setup page's "Außerbetriebnahme" section in a real headless Chromium (TEST mode, built-in
simulator).

A unit process on loopback pairs a register that signs a receipt; the page shows that nothing
was started, refuses the start without the typed confirmation (naming the text to type),
then decommissions the register step by step and shows what is left to do. Prints one JSON
line with what it saw.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from tests.support.browser_flow import CHROMIUM_ARGS
from tests.support.page_unit import log_in_to_the_form, page_unit
from tests.support.unit import RECEIPT

PASSWORD = "Stilllegen-Filiale-3"


def main() -> None:
    work, shots = Path(sys.argv[1]), Path(sys.argv[2])
    seen: dict[str, Any] = {}
    with page_unit(work, PASSWORD, receipts=1) as unit:
        register_id = unit.register_id
        seen["register_id"] = register_id
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_context(ignore_https_errors=True, locale="de-DE").new_page()
            log_in_to_the_form(page, unit.base, PASSWORD)
            page.wait_for_function(
                "() => document.querySelector('#dc-plan').textContent.includes('Keine')"
            )
            seen["heading"] = page.text_content("#decommission-box h2")
            seen["before"] = page.text_content("#dc-plan")
            page.select_option("#dc-kind", "register")
            seen["tenant_hidden"] = page.is_hidden("#dc-tenant-label")
            page.fill("#dc-register", register_id)
            page.fill("#dc-reason", "Kasse verkauft")
            page.click("#dc-start")
            page.wait_for_selector("#message.error", timeout=30_000)
            seen["unconfirmed"] = page.text_content("#message")
            page.fill("#dc-confirm", f"Kasse {register_id[:8]} abmelden")
            page.click("#dc-start")
            page.wait_for_function(
                "() => document.querySelector('#message').textContent.includes('abgeschlossen')",
                timeout=120_000,
            )
            seen["done_message"] = page.text_content("#message")
            seen["plan"] = page.text_content("#dc-plan")
            seen["steps"] = page.locator("#dc-steps li").all_text_contents()
            seen["left"] = page.locator("#dc-left li").all_text_contents()
            seen["resume_hidden"] = page.is_hidden("#dc-resume")
            page.locator("#decommission-box").screenshot(path=str(shots / "setup-decommission.png"))
            page.set_viewport_size({"width": 375, "height": 800})
            seen["narrow_scroll"] = page.evaluate(
                "document.querySelector('#decommission-box').scrollWidth"
                " <= document.querySelector('#decommission-box').clientWidth + 1"
            )
            page.locator("#decommission-box").screenshot(
                path=str(shots / "setup-decommission-375.png")
            )
            page.click("#lang")
            seen["english_heading"] = page.text_content("#decommission-box h2")
            browser.close()
        with httpx.Client(base_url=unit.base, verify=unit.pinned, timeout=30) as register:
            seen["after_status"] = register.post(
                "/api/v1/receipts", json=RECEIPT, headers=unit.auth
            ).status_code
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main()
