"""The shop-load side-by-side figures: per tree, and this tree against the other."""

from __future__ import annotations

import subprocess
import sys

from tests.bench.harness import Proc
from tests.bench.shop import ShopRegisters
from tests.bench.side_by_side import ShopSide, render_shop


def test_a_side_counts_cpu_per_receipt_and_its_percentiles() -> None:
    popen = subprocess.Popen([sys.executable, "-c", "pass"])
    popen.wait(timeout=30)
    unit = Proc("unit", popen, "https://127.0.0.1:1")
    side = ShopSide(unit, ShopRegisters(unit, []))
    side.whole = [0.2 + i / 1000 for i in range(100)]  # 200 … 299 ms
    side.start = [0.003] * 99 + [0.05]
    side.cpu = [0.6, 100]
    side.alone_cpu = [0.03, 10]
    side.failures = 1
    f = side.figures()
    assert f["cpu_ms_per_receipt"] == 6.0 and f["alone_cpu_ms_per_receipt"] == 3.0
    assert round(f["p50_ms"]) == 250 and round(f["p99_ms"]) == 299
    assert round(f["start_p50_ms"]) == 3 and round(f["start_p99_ms"]) == 50
    assert f["receipts"] == 100 and f["tse_failures"] == 1


def test_the_table_puts_this_tree_against_the_other() -> None:
    table = render_shop(
        {
            "other": {"cpu_ms_per_receipt": 6.0, "p99_ms": 0.0},
            "this": {"cpu_ms_per_receipt": 3.0, "p99_ms": 1.0},
        }
    )
    lines = table.splitlines()
    assert lines[1].split() == ["cpu_ms_per_receipt", "6.00", "3.00", "0.50"]
    assert lines[2].split() == ["p99_ms", "0.00", "1.00"]  # no ratio to nothing
