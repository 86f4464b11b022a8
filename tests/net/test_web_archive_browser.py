"""The setup page's "Archiv" section in a real headless Chromium (``archive_browser_flow.py``):
German, live progress of a run, verification, the auditor's export and the DSFinV-K tables;
screenshots at desktop width and at 375 px in ``tests/artifacts/``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.page_unit import run_page_flow

HELPER = Path(__file__).parents[1] / "support" / "archive_browser_flow.py"
ROOT = HELPER.parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_the_archive_section_runs_verifies_and_exports(tmp_path: Path) -> None:
    assert shutil.which("chromium"), "Debian's chromium is installed by scripts/bootstrap"
    seen = run_page_flow(HELPER, tmp_path, ARTIFACTS)
    assert seen["heading"] == "Archiv" and seen["english_heading"] == "Archive"
    assert len(seen["before"]) == 1 and "default" in seen["before"][0]
    assert seen["run_disabled"] is True  # no second run while one is under way
    assert seen["run_message"] == "Archivierung abgeschlossen."
    assert seen["progress"], "the run's steps are shown while it runs"
    assert "abgeschlossen" in seen["last_run"] and "." in seen["last_run"]  # German date
    assert seen["disk"].startswith("Dateien: 1 (") and " frei" in seen["disk"]
    assert "/" not in seen["dsfinvk_message"]  # no server path on the page
    assert "Prüfer-Ordner" in seen["auditor_message"]
    assert seen["verify_message"] == "Archiv geprüft: alle Dateien in Ordnung."
    assert seen["half_typed"].startswith("Bitte beide Tage") and seen["focused"] == "archive-from"
    assert "3 Vorgänge, davon 3 signiert" in seen["dsfinvk_message"]
    assert "vollständig und geprüft" in seen["auditor_message"]
    assert seen["narrow_scroll"] is True
    assert (ARTIFACTS / "setup-archive.png").stat().st_size > 0
    assert (ARTIFACTS / "setup-archive-375.png").stat().st_size > 0
