"""Where one receipt's unit CPU goes on the quiet path (issue 21): cProfile per receipt.

One register alone, receipts in sequence (start, then finish, each with an Idempotency-Key;
or one-call receipts), fiskaly = the simulator behind the delaying WAN proxy. The unit runs
under cProfile in every thread (``profiled.py``). It is run twice, with ``W`` warm-up
receipts and with ``W + N``: the difference of the two profiles divided by ``N`` is what one
receipt costs (start-up, pairing and shut-down cancel out), as CPU per category and as
counts of the events that cost it (event-loop wake-ups, hand-overs to the store thread,
timers, TLS records, log calls, JSON, journal commits).

cProfile adds a fixed cost to every call, so categories with many small calls look larger
than they are; the counts are exact (they are counts of plain functions: cProfile counts a
coroutine once per resumption, not once per call). The real CPU per receipt (no profiler)
is measured beside it from ``/proc`` with the same workload.

Run:  .venv/bin/python -m tests.bench.profile_quiet [--receipts 200] [--kind start-finish]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench.harness import (
    Proc,
    pair,
    prepare_unit_state,
    start_simulator,
    start_unit,
    start_wan_proxy,
)
from tests.bench.shop import ShopRegisters

WARM = 10
Func = tuple[str, int, str]

# (category, test on (file, function name)); the first that matches wins
CATEGORIES: list[tuple[str, Callable[[str, str], bool]]] = [
    ("journal: SQLite calls", lambda f, n: "sqlite3." in n),
    (
        "journal: tsed.state.store / rows",
        lambda f, n: f.endswith(("tsed/state/store.py", "tsed/state/rows.py")),
    ),
    (
        "hand-over to/from the store thread",
        lambda f, n: (
            f.endswith(("/queue.py", "/threading.py"))
            or "_queue." in n
            or n in ("call_soon_threadsafe", "_write_to_self", "_read_from_self")
            or "acquire' of '_thread" in n
        ),
    ),
    (
        "timers",
        lambda f, n: (
            n in ("call_at", "call_later", "_timer_handle_cancelled", "when")
            or "heapq." in n
            or (f.endswith("asyncio/events.py") and n == "cancel")
            or f.endswith(("asyncio/timeouts.py", "async_timeout/__init__.py"))
        ),
    ),
    (
        "event loop: wake-ups and callbacks",
        lambda f, n: (
            f.endswith(("selectors.py", "asyncio/base_events.py", "asyncio/events.py"))
            or "epoll" in n
            or "run' of '_contextvars" in n
        ),
    ),
    (
        "TLS (register side and records)",
        lambda f, n: f.endswith(("asyncio/sslproto.py", "/ssl.py")) or "_ssl." in n,
    ),
    ("logging", lambda f, n: "/logging/" in f or f.endswith("tsed/logs.py")),
    ("metrics", lambda f, n: f.endswith("tsed/signing/metrics.py") or "prometheus" in f),
    ("JSON", lambda f, n: "/json/" in f or "_json." in n or "orjson" in n),
    (
        "idempotency bookkeeping",
        lambda f, n: "idempot" in n.lower() or n in ("_replay", "_remember", "_fingerprint"),
    ),
    (
        "fiskaly client (httpx API, tsed.fiskaly)",
        lambda f, n: "/httpx/" in f or "/httpcore/" in f or "/tsed/fiskaly/" in f,
    ),
    (
        "aiohttp client (to fiskaly)",
        lambda f, n: "/aiohttp/" in f and f.rsplit("/", 1)[-1].startswith(("client", "connector")),
    ),
    (
        "aiohttp server (register side)",
        lambda f, n: "/aiohttp/" in f or "/multidict/" in f or "/yarl/" in f,
    ),
    ("signing and completion", lambda f, n: f.endswith(("signing.py", "completion.py"))),
    ("register API (tsed.net)", lambda f, n: "/tsed/net/" in f),
    ("the unit, other modules", lambda f, n: "/tsed/" in f),
    ("asyncio tasks, futures, streams", lambda f, n: "/asyncio/" in f),
]


def _store(file: str, name: str, method: str) -> bool:
    return file.endswith("tsed/state/store.py") and name == method


# counts per receipt: (label, test on (file, function name))
EVENTS: list[tuple[str, Callable[[str, str], bool]]] = [
    ("event-loop iterations (_run_once)", lambda f, n: n == "_run_once"),
    ("epoll waits", lambda f, n: "poll' of 'select.epoll" in n),
    ("call_soon_threadsafe (wake-up from a thread)", lambda f, n: n == "call_soon_threadsafe"),
    ("requests handed to the store thread", lambda f, n: "put' of '_queue.SimpleQueue" in n),
    ("store batches committed", lambda f, n: _store(f, n, "_commit")),
    ("SQLite execute calls", lambda f, n: "execute' of 'sqlite3" in n),
    ("timers armed (call_at)", lambda f, n: n == "call_at"),
    ("timers cancelled", lambda f, n: n == "_timer_handle_cancelled"),
    ("tasks created", lambda f, n: f.endswith("base_events.py") and n == "create_task"),
    ("TLS records written (SSLObject.write)", lambda f, n: "write' of '_ssl._SSLSocket" in n),
    ("TLS reads (SSLObject.read)", lambda f, n: "read' of '_ssl._SSLSocket" in n),
    ("socket sends", lambda f, n: "send' of '_socket" in n),
    ("socket receives", lambda f, n: "recv" in n and "_socket" in n),
    ("log calls (Logger._log)", lambda f, n: "/logging/" in f and n == "_log"),
    ("log records handled (Logger.handle)", lambda f, n: "/logging/" in f and n == "handle"),
    ("JSON encodes", lambda f, n: "/json/" in f and n == "dumps"),
    ("JSON decodes", lambda f, n: "/json/" in f and n == "loads"),
]


def _name(func: Func) -> tuple[str, str]:
    file, _line, name = func
    return file.replace("\\", "/"), name


def categorize(func: Func) -> str:
    file, name = _name(func)
    for category, test in CATEGORIES:
        if test(file, name):
            return category
    return "other"


# one function's row: calls, own seconds, {category: own seconds} (built-ins go to the
# categories of their callers: ``isinstance`` called by aiohttp is aiohttp's cost)
Row = tuple[float, float, dict[str, float]]


def split_own_time(func: Func, own: float, callers: dict[Func, Any]) -> dict[str, float]:
    """Own time by category; an uncategorized built-in's by its callers' shares."""
    category = categorize(func)
    if category != "other" or func[0] != "~" or not callers:
        return {category: own}
    weights: dict[str, float] = {}
    for caller, row in callers.items():
        key = categorize(caller)
        weights[key] = weights.get(key, 0.0) + float(row[2])
    total = sum(weights.values())
    if total <= 0:
        return {category: own}
    return {key: own * weight / total for key, weight in weights.items()}


def per_receipt(base: dict[Func, Row], full: dict[Func, Row], receipts: int) -> dict[Func, Row]:
    """Calls, own seconds and its split per receipt of every function: (full − base) / N."""
    out = {}
    for func, (calls, own, split) in full.items():
        calls0, own0, split0 = base.get(func, (0, 0.0, {}))
        d_calls = (calls - calls0) / receipts
        if d_calls > 0:  # called as often in both runs: start-up work, its time is noise
            d_split = {
                key: max(0.0, (value - split0.get(key, 0.0)) / receipts)
                for key, value in split.items()
            }
            out[func] = (d_calls, max(0.0, (own - own0) / receipts), d_split)
    return out


def summarize(costs: dict[Func, Row]) -> dict[str, Any]:
    """Categories (ms per receipt, share) and event counts per receipt, from ``per_receipt``."""
    categories: dict[str, float] = {}
    for _calls, _own, split in costs.values():
        for key, own in split.items():
            categories[key] = categories.get(key, 0.0) + own
    total = sum(categories.values())
    events = {
        label: sum(row[0] for func, row in costs.items() if test(*_name(func)))
        for label, test in EVENTS
    }
    ranked = sorted(categories.items(), key=lambda item: -item[1])
    top = sorted(costs.items(), key=lambda item: -item[1][1])[:40]
    return {
        "profiled_ms_per_receipt": total * 1000,
        "categories": [
            {"category": k, "ms": v * 1000, "share": v / total if total else 0.0} for k, v in ranked
        ],
        "events_per_receipt": events,
        "top_functions": [
            {"function": f"{f[0].rsplit('/', 1)[-1]}:{f[1]}({f[2]})", "calls": c, "ms": o * 1000}
            for f, (c, o, _split) in top
        ],
    }


def _load(path: Path) -> dict[Func, Row]:
    stats: dict[Func, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    return {
        func: (int(row[1]), float(row[2]), split_own_time(func, float(row[2]), row[4]))
        for func, row in stats.items()
    }


_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


def spy_shares(raw: str) -> dict[str, float]:
    """Category shares of py-spy's raw (collapsed) samples, by each sample's innermost frame
    (py-spy charges C code to the Python function that called it). Sampled with ``--gil``:
    only the thread holding the GIL, so a thread waiting (epoll, the store's queue) is not
    counted."""
    counts: dict[str, float] = {}
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        match = _FRAME.match(leaf)
        if match:  # py-spy: "Class.method (package/module.py:line)"
            file = match["file"] if match["file"].startswith(("/", "<")) else "/" + match["file"]
            func = (file, int(match["line"]), match["name"].rsplit(".", 1)[-1])
        else:
            func = ("", 0, leaf)
        key = categorize(func)
        counts[key] = counts.get(key, 0.0) + int(count)
    total = sum(counts.values())
    return {k: v / total for k, v in sorted(counts.items(), key=lambda kv: -kv[1])} if total else {}


async def _receipts(registers: ShopRegisters, count: int, kind: str, deadline: float) -> None:
    for _ in range(count):
        if time.monotonic() > deadline:
            raise RuntimeError("the profile run took longer than 10 minutes")
        if kind == "one-call":
            await registers.one_call(0)
        else:
            await registers.start_finish(0)


async def _run_unit(
    root: Path,
    proxy: Proc,
    receipts: int,
    kind: str,
    profile: Path | None,
    spy: tuple[str, Path] | None = None,
) -> float:
    """One unit, one register, ``WARM`` and then ``receipts`` in sequence: the unit's CPU
    seconds for the latter. ``spy``: (py-spy binary, output) samples the latter."""
    state = root / f"state-{receipts}-{profile is not None}"
    prepare_unit_state(state)
    unit = await asyncio.to_thread(start_unit, state, proxy, profile)
    try:
        tokens = await pair(unit, state, ["ERS profile-00"])
        registers = ShopRegisters(unit, tokens)
        await registers.open()
        spying: subprocess.Popen[bytes] | None = None
        try:
            deadline = time.monotonic() + 600
            await _receipts(registers, WARM, kind, deadline)
            if spy is not None:
                spying = subprocess.Popen(
                    [spy[0], "record", "--pid", str(unit.pid), "--rate", "250", "--format",
                     "raw", "--gil", "--output", str(spy[1]), "--nonblocking"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                await asyncio.sleep(1.0)  # attached
            cpu0 = unit.cpu_seconds()
            await _receipts(registers, receipts, kind, deadline)
            return unit.cpu_seconds() - cpu0
        finally:
            if spying is not None:
                spying.send_signal(signal.SIGINT)
                await asyncio.to_thread(spying.wait, 30)
            await registers.close()
    finally:
        unit.stop()


async def profile(
    receipts: int, kind: str, delay_ms: float, out: Path, spy_binary: str | None
) -> dict[str, Any]:
    spy = (spy_binary, out.with_suffix(".py-spy.txt")) if spy_binary else None
    with tempfile.TemporaryDirectory(prefix="tsed-profile-") as tmp:
        root = Path(tmp)
        sim = start_simulator()
        proxy = await asyncio.to_thread(start_wan_proxy, sim.base_url, delay_ms)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            plain_cpu = await _run_unit(root, proxy, receipts, kind, None, spy)
            base_path, full_path = root / "base.pstats", root / "full.pstats"
            await _run_unit(root, proxy, 0, kind, base_path)
            await _run_unit(root, proxy, receipts, kind, full_path)
        finally:
            proxy.stop()
            sim.stop()
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(full_path, out.with_suffix(".pstats"))
        summary = summarize(
            per_receipt(_load(base_path), _load(out.with_suffix(".pstats")), receipts)
        )
    summary["unit_cpu_ms_per_receipt_without_profiler"] = plain_cpu / receipts * 1000
    summary["py_spy_shares"] = (
        spy_shares(spy[1].read_text()) if spy is not None and spy[1].exists() else {}
    )
    summary["receipts"], summary["kind"], summary["wan_ms"] = receipts, kind, delay_ms
    summary["loadavg_1min"] = round(os.getloadavg()[0], 2)
    return summary


def render(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['receipts']} {summary['kind']} receipts, one register, WAN "
        f"{summary['wan_ms']:g} ms, load average {summary['loadavg_1min']}",
        f"unit CPU per receipt without the profiler: "
        f"{summary['unit_cpu_ms_per_receipt_without_profiler']:.2f} ms; under cProfile "
        f"(own time of all functions): {summary['profiled_ms_per_receipt']:.2f} ms",
        "",
        f"{'category':44s} {'ms/receipt':>10s} {'share':>7s}",
    ]
    for row in summary["categories"]:
        lines.append(f"{row['category']:44s} {row['ms']:10.3f} {row['share']:7.1%}")
    if summary["py_spy_shares"]:
        lines += ["", "py-spy (no profiler in the unit: its samples while it ran Python code)"]
        for key, share in summary["py_spy_shares"].items():
            lines.append(f"{key:44s} {share:18.1%}")
    lines += ["", f"{'per receipt':52s} {'count':>8s}"]
    for label, count in summary["events_per_receipt"].items():
        lines.append(f"{label:52s} {count:8.1f}")
    lines += ["", f"{'function (own time)':60s} {'calls':>7s} {'ms':>7s}"]
    for row in summary["top_functions"]:
        lines.append(f"{row['function'][:60]:60s} {row['calls']:7.1f} {row['ms']:7.3f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=200)
    parser.add_argument("--kind", choices=["start-finish", "one-call"], default="start-finish")
    parser.add_argument("--wan-ms", type=float, default=100.0)
    parser.add_argument("--out", type=Path, default=Path("build/profile-quiet.json"))
    parser.add_argument(
        "--py-spy",
        default=shutil.which("py-spy") or shutil.which("py-spy", path=Path(sys.executable).parent),
        help="py-spy binary for a sampled run beside cProfile (default: found on PATH or in "
        "the venv; it is not a locked dependency: pip install py-spy for a one-off run)",
    )
    args = parser.parse_args()
    if not 1 <= args.receipts <= 5000:
        parser.error("--receipts must be between 1 and 5000")
    summary = asyncio.run(profile(args.receipts, args.kind, args.wan_ms, args.out, args.py_spy))
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(render(summary))
    print(f"\nJSON: {args.out}   pstats of the full run: {args.out.with_suffix('.pstats')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
