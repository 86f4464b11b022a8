"""Reading a period of the journal on a connection of its own: in order, bounded pages, the
first signature per TSS, and never waiting for the store's writer thread."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from dataclasses import replace
from pathlib import Path

from tsed.state.periods import Period, first_signatures, pages, txs_created_between
from tsed.state.rows import TxRow
from tsed.state.store import Store


def _row(at: float, *, register: str = "r1", tenant: str = "a", tss: str = "t1") -> TxRow:
    return TxRow(
        id=str(uuid.uuid4()), register_id=register, tenant_id=tenant, env="TEST", tss_id=tss,
        client_id="c", tx_id=str(uuid.uuid4()), state="journaled", revision=0,
        kind="transaction", receipt=None, result=None, failure=None, created_at=at,
        updated_at=at,
    )  # fmt: skip


async def _filled(path: Path) -> tuple[Store, list[TxRow]]:
    store = Store(path)
    await store.open()
    rows = [
        _row(1000.0 + n, register=f"r{n % 2}", tenant="a" if n < 6 else "b", tss=f"t{n % 3}")
        for n in range(10)
    ]
    for row in rows:
        signed = (
            replace(row, result=json.dumps({"n": row.created_at})) if row.created_at > 1002 else row
        )
        await store.insert_tx(signed)
    return store, rows


async def test_a_period_is_read_in_order_filtered_and_in_bounded_pages(tmp_path: Path) -> None:
    store, rows = await _filled(tmp_path / "s.sqlite")
    try:
        got = await txs_created_between(store, 1002, 1007)
        assert [r.created_at for r in got] == [1002.0 + n for n in range(6)]
        mine = await txs_created_between(store, 0, 2000, register_id="r1")
        assert {r.register_id for r in mine} == {"r1"} and len(mine) == 5
        theirs = await txs_created_between(store, 0, 2000, tenant_id="b")
        assert [r.id for r in theirs] == [r.id for r in rows[6:]]
        chunks = list(pages(store.path, Period(0, 2000), size=3))
        assert [len(c) for c in chunks] == [3, 3, 3, 1]
        firsts = first_signatures(store.path, Period(0, 2000))
        assert [(r.tss_id, r.created_at) for r in firsts] == [("t0", 1003.0), ("t1", 1004.0),
                                                             ("t2", 1005.0)]  # fmt: skip
    finally:
        await store.close()


async def test_a_long_read_never_waits_for_the_writer(tmp_path: Path) -> None:
    store, _rows = await _filled(tmp_path / "s.sqlite")
    release = threading.Event()
    try:
        # the writer thread is busy (a long batch); a period read must not queue behind it
        busy = asyncio.ensure_future(store._submit(lambda _c: release.wait(10)))
        await asyncio.sleep(0.05)
        got = await txs_created_between(store, 0, 2000)
        # the writer is released only below: a read queued behind it could not have returned
        assert len(got) == 10 and not busy.done()
    finally:
        release.set()
        await busy
        await store.close()
