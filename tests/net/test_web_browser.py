"""The setup page in a real headless Chromium: first boot to signing LIVE receipts using only
the page (plus the admin password from tsectl and the vendor's activation file).

Everything runs in a private network + mount namespace created here: loopback only, fiskaly's
real host names pointed at the simulator (HTTPS, test CA). Screenshots go to
``tests/artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HELPER = Path(__file__).parents[1] / "support" / "browser_flow.py"
TSECTL_HELPER = Path(__file__).parents[1] / "support" / "tsectl_flow.py"
ROOT = HELPER.parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
RED = "rgb(198, 40, 40)"
GREEN = "rgb(46, 125, 50)"


def run_in_namespaces(helper: Path, tmp_path: Path, *args: str) -> dict[str, Any]:
    """Run ``helper`` with only loopback and fiskaly's host names pointing at it."""
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "127.0.0.1 localhost\n127.0.0.1 kassensichv-middleware.fiskaly.com dashboard.fiskaly.com\n"
    )
    script = f'mount --bind {hosts} /etc/hosts && ip link set lo up && exec "$0" "$@"'
    result = subprocess.run(
        ["unshare", "-n", "-m", "sh", "-c", script, sys.executable, str(helper),
         str(tmp_path), *args],
        capture_output=True, text=True, timeout=280, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    logs = "".join(
        f"\n--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in tmp_path.glob("*.log")
    )
    assert result.returncode == 0, result.stderr[-4000:] + logs
    seen: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return seen


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for the private namespaces")
def test_first_boot_to_live_receipts_in_a_real_browser(tmp_path: Path) -> None:
    assert shutil.which("chromium"), "Debian's chromium is installed by scripts/bootstrap"
    ARTIFACTS.mkdir(exist_ok=True)
    seen = run_in_namespaces(HELPER, tmp_path, str(ARTIFACTS))

    assert seen["password"]["set"] is True
    # the TEST banner already on the login page
    assert seen["login_test_notice"] is True and seen["login_badge"] == {
        "text": "TEST",
        "color": RED,
    }
    # the name: the daemon's limit (48 bytes), only spaces refused before anything is sent
    assert seen["name_maxlength"] == "48"
    assert "nur Leerzeichen" in seen["name_blank"]
    assert "48 Bytes" in seen["name_long"] and "50" in seen["name_long"]
    assert seen["name_saved_meanwhile"] is False
    assert seen["activation_label"] == "Freischaltungsdatei (vom Hersteller)"
    # one fingerprint: the page shows the SHA-256 of the certificate the browser got
    assert seen["device_fp_shown"] == seen["presented_fp"] == seen["fingerprint"]
    assert "Falsches Admin-Passwort" in seen["wrong_login"]
    # TEST: a red badge and the notice
    assert seen["test_badge"] == {"text": "TEST", "color": RED}
    assert seen["test_notice"] is True
    # the mask's rules, shown on the page and enforced by the daemon
    assert seen["anlegen_before_save"]["disabled"] is True
    assert "gespeichert" in seen["anlegen_before_save"]["why"]
    assert seen["saved"].startswith("Gespeichert. Als Nächstes:")
    assert seen["anlegen_without_activation"]["disabled"] is True
    assert "Freischaltung" in seen["anlegen_without_activation"]["why"]
    # pairing: code, QR and fingerprint; a TEST receipt from the register
    assert seen["qr_width"] > 50
    assert seen["fingerprint_shown"] == seen["fingerprint"]
    assert seen["test_receipt"]["mode"] == "TEST" and seen["test_receipt"]["tse_failure"] is False
    assert seen["registers_rows"] == 1
    # ... shown without a reload, within a few seconds: register, used code, counters
    assert seen["live_seconds"] < 12, seen["live_seconds"]
    assert seen["pair_state"] == "Code verwendet – Kasse 1 gekoppelt" and seen["pair_code_used"]
    assert seen["paired_message"].startswith("Kasse 1 gekoppelt. Als Nächstes:")
    assert seen["receipts_signed_shown"] == "1"
    assert seen["signatures"][0] != seen["signatures"][1]
    assert len(seen["workplace_rows"]) == 1 and "Kasse 1" in seen["workplace_rows"][0]
    assert seen["workplace_deadline"] in ("5", "5.0")
    # LIVE after the vendor's activation, Anlegen, Save, Test
    assert seen["live_badge"] == {"text": "LIVE", "color": GREEN}
    assert seen["test_notice_after"] is False
    assert seen["secret_shown"] >= 32
    assert seen["test_failures"] == 0, seen["test_lines"]
    assert len(seen["test_lines"]) >= 6
    # the register signs in LIVE, on a new client of the LIVE TSS
    live = seen["live_receipt"]
    assert live["mode"] == "LIVE" and live["tse_failure"] is False and "notice" not in live
    assert seen["live_qr_valid"] is True
    assert (
        live["result"]["client_serial_number"]
        != seen["test_receipt"]["result"]["client_serial_number"]
        or live["result"]["tss_serial_number"]
        != seen["test_receipt"]["result"]["tss_serial_number"]
    )
    # a TEST transaction still open on the register: the seed's 403 case, explained
    stale = seen["stale_test_tx"]
    assert stale["status"] == 403 and stale["error"]["code"] == "MODE_MISMATCH"
    assert "reset" in stale["error"]["hint"]
    assert any("LIVE" in row for row in seen["tse_rows"])
    assert seen["export"]["size"] > 0
    assert seen["english_title"] == "TSE-LAN unit setup"
    assert seen["after_logout"] == 401
    assert "Passwort ist falsch" in seen["pw_wrong"] and seen["pw_wrong_still_in"]
    assert "Passwort geändert" in seen["pw_changed"]
    assert seen["status"]["mode"] == "LIVE"
    assert (ARTIFACTS / "setup-page.png").stat().st_size > 10_000


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for the private namespaces")
def test_first_boot_to_live_receipts_with_tsectl_only(tmp_path: Path) -> None:
    seen = run_in_namespaces(TSECTL_HELPER, tmp_path)
    assert seen["anlegen_unsaved"]["rc"] == 1
    assert seen["anlegen_unsaved"]["data"]["error"]["code"] == "CONFIG_NOT_SAVED"
    assert seen["save"]["rc"] == 0
    assert seen["anlegen_no_activation"]["data"]["error"]["code"] == "ACTIVATION_MISSING"
    assert seen["logging"]["data"] == {"extended_logging": True}
    activated = seen["activate"]["data"]
    assert activated["mode"] == "LIVE" and activated["mode_changed"] is True
    created = seen["anlegen"]["data"]
    assert seen["anlegen"]["rc"] == 0 and created["env"] == "LIVE"
    assert len(created["credentials"][0]["api_secret"]) >= 32
    assert created["switch"]["mode"] == "LIVE" and created["switch"]["ok"] is True
    assert seen["anlegen_again"]["rc"] == 1
    assert seen["multi_locked"]["rc"] == 1
    assert seen["test"]["rc"] == 0 and seen["test"]["data"]["ok"] is True
    tss = seen["tss"]["data"]["tss"]["default"]
    assert tss["env"] == "LIVE" and tss["state"] == "INITIALIZED"
    receipt = seen["receipt"]
    assert receipt["mode"] == "LIVE" and receipt["tse_failure"] is False
    assert seen["registers"]["data"]["registers"][0]["serial"] == "Kasse 9"
    assert seen["export"]["rc"] == 0 and seen["export_size"] > 0
    assert seen["status"]["data"]["mode"] == "LIVE"
    secret = created["credentials"][0]["api_secret"]
    assert all(secret not in json.dumps(v) for k, v in seen.items() if k != "anlegen")


WIZARD_HELPER = Path(__file__).parents[1] / "support" / "wizard_flow.py"
WIZARD_STEPS = ["wizard-1", "wizard-2", "wizard-3", "wizard-4", "wizard-5", "wizard-6",
                "wizard-7", "wizard-7-paired", "wizard-8", "wizard-8-signed"]  # fmt: skip


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for the private namespaces")
def test_first_run_wizard_to_a_signed_test_receipt_in_a_real_browser(tmp_path: Path) -> None:
    assert shutil.which("chromium"), "Debian's chromium is installed by scripts/bootstrap"
    assert (ROOT / ".axe" / "axe.min.js").exists(), "scripts/bootstrap fetches axe-core"
    ARTIFACTS.mkdir(exist_ok=True)
    seen = run_in_namespaces(WIZARD_HELPER, tmp_path, str(ARTIFACTS))
    # from a brand-new unit to a signed TEST receipt in at most 12 actions
    assert len(seen["actions"]) <= 12, seen["actions"]
    assert seen["receipt"]["mode"] == "TEST" and seen["receipt"]["register"] == "Kasse 1"
    assert seen["receipt"]["signature"] and seen["receipt"]["qr_valid"] is True
    assert seen["receipt"]["qr_width"] > 50
    assert "," in seen["receipt"]["time"] and "T" not in seen["receipt"]["time"]  # 1.12.2026, …
    # one step per screen, counted; the step survives a reload
    for number, name in enumerate(WIZARD_STEPS[:7], start=1):
        assert seen["step_text"][name].startswith(f"Schritt {number} von 8"), name
    assert seen["after_reload"] == "Schritt 4 von 8"
    # step 1: the setup code, a wrong one refused in German with the field marked and focused
    assert seen["code_len"] == 9 and seen["login_badge"]["text"] == "TEST"
    assert seen["first_focus"] == "fp-code"
    assert "Einrichtungscode" in seen["wrong_code"]
    assert seen["wrong_code_focus"] == ["fp-code", "true"]
    assert seen["focus_after_login"] == "w-name"
    # a server error marks the field it names
    assert "70000" in seen["port_error"] and "is not valid" not in seen["port_error"]  # German
    assert seen["port_focus"] == ["w-proxy-port", "true"]
    assert len(seen["test_lines"]) >= 3 and seen["test_verdict"]
    # the test's lines say what each step found, in German (text.js, by the step's detail_id)
    assert any(line.startswith("OK · Konfiguration gespeichert: gespeichert am ")
               for line in seen["test_lines"]), seen["test_lines"]  # fmt: skip
    assert not any("saved" in line or " mode" in line for line in seen["test_lines"])
    assert seen["activation_label"] == "Freischaltungsdatei (vom Hersteller)"
    assert seen["anlegen_test"]["disabled"] and "TEST" in seen["anlegen_test"]["why"]
    assert seen["single_tenant"] is True
    assert seen["pair_fp"] == seen["fingerprint"] and seen["paired_status"] == 201
    assert seen["pair_state"] == "Code verwendet – Kasse 1 gekoppelt" and seen["pair_code_used"]
    # the overview: every line filled; the pairing made a filing due (§ 146a Abs. 4 AO)
    board = seen["dashboard"]
    assert board["mode"].startswith("TEST") and board["registers"] == "1 gekoppelt"
    assert re.fullmatch(r"1 fällig, nächste Frist \d\d\.\d\d\.\d{4} \(noch \d\d Tage\)",
                        board["filings"]), board["filings"]  # fmt: skip
    assert board["version"] and " bis " in board["cert"]
    assert board["outages"] == "keine Ausfälle" and board["archive"]
    assert seen["what_next"] and seen["dashboard_after_reload"]
    # German formats, empty tables, named confirmations, half-typed dates
    assert "T" not in seen["form_created"] and "." in seen["form_created"]
    assert seen["outages_empty"] == "keine Einträge"
    assert "unvollständig" in seen["date_error"] and seen["date_focus"] == "x-from"
    assert seen["confirm_text"].startswith("Kasse 1 entfernen?")
    assert seen["revoked_message"] == "Kasse 1 entfernt."
    assert seen["english_title"] == "TSE-LAN unit setup"
    # the lockout: warned before the last attempt, a countdown, both after a reload
    assert "Falsches Admin-Passwort" in seen["wrong_login"]
    assert "noch ein Versuch" in seen["lock_warning"] == seen["lock_warning_reload"]
    assert "gesperrt" in seen["lock_countdown"] and "gesperrt" in seen["lock_countdown_reload"]
    assert seen["login_disabled"] is True
    # accessible and usable on a phone, on every screen
    assert {name: v for name, v in seen["axe"].items() if v} == {}
    for name, phone in seen["phone"].items():
        assert phone["scroll_width"] <= phone["width"] and not phone["wider"], (name, phone)
        assert phone["logout_visible"] or phone["logout_hidden"], (name, phone)
    assert seen["phone"]["dashboard"]["logout_visible"]
    for name in [*WIZARD_STEPS, "dashboard", "form"]:
        for width in ("desktop", "phone"):
            assert (ARTIFACTS / f"{name}-{width}.png").stat().st_size > 5_000, (name, width)
