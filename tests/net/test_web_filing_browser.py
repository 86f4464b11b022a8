"""The setup page's "Meldung an das Finanzamt" section in a real headless Chromium
(``filing_browser_flow.py``): German, master data with the server's error at its input, the
pending filing with its deadline, the printable page, the CSV, SUBMIT DE in the simulator until
final, an overdue filing marked as filed, the overview's count; axe at every step, screenshots
at desktop width and at 375 px in ``tests/artifacts/``."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.support.page_unit import run_page_flow

HELPER = Path(__file__).parents[1] / "support" / "filing_browser_flow.py"
ROOT = HELPER.parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
GERMAN_DAY = r"\d{2}\.\d{2}\.\d{4}"


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_the_filing_section_takes_master_data_and_makes_the_filing(tmp_path: Path) -> None:
    assert shutil.which("chromium"), "Debian's chromium is installed by scripts/bootstrap"
    assert (ROOT / ".axe" / "axe.min.js").exists(), "scripts/bootstrap fetches axe-core"
    seen = run_page_flow(HELPER, tmp_path, ARTIFACTS)
    today = date.today().strftime("%d.%m.%Y")
    assert seen["heading"] == "Meldung an das Finanzamt"
    assert seen["english_heading"] == "Notification to the tax office"
    # the pairings raised the filing; nothing entered yet: empty lists say so
    assert seen["first_card"] == "Mandant default: noch keine Betriebsstätte"
    assert [r.split(":")[0] for r in seen["first_reasons"]] == [
        "TSE in Betrieb genommen", "Kasse in Betrieb genommen", "Kasse in Betrieb genommen",
    ]  # fmt: skip
    assert f"Kasse 1 (am {today})" in seen["first_reasons"][1]
    assert seen["submissions_empty"] == seen["premises_empty"] == "keine Einträge"
    assert seen["sent_by_register"] == ["Kasse Pro", "4.2", "Kassen AG", "K2"]
    # a wrong tax number: the unit's German error at the input, which is marked and focused
    error = seen["tax_error_at_field"]
    assert error.startswith("Die Steuernummer '93815/0815' hat 9 Ziffern"), error
    assert seen["tax_error_message"] == error  # the same on top of the page
    assert seen["tax_error_focus"][:2] == ["tax_number", "true"]
    assert seen["tax_error_note_id"] in seen["tax_error_focus"][2]  # read out with the input
    assert seen["taxpayer_saved"] == "Gespeichert: Mandant default."
    assert seen["taxpayer_summary"].endswith("Bäckerei Huber GmbH, Steuernummer 2893081508152")
    assert seen["no_id"] == [
        "Bitte eine Kennung für die Betriebsstätte angeben (z. B. filiale-1).", "premises_id",
    ]  # fmt: skip
    assert seen["premises_summary"] == "Filiale Mitte (filiale-1): Marktplatz 2, 70173 Stuttgart"
    assert seen["saved_Kasse 1"] == "Gespeichert: Kasse 1."
    assert seen["saved_Kasse 2"] == "Gespeichert: Kasse 2."
    assert seen["register_summaries"][:2] == [
        f"Kasse 1 – gekoppelt am {today} – Filiale Mitte",
        f"Kasse 2 – gekoppelt am {today} – Filiale Mitte",
    ]
    # the pending filing of the premises, with its deadline in German and its days left
    assert seen["card"] == "Betriebsstätte Filiale Mitte (filiale-1)"
    assert re.fullmatch(rf"Frist: {GERMAN_DAY} – noch (28|29|30|31) Tage", seen["deadline"])
    assert seen["deadline_red"] is False
    # the printable page and the CSV, complete, in the form's order
    assert seen["print_title"] == "Mitteilung nach § 146a Abs. 4 AO"
    assert "93815/08152" in seen["print_text"] and "Filiale Mitte" in seen["print_text"]
    assert seen["print_styled"] == "solid"  # the page's style sheet reached the window
    assert seen["csv_name"] == "mitteilung-filiale-1.csv"
    csv = seen["csv"]
    assert csv.startswith("\ufeffAbschnitt;Feld;Wert\r\n")  # the BOM: umlauts in a spreadsheet
    rows = csv.lstrip("\ufeff").splitlines()
    for row in ("Steuerpflichtige/r;Name;Bäckerei Huber GmbH",
                "Steuerpflichtige/r;Steuernummer;93815/08152",
                "Betriebsstätte;Bezeichnung;Filiale Mitte",
                "Betriebsstätte;Anzahl der Aufzeichnungssysteme;2",
                "Aufzeichnungssystem 1;Seriennummer;Kasse 1",
                "Aufzeichnungssystem 1;Softwareversion;4.1",
                "Aufzeichnungssystem 2;Hersteller;Kassen AG",
                f"Aufzeichnungssystem 2;Datum der Inbetriebnahme;{today}"):  # fmt: skip
        assert row in rows, row
    assert rows.index("Steuerpflichtige/r;Name;Bäckerei Huber GmbH") < rows.index(
        "Betriebsstätte;Bezeichnung;Filiale Mitte"
    )
    # SUBMIT DE (the simulator's): the button waits, the state shows until it is final
    assert "„Filiale Mitte“ (filiale-1)" in seen["consent"] and "freigegeben" in seen["consent"]
    assert seen["submit_disabled"] is True
    assert seen["submit_message"] == (
        "Die Mitteilung für Filiale Mitte ist übermittelt: übermittelt (TRANSMISSION_SUCCEEDED)."
    )
    assert all(s.startswith("Übermittlung: ") for s in seen["states_seen"]), seen["states_seen"]
    assert seen["submissions"] == ["Filiale Mitte (filiale-1)übermittelt (TRANSMISSION_SUCCEEDED)–"]
    assert seen["pending_after_submit"] == "keine Einträge"
    # a later filing, overdue: red, counted by the overview, until it is marked as filed
    assert "Kasse in Betrieb genommen: Kasse 3" in seen["new_card"]
    assert re.fullmatch(rf"Frist: {GERMAN_DAY} – seit 3 Tagen überfällig", seen["overdue"])
    assert seen["overdue_colour"] == "rgb(198, 40, 40)"
    assert re.fullmatch(
        rf"1 fällig, nächste Frist {GERMAN_DAY} \(3 Tage überfällig\)", seen["overview_due"]
    )
    assert seen["overview_red"] == "verdict-fail"
    assert any("Meldung an das Finanzamt" in step for step in seen["overview_next"])
    assert "„Filiale Mitte“ (filiale-1)" in seen["confirm"]
    assert (
        seen["filed_message"] == "Betriebsstätte Filiale Mitte: ein Vorgang als gemeldet vermerkt."
    )
    assert seen["pending_after_filed"] == "keine Einträge"
    assert seen["overview_after"] == "keine" and seen["english_overview"] == "none"
    # every step: no serious or critical axe finding, no sideways scrolling at 375 px
    assert {step: found for step, found in seen["axe"].items() if found} == {}
    assert len(seen["axe"]) == 8 and all(seen["narrow"].values()), seen["narrow"]
    for name in ("1-start", "2-tax-number-error", "3-master-data", "4-print", "5-submitted",
                 "6-overdue", "7-overview", "8-filed"):  # fmt: skip
        for suffix in ("", "-375"):
            assert (ARTIFACTS / f"setup-filing-{name}{suffix}.png").stat().st_size > 0
