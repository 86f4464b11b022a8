"""The setup page's "Außerbetriebnahme" section in a real headless Chromium
(``decommission_browser_flow.py``): German, the refusal without the typed confirmation, a
register decommissioned step by step, what is left to do; screenshots at desktop width and at
375 px in ``tests/artifacts/``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.page_unit import run_page_flow

HELPER = Path(__file__).parents[1] / "support" / "decommission_browser_flow.py"
ROOT = HELPER.parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_the_decommission_section_takes_a_register_out_of_service(tmp_path: Path) -> None:
    assert shutil.which("chromium"), "Debian's chromium is installed by scripts/bootstrap"
    seen = run_page_flow(HELPER, tmp_path, ARTIFACTS)
    short = seen["register_id"][:8]
    assert seen["heading"] == "Außerbetriebnahme" and seen["english_heading"] == "Decommissioning"
    assert seen["before"] == "Keine Außerbetriebnahme begonnen."
    assert seen["tenant_hidden"] is True  # a register's decommissioning names no tenant
    assert f"„Kasse {short} abmelden“" in seen["unconfirmed"], seen["unconfirmed"]
    assert seen["done_message"] == "Außerbetriebnahme abgeschlossen."
    assert seen["plan"].startswith("Außerbetriebnahme (Kasse) am ")
    assert seen["plan"].endswith(": Kasse verkauft – erledigt"), seen["plan"]
    assert len(seen["steps"]) == 5 and all("– erledigt" in s for s in seen["steps"]), seen["steps"]
    assert seen["steps"][0].startswith("letzter Archivlauf – erledigt: Archivlauf: 1 ")
    assert (
        seen["steps"][3]
        == "Kasse(n) bei fiskaly abgemeldet (unumkehrbar) – erledigt: 1 Kasse(n) abgemeldet"
    )
    assert any("Finanzamt" in line and "§ 146a" in line for line in seen["left"]), seen["left"]
    assert seen["resume_hidden"] is True
    assert seen["after_status"] == 401  # the register's token is revoked
    assert seen["narrow_scroll"] is True
    assert (ARTIFACTS / "setup-decommission.png").stat().st_size > 0
    assert (ARTIFACTS / "setup-decommission-375.png").stat().st_size > 0
