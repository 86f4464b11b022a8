"""The benchmark's outputs: a table for people, JSON for machines, an SVG chart for the docs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

# (figure, label, comparison, target) from DESIGN §7 and the issue
TARGETS: list[tuple[str, str, str, float | None]] = [
    ("added_ms_p50", "added latency p50 (ms)", "<=", 2.0),
    ("added_ms_p95", "added latency p95 (ms)", "", None),
    ("added_ms_p99", "added latency p99 (ms)", "<=", 10.0),
    ("alone_added_ms_p50", "one register alone: added p50 (ms)", "", None),
    ("alone_start_ms_p50", "one register alone: start answered p50 (ms)", "", None),
    ("direct_ms_p50", "direct start+finish p50 (ms)", "", None),
    ("unit_ms_p50", "through unit start+finish p50 (ms)", "", None),
    ("start_ms_p50", "start answered p50 (ms)", "", None),
    ("start_ms_p99", "start answered p99 (ms)", "<=", 5.0),
    # shop load (issue 21): 50 registers × 1 receipt/s open loop, 100 ms WAN through a proxy
    ("shop_alone_onecall_added_ms_p50", "shop: alone, one-call added p50 (ms)", "<=", 3.0),
    ("shop_alone_added_ms_p50", "shop: alone, start+finish added p50 (ms)", "", None),
    ("shop_nowan_onecall_ms_p50", "shop: alone, no WAN, one-call receipt p50 (ms)", "", None),
    ("shop_direct_ms_p50", "shop: direct start+finish p50 (ms)", "", None),
    ("shop_unit_ms_p50", "shop: through unit start+finish p50 (ms)", "", None),
    ("shop_added_ms_p50", "shop: added latency p50 (ms)", "<=", 3.0),
    ("shop_added_ms_p99", "shop: added latency p99 (ms)", "<=", 10.0),
    ("shop_start_ms_p99", "shop: start answered p99 (ms)", "<=", 5.0),
    ("shop_cpu_ms_per_receipt_unit", "shop: unit CPU per receipt (ms)", "<=", 1.5),
    ("shop_cpu_ms_per_receipt_at_load_forwarder", "shop: forwarder CPU per receipt (ms)", "", None),
    ("shop_forwarder_added_ms_p50", "shop: forwarder added latency p50 (ms)", "", None),
    (
        "shop_cpu_ms_per_receipt_unit_alone_nowan",
        "shop: unit CPU/receipt alone, no WAN (ms)",
        "",
        None,
    ),
    (
        "shop_cpu_ms_per_receipt_forwarder_alone_nowan",
        "shop: forwarder CPU/receipt alone, no WAN (ms)",
        "",
        None,
    ),
    ("unit_receipts_per_s", "throughput, unit (receipts/s)", ">=", 1000.0),
    ("forwarder_receipts_per_s", "throughput, bare forwarder (receipts/s)", "", None),
    ("unit_cpu_ms_per_receipt", "unit CPU per receipt (ms)", "", None),
    ("forwarder_cpu_ms_per_receipt", "forwarder CPU per receipt (ms)", "", None),
    ("sim_cpu_ms_per_receipt", "simulator CPU per receipt (ms)", "", None),
    ("loadgen_cpu_ms_per_receipt", "load generator CPU per receipt (ms)", "", None),
    ("memory_receipts", "receipts in the memory run", "", None),
    ("rss_mb_end", "unit RSS after the memory run (MB)", "<=", 80.0),
    ("rss_slope_mb_per_10k", "RSS slope after warm-up (MB/10k receipts)", "<=", 0.5),
    ("start_to_ready_s", "start to READY, new state (s)", "<=", 1.5),
    ("journal_rows", "journaled transactions at cold start", "", None),
    ("cold_start_to_ready_s", "start to READY, full journal (s)", "<=", 1.5),
    ("outage_silent_first_ms", "fiskaly silent: first tse_failure (ms)", "<=", 3050.0),
    ("outage_silent_slow_answers", "fiskaly silent: answers > 50 ms", "", None),
    ("outage_silent_then_ms_max", "fiskaly silent: then, max (ms)", "<=", 50.0),
    ("outage_down_first_ms", "fiskaly down: first tse_failure (ms)", "<=", 3050.0),
    ("outage_down_slow_answers", "fiskaly down: answers > 50 ms", "", None),
    ("outage_down_then_ms_max", "fiskaly down: then, max (ms)", "<=", 50.0),
]


def verdict(value: float, op: str, target: float | None) -> str:
    if target is None or math.isnan(value):
        return ""
    ok = value <= target if op == "<=" else value >= target
    return "ok" if ok else "MISSED"


def table(figures: dict[str, float]) -> str:
    lines = [f"{'figure':48s} {'value':>10s}  {'target':>10s}  verdict", "-" * 80]
    shown = set()
    for key, label, op, target in TARGETS:
        if key not in figures:
            continue
        shown.add(key)
        value = figures[key]
        goal = f"{op} {target:g}" if target is not None else ""
        lines.append(f"{label:48s} {value:10.2f}  {goal:>10s}  {verdict(value, op, target)}")
    for key in sorted(set(figures) - shown):
        lines.append(f"{key:48s} {figures[key]:10.2f}")
    return "\n".join(lines)


def write_json(path: Path, figures: dict[str, float], meta: dict[str, Any], series: Any) -> None:
    targets = {key: {"op": op, "target": t} for key, _l, op, t in TARGETS if t is not None}
    data = {
        "meta": meta,
        "figures": {k: round(v, 3) for k, v in figures.items()},
        "targets": targets,
        "series": series,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


# -- SVG chart ------------------------------------------------------------------------------

_W, _H = 460, 300  # one panel
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 58, 16, 34, 42
_COLORS = {"unit": "#c0392b", "direct": "#2c3e50", "forwarder": "#2c3e50", "rss": "#c0392b"}


class _Panel:
    def __init__(self, x: float, y: float, title: str, xmax: float, ymax: float) -> None:
        self.x, self.y, self.title = x, y, title
        self.xmax = xmax if xmax > 0 else 1.0
        self.ymax = ymax if ymax > 0 else 1.0
        self.parts: list[str] = []

    def px(self, value: float) -> float:
        return self.x + _PAD_L + value / self.xmax * (_W - _PAD_L - _PAD_R)

    def py(self, value: float) -> float:
        return self.y + _H - _PAD_B - value / self.ymax * (_H - _PAD_T - _PAD_B)

    def axes(self, xlabel: str, ylabel: str) -> None:
        x0, y0, x1, y1 = self.px(0), self.py(0), self.px(self.xmax), self.py(self.ymax)
        self.parts.append(
            f'<text x="{self.x + _W / 2:.1f}" y="{self.y + 20:.1f}" text-anchor="middle" '
            f'font-weight="bold">{escape(self.title)}</text>'
        )
        self.parts.append(
            f'<path d="M{x0:.1f},{y1:.1f} V{y0:.1f} H{x1:.1f}" stroke="#333" fill="none"/>'
        )
        for i in range(5):
            yv, xv = self.ymax * i / 4, self.xmax * i / 4
            self.parts.append(
                f'<text x="{x0 - 4:.1f}" y="{self.py(yv) + 4:.1f}" text-anchor="end">'
                f"{yv:.4g}</text>"
                f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{self.py(yv):.1f}" '
                f'y2="{self.py(yv):.1f}" stroke="#eee"/>'
                f'<text x="{self.px(xv):.1f}" y="{y0 + 14:.1f}" text-anchor="middle">'
                f"{xv:.4g}</text>"
            )
        self.parts.append(
            f'<text x="{self.x + _W / 2:.1f}" y="{self.y + _H - 8:.1f}" '
            f'text-anchor="middle">{escape(xlabel)}</text>'
            f'<text transform="translate({self.x + 14:.1f},{self.y + _H / 2:.1f}) rotate(-90)" '
            f'text-anchor="middle">{escape(ylabel)}</text>'
        )

    def line(self, points: list[tuple[float, float]], color: str, label: str, row: int) -> None:
        if not points:
            return
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{self.px(x):.1f},{self.py(y):.1f}"
            for i, (x, y) in enumerate(points)
        )
        self.parts.append(f'<path d="{path}" stroke="{color}" stroke-width="2" fill="none"/>')
        if len(points) <= 25:  # few measured points: show where they are
            self.parts.extend(
                f'<circle cx="{self.px(x):.1f}" cy="{self.py(y):.1f}" r="3" fill="{color}"/>'
                for x, y in points
            )
        lx, ly = self.px(0) + 10, self.py(self.ymax) + 14 + row * 16
        self.parts.append(
            f'<line x1="{lx:.1f}" x2="{lx + 18:.1f}" y1="{ly - 4:.1f}" y2="{ly - 4:.1f}" '
            f'stroke="{color}" stroke-width="2"/>'
            f'<text x="{lx + 24:.1f}" y="{ly:.1f}">{escape(label)}</text>'
        )

    def target(self, value: float, label: str) -> None:
        if value > self.ymax:
            return
        y = self.py(value)
        self.parts.append(
            f'<line x1="{self.px(0):.1f}" x2="{self.px(self.xmax):.1f}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#27ae60" stroke-dasharray="5,4"/>'
            f'<text x="{self.px(self.xmax) - 2:.1f}" y="{y - 4:.1f}" text-anchor="end" '
            f'fill="#27ae60">{escape(label)}</text>'
        )


def _nice(value: float) -> float:
    if value <= 0 or math.isnan(value):
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exp >= value:
            return float(step * exp)
    return float(10 * exp)


def render_svg(path: Path, figures: dict[str, float], series: dict[str, Any]) -> None:
    panels: list[_Panel] = []
    latency = series.get("latency")
    if latency:
        top = max(latency["unit"] + latency["direct"])
        panel = _Panel(0, 0, "Receipt time at 100 ms WAN, 50 registers", 100, _nice(top * 1.1))
        panel.axes("percentile", "ms (start + finish)")
        panel.line([(i + 1, v) for i, v in enumerate(latency["direct"])],
                   _COLORS["direct"], "direct to fiskaly", 0)  # fmt: skip
        panel.line([(i + 1, v) for i, v in enumerate(latency["unit"])],
                   _COLORS["unit"], "register → unit → fiskaly", 1)  # fmt: skip
        panels.append(panel)
    curve = series.get("throughput")
    if curve:
        xmax = max(level for level, _ in curve["unit"])
        top = max(rate for name in curve for _, rate in curve[name])
        panel = _Panel(_W, 0, "Throughput, no injected latency", _nice(xmax), _nice(top * 1.1))
        panel.axes("concurrent requests", "receipts/s")
        panel.line(curve["forwarder"], _COLORS["forwarder"], "bare aiohttp forwarder", 0)
        panel.line(curve["unit"], _COLORS["unit"], "unit", 1)
        panel.target(1000, "target ≥ 1000/s")
        panels.append(panel)
    rss = series.get("rss")
    if rss:
        xmax = max(x for x, _ in rss)
        top = max([y for _, y in rss] + [80.0])
        panel = _Panel(0, _H, "Unit RSS along the memory run", _nice(xmax), _nice(top * 1.1))
        panel.axes("receipts", "RSS (MB)")
        panel.line(rss, _COLORS["rss"], "unit RSS", 0)
        panel.target(80, "target ≤ 80 MB")
        panels.append(panel)
    outage = [series[k] for k in ("outage_silent", "outage_down") if k in series]
    if outage:
        count = max(len(s) for s in outage)
        top = max(max(s) for s in outage)
        panel = _Panel(_W, _H, "Outage: time to tse_failure", count, _nice(top * 1.1))
        panel.axes("receipt # in sequence", "ms")
        for row, key in enumerate(("outage_silent", "outage_down")):
            if key in series:
                label = "fiskaly silent" if key == "outage_silent" else "fiskaly down"
                color = ["#c0392b", "#2c3e50"][row]
                panel.line([(i + 1, v) for i, v in enumerate(series[key])], color, label, row)
        panels.append(panel)
    rows = 2 if len(panels) > 2 else 1
    body = "".join(part for panel in panels for part in panel.parts)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * _W}" height="{rows * _H}" '
        f'viewBox="0 0 {2 * _W} {rows * _H}" font-family="sans-serif" font-size="11">'
        f'<rect width="100%" height="100%" fill="white"/>{body}</svg>\n'
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg)
