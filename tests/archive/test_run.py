"""Archive runs against the simulator's real exports: incremental, verified, split, resumable."""

from __future__ import annotations

import itertools
import sqlite3
import tarfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.archive import Shop, archiver, open_shop
from tests.support.provisioning import Unit, unit
from tsed.archive.store import ArchiveStore
from tsed.fiskaly.tarverify import verify_tar

__all__ = ["unit"]


@pytest.fixture
async def shop(unit: Unit) -> AsyncIterator[Shop]:
    shop = await open_shop(unit)
    await shop.receipts(3)
    yield shop
    await shop.registry.stop()


def _continuous(store: ArchiveStore, tss_id: str, newest: int) -> None:
    entries = store.entries(tss_id, "archived")
    assert entries[0].first_counter >= 1 and entries[-1].last_counter == newest
    for before, after in itertools.pairwise(entries):
        assert after.first_counter == before.last_counter + 1


async def test_runs_are_incremental_and_every_file_verifies(shop: Shop, tmp_path: Path) -> None:
    runner = archiver(tmp_path / "archive", shop)
    first = await runner.run("test")
    newest = await shop.counter()
    assert first.state == "done" and first.files == 1
    (entry,) = runner.store.entries(shop.tss_id)
    assert (entry.first_counter > 1, entry.last_counter, entry.state) == (True, newest,
                                                                       "archived")  # fmt: skip
    assert entry.last_counter <= newest
    path = runner.store.path(entry)
    assert path.name == f"{shop.tss_id}_sig{entry.first_counter:012d}-{newest:012d}.tar"
    assert verify_tar(path).ok and path.stat().st_mode & 0o777 == 0o444
    assert runner.store.manifest() == {entry.path: entry.sha256}
    again = await runner.run("test")
    assert again.files <= 1  # at most the logs the first export itself added
    await shop.receipts(4)
    third = await runner.run("test")
    assert third.files == 1 and third.state == "done"
    _continuous(runner.store, shop.tss_id, runner.store.entries()[-1].last_counter)
    assert runner.store.entries()[-1].last_counter >= await shop.counter() - 2
    assert not list(runner.store.staging.iterdir())


async def test_ranges_are_split_by_record_count(shop: Shop, tmp_path: Path) -> None:
    runner = archiver(tmp_path / "archive", shop, max_records=7)
    state = await runner.run("test")
    entries = runner.store.entries(shop.tss_id)
    assert state.state == "done" and len(entries) >= 3
    assert all(e.last_counter - e.first_counter < 7 for e in entries)
    _continuous(runner.store, shop.tss_id, entries[-1].last_counter)
    with tarfile.open(runner.store.path(entries[1])) as tar:
        assert any(n.endswith(".log") for n in tar.getnames())


def _tamper(shop: Shop, counter: int) -> None:
    """The TSE serves a log whose signature does not verify (one byte of it flipped)."""
    logs = shop.unit.sim.state.logs[shop.tss_id]
    index = next(i for i, e in enumerate(logs) if e.counter == counter)
    entry = logs[index]
    flipped = bytes([entry.signature[0] ^ 0xFF]) + entry.signature[1:]
    logs[index] = replace(entry, signature=flipped)


async def test_a_finding_keeps_the_file_alerts_and_is_not_retried_away(
    shop: Shop, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = archiver(tmp_path / "archive", shop)
    await runner.run("test")
    archived_to = runner.store.entries()[-1].last_counter
    await shop.receipts(2)
    _tamper(shop, archived_to + 2)
    state = await runner.run("test")
    assert state.state == "failed" and state.tss[shop.tss_id]["finding"]
    assert state.tss[shop.tss_id]["archived_to"] == archived_to
    (rejected,) = runner.store.entries(shop.tss_id, "rejected")
    assert {f["code"] for f in rejected.findings} >= {"signature"}
    assert runner.store.path(rejected).is_file() and rejected.path in runner.store.manifest()
    alerts = [r for r in caplog.records if getattr(r, "TSED_EVENT", "") == "archive_finding"]
    assert alerts and alerts[0].levelname == "ERROR"
    again = await runner.run("test")  # the TSE still serves the bad log: rejected again
    assert again.state == "failed" and len(runner.store.entries(shop.tss_id, "rejected")) == 2
    assert runner.store.last_archived(shop.tss_id).last_counter == archived_to  # type: ignore[union-attr]
    assert runner.store.path(rejected).is_file()  # the first evidence stays


async def test_a_busy_duplicate_export_is_waited_for(shop: Shop, tmp_path: Path) -> None:
    faults = shop.unit.sim.faults
    busy = "E_EXPORT_DUPLICATE_RATE_LIMITED"
    faults.update({"route": r"^PUT /api/v2/tss/[^/]+/export/", "error_burst": 2,
                   "error_status": 409, "error_code": busy})  # fmt: skip
    runner = archiver(tmp_path / "archive", shop)
    state = await runner.run("test")
    assert state.state == "done" and state.files == 1, state.to_json()
    assert sum("busy with this export, waiting" in e for e in state.events) == 2
    assert faults.error_burst == 0


async def test_a_range_the_tse_refuses_fails_the_tss_and_the_next_run_resumes(
    shop: Shop, tmp_path: Path
) -> None:
    faults = shop.unit.sim.faults
    faults.update({"route": r"^PUT /api/v2/tss/[^/]+/export/", "error_burst": 1,
                   "error_status": 400, "error_code": "E_PARAMETER_MISMATCH"})  # fmt: skip
    runner = archiver(tmp_path / "archive", shop)
    failed = await runner.run("test")
    assert failed.state == "failed" and failed.tss[shop.tss_id]["error"]["code"]
    assert runner.store.entries() == []
    done = await runner.run("test")
    assert done.state == "done" and len(runner.store.entries(shop.tss_id, "archived")) == 1


async def test_a_failed_index_insert_frees_its_range_for_the_next_run(
    shop: Shop, tmp_path: Path
) -> None:
    """The index refuses the row once (a full disk, a damaged page): the file is set aside at
    once and the next run in the same process archives that range (before: ARCHIVE_CONFLICT
    for that range until the unit restarted)."""
    runner = archiver(tmp_path / "archive", shop)
    db = sqlite3.connect(runner.store.root / "index.sqlite")
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON entries "
               "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")  # fmt: skip
    db.commit()
    failed = await runner.run("test")
    item = failed.tss[shop.tss_id]
    assert failed.state == "failed" and "index" in item["error"]["message"], failed.to_json()
    assert not list((runner.store.root / "tss").rglob("*.tar"))  # nothing holds the range
    assert len(list((runner.store.root / "unrecorded").iterdir())) == 1  # kept, never deleted
    db.execute("DROP TRIGGER refuse")
    db.commit()
    db.close()
    again = await runner.run("test")
    assert again.state == "done" and again.files == 1, again.to_json()
    _continuous(runner.store, shop.tss_id, runner.store.entries()[-1].last_counter)


async def test_a_crashed_run_is_failed_and_the_next_one_resumes(shop: Shop, tmp_path: Path) -> None:
    """A run that ends by an unexpected exception is 'failed' with the cause, never 'done'."""
    runner = archiver(tmp_path / "archive", shop)
    targets = runner.targets

    def broken() -> list[object]:
        raise RuntimeError("the registry was replaced mid-run")

    runner.targets = broken  # type: ignore[assignment]
    crashed = await runner.run("test")
    assert crashed.state == "failed", crashed.to_json()
    assert any("crashed: RuntimeError" in e for e in crashed.events)
    runner.targets = targets
    resumed = await runner.run("test")
    assert resumed.state == "done" and resumed.files == 1


async def test_a_run_cut_off_by_a_kill_shows_as_failed_after_the_start(
    shop: Shop, tmp_path: Path
) -> None:
    """The unit died during a run (its row stays 'running'): after the next start the last
    run is 'failed' and says it was cut off; the next run completes."""
    runner = archiver(tmp_path / "archive", shop)
    runner.store.run_started("nightly", 1_700_000_000.0)  # what a killed run leaves behind
    again = archiver(tmp_path / "archive", shop)  # the unit started again
    again.recover()
    assert again.last is not None and again.last.state == "failed"
    assert again.last.reason == "nightly" and "cut off" in again.last.events[-1]
    assert again.store.cut_off_runs(0.0) is None  # recorded once
    done = await again.run("test")
    assert done.state == "done" and done.files == 1
