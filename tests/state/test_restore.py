"""Restoring a backup: every way it can be refused leaves the unit's disk exactly as it was, and
a restore with ``replace`` keeps what it replaced.

The backup comes from a real unit (the daemon on loopback with its built-in simulator) that
paired a register, signed receipts and archived them."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.unit import running_unit
from tsed.errors import StorageError
from tsed.state.backup import MANIFEST, create_backup
from tsed.state.backupfile import (
    BackupDamaged,
    BackupTooNew,
    BackupWrongPassword,
    decrypt_file,
    encrypt_file,
)
from tsed.state.paths import StatePaths
from tsed.state.restore import DaemonRunning, RestoreRefused, restore_backup

PASSWORD = "Backup-Passwort-Filiale-3"
CONFIG = 'name = "Filiale 3"\n'
SERVICE_UID = 4321  # the service user tsed on a unit (tsectl restores as root)


def digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` (and its content's SHA-256): the disk as a test compares it."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_socket()
    }


async def _make_source(root: Path) -> Path:
    async with running_unit(root / "a", config=CONFIG) as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        register = await unit.pair()
        for _ in range(2):
            await register.receipt()
        code, out = await unit.tsectl("--json", "archive", "run")
        assert code == 0, out
        info = await asyncio.to_thread(
            create_backup, StatePaths(unit.state_dir), unit.state_dir / "tsed.toml", PASSWORD,
            device_id=unit.daemon.identity.device_id, tsed_version="test",
        )  # fmt: skip
    return info.file


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the backup file, the state directory of the unit it came from, stopped)."""
    root = tmp_path_factory.mktemp("source")
    file = asyncio.run(_make_source(root))
    kept = root / "unit.tsedbackup"
    shutil.copyfile(file, kept)
    yield kept, root / "a"


def restore(file: Path, target: Path, password: str = PASSWORD, **options: object) -> object:
    return restore_backup(file, password, state_dir=target / "state",
                          config_path=target / "tsed.toml", **options)  # type: ignore[arg-type]  # fmt: skip


def rewrite_payload(file: Path, out: Path, change: object) -> None:
    """Open the backup, let ``change(manifest, members)`` alter it, seal it again."""
    plain = io.BytesIO()
    with file.open("rb") as handle:
        decrypt_file(handle, plain, PASSWORD)
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(plain.getvalue()), mode="r:gz") as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            assert handle is not None
            members[info.name] = handle.read()
    manifest = json.loads(members.pop(MANIFEST))
    change(manifest, members)  # type: ignore[operator]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in [(MANIFEST, json.dumps(manifest).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    payload = out.with_suffix(".payload")
    payload.write_bytes(gzip.compress(raw.getvalue()))
    with out.open("wb") as handle:
        encrypt_file(payload, handle, PASSWORD)


def test_restore_onto_a_new_unit(source: tuple[Path, Path], tmp_path: Path) -> None:
    file, original = source
    (tmp_path / "state").mkdir(mode=0o700)  # made by systemd for the service user
    os.chown(tmp_path / "state", SERVICE_UID, SERVICE_UID)
    info = restore(file, tmp_path)
    for path in (tmp_path / "state").rglob("*"):  # the daemon runs as the service user
        assert path.stat().st_uid == SERVICE_UID, path
    for name in ("vault.json", "device.key", "tsed.sqlite"):
        assert (tmp_path / "state" / name).stat().st_mode & 0o077 == 0, name
    state = digests(tmp_path / "state")
    kept = digests(original)
    for name in ("vault.json", "device.key", "device.crt", "device.json", "mode"):
        if name in kept:
            assert state[name] == kept[name], name
    assert "tsed.sqlite" in state and any(n.startswith("simulator/") for n in state)
    assert (tmp_path / "tsed.toml").read_text() == CONFIG
    assert info.transactions == 2 and info.registers == 1 and info.archive_entries == 1  # type: ignore[attr-defined]
    assert info.archive_missing and info.replaced is None  # type: ignore[attr-defined]
    assert not [p for p in (tmp_path / "state").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("damage", ["password", "byte", "cut", "empty", "other file"])
def test_a_bad_file_or_password_changes_nothing(
    source: tuple[Path, Path], tmp_path: Path, damage: str
) -> None:
    file, original = source
    target = tmp_path / "target"
    shutil.copytree(original, target / "state", ignore=shutil.ignore_patterns("*.sock"))
    (target / "tsed.toml").write_text('name = "Neu"\n')
    before = digests(target)
    data = bytearray(file.read_bytes())
    bad = tmp_path / "bad.tsedbackup"
    password = PASSWORD
    expected: type[Exception] = BackupDamaged
    if damage == "password":
        password, expected = "ein-anderes-Passwort", BackupWrongPassword
    elif damage == "byte":
        data[len(data) // 2] ^= 0x20
    elif damage == "cut":
        data = data[: len(data) - 100]
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(b"SQLite format 3\x00" + bytes(500))
    bad.write_bytes(bytes(data))
    with pytest.raises(expected) as caught:
        restore(bad, target, password, replace=True)
    assert PASSWORD not in str(caught.value) + caught.value.hint  # type: ignore[attr-defined]
    assert digests(target) == before


def test_a_newer_format_and_a_changed_member_are_refused(
    source: tuple[Path, Path], tmp_path: Path
) -> None:
    file, _ = source
    newer = tmp_path / "newer.tsedbackup"
    rewrite_payload(file, newer, lambda manifest, members: manifest.update(format=2))
    with pytest.raises(BackupTooNew, match="format version 2"):
        restore(newer, tmp_path / "a")

    def change_vault(manifest: dict[str, object], members: dict[str, bytes]) -> None:
        members["state/vault.json"] = b"{}"

    changed = tmp_path / "changed.tsedbackup"
    rewrite_payload(file, changed, change_vault)
    with pytest.raises(BackupDamaged, match="does not match its manifest"):
        restore(changed, tmp_path / "b")

    def drop(manifest: dict[str, object], members: dict[str, bytes]) -> None:
        del members["state/device.key"]

    dropped = tmp_path / "dropped.tsedbackup"
    rewrite_payload(file, dropped, drop)
    with pytest.raises(BackupDamaged, match="lacks 1 member"):
        restore(dropped, tmp_path / "c")

    def escape(manifest: dict[str, object], members: dict[str, bytes]) -> None:
        members["../outside"] = b"x"
        manifest["members"]["../outside"] = {  # type: ignore[index]
            "size": 1, "sha256": hashlib.sha256(b"x").hexdigest()
        }  # fmt: skip

    escaping = tmp_path / "escape.tsedbackup"
    rewrite_payload(file, escaping, escape)
    with pytest.raises(BackupDamaged, match="outside its folder"):
        restore(escaping, tmp_path / "d")
    assert not (tmp_path / "d" / "outside").exists()
    for name in "abcd":
        assert digests(tmp_path / name / "state") == {}, name  # staging removed


def test_a_unit_with_fiscal_data_is_replaced_only_when_told(
    source: tuple[Path, Path], tmp_path: Path
) -> None:
    file, original = source
    target = tmp_path / "target"
    shutil.copytree(original, target / "state", ignore=shutil.ignore_patterns("*.sock"))
    (target / "tsed.toml").write_text('name = "Alt"\n')
    before = digests(target)
    with pytest.raises(RestoreRefused) as caught:
        restore(file, target)
    assert "fiskalische Daten (2 Transaktion(en), 1 Archiv-Eintrag" in caught.value.message
    assert "--replace" in caught.value.hint and "aufbewahrt" in caught.value.hint
    assert digests(target) == before
    info = restore(file, target, replace=True)
    kept = info.replaced  # type: ignore[attr-defined]
    assert kept is not None and kept.parent == target / "state"
    aside = digests(kept)
    for name, digest in before.items():  # nothing lost: the replaced state is kept whole
        if name.startswith("state/") and name.removeprefix("state/") in aside:
            assert aside[name.removeprefix("state/")] == digest
    assert aside["tsed.sqlite"] == before["state/tsed.sqlite"]
    assert aside["archive/index.sqlite"] == before["state/archive/index.sqlite"]
    assert any(n.startswith("archive/tss/") for n in aside)  # the old archive's files too
    assert aside["config.toml"] == before["tsed.toml"]
    assert (target / "tsed.toml").read_text() == CONFIG


async def test_a_running_unit_is_never_restored_under(
    source: tuple[Path, Path], tmp_path: Path
) -> None:
    file, _ = source
    async with running_unit(tmp_path / "state") as unit:
        before = digests(unit.state_dir)
        with pytest.raises(DaemonRunning, match="running"):
            await asyncio.to_thread(restore, file, tmp_path, replace=True)
        assert digests(unit.state_dir) == before


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BackupDamaged, match="cannot read"):
        restore(tmp_path / "missing.tsedbackup", tmp_path)
    assert not os.path.exists(tmp_path / "state" / "tsed.sqlite")


def test_a_failure_after_the_swap_puts_everything_back(
    source: tuple[Path, Path], tmp_path: Path
) -> None:
    file, original = source
    target = tmp_path / "target"
    shutil.copytree(original, target / "state", ignore=shutil.ignore_patterns("*.sock"))
    (target / "tsed.toml").mkdir()  # the configuration cannot be written: the last step fails
    before = digests(target)
    with pytest.raises(StorageError, match="cannot write the configuration"):
        restore(file, target, replace=True)
    assert digests(target) == before
    assert not [p for p in (target / "state").iterdir() if p.name.startswith(".")]


def test_archive_files_are_taken_only_when_their_digest_matches(
    source: tuple[Path, Path], tmp_path: Path
) -> None:
    file, original = source
    info = restore(file, tmp_path / "good", archive_from=original / "archive")
    assert info.archive_files == 1 and info.archive_missing == ()  # type: ignore[attr-defined]
    (tar,) = (tmp_path / "good" / "state" / "archive" / "tss").rglob("*.tar")
    assert tar.stat().st_mode & 0o777 == 0o444
    forged = tmp_path / "forged"
    shutil.copytree(original / "archive", forged)
    (rel,) = [p.relative_to(forged) for p in (forged / "tss").rglob("*.tar")]
    (forged / rel).chmod(0o644)
    (forged / rel).write_bytes(b"another file under the same name")
    info = restore(file, tmp_path / "bad", archive_from=forged)
    assert info.archive_files == 0 and info.archive_missing == (rel.as_posix(),)  # type: ignore[attr-defined]
    assert not list((tmp_path / "bad" / "state" / "archive").rglob("*.tar"))


def test_a_killed_restores_plain_files_are_removed_by_the_next(
    source: tuple[Path, Path], tmp_path: Path
) -> None:
    file, _ = source
    stale = tmp_path / "state" / ".restore-killed"
    stale.mkdir(parents=True)
    (stale / "vault.json").write_text("{}")
    with pytest.raises(BackupWrongPassword):
        restore(file, tmp_path, "ein-falsches-Passwort")
    assert not stale.exists()
