"""The store's group commit: many writers, one transaction, a failing write fails alone."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from tsed.errors import ConflictError
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
        clash = _row()
        good = [_row() for _ in range(20)]
        calls = [store.insert_tx(row) for row in good[:10]]
        calls.append(
            store.insert_tx(clash, IdemRow("r1", "key-1", "f", clash.id, None, time.time()))
        )
        calls += [store.insert_tx(row) for row in good[10:]]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(results[10], ConflictError)
        assert [r for i, r in enumerate(results) if i != 10] == [None] * 20
        assert await store.get_tx(clash.id) is None  # nothing of the failed write remains
        for row in good:
            assert await store.get_tx(row.id) == row
        assert (await store.get_idem("r1", "key-1")).local_id == first.id  # type: ignore[union-attr]
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
