"""The sample alert rules of docs/fleet.md are valid Prometheus rules (promtool check rules)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

FLEET = Path(__file__).resolve().parents[2] / "docs" / "fleet.md"


def _rules() -> str:
    blocks = re.findall(r"^```yaml\n(.*?)^```", FLEET.read_text(), re.S | re.M)
    [rules] = [block for block in blocks if block.startswith("groups:")]
    return rules


def test_the_sample_alert_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run scripts/bootstrap (Debian package prometheus)"
    path = tmp_path / "tsed.rules.yml"
    path.write_text(_rules())
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_rules_cover_the_events_that_matter() -> None:
    groups = {g["name"]: g["rules"] for g in yaml.safe_load(_rules())["groups"]}
    alerts = {rule["alert"]: rule for rules in groups.values() for rule in rules}
    assert {"TsedTelemetryStale", "TsedTseOutage", "TsedDeviceCertificateExpiring"} <= set(alerts)
    # the placeholders are named and marked as coming later
    for name in ("TsedArchiveLagging", "TsedFilingDue", "TsedUpdateFailed"):
        assert alerts[name] in groups["tsed-later"]
        assert alerts[name]["labels"]["placeholder"].startswith("coming with")
