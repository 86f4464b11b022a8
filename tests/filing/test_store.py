"""The filing store: durable across a reopen, and a newer schema is refused."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tsed.filing.model import Address, Premises, RegisterData, Taxpayer
from tsed.filing.store import FilingStore, SubmissionRow
from tsed.state.store import StoreTooNew

ADDRESS = Address("Hauptstraße", "1", "70173", "Stuttgart")


async def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "filing.sqlite"
    store = FilingStore(path)
    await store.open()
    tp = Taxpayer("default", "X GmbH", "2893081508152", "BW", "legal", ADDRESS)
    await store.save_taxpayer(tp)
    premises = Premises(
        "f1", "default", "Filiale 1", ADDRESS, "3f6c9f4e-1d2b-4c3a-9e8f-0a1b2c3d4e5f"
    )
    await store.save_premises(premises)
    reg = RegisterData(key="S1", tenant_id="default", serial="S1", premises_id="f1")
    await store.save_register(reg)
    paired = RegisterData(key="r-1", tenant_id="default", serial="S1", register_id="r-1")
    await store.save_register(paired, replaces="S1")
    event = await store.add_event(
        "default", "f1", "register_paired", "S1", "2026-01-01", "2026-02-01"
    )
    await store.save_submission(SubmissionRow("sub-1", "f1", "CREATED", 1.0, 1.0))
    await store.save_tss("t-1", "default", "active", "serial", None)
    await store.close()

    again = FilingStore(path)
    await again.open()
    assert await again.taxpayer("default") == tp
    assert await again.taxpayers() == [tp]
    assert await again.premises() == [premises]
    assert await again.registers() == [paired]  # the entry before pairing was replaced
    assert await again.events(open_only=True) == [event]
    assert await again.close_events("default", "f1", "2026-01-05", "manual", upto=event.id) == 1
    assert await again.events(open_only=True) == []
    assert [s.state for s in await again.submissions()] == ["CREATED"]
    assert (await again.known_tss())["t-1"]["serial"] == "serial"
    await again.close()


async def test_a_newer_schema_is_refused_like_the_main_store_and_left_untouched(
    tmp_path: Path,
) -> None:
    """The downgrade (an update rolled back): StoreTooNew, so that the daemon exits with 3
    and is not restarted, and the file is not changed, not even its journal mode."""
    path = tmp_path / "filing.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript("CREATE TABLE future (x); PRAGMA user_version=99;")
    conn.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    store = FilingStore(path)
    with pytest.raises(StoreTooNew, match="written by a newer tsed") as caught:
        await store.open()
    assert caught.value.code == "STORE_TOO_NEW" and "schema 99" in caught.value.message
    assert "newer version" in caught.value.hint
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


SCHEMA_1 = """
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, premises_id TEXT,
    kind TEXT NOT NULL, subject TEXT NOT NULL, occurred_on TEXT NOT NULL, due_on TEXT NOT NULL,
    filed_on TEXT, filed_by TEXT);
CREATE TABLE submissions (
    id TEXT PRIMARY KEY, premises_id TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, error TEXT);
INSERT INTO events (tenant_id, premises_id, kind, subject, occurred_on, due_on)
    VALUES ('default', 'f1', 'register_paired', 'S1', '2026-01-01', '2026-02-01'),
           ('default', 'f1', 'register_removed', 'S1', '2026-03-01', '2026-04-01');
INSERT INTO submissions VALUES ('sub-1', 'f1', 'TRANSMISSION_PENDING', 1768000000.0,
                                1768000000.0, NULL);
PRAGMA user_version=1;
"""


async def test_a_schema_1_store_is_taken_over(tmp_path: Path) -> None:
    """A store of the previous schema: its open submission gets the events up to the day it
    was made (2026-01-09) as the ones it closes, and no digest."""
    path = tmp_path / "filing.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_1)
    store = FilingStore(path)
    await store.open()
    try:
        (row,) = await store.submissions()
        assert (row.id, row.state, row.content_hash, row.upto) == (
            "sub-1", "TRANSMISSION_PENDING", None, 1,
        )  # fmt: skip
        await store.save_submission(SubmissionRow("sub-2", "f1", "CREATING", 2.0, 2.0, None,
                                                  "abc", 2))  # fmt: skip
        assert [r.upto for r in await store.submissions()] == [2, 1]  # by created_at
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
