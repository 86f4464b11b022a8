"""A unit's state directory to back up (a real store, vault, identity, archive and simulator
folder, no daemon), and a backup file opened into its members."""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path

from tsed.archive.store import ArchiveStore
from tsed.net.identity import load_or_create_identity
from tsed.state.backup import MANIFEST
from tsed.state.backupfile import decrypt_file
from tsed.state.paths import StatePaths
from tsed.state.store import Store
from tsed.state.vault import Vault

PASSWORD = "Backup-Passwort-Test-99"


async def _store(path: Path) -> None:
    store = Store(path)
    await store.open()
    await store.close()


def a_unit(root: Path) -> StatePaths:
    paths = StatePaths(root)
    asyncio.run(_store(paths.store))
    Vault(paths.vault).update({"default/LIVE/api_secret": "geheim-secret-value-123"})
    load_or_create_identity(root, name="laden", addresses=[])
    archive = ArchiveStore(paths.archive)
    archive.open()
    tar = paths.archive / "tss" / "t1" / "t1_sig000000000001-000000000010.tar"
    tar.parent.mkdir(parents=True)
    tar.write_bytes(b"an archived export" * 100)
    (paths.simulator / "nested").mkdir(parents=True)
    (paths.simulator / "nested" / "keys.json").write_text("{}")
    (paths.exports / "job1").mkdir(parents=True)
    (paths.exports / "job1" / "part.tar").write_bytes(b"tar")
    return paths


def members_of(file: Path) -> dict[str, bytes]:
    plain = io.BytesIO()
    with file.open("rb") as handle:
        decrypt_file(handle, plain, PASSWORD)
    with tarfile.open(fileobj=io.BytesIO(plain.getvalue()), mode="r:gz") as tar:
        names = tar.getnames()
        assert names[0] == MANIFEST
        out = {}
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            assert handle is not None
            out[info.name] = handle.read()
    return out
