"""The setup page's certificate banner (``certbanner.js``) in a real headless Chromium
(``certbanner_browser_flow.py``): nothing while no certificate is due; once the housekeeping
read a TSS certificate ending in 25 days, a critical banner in German on every view after the
login, naming the date, the days left and what to do, the TSS id behind "Details"; English
behind the switch; gone after the logout; axe finds nothing serious; screenshots in
``tests/artifacts/``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support.page_unit import run_page_flow

HELPER = Path(__file__).parents[1] / "support" / "certbanner_browser_flow.py"
ARTIFACTS = HELPER.parents[2] / "tests" / "artifacts"


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_a_certificate_near_its_end_shows_a_banner_after_the_login(tmp_path: Path) -> None:
    assert shutil.which("chromium"), "Debian's chromium is installed by scripts/bootstrap"
    seen = run_page_flow(HELPER, tmp_path, ARTIFACTS)
    assert seen["days_before"] > 180 and seen["banner_while_due_nothing"] is False
    assert seen["days_after"] == 24 and "noch 24 Tage" in seen["server_banner"]
    text = seen["text"]
    assert text.startswith("Das Zertifikat der TSE von Mandant default läuft am "), text
    assert "(noch 24 Tage)" in text and "tsectl tss setup --new" in text
    assert "§ 146a Abs. 4 AO" in text and seen["tss_id"] not in text  # the id behind Details
    assert seen["critical"] is True and seen["ids_hidden"] is True
    (ids,) = seen["ids"]
    german_day = r"\d{1,2}\.\d{1,2}\.\d{4}"
    assert re.fullmatch(rf"TSS {seen['tss_id']} \(Mandant default\): {german_day}", ids), ids
    assert ids.rsplit(" ", 1)[1] in text  # the same German date as the banner's
    assert seen["first_view"] in ("wizard", "dashboard") and seen["on_form"] is True
    assert seen["english"].startswith("The certificate of tenant default's TSE ends on ")
    assert "(24 days left)" in seen["english"]
    assert seen["after_logout"] is False
    assert seen["axe"] == [], seen["axe"]
    assert seen["phone"]["scroll_width"] <= seen["phone"]["width"], seen["phone"]
    assert (ARTIFACTS / "setup-certificate-banner.png").stat().st_size > 0
    assert (ARTIFACTS / "setup-certificate-banner-375.png").stat().st_size > 0
