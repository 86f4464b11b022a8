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
        [promtool, "check", "rules", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
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


# u1 pushes every minute and loses fiskaly after 5 minutes; u2 stopped pushing at 0 with its
# last values (a stale group: only the stale rule may fire for it); u1's certificate is short.
SERIES = {
    'push_time_seconds{job="tsed",unit="u1",shop="s1"}': "0+60x40",
    'push_time_seconds{job="tsed",unit="u2",shop="s2"}': "0x40",
    'tsed_tse_available{job="tsed",unit="u1",shop="s1"}': "1x5 0x35",
    'tsed_tse_available{job="tsed",unit="u2",shop="s2"}': "0x40",
    'tsed_open_outages{job="tsed",unit="u2",shop="s2"}': "1x40",
    'tsed_device_certificate_days_left{job="tsed",unit="u1",shop="s1"}': "20x40",
}
EXPECTED = {
    "TsedTelemetryStale": [{"severity": "warning", "job": "tsed", "unit": "u2", "shop": "s2"}],
    "TsedTseOutage": [{"severity": "critical", "job": "tsed", "unit": "u1", "shop": "s1"}],
    "TsedDeviceCertificateExpiring": [
        {"severity": "warning", "job": "tsed", "unit": "u1", "shop": "s1"}
    ],
    "TsedTssNotSigning": [],
}


def test_the_rules_fire_for_the_right_units(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run scripts/bootstrap (Debian package prometheus)"
    rules = yaml.safe_load(_rules())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)  # their templates are checked above
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in SERIES.items()],
                "alert_rule_test": [
                    {
                        "eval_time": "20m",
                        "alertname": name,
                        "exp_alerts": [{"exp_labels": labels} for labels in alerts],
                    }
                    for name, alerts in EXPECTED.items()
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
