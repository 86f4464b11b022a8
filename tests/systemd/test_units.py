"""The unit file passes the security gate (exposure ≤ 2.0) and verifies without warnings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
SERVICE = UNITS / "tsed.service"
CONSOLE = UNITS / "tsed-console.service"
ALL_UNITS = [SERVICE, CONSOLE]
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


def _verify(unit_text: str, tmp_path: Path, name: str = "tsed.service") -> str:
    stub = tmp_path / "tsed"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    unit = tmp_path / name
    unit.write_text(re.sub(r"/opt/tsed/venv/bin/[\w-]+", str(stub), unit_text))
    result = subprocess.run(
        [ANALYZE or "", "verify", "--man=no", str(unit)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return (result.stdout + result.stderr).strip()


@pytest.mark.parametrize("unit", ALL_UNITS, ids=lambda p: p.name)
def test_exposure_is_at_most_2_0(unit: Path) -> None:
    assert _exposure(unit) <= 2.0
    gate = subprocess.run(
        [ANALYZE or "", "security", "--offline=true", "--threshold=20", str(unit)],
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


@pytest.mark.parametrize("unit", ALL_UNITS, ids=lambda p: p.name)
def test_verify_is_clean(unit: Path, tmp_path: Path) -> None:
    assert _verify(unit.read_text(), tmp_path, unit.name) == ""
    typo = re.sub(r"^Type=", "Tpye=", unit.read_text(), flags=re.M)
    assert "Unknown key" in _verify(typo, tmp_path, unit.name)


def test_notify_watchdog_and_user() -> None:
    text = SERVICE.read_text()
    for needed in ("Type=notify", "WatchdogSec=", "User=tsed", "StateDirectory=tsed",
                   "ExecStart=/opt/tsed/venv/bin/tsed serve"):  # fmt: skip
        assert needed in text
    sysusers = (UNITS / "sysusers.d" / "tsed.conf").read_text()
    assert re.search(r"^u tsed ", sysusers, re.M)


def test_console_unit_sees_only_its_tty() -> None:
    text = CONSOLE.read_text()
    for needed in ("DevicePolicy=closed", "DeviceAllow=/dev/ttyGS0 rw", "BindsTo=dev-ttyGS0.device",
                   "After=dev-ttyGS0.device", "SupplementaryGroups=dialout", "Restart=always",
                   "User=tsed", "RestrictAddressFamilies=AF_UNIX AF_NETLINK", "IPAddressDeny=any",
                   "ExecStart=/opt/tsed/venv/bin/tsed-console --port /dev/ttyGS0",
                   "WantedBy=dev-ttyGS0.device"):  # fmt: skip
        assert needed in text
    assert "PrivateDevices=yes" not in text  # it would hide the tty


def test_a_console_unit_with_every_device_fails_the_gate(tmp_path: Path) -> None:
    text = CONSOLE.read_text()
    hardening = [
        "DevicePolicy=closed", "DeviceAllow=/dev/ttyGS0 rw", "IPAddressDeny=any",
        "SystemCallFilter=@system-service", "CapabilityBoundingSet=", "ProtectSystem=strict",
        "PrivateUsers=yes", "ProtectKernelModules=yes", "RestrictNamespaces=yes",
        "ProtectProc=invisible", "NoNewPrivileges=yes",
    ]  # fmt: skip
    for line in hardening:
        text = text.replace(line + "\n", "")
    weak = tmp_path / "tsed-console.service"
    weak.write_text(text)
    assert _exposure(weak) > 2.0
