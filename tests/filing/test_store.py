"""The filing store: durable across a reopen, a newer schema refused as the main store
refuses it, the resume data additive (an older release still opens the file), the
development layout 2 converted back."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.support.filing import old_reader
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


async def test_a_version_2_file_of_another_layout_is_refused_as_too_new(tmp_path: Path) -> None:
    """Version 2 is converted only in the layout the development version wrote."""
    path = tmp_path / "filing.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_1.replace("PRAGMA user_version=1", "PRAGMA user_version=2"))
    conn.close()
    with pytest.raises(StoreTooNew, match="schema 2"):
        await FilingStore(path).open()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


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
# what the development version 2 left: the two values as columns, its migration's guess in
# sub-1 (no digest), sub-2 recorded with both when it was made
LAYOUT_2 = """
ALTER TABLE submissions ADD COLUMN content_hash TEXT;
ALTER TABLE submissions ADD COLUMN upto INTEGER;
UPDATE submissions SET upto = 2;
INSERT INTO submissions VALUES ('sub-2', 'f1', 'CREATING', 1768100000.0, 1768100000.0, NULL,
                                'abc', 1);
PRAGMA user_version=2;
"""


async def test_a_schema_1_store_is_taken_over_and_stays_readable_for_the_older_release(
    tmp_path: Path,
) -> None:
    """A store of the older release: its open submission has no digest and no last event
    (it closes none by itself), the resume data of a new one are kept beside it, and the
    file stays at version 1 in a layout the older release reads and writes."""
    path = tmp_path / "filing.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_1)
        conn.execute(  # raised after the submission on the day it was made (2026-01-09)
            "INSERT INTO events (tenant_id, premises_id, kind, subject, occurred_on, due_on) "
            "VALUES ('default', 'f1', 'premises_changed', 'x', date(1768000000.0 + 60, "
            "'unixepoch', 'localtime'), '2026-02-09')"
        )
    conn.close()
    store = FilingStore(path)
    await store.open()
    try:
        (row,) = await store.submissions()
        assert (row.id, row.state, row.content_hash, row.upto) == (
            "sub-1", "TRANSMISSION_PENDING", None, None,
        )  # fmt: skip
        await store.save_submission(SubmissionRow("sub-2", "f1", "CREATING", 2.0, 2.0, None,
                                                  "abc", 2))  # fmt: skip
        assert [(r.id, r.upto) for r in await store.submissions()] == [
            ("sub-2", 2), ("sub-1", None),
        ]  # fmt: skip
    finally:
        await store.close()
    assert [r[0] for r in old_reader(path)] == ["sub-2", "sub-1"]


async def test_a_file_of_the_development_layout_2_is_converted_back_to_1(tmp_path: Path) -> None:
    """Version 2 had the resume data as columns: they move beside the table (a guessed last
    event is dropped: unknown), the columns go, the version is 1 again, the older release
    reads the file, and the next open is the same."""
    path = tmp_path / "filing.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_1 + LAYOUT_2)
    conn.close()
    for _ in range(2):
        store = FilingStore(path)
        await store.open()
        try:
            assert [(r.id, r.state, r.content_hash, r.upto) for r in await store.submissions()] == [
                ("sub-1", "TRANSMISSION_PENDING", None, None), ("sub-2", "CREATING", "abc", 1),
            ]  # fmt: skip
        finally:
            await store.close()
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
            columns = [r[1] for r in conn.execute("PRAGMA table_info(submissions)")]
        conn.close()
        assert columns == ["id", "premises_id", "state", "created_at", "updated_at", "error"]
        assert [r[0] for r in old_reader(path)] == ["sub-1", "sub-2"]
