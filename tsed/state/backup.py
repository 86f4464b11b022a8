"""A unit backup: what a replacement unit needs to take over, in one encrypted file.

Members (``state/…`` relative to the state directory, ``config.toml`` the configuration):

* the store (``tsed.sqlite``: registers with their hashed pairing tokens, TSS bindings and
  clients, the transaction journal, outages, audit), the archive's index and manifest, and in
  TEST the built-in simulator's own database: each copied with SQLite's online backup API (one
  step, one read transaction: a consistent snapshot while the unit signs);
* the vault, the mode, the activation, what "Anlegen" created, the device identity (key,
  certificate, id: registers pin the key), the known register addresses, the certificate and
  certification watch and the housekeeping's records: copied as they are;
* the configuration file.

The archive's files themselves are not in it: they are in the archive's off-box copy
(:mod:`tsed.archive.offbox`), and a restore takes them from there (``--archive-from``).

The payload is a gzip'ed tar whose first member, ``manifest.json``, names the backup format
(:data:`FORMAT_VERSION`), the unit, a summary, and every other member with its size and
SHA-256; it is sealed in the container of :mod:`tsed.state.backupfile`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tsed.errors import StorageError
from tsed.state.backupfile import check_password, encrypt_file
from tsed.state.paths import StatePaths

_LOGGER = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CONFIG_MEMBER = "config.toml"
STATE_PREFIX = "state/"
SUFFIX = ".tsedbackup"
KEEP = 3  # backups kept in the state directory's backups folder (the newest)
_SQLITE_SIDE = ("-wal", "-shm", "-journal")
STALE_WORK = 6 * 3600.0  # seconds after which a work folder is a killed backup's


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """A backup written: where, how big, what it holds."""

    file: Path
    name: str
    format: int
    created_at: float
    device_id: str
    size: int
    sha256: str  # of the encrypted file, to compare a copy with
    members: int
    transactions: int
    registers: int
    bindings: int
    archive_entries: int
    seconds: float


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API, in one step (a consistent snapshot of a live database)."""
    src = sqlite3.connect(source, timeout=30.0)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _state_files(paths: StatePaths) -> list[Path]:
    """The state directory's entries that go into a backup (those that exist)."""
    single = [
        paths.store, paths.vault, paths.mode, paths.activation, paths.credentials,
        paths.device_key, paths.device_cert, paths.device_id, paths.register_sources,
        paths.certification, paths.housekeeping,  # reportable certification events, health
    ]  # fmt: skip
    found = [p for p in single if p.is_file()]
    if paths.simulator.is_dir():  # TEST: the simulator's TSS, keys and counters
        found += sorted(p for p in paths.simulator.rglob("*") if p.is_file())
    if paths.archive.is_dir():  # the index and manifest; the files are in the off-box copy
        found += sorted(p for p in paths.archive.iterdir() if p.is_file())
    return [p for p in found if not p.name.endswith(_SQLITE_SIDE) and ".tmp" not in p.name]


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _counts(db: Path, queries: dict[str, str], scratch: Path | None) -> dict[str, int]:
    """``queries`` on ``db``; with ``scratch`` on a copy there (with its WAL), so the database
    itself is not touched, not even by the side files SQLite creates."""
    found = dict.fromkeys(queries, 0)
    if not db.is_file():
        return found
    if scratch is not None:
        folder = Path(tempfile.mkdtemp(dir=scratch))
        for side in ("", "-wal"):
            if Path(f"{db}{side}").is_file():
                shutil.copyfile(f"{db}{side}", folder / f"{db.name}{side}")
        db = folder / db.name
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for name, sql in queries.items():
            with contextlib.suppress(sqlite3.Error):
                found[name] = int(conn.execute(sql).fetchone()[0])
    return found


def summary_of(root: Path, scratch: Path | None = None) -> dict[str, int]:
    """Counts of a state directory (a live one, read through copies in ``scratch``, or an
    unpacked backup's)."""
    paths = StatePaths(root)
    found = _counts(paths.store, {
        "transactions": "SELECT count(*) FROM transactions",
        "registers": "SELECT count(*) FROM registers WHERE revoked_at IS NULL",
        "bindings": "SELECT count(*) FROM bindings WHERE archived_at IS NULL",
        "live_bindings": "SELECT count(*) FROM bindings WHERE env = 'LIVE'",
    }, scratch)  # fmt: skip
    index = [p for p in paths.archive.glob("*") if p.is_file() and _is_sqlite(p)]
    found["archive_entries"] = sum(
        _counts(p, {"n": "SELECT count(*) FROM entries"}, scratch)["n"] for p in index
    )
    return found


def _collect(paths: StatePaths, config_path: Path, tree: Path) -> dict[str, Path]:
    """Copy every member into ``tree``; returns member name → its copy."""
    members: dict[str, Path] = {}
    for source in _state_files(paths):
        name = STATE_PREFIX + source.relative_to(paths.root).as_posix()
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if _is_sqlite(source):
            _sqlite_copy(source, target)
        else:
            shutil.copyfile(source, target)
        members[name] = target
    if config_path.is_file():
        shutil.copyfile(config_path, tree / CONFIG_MEMBER)
        members[CONFIG_MEMBER] = tree / CONFIG_MEMBER
    return members


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, path: Path | None, at: float) -> None:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.uid, info.gid = 0o600, int(at), 0, 0
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        return
    assert path is not None
    info.size = path.stat().st_size
    with path.open("rb") as handle:
        tar.addfile(info, handle)


def backup_name(device_id: str, at: float) -> str:
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"tsed-backup-{device_id[:8]}-{stamp}{SUFFIX}"


def create_backup(
    paths: StatePaths,
    config_path: Path,
    password: str,
    *,
    device_id: str,
    tsed_version: str,
    clock: Callable[[], float] = time.time,
) -> BackupInfo:
    """Write an encrypted backup of the unit into ``paths.backups`` (blocking: run it in a
    thread). Older backups beyond the newest :data:`KEEP` there are removed."""
    check_password(password)
    started, at = time.monotonic(), clock()
    folder = paths.backups
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _remove_stale_work(folder)
        work = Path(tempfile.mkdtemp(prefix=".work-", dir=folder))
    except OSError as err:
        raise StorageError(f"cannot write the backup into {folder}: {err.strerror}") from err
    name = backup_name(device_id, at)
    target = folder / name
    try:
        tree = work / "tree"
        members = _collect(paths, config_path, tree)
        summary = summary_of(tree / STATE_PREFIX)
        manifest: dict[str, Any] = {
            "format": FORMAT_VERSION, "created_at": at, "device_id": device_id,
            "tsed_version": tsed_version, "summary": summary,
            "members": {
                n: {"size": p.stat().st_size, "sha256": _digest(p)} for n, p in members.items()
            },
        }  # fmt: skip
        payload = work / "payload.tar.gz"
        with tarfile.open(payload, "w:gz", compresslevel=6) as tar:
            _add(tar, MANIFEST, json.dumps(manifest, indent=1).encode(), None, at)
            for member, path in members.items():
                _add(tar, member, None, path, at)
        partial = folder / f".{name}.tmp"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            encrypt_file(payload, handle, password)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except OSError as err:
        raise StorageError(f"cannot write the backup {target}: {err.strerror or err}") from err
    except sqlite3.Error as err:
        raise StorageError(f"cannot copy a database into the backup: {err}") from err
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(OSError):
            (folder / f".{name}.tmp").unlink(missing_ok=True)
    _prune(folder)
    info = BackupInfo(
        target, name, FORMAT_VERSION, at, device_id, target.stat().st_size, _digest(target),
        len(members), summary["transactions"], summary["registers"], summary["bindings"],
        summary["archive_entries"], round(time.monotonic() - started, 3),
    )  # fmt: skip
    _LOGGER.info(
        "backup written: %s, %d bytes, %d members, %d transactions, %.1f s",
        name, info.size, info.members, info.transactions, info.seconds,
        extra={"TSED_EVENT": "backup_created", "TSED_BYTES": info.size, "TSED_FILE": name},
    )  # fmt: skip
    return info


def _remove_stale_work(folder: Path, older_than: float = STALE_WORK) -> None:
    """A killed backup's work folder holds a plain copy of the vault and the device key:
    removed by the next backup once older than any backup may take."""
    limit = time.time() - older_than
    for work in folder.glob(".work-*"):
        with contextlib.suppress(OSError):
            if work.stat().st_mtime < limit:
                shutil.rmtree(work)
    for partial in folder.glob(f".*{SUFFIX}.tmp"):
        with contextlib.suppress(OSError):
            if partial.stat().st_mtime < limit:
                partial.unlink()


def _prune(folder: Path) -> None:
    backups = sorted(p for p in folder.glob(f"*{SUFFIX}") if not p.name.startswith("."))
    for old in backups[:-KEEP]:
        with contextlib.suppress(OSError):
            old.unlink()
