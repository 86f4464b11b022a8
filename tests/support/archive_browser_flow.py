"""The setup page's "Archiv" section in a real headless Chromium (TEST mode, built-in simulator).

A unit process on loopback signs a few receipts; the page shows the archive per TSS, runs the
archive with its progress, re-verifies it, writes the auditor's export and the DSFinV-K's TSE
tables, and refuses a half-typed day. Prints one JSON line with what it saw.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from tests.support.browser_flow import CHROMIUM_ARGS
from tests.support.page_unit import log_in_to_the_form, page_unit

PASSWORD = "Archiv-Filiale-7"


def main() -> None:
    work, shots = Path(sys.argv[1]), Path(sys.argv[2])
    seen: dict[str, Any] = {}
    with page_unit(work, PASSWORD, receipts=3) as unit:
        today = datetime.now(UTC).date().isoformat()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_context(ignore_https_errors=True, locale="de-DE").new_page()
            log_in_to_the_form(page, unit.base, PASSWORD)
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
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main()
