"""The write-once archive store: atomic recording, index, manifest, retention, crash leftovers."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tsed.archive.store import ArchiveConflict, ArchiveStore, NewEntry, file_name, retain_until

TSS = "0b7d6c1e-6c44-4f59-9d1e-3d0f3f3b2a11"


def _staged(store: ArchiveStore, content: bytes) -> tuple[Path, str]:
    store.clear_staging()
    path = store.staging / "export.tar"
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


def _new(first: int, last: int, digest: str, findings: tuple[dict[str, str], ...] = ()) -> NewEntry:
    return NewEntry(TSS, "default", first, last, 1_790_000_000, 1_790_000_100, digest,
                    "export-1", last - first + 1, (last - first) // 2, findings)  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> ArchiveStore:
    archive = ArchiveStore(tmp_path / "archive", clock=lambda: 1_790_000_200.0)
    archive.open()
    return archive


def test_files_are_named_by_range_read_only_and_in_a_checkable_manifest(
    store: ArchiveStore,
) -> None:
    source, digest = _staged(store, b"first export")
    entry = store.record(source, _new(23, 40, digest))
    path = store.path(entry)
    assert path == store.root / "tss" / TSS / file_name(TSS, 23, 40)
    assert path.name == f"{TSS}_sig000000000023-000000000040.tar"
    assert path.read_bytes() == b"first export" and not source.exists()
    assert path.stat().st_mode & 0o777 == 0o444
    assert entry.retain_until == "2036-12-31" and entry.state == "archived"
    source, digest = _staged(store, b"second export")
    store.record(source, _new(41, 50, digest))
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=store.root,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0 and check.stdout.count(": OK") == 2, check.stdout


def test_a_gap_or_overlap_is_refused_and_nothing_is_replaced(store: ArchiveStore) -> None:
    source, digest = _staged(store, b"one")
    store.record(source, _new(23, 40, digest))
    for first in (40, 42):  # overlap, gap
        source, digest = _staged(store, b"two")
        with pytest.raises(ArchiveConflict, match="continues at 41"):
            store.record(source, _new(first, 60, digest))
    assert [e.last_counter for e in store.entries()] == [40]


def test_index_rows_are_write_once(store: ArchiveStore) -> None:
    source, digest = _staged(store, b"one")
    store.record(source, _new(23, 40, digest))
    with sqlite3.connect(store.root / "index.sqlite") as db:
        with pytest.raises(sqlite3.DatabaseError, match="write-once"):
            db.execute("UPDATE entries SET last_counter = 99")
        with pytest.raises(sqlite3.DatabaseError, match="retention"):
            db.execute("DELETE FROM entries")


def test_rejected_files_are_kept_apart_and_do_not_advance_the_archive(
    store: ArchiveStore,
) -> None:
    source, digest = _staged(store, b"bad")
    finding = {"code": "signature", "message": "the signature does not verify", "file": "x"}
    entry = store.record(source, _new(23, 40, digest, (finding,)))
    assert entry.state == "rejected" and entry.path.startswith(f"rejected/{TSS}/")
    assert store.last_archived(TSS) is None and entry.findings == (finding,)
    assert store.manifest() == {entry.path: digest}


def test_a_file_without_index_row_is_set_aside_never_deleted(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path / "archive")
    store.open()
    leftover = store.root / "tss" / TSS / file_name(TSS, 23, 40)
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"cut off before its row")  # a crash between link and commit
    (store.staging / "half.tar").write_bytes(b"half")
    reopened = ArchiveStore(tmp_path / "archive")
    reopened.open()
    assert not leftover.exists()
    (kept,) = (reopened.root / "unrecorded").iterdir()
    assert kept.read_bytes() == b"cut off before its row"
    reopened.clear_staging()
    assert list(reopened.staging.iterdir()) == []
    source, digest = _staged(reopened, b"again")
    assert reopened.record(source, _new(23, 40, digest)).state == "archived"


def test_retention_is_ten_years_after_the_end_of_the_year() -> None:
    assert retain_until(1_798_761_599, 0) == "2036-12-31"  # 2026-12-31 23:59:59 UTC
    assert retain_until(1_798_761_600, 0) == "2037-12-31"
    assert retain_until(None, 1_798_761_600) == "2037-12-31"


def test_the_disk_projection_uses_the_measured_growth(store: ArchiveStore) -> None:
    from tsed.archive.audit import archive_summary

    now = 1_790_000_200.0
    source, digest = _staged(store, b"x" * 100_000)
    store.record(source, _new(23, 40, digest))  # logs from 1_790_000_000: one day at least
    summary = archive_summary(store, now)
    assert summary["bytes_per_day"] == 100_000 and summary["disk_free"] > 0
    assert summary["days_until_full"] == round(summary["disk_free"] / 100_000)
    assert summary["disk_warning"] is (summary["days_until_full"] < 60)
    assert summary["bytes_per_10000_receipts"] == round(100_000 * 10_000 / 8)


def test_a_manifest_behind_its_index_is_rewritten_at_open(tmp_path: Path) -> None:
    """A cut between a row's commit and the manifest's rewrite: the row counts, so the
    manifest (what ``sha256sum -c`` and ``tsectl archive verify`` read) catches up."""
    store = ArchiveStore(tmp_path / "archive")
    store.open()
    source, digest = _staged(store, b"one")
    store.record(source, _new(23, 40, digest))
    before = (store.root / "MANIFEST.sha256").read_bytes()
    source, digest = _staged(store, b"two")
    entry = store.record(source, _new(41, 50, digest))
    (store.root / "MANIFEST.sha256").write_bytes(before)  # the rewrite the cut took
    assert entry.path not in store.manifest()
    reopened = ArchiveStore(tmp_path / "archive")
    reopened.open()
    assert reopened.manifest() == {e.path: e.sha256 for e in reopened.entries()}
    assert reopened.manifest()[entry.path] == digest
    assert list((reopened.root / "tss" / TSS).iterdir())  # nothing set aside: both are rows
    assert not (reopened.root / "unrecorded").exists()
