"""The outage journal against the archive: a late-signed transaction is archived, pending for
the next run, or a finding (in no archived export)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.archive import Shop, archiver, open_shop
from tests.support.provisioning import Unit, unit
from tsed.archive.reconcile import finding_texts, reconcile
from tsed.state.rows import TxRow

__all__ = ["unit"]


@pytest.fixture
async def shop(unit: Unit) -> AsyncIterator[Shop]:
    shop = await open_shop(unit)
    await shop.receipts(3)
    yield shop
    await shop.registry.stop()


def late(local_id: str, tss_id: str, counter: int | None, signed_at: float,
         state: str = "finished") -> TxRow:  # fmt: skip
    result = json.dumps({"signature_counter": counter} if counter is not None else {})
    return TxRow(
        local_id, "reg-1", "default", "TEST", tss_id, "client-1", local_id, state, 2,
        "receipt", None, result, "TSE_TIMEOUT", signed_at - 60, signed_at, 1, 1,
    )  # fmt: skip


async def test_late_signed_transactions_against_the_archive(shop: Shop, tmp_path: Path) -> None:
    runner = archiver(tmp_path / "archive", shop)
    state = await runner.run("nightly")
    assert state.state == "done", state.events
    (entry,) = runner.store.entries(shop.tss_id, "archived")
    before = state.started_at - 10
    rows = [
        late("in-first", shop.tss_id, entry.first_counter, before),
        late("in-last", shop.tss_id, entry.last_counter, before),
        late("after-run", shop.tss_id, entry.last_counter + 5, state.started_at + 1),
        late("missing", shop.tss_id, entry.last_counter + 1, before),
        late("other-tss", "0b5c0000-0000-4000-8000-000000000000", 30, before),
        late("no-counter", shop.tss_id, None, before),
        late("still-failed", shop.tss_id, None, before, state="failed"),
    ]
    result = reconcile(runner.store, rows, state.started_at)
    assert (result.late_signed, result.archived, result.pending) == (7, 2, 1)
    assert not result.ok and result.finding_count == 3
    found = {f.local_id: f for f in result.findings}
    assert set(found) == {"missing", "other-tss", "no-counter"}
    assert f"ends at counter {entry.last_counter}" in found["missing"].reason
    assert "ends at counter none" in found["other-tss"].reason
    assert "no signature counter" in found["no-counter"].reason
    assert found["missing"].signature_counter == entry.last_counter + 1
    texts = finding_texts(result)
    assert len(texts) == 3 and all("in no archived export" in t for t in texts)
    assert result.to_json()["finding_count"] == 3


async def test_after_the_next_run_the_late_signature_is_archived(
    shop: Shop, tmp_path: Path
) -> None:
    runner = archiver(tmp_path / "archive", shop)
    await runner.run("nightly")
    newest = await shop.counter()
    await shop.receipts(1)  # signed late, after that run: pending, then archived
    signed = time.time()
    row = late("late-1", shop.tss_id, newest + 2, signed)
    pending = reconcile(runner.store, [row], signed - 5)  # signed during that run
    assert pending.ok and pending.pending == 1
    missed = reconcile(runner.store, [row], signed + 5)  # a run after it did not take it
    assert missed.finding_count == 1
    state = await runner.run("nightly")
    second = reconcile(runner.store, [row], state.started_at)
    assert second.ok and second.archived == 1, state.events


async def test_many_findings_are_counted_and_only_some_listed(shop: Shop, tmp_path: Path) -> None:
    runner = archiver(tmp_path / "archive", shop)
    rows = [late(f"tx-{n}", shop.tss_id, 1000 + n, time.time() - 100) for n in range(50)]
    result = reconcile(runner.store, rows, time.time())
    assert result.finding_count == 50 and len(result.findings) == 20
    texts = finding_texts(result)
    assert len(texts) == 4 and "47 more" in texts[-1]
