"""The simulator's state on the disk after a power cut at any statement (``persist.py``).

A power cut keeps what SQLite committed (WAL, ``synchronous=FULL``) and nothing after it. The
test copies the database files at every statement the simulator sends while it signs a sale
(the state a cut at that moment leaves), starts a simulator on each copy and signs again:
the new transaction must not get a number, nor its logs a signature counter, that the copy
already holds. Before each change was one commit, a cut between the transaction's row and
the TSS's row left the TSS's counters behind its own transaction: the next start got the
same transaction number again (two receipts with one number, seen on the device image).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from tests.fiskaly.simulator.conftest import Api
from tsed.fiskaly.simulator import SimCredentials, Simulator, SimulatorServer

FILES = ("simulator.sqlite", "simulator.sqlite-wal")


def _cut(source: Path, target: Path) -> None:
    """What a power cut leaves: the committed database (the WAL's uncommitted frames, if any,
    are ignored by SQLite when it opens the copy, as after a real cut)."""
    target.mkdir(parents=True)
    for name in FILES:
        if (source / name).exists():
            shutil.copyfile(source / name, target / name)


def _held(state_dir: Path, tss_id: str) -> tuple[set[int], set[int]]:
    """Transaction numbers and log signature counters the copy holds for the TSS."""
    with sqlite3.connect(state_dir / "simulator.sqlite") as db:
        numbers = {
            json.loads(body)["number"]
            for (body,) in db.execute("SELECT body FROM objects WHERE kind = 'tx'")
            if json.loads(body)["tss_id"] == tss_id
        }
        counters = {
            c for (c,) in db.execute("SELECT counter FROM logs WHERE tss_id = ?", (tss_id,))
        }
    return numbers, counters


async def _sale_on(state_dir: Path, creds: SimCredentials, tss_id: str, client_id: str) -> Any:
    sim = Simulator(state_dir=state_dir)
    server = SimulatorServer(sim)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
            api = Api(http, creds)
            await api.auth()
            return await api.sale(tss_id, client_id)
    finally:
        await server.stop()
        sim.close()


async def test_a_cut_at_any_statement_never_gives_a_number_twice(tmp_path: Path) -> None:
    live = tmp_path / "live"
    sim = Simulator(state_dir=live)
    server = SimulatorServer(sim)
    await server.start()
    creds = sim.add_api_key("TEST")
    cuts: list[tuple[Path, str]] = []
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
            api = Api(http, creds)
            await api.auth()
            tss_id, client_id = await api.setup_tss()
            await api.sale(tss_id, client_id)
            assert sim.state.persist is not None
            db = sim.state.persist._db

            def snapshot(statement: str) -> None:
                target = tmp_path / f"cut-{len(cuts)}"
                _cut(live, target)
                cuts.append((target, statement.split("(", maxsplit=1)[0].strip()[:60]))

            db.set_trace_callback(snapshot)
            try:
                await api.sale(tss_id, client_id)
            finally:
                db.set_trace_callback(None)
    finally:
        await server.stop()
        sim.close()
    assert len(cuts) >= 6  # the start's and the finish's writes, each statement a cut
    for state_dir, statement in cuts:
        numbers, counters = _held(state_dir, tss_id)
        after = await _sale_on(state_dir, creds, tss_id, client_id)
        where = f"cut before {statement!r} ({state_dir.name})"
        assert after["number"] not in numbers, f"{where}: number {after['number']} again"
        assert after["number"] == max(numbers) + 1, where
        assert after["signature"]["counter"] > max(counters), f"{where}: counter again"


async def test_counters_behind_their_own_records_are_caught_up_at_load(tmp_path: Path) -> None:
    """A state written before every change was one commit may hold a TSS row behind its own
    transactions and logs: loading it takes the counters from the records."""
    sim = Simulator(state_dir=tmp_path)
    server = SimulatorServer(sim)
    await server.start()
    creds = sim.add_api_key("TEST")
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
            api = Api(http, creds)
            await api.auth()
            tss_id, client_id = await api.setup_tss()
            first = await api.sale(tss_id, client_id)
    finally:
        await server.stop()
        sim.close()
    with sqlite3.connect(tmp_path / "simulator.sqlite") as db:  # the TSS row one start behind
        (body,) = db.execute("SELECT body FROM objects WHERE kind = 'tss'").fetchone()
        row = json.loads(body)
        row["transaction_counter"] -= 1
        row["signature_counter"] -= 2
        db.execute("UPDATE objects SET body = ? WHERE kind = 'tss'", (json.dumps(row),))
    second = await _sale_on(tmp_path, creds, tss_id, client_id)
    assert second["number"] == first["number"] + 1
    assert second["signature"]["counter"] == first["signature"]["counter"] + 2
