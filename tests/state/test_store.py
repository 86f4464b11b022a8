"""The store's group commit: many writers, one transaction, a failing write fails alone."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from tsed.errors import ConflictError, StorageError
from tsed.state.journal import WRITTEN, Claim
from tsed.state.rows import IdemRow, TxRow
from tsed.state.store import Store


def _row(register: str = "r1") -> TxRow:
    now = time.time()
    return TxRow(
        id=str(uuid.uuid4()), register_id=register, tenant_id="default", env="TEST",
        tss_id="t", client_id="c", tx_id=str(uuid.uuid4()), state="journaled", revision=0,
        kind="transaction", receipt=None, result=None, failure=None, created_at=now,
        updated_at=now,
    )  # fmt: skip


async def test_concurrent_writes_share_commits_and_all_land(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    await store.open()
    try:
        rows = [_row() for _ in range(200)]
        await asyncio.gather(*(store.insert_tx(row) for row in rows))
        assert store.commits < len(rows)  # grouped
        stored = await store.txs_in_states(["journaled"])
        assert {r.id for r in stored} == {r.id for r in rows}
    finally:
        await store.close()


async def test_a_failing_write_in_a_batch_fails_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    await store.open()
    try:
        first = _row()
        await store.insert_tx(first, IdemRow("r1", "key-1", "f", first.id, None, time.time()))
        clash = replace(_row(), id=first.id)  # the journal refuses a second row of one id
        good = [_row() for _ in range(20)]
        calls = [store.insert_tx(row) for row in good[:10]]
        calls.append(store.insert_tx(clash))
        calls += [store.insert_tx(row) for row in good[10:]]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(results[10], StorageError)
        assert [r for i, r in enumerate(results) if i != 10] == [WRITTEN] * 20
        assert await store.get_tx(first.id) == first  # nothing of the failed write remains
        for row in good:
            assert await store.get_tx(row.id) == row
        assert (await store.get_idem("r1", "key-1")).local_id == first.id  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_a_start_checks_its_key_and_the_cap_in_its_own_write(tmp_path: Path) -> None:
    """A taken key or a register at its cap writes nothing: the key's row or the count comes
    back in the same store request (one commit, no read before it)."""
    store = Store(tmp_path / "s.sqlite")
    await store.open()
    try:
        first = _row()
        key = IdemRow("r1", "key-1", "f", first.id, None, time.time())
        assert await store.insert_tx(first, key, max_open=2) == WRITTEN
        again = _row()
        claim = await store.insert_tx(again, replace(key, local_id=again.id), max_open=2)
        assert claim == Claim(False, taken=key)
        assert await store.get_tx(again.id) is None
        assert await store.insert_tx(_row(), max_open=2) == WRITTEN
        third = _row()
        claim = await store.insert_tx(
            third, IdemRow("r1", "key-3", "f", third.id, None, 0.0), max_open=2
        )
        assert claim == Claim(False, open_now=2)
        assert await store.get_tx(third.id) is None and await store.get_idem("r1", "key-3") is None
        assert await store.insert_tx(_row("r2"), max_open=2) == WRITTEN  # per register
        assert await store.count_started("r1") == 2
        commits = store.commits
        finish = IdemRow("r1", "fin-1", "g", first.id, None, time.time())
        assert await store.update_keyed(first.id, ["journaled"], idem=finish, state="finishing")
        claim = await store.update_keyed(
            first.id, ["journaled", "finishing"], idem=finish, state="cancelling"
        )
        assert claim == Claim(False, taken=finish)
        assert (await store.get_tx(first.id)).state == "finishing"  # type: ignore[union-attr]
        assert store.commits - commits == 3  # two writes, one read
    finally:
        await store.close()


async def test_started_rows_are_marked_active_together(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    await store.open()
    try:
        rows = [_row() for _ in range(3)]
        for row in rows:
            await store.insert_tx(row)
        await store.update_tx(rows[2].id, None, state="finishing")
        await store.activate([r.id for r in rows], 5.0)
        stored = [await store.get_tx(r.id) for r in rows]
        assert [(r.state, r.revision) for r in stored if r] == [
            ("active", 1), ("active", 1), ("finishing", 0)
        ]  # fmt: skip
    finally:
        await store.close()


async def test_updates_are_compare_and_set(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    await store.open()
    try:
        row = _row()
        await store.insert_tx(row)
        assert await store.update_tx(row.id, ["journaled"], state="active", revision=1)
        assert not await store.update_tx(row.id, ["journaled"], state="active", revision=2)
        stored = await store.get_tx(row.id)
        assert stored is not None and (stored.state, stored.revision) == ("active", 1)
    finally:
        await store.close()


async def test_an_update_with_its_key_writes_both_or_neither(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    await store.open()
    try:
        row = _row()
        await store.insert_tx(row)
        finish = IdemRow("r1", "fin-1", "f", row.id, None, time.time())
        assert await store.update_tx(row.id, ["journaled"], idem=finish, state="finishing")
        assert (await store.get_idem("r1", "fin-1")) == finish
        late = IdemRow("r1", "fin-2", "f", row.id, None, time.time())
        with pytest.raises(ConflictError, match="changed meanwhile"):
            await store.update_tx(row.id, ["journaled"], idem=late, state="cancelling")
        assert await store.get_idem("r1", "fin-2") is None  # the key went with it
        again = IdemRow("r1", "fin-1", "f", row.id, None, time.time())
        other = _row()
        await store.insert_tx(other)
        with pytest.raises(ConflictError, match="already in use"):
            await store.update_tx(other.id, ["journaled"], idem=again, state="finishing")
        assert (await store.get_tx(other.id)).state == "journaled"  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_committed_rows_survive_a_reopen(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    await store.open()
    row = _row()
    await store.insert_tx(row)
    await store.close()
    store = Store(tmp_path / "s.sqlite")
    await store.open()
    try:
        assert await store.get_tx(row.id) == row
    finally:
        await store.close()


async def test_a_store_of_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """The downgrade: an older tsed (after a rollback) meets the store a newer one wrote."""
    import hashlib
    import sqlite3

    from tsed.state.store import SCHEMA_VERSION, StoreTooNew

    path = tmp_path / "s.sqlite"
    store = Store(path)
    await store.open()
    await store.insert_tx(_row())
    await store.close()
    conn = sqlite3.connect(path)  # what the newer tsed's migration leaves, checkpointed
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    older = Store(path)
    with pytest.raises(StoreTooNew) as caught:
        await older.open()
    assert f"schema {SCHEMA_VERSION + 1}" in caught.value.message
    assert caught.value.code == "STORE_TOO_NEW" and "newer version" in caught.value.hint
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM transactions").fetchone()[0] == 1
    conn.close()
