"""The benchmark's outputs: verdicts against the targets, JSON, and a well-formed SVG chart."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.bench.figures import _slope
from tests.bench.load import pct
from tests.bench.report import render_svg, table, verdict, write_json

FIGURES = {
    "added_ms_p50": 1.5,
    "added_ms_p99": 12.0,
    "unit_receipts_per_s": 1200.0,
    "rss_mb_end": 70.0,
    "extra_figure": 3.0,
}
SERIES = {
    "latency": {"direct": [200.0 + i for i in range(99)], "unit": [201.0 + i for i in range(99)]},
    "throughput": {"unit": [(10, 400.0), (50, 900.0)], "forwarder": [(10, 600.0), (50, 1500.0)]},
    "rss": [(0.0, 60.0), (5000.0, 70.0), (10000.0, 70.5)],
    "outage_silent": [3000.0, 3000.0, 1.0, 1.0],
    "outage_down": [200.0, 1.0, 1.0, 1.0],
}


def test_verdicts_follow_the_targets() -> None:
    assert verdict(1.5, "<=", 2.0) == "ok"
    assert verdict(12.0, "<=", 10.0) == "MISSED"
    assert verdict(1200.0, ">=", 1000.0) == "ok"
    assert verdict(900.0, ">=", 1000.0) == "MISSED"
    assert verdict(math.nan, "<=", 1.0) == ""
    assert verdict(5.0, "", None) == ""
    lines = table(FIGURES).splitlines()
    assert any("added latency p99" in line and line.endswith("MISSED") for line in lines)
    assert any("added latency p50" in line and line.endswith("ok") for line in lines)
    assert any(line.startswith("extra_figure") for line in lines)


def test_json_and_svg(tmp_path: Path) -> None:
    write_json(tmp_path / "b.json", FIGURES, {"mode": "quick"}, SERIES)
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["figures"]["added_ms_p99"] == 12.0
    assert data["targets"]["added_ms_p99"] == {"op": "<=", "target": 10.0}
    render_svg(tmp_path / "b.svg", FIGURES, SERIES)
    root = ET.parse(tmp_path / "b.svg").getroot()
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for title in ("Receipt time", "Throughput", "Unit RSS", "Outage"):
        assert any(t.startswith(title) for t in texts), title
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) >= 4 + 7  # axes + lines


def test_percentiles_and_slope() -> None:
    values = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert pct(values, 0.5) == 51.0
    assert pct(values, 0.99) == 100.0
    assert math.isnan(pct([], 0.5))
    assert _slope([(0, 1.0), (10, 2.0), (20, 3.0)]) == 0.1
    assert _slope([(0, 5.0)]) == 0.0
