"""Writing a backup: what goes in (and what stays out), the manifest, a snapshot taken while
the store is written, and the backups folder keeping the newest three."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from tests.support.backup import PASSWORD, a_unit, members_of
from tsed.state.backup import MANIFEST, create_backup


def test_what_goes_in_and_what_stays_out(tmp_path: Path) -> None:
    paths = a_unit(tmp_path / "state")
    paths.certification.write_text("{}")
    config = tmp_path / "tsed.toml"
    config.write_text('name = "Laden"\n')
    info = create_backup(paths, config, PASSWORD, device_id="d1", tsed_version="1.2.3")
    assert info.file.parent == paths.backups and info.file.stat().st_mode & 0o077 == 0
    members = members_of(info.file)
    manifest = json.loads(members.pop(MANIFEST))
    assert manifest["format"] == 1 and manifest["device_id"] == "d1"
    assert manifest["tsed_version"] == "1.2.3"
    assert set(manifest["members"]) == set(members)
    for name, data in members.items():
        assert manifest["members"][name] == {
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest()
        }  # fmt: skip
    names = set(members)
    for entry in (paths.store, paths.vault, paths.device_key, paths.device_cert,
                  paths.device_id, paths.certification,
                  paths.archive / "index.sqlite"):  # fmt: skip
        assert f"state/{entry.relative_to(paths.root).as_posix()}" in names, entry
    assert (
        "state/simulator/nested/keys.json" in names
        and members["config.toml"] == b'name = "Laden"\n'
    )
    assert not [n for n in names if "/tss/" in n or "/exports/" in n or "backups" in n]
    assert not [n for n in names if n.endswith(("-wal", "-shm"))]
    assert not list(paths.backups.glob(".*"))  # no work folder or partial file left


def test_a_snapshot_while_the_store_is_written_is_consistent(tmp_path: Path) -> None:
    paths = a_unit(tmp_path / "state")
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        db = sqlite3.connect(paths.store)
        db.execute("PRAGMA journal_mode=WAL")
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            with db:  # two rows per commit: a snapshot has both or neither
                for i in range(2):
                    db.execute("INSERT INTO audit (at, actor, action) VALUES (?, 'test', ?)",
                               (time.time(), f"pair-{written[0]}-{i}"))  # fmt: skip
            written[0] += 1
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 50:
            time.sleep(0.01)
        info = create_backup(paths, tmp_path / "none.toml", PASSWORD, device_id="d1",
                             tsed_version="t")  # fmt: skip
    finally:
        stop.set()
        thread.join(timeout=30)
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(members_of(info.file)["state/tsed.sqlite"])
    db = sqlite3.connect(copy)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    count = db.execute("SELECT count(*) FROM audit WHERE actor = 'test'").fetchone()[0]
    db.close()
    assert count >= 100 and count % 2 == 0


def test_the_backups_folder_keeps_the_newest_three(tmp_path: Path) -> None:
    paths = a_unit(tmp_path / "state")
    made = []
    for day in range(5):
        at = 1_790_000_000.0 + day * 86400
        made.append(create_backup(paths, tmp_path / "none.toml", PASSWORD, device_id="d1",
                                  tsed_version="t", clock=lambda at=at: at).file)  # fmt: skip
    assert sorted(paths.backups.iterdir()) == made[-3:]
    assert not os.path.exists(made[0])


def test_a_killed_backups_plain_files_are_removed_by_the_next(tmp_path: Path) -> None:
    paths = a_unit(tmp_path / "state")
    paths.backups.mkdir()
    stale, fresh = paths.backups / ".work-killed", paths.backups / ".work-running"
    for work in (stale, fresh):
        work.mkdir()
        (work / "vault.json").write_text("{}")
    os.utime(stale, (time.time() - 7 * 3600, time.time() - 7 * 3600))
    create_backup(paths, tmp_path / "none.toml", PASSWORD, device_id="d1", tsed_version="t")
    assert not stale.exists() and fresh.exists()  # a younger one may be another's, running
