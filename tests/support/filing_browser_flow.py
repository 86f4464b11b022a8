"""The setup page's "Meldung an das Finanzamt" section in a real headless Chromium (TEST mode,
built-in simulator, German).

A unit process on loopback has two registers paired (one sends its software, maker and
model); the page shows the pending filing their pairing raised, takes the taxpayer (a wrong
tax number first: the German error at its input), a premises and the registers' data, shows
the deadline with its days left, opens the printable page, downloads the CSV, submits through
SUBMIT DE until the state is final; a third pairing raises a new filing, the overview counts
it, "Als gemeldet markieren" closes it. axe-core at every step, at desktop width and at 375
px; screenshots of each step in both widths. Prints one JSON line with what it saw.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from tests.support.browser_flow import CHROMIUM_ARGS, tsectl
from tests.support.page_unit import PageUnit, log_in_to_the_form, page_unit
from tsed.filing.events import due_day
from tsed.state.paths import StatePaths

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".axe" / "axe.min.js"  # scripts/bootstrap fetches it (pinned, integrity checked)
PASSWORD = "Meldung-Filiale-5"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
SERIOUS = ("serious", "critical")
BOX = "#filing-box"
WAIT = 60_000  # ms, for one answer of the unit


def pair(unit: PageUnit, serial: str, **details: Any) -> None:
    code = tsectl(unit.state, "pair")["code"]
    with httpx.Client(base_url=unit.base, verify=unit.pinned, timeout=30) as register:
        paired = register.post(
            "/api/v1/pairings", json={"code": code, "register_serial": serial, **details}
        )
        paired.raise_for_status()


def backdate(unit: PageUnit, serial: str, day: date) -> None:
    """The pairing of ``serial`` as if it had happened on ``day`` (the unit's filing store)."""
    with contextlib.closing(sqlite3.connect(StatePaths(unit.state).filing, timeout=10)) as db:
        for _ in range(50):  # the pairing's event is written before its answer; 5 s at most
            with db:
                done = db.execute(
                    "UPDATE events SET occurred_on=?, due_on=? "
                    "WHERE subject=? AND filed_on IS NULL",
                    (day.isoformat(), due_day(day).isoformat(), serial),
                ).rowcount
            if done:
                return
            time.sleep(0.1)
    raise AssertionError(f"no reportable event for {serial}")


def axe(page: Page, where: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings inside ``where`` as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))  # through the debugger: not a page script
    result = page.evaluate(
        "(where) => axe.run(where, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))",
        where,
    )
    return [v for v in result if v["impact"] in SERIOUS]


def screen(page: Page, shots: Path, name: str, seen: dict[str, Any], where: str = BOX) -> None:
    """The step at desktop width and at 375 px: screenshots, axe at both, no sideways scroll."""
    page.set_viewport_size(DESKTOP)
    page.locator(where).screenshot(path=str(shots / f"setup-filing-{name}.png"))
    findings = axe(page, where)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(100)
    seen["narrow"][name] = page.evaluate(
        "(where) => document.documentElement.scrollWidth <= window.innerWidth + 1"
        " && document.querySelector(where).scrollWidth"
        " <= document.querySelector(where).clientWidth + 1",
        where,
    )
    findings += axe(page, where)
    page.locator(where).screenshot(path=str(shots / f"setup-filing-{name}-375.png"))
    page.set_viewport_size(DESKTOP)
    seen["axe"][name] = findings


def saved(page: Page, click: str) -> str:
    """Click a form's button and wait for the unit's answer; the message shown."""
    page.click(click)
    page.wait_for_selector("#message.ok, #message.error", timeout=WAIT)
    return str(page.text_content("#message"))


def register_form(serial: str) -> str:
    return f"#fi-registers details:has(summary:text-matches('^{serial} '))"


def main() -> None:
    work, shots = Path(sys.argv[1]), Path(sys.argv[2])
    seen: dict[str, Any] = {"axe": {}, "narrow": {}}
    purchased = (date.today() - timedelta(days=30)).isoformat()
    with page_unit(work, PASSWORD, receipts=1) as unit:  # "Kasse 1" paired, nothing else sent
        pair(unit, "Kasse 2", software={"name": "Kasse Pro", "version": "4.2"},
             manufacturer="Kassen AG", model="K2")  # fmt: skip
        with sync_playwright() as pw:
            german = {**os.environ, "LANG": "de_DE.UTF-8", "LANGUAGE": "de"}  # date inputs
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, env=german
            )
            context = browser.new_context(
                ignore_https_errors=True, locale="de-DE", accept_downloads=True
            )
            page = context.new_page()
            log_in_to_the_form(page, unit.base, PASSWORD)
            page.wait_for_selector("#fi-pending article", timeout=WAIT)
            seen["heading"] = page.text_content(f"{BOX} h2")
            seen["first_card"] = page.text_content("#fi-pending article h4")
            seen["first_reasons"] = page.locator("#fi-pending li").all_text_contents()
            seen["submissions_empty"] = page.text_content("#fi-submissions tbody")
            seen["premises_empty"] = page.text_content("#fi-premises p.empty")
            kasse2 = register_form("Kasse 2")
            seen["sent_by_register"] = [
                page.input_value(f"{kasse2} [name={name}]")
                for name in ("software", "software_version", "maker", "model")
            ]
            screen(page, shots, "1-start", seen)

            # the taxpayer: a tax number one digit short first, the German error at its input
            tp = "#fi-taxpayers details"
            for name, value in (("name", "Bäckerei Huber GmbH"), ("tax_number", "93815/0815"),
                                ("street", "Hauptstraße"), ("house_number", "1"),
                                ("zip_code", "70173"), ("town", "Stuttgart")):  # fmt: skip
                page.fill(f"{tp} [name={name}]", value)
            page.select_option(f"{tp} [name=land]", "BW")
            seen["tax_error_message"] = saved(page, f"{tp} button[type=submit]")
            note = page.locator(f"{tp} .fi-field-error:not([hidden])")
            seen["tax_error_at_field"] = note.text_content()
            seen["tax_error_focus"] = page.evaluate(
                "() => [document.activeElement.name, document.activeElement.getAttribute("
                "'aria-invalid'), document.activeElement.getAttribute('aria-describedby')]"
            )
            seen["tax_error_note_id"] = note.get_attribute("id")
            screen(page, shots, "2-tax-number-error", seen)
            page.fill(f"{tp} [name=tax_number]", "93815/08152")
            seen["taxpayer_saved"] = saved(page, f"{tp} button[type=submit]")
            seen["taxpayer_summary"] = page.text_content(f"{tp} summary")

            # the premises, then both registers' data
            new = "#fi-premises details"
            page.click(f"{new} button[type=submit]")  # no identifier yet: said at its input
            page.wait_for_selector("#message.error")
            seen["no_id"] = [page.text_content("#message"),
                             page.evaluate("() => document.activeElement.name")]  # fmt: skip
            for name, value in (("premises_id", "filiale-1"), ("name", "Filiale Mitte"),
                                ("street", "Marktplatz"), ("house_number", "2"),
                                ("zip_code", "70173"), ("town", "Stuttgart")):  # fmt: skip
                page.fill(f"{new} [name={name}]", value)
            seen["premises_saved"] = saved(page, f"{new} button[type=submit]")
            seen["premises_summary"] = page.text_content("#fi-premises details summary")
            for serial, extra in (("Kasse 1", {"maker": "Kassen AG", "model": "K1",
                                               "software": "Kasse Pro",
                                               "software_version": "4.1"}),
                                  ("Kasse 2", {})):  # fmt: skip
                form = register_form(serial)
                page.select_option(f"{form} [name=premises]", "filiale-1")
                for name, value in {**extra, "purchased_on": purchased}.items():
                    page.fill(f"{form} [name={name}]", value)
                seen[f"saved_{serial}"] = saved(page, f"{form} button[type=submit]")
            seen["register_summaries"] = page.locator("#fi-registers summary").all_text_contents()
            page.click(f"{register_form('Kasse 1')} summary")  # open: the filled form shows
            seen["card"] = page.text_content("#fi-pending article h4")
            seen["deadline"] = page.text_content("#fi-pending .fi-deadline")
            seen["deadline_red"] = page.locator("#fi-pending .verdict-fail").count() > 0
            seen["reasons"] = page.locator("#fi-pending li").all_text_contents()
            screen(page, shots, "3-master-data", seen)

            # the printable page, in a window of its own
            with page.expect_popup() as opened:
                page.click("#fi-pending [data-action=fi_print]")
            view = opened.value
            view.wait_for_url(lambda url: url.startswith("blob:"), timeout=WAIT)
            view.wait_for_load_state()
            seen["print_title"] = view.text_content("h1")
            seen["print_text"] = view.text_content("body")
            seen["print_styled"] = view.evaluate(
                "() => getComputedStyle(document.querySelector('td')).borderTopStyle"
            )
            view.set_viewport_size(DESKTOP)
            view.screenshot(path=str(shots / "setup-filing-4-print.png"), full_page=True)
            seen["axe"]["4-print"] = axe(view, "body")
            view.set_viewport_size(PHONE)
            view.screenshot(path=str(shots / "setup-filing-4-print-375.png"), full_page=True)
            seen["axe"]["4-print"] += axe(view, "body")
            view.close()

            # the CSV
            with page.expect_download() as downloading:
                page.click("#fi-pending [data-action=fi_csv]")
            download = downloading.value
            seen["csv_name"] = download.suggested_filename
            seen["csv"] = Path(download.path()).read_bytes().decode("utf-8")

            # through fiskaly SUBMIT DE (the simulator's) until the state is final
            page.evaluate(
                """() => { window.seenStates = []; window.submitDisabled = false;
                  new MutationObserver(() => {
                    const s = document.querySelector('#fi-pending .fi-state');
                    if (s && s.textContent) window.seenStates.push(s.textContent);
                    const b = document.querySelector('#fi-pending [data-action=fi_submit]');
                    if (b && b.disabled) window.submitDisabled = true;
                  }).observe(document.querySelector('#fi-pending'), {subtree: true,
                    childList: true, characterData: true, attributes: true}); }"""
            )
            page.click("#fi-pending [data-action=fi_submit]")
            page.wait_for_selector("#confirm[open]")
            seen["consent"] = page.text_content("#confirm-text")
            page.click("#confirm button[value=yes]")
            page.wait_for_selector("#message.ok, #message.error", timeout=WAIT)
            seen["submit_disabled"] = page.evaluate("() => window.submitDisabled")
            seen["submit_message"] = page.text_content("#message")
            seen["states_seen"] = page.evaluate("() => window.seenStates")
            seen["submissions"] = page.locator("#fi-submissions tbody tr").all_text_contents()
            seen["pending_after_submit"] = page.text_content("#fi-pending")
            screen(page, shots, "5-submitted", seen)

            # a third register, paired 34 days ago as far as the unit's records go: a filing
            # overdue; the overview counts it, "Als gemeldet markieren" closes it
            pair(unit, "Kasse 3")
            backdate(unit, "Kasse 3", date.today() - timedelta(days=34))
            page.click("#fi-refresh")
            page.wait_for_selector("#fi-pending article", timeout=WAIT)
            seen["new_card"] = page.text_content("#fi-pending article")
            seen["overdue"] = page.text_content("#fi-pending .fi-deadline.verdict-fail")
            seen["overdue_colour"] = page.evaluate(
                "() => getComputedStyle(document.querySelector('#fi-pending .fi-deadline')).color"
            )
            screen(page, shots, "6-overdue", seen)
            page.click("#to-dashboard")
            page.wait_for_selector("#dashboard-view:not([hidden])")
            page.wait_for_function("() => document.querySelector('#db-filings').textContent")
            seen["overview_due"] = page.text_content("#db-filings")
            seen["overview_red"] = page.get_attribute("#db-filings", "class")
            seen["overview_next"] = page.locator("#next-list li").all_text_contents()
            screen(page, shots, "7-overview", seen, where="#dashboard-view")
            page.click("#open-form")
            page.wait_for_selector("#fi-pending article", timeout=WAIT)
            page.click("#fi-pending [data-action=fi_filed]")
            page.wait_for_selector("#confirm[open]")
            seen["confirm"] = page.text_content("#confirm-text")
            page.click("#confirm button[value=yes]")
            page.wait_for_selector("#message.ok, #message.error", timeout=WAIT)
            seen["filed_message"] = page.text_content("#message")
            seen["pending_after_filed"] = page.text_content("#fi-pending")
            screen(page, shots, "8-filed", seen)
            page.click("#to-dashboard")
            page.wait_for_selector("#dashboard-view:not([hidden])")
            seen["overview_after"] = page.text_content("#db-filings")
            page.click("#lang")
            seen["english_overview"] = page.text_content("#db-filings")
            page.click("#open-form")
            page.wait_for_selector("#fi-pending p.empty", timeout=WAIT)
            seen["english_heading"] = page.text_content(f"{BOX} h2")
            browser.close()
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main()
