"""The auditor's export: a lost or unreadable file is a named finding in a written directory,
and a copy of the archive (what the off-box restore gives) fills in what the box lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.archive import Shop, archiver, open_shop
from tests.support.provisioning import Unit, unit
from tsed.archive.auditor import MISSING, Restored, export_period, needs_restore
from tsed.archive.store import ArchiveStore

__all__ = ["unit"]
ALL = (0, 4_000_000_000)  # every log time (until 2096)


@pytest.fixture
async def shop(unit: Unit) -> AsyncIterator[Shop]:
    shop = await open_shop(unit)
    yield shop
    await shop.registry.stop()


async def _three_files(shop: Shop, root: Path) -> ArchiveStore:
    runner = archiver(root, shop)
    for _ in range(3):
        await shop.receipts(2)
        assert (await runner.run("test")).state == "done"
    assert len(runner.store.entries(state="archived")) >= 3
    return runner.store


def _sums_ok(folder: Path) -> bool:
    check = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=folder,
                           capture_output=True, check=False)  # fmt: skip
    return check.returncode == 0


async def test_a_missing_and_an_unreadable_file_are_named_findings(
    shop: Shop, tmp_path: Path
) -> None:
    """Before: the first missing file stopped the export with an error and no directory."""
    store = await _three_files(shop, tmp_path / "archive")
    first, second, *rest = store.entries(state="archived")
    os.chmod(store.path(first).parent, 0o750)
    store.path(first).unlink()  # lost
    os.chmod(store.path(second), 0o644)
    store.path(second).unlink()
    store.path(second).mkdir()  # unreadable as a file
    assert needs_restore(store, *ALL, None)
    report = export_period(store, tmp_path / "auditor", *ALL)
    folder = Path(report["directory"])
    assert not report["ok"] and not report["complete"]
    by_name = {f["file"]: f for f in report["files"]}
    lost = by_name[Path(first.path).name]
    assert lost["source"] == MISSING and lost["problems"] == ["the file is missing"]
    broken = by_name[Path(second.path).name]
    assert broken["source"] == MISSING and "cannot be read" in broken["problems"][0]
    for entry in rest:
        item = by_name[Path(entry.path).name]
        assert item["source"] == "local archive" and item["problems"] == []
        assert (folder / item["file"]).is_file()
    assert not (folder / lost["file"]).exists() and _sums_ok(folder)
    text = (folder / "report.txt").read_text()
    assert "INCOMPLETE" in text and lost["file"] in text and "the file is missing" in text
    assert json.loads((folder / "report.json").read_text())["complete"] is False


async def test_files_the_box_lost_come_from_the_copy(shop: Shop, tmp_path: Path) -> None:
    store = await _three_files(shop, tmp_path / "archive")
    copy_root = tmp_path / "restored"
    shutil.copytree(store.root, copy_root)  # what the off-box restore writes
    lost = store.entries(state="archived")[0]
    store.path(lost).unlink()
    restored = Restored(ArchiveStore(copy_root), "abcd1234")
    report = export_period(store, tmp_path / "one", *ALL, restored=restored)
    assert report["ok"] and report["complete"], report
    (item,) = [f for f in report["files"] if f["file"] == Path(lost.path).name]
    assert item["source"].startswith("off-box copy, snapshot abcd1234 (local: the file is")
    assert report["source"] == "local archive and off-box copy"
    assert _sums_ok(Path(report["directory"]))
    shutil.rmtree(store.root)  # the box lost its whole archive, index and manifest included
    assert needs_restore(store, *ALL, None)
    report = export_period(store, tmp_path / "all", *ALL, restored=restored)
    assert report["ok"] and report["complete"] and report["source"] == "off-box copy"
    assert len(report["files"]) == len(ArchiveStore(copy_root).entries(state="archived"))
    assert _sums_ok(Path(report["directory"]))
    bad = copy_root / lost.path  # the copy has the file damaged: a finding, not a pass
    os.chmod(bad, 0o644)
    data = bytearray(bad.read_bytes())
    data[len(data) // 3] ^= 0xFF
    bad.write_bytes(bytes(data))
    report = export_period(store, tmp_path / "bad", *ALL, restored=restored)
    (item,) = [f for f in report["files"] if f["file"] == Path(lost.path).name]
    assert not report["ok"] and any("SHA-256" in p for p in item["problems"]), item
