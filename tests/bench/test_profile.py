"""The quiet-path profile's arithmetic: per-receipt difference of two runs, categories."""

from __future__ import annotations

import pytest

from tests.bench.profile_quiet import (
    categorize,
    per_receipt,
    split_own_time,
    spy_shares,
    summarize,
)

LOOP = ("/usr/lib/python3.11/asyncio/base_events.py", 1845, "_run_once")
EXECUTE = ("~", 0, "<method 'execute' of 'sqlite3.Connection' objects>")
ISINSTANCE = ("~", 0, "<built-in method builtins.isinstance>")
SERVER = ("/venv/site-packages/aiohttp/web_protocol.py", 438, "data_received")
CLIENT = ("/venv/site-packages/aiohttp/client_proto.py", 316, "data_received")
IMPORT = ("<frozen importlib._bootstrap>", 1, "_find_and_load")


def test_functions_fall_into_the_categories_of_the_profile() -> None:
    assert categorize(LOOP) == "event loop: wake-ups and callbacks"
    assert categorize(EXECUTE) == "journal: SQLite calls"
    assert categorize(SERVER) == "aiohttp server (register side)"
    assert categorize(CLIENT) == "aiohttp client (to fiskaly)"
    assert categorize(("/x/asyncio/base_events.py", 1, "call_soon_threadsafe")).startswith(
        "hand-over"
    )
    assert categorize(("/x/asyncio/base_events.py", 1, "call_at")) == "timers"
    assert categorize(("/x/logging/__init__.py", 1, "_log")) == "logging"
    assert categorize(("/x/tsed/signing/metrics.py", 1, "observe")) == "metrics"
    assert categorize(("/x/tsed/signing/service.py", 1, "_replay")) == "idempotency bookkeeping"
    assert categorize(ISINSTANCE) == "other"


def test_a_builtin_is_charged_to_its_callers() -> None:
    callers = {SERVER: (3, 3, 0.003, 0.003), CLIENT: (1, 1, 0.001, 0.001)}
    split = split_own_time(ISINSTANCE, 0.004, callers)
    assert split == pytest.approx(
        {"aiohttp server (register side)": 0.003, "aiohttp client (to fiskaly)": 0.001}
    )
    assert split_own_time(ISINSTANCE, 0.004, {}) == {"other": 0.004}
    assert split_own_time(EXECUTE, 0.002, callers) == {"journal: SQLite calls": 0.002}


def test_one_receipt_is_the_difference_of_two_runs() -> None:
    base = {
        LOOP: (100, 0.010, {"event loop: wake-ups and callbacks": 0.010}),
        IMPORT: (500, 0.300, {"other": 0.300}),  # start-up only
        EXECUTE: (20, 0.004, {"journal: SQLite calls": 0.004}),
    }
    full = {
        LOOP: (400, 0.040, {"event loop: wake-ups and callbacks": 0.040}),
        IMPORT: (500, 0.320, {"other": 0.320}),  # as often: its time difference is noise
        EXECUTE: (220, 0.044, {"journal: SQLite calls": 0.044}),
        SERVER: (10, 0.010, {"aiohttp server (register side)": 0.010}),  # only in the full run
    }
    costs = per_receipt(base, full, 10)
    assert IMPORT not in costs
    assert costs[LOOP][:2] == pytest.approx((30.0, 0.003))
    assert costs[EXECUTE][:2] == pytest.approx((20.0, 0.004))
    summary = summarize(costs)
    assert summary["profiled_ms_per_receipt"] == pytest.approx(8.0)
    ranked = [(row["category"], round(row["ms"], 6)) for row in summary["categories"]]
    assert ranked == [
        ("journal: SQLite calls", 4.0),
        ("event loop: wake-ups and callbacks", 3.0),
        ("aiohttp server (register side)", 1.0),
    ]
    assert summary["categories"][0]["share"] == pytest.approx(0.5)
    events = summary["events_per_receipt"]
    assert events["event-loop iterations (_run_once)"] == pytest.approx(30.0)
    assert events["SQLite execute calls"] == pytest.approx(20.0)
    assert events["log calls (Logger._log)"] == 0.0


def test_py_spy_samples_go_to_the_category_of_their_innermost_frame() -> None:
    raw = "\n".join(
        [
            "<module> (tsed/cli/tsed.py:163);_run_once (/x/asyncio/base_events.py:1845) 30",
            "_commit (/x/tsed/state/store.py:163);<lambda> (/x/tsed/state/store.py:300) 10",
            "RequestHandler.data_received (aiohttp/web_protocol.py:438) 60",
            "garbage-without-a-count",
        ]
    )
    shares = spy_shares(raw)
    assert shares == pytest.approx(
        {
            "aiohttp server (register side)": 0.6,
            "event loop: wake-ups and callbacks": 0.3,
            "journal: tsed.state.store / rows": 0.1,
        }
    )
    assert next(iter(shares)) == "aiohttp server (register side)"
    assert spy_shares("") == {}
