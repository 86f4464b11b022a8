"""The backup written by a child process: the same backup as in process, and its errors come
back as their own classes (the password travels on the child's standard input only)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.backup import PASSWORD, a_unit, members_of
from tsed.errors import StorageError
from tsed.state.backup_worker import create_in_worker
from tsed.state.backupfile import BackupPasswordWeak


async def test_the_worker_writes_the_backup(tmp_path: Path) -> None:
    paths = await asyncio.to_thread(a_unit, tmp_path / "state")
    (tmp_path / "tsed.toml").write_text('name = "Laden"\n')
    info = await create_in_worker(paths.root, tmp_path / "tsed.toml", PASSWORD,
                                  device_id="d7", tsed_version="9.9")  # fmt: skip
    assert info.file.parent == paths.backups and info.device_id == "d7"
    assert info.size == info.file.stat().st_size
    members = members_of(info.file)
    assert members["config.toml"] == b'name = "Laden"\n' and "state/tsed.sqlite" in members


async def test_errors_come_back_as_their_classes(tmp_path: Path) -> None:
    paths = await asyncio.to_thread(a_unit, tmp_path / "state")
    with pytest.raises(BackupPasswordWeak) as caught:
        await create_in_worker(paths.root, tmp_path / "none", "kurz-12345", device_id="d",
                               tsed_version="t")  # fmt: skip
    assert "kurz-12345" not in caught.value.message
    paths.backups.write_text("a file where the backups folder belongs")
    with pytest.raises(StorageError, match="cannot write the backup"):
        await create_in_worker(paths.root, tmp_path / "none", PASSWORD, device_id="d",
                               tsed_version="t")  # fmt: skip
