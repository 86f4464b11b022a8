"""The unit file passes the security gate (exposure ≤ 2.0) and verifies without warnings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
SERVICE = UNITS / "tsed.service"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _exposure(unit: Path) -> float:
    result = subprocess.run(
        [ANALYZE or "", "security", "--offline=true", str(unit)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


def _verify(unit_text: str, tmp_path: Path) -> str:
    stub = tmp_path / "tsed"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    unit = tmp_path / "tsed.service"
    unit.write_text(unit_text.replace("/opt/tsed/venv/bin/tsed", str(stub)))
    result = subprocess.run(
        [ANALYZE or "", "verify", "--man=no", str(unit)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return (result.stdout + result.stderr).strip()


def test_exposure_is_at_most_2_0() -> None:
    assert _exposure(SERVICE) <= 2.0
    gate = subprocess.run(
        [ANALYZE or "", "security", "--offline=true", "--threshold=20", str(SERVICE)],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert gate.returncode == 0


def test_a_weakened_unit_fails_the_gate(tmp_path: Path) -> None:
    text = SERVICE.read_text()
    hardening = [
        "ProtectSystem=strict", "PrivateDevices=yes", "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service", "NoNewPrivileges=yes", "PrivateUsers=yes",
        "ProtectKernelModules=yes", "RestrictNamespaces=yes", "ProtectProc=invisible",
    ]  # fmt: skip
    for line in hardening:
        text = text.replace(line + "\n", "")
    weak = tmp_path / "tsed.service"
    weak.write_text(text)
    assert _exposure(weak) > 2.0


def test_verify_is_clean(tmp_path: Path) -> None:
    assert _verify(SERVICE.read_text(), tmp_path) == ""
    typo = SERVICE.read_text().replace("Type=notify", "Tpye=notify")
    assert "Unknown key" in _verify(typo, tmp_path)


def test_notify_watchdog_and_user() -> None:
    text = SERVICE.read_text()
    for needed in ("Type=notify", "WatchdogSec=", "User=tsed", "StateDirectory=tsed",
                   "ExecStart=/opt/tsed/venv/bin/tsed serve"):  # fmt: skip
        assert needed in text
    sysusers = (UNITS / "sysusers.d" / "tsed.conf").read_text()
    assert re.search(r"^u tsed ", sysusers, re.M)
