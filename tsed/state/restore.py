"""Restoring a unit backup onto a (replacement) unit whose daemon is stopped.

The restore never changes anything before the whole backup has been opened and checked:

1. the daemon must not run (its admin socket must not answer): the store, the vault and the
   device identity are open in a running unit, and replacing them under it would mix two units;
2. the file is decrypted and unpacked into ``<state_dir>/.restore-…/`` (same file system, mode
   0700; a killed restore's staging folder is removed first), and every member is checked
   against the manifest (size, SHA-256); a wrong password, a damaged or cut-off file, a newer
   format: a clear error, the staging folder removed, nothing else touched;
3. a unit that already holds fiscal data (transactions, archive entries, a LIVE TSS) is
   refused unless ``replace`` is given;
4. with ``archive_from`` (a folder restored from the archive's off-box copy) every file the
   backup's archive index lists is taken from there, each checked against its SHA-256 in the
   index;
5. the swap (:mod:`tsed.state.restoreswap`, written down first so that a power cut at any
   rename is finished at the next start): each entry the backup brings (and every old entry of
   the same kind) is renamed into ``<state_dir>/.replaced-<time>/`` (kept, never deleted),
   then each new one renamed into place (renames on one file system: each atomic); a failure
   part-way renames everything back. The configuration file is written last, atomically, its
   old content kept alongside.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import sqlite3
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from tsed.errors import StorageError
from tsed.state.backup import (
    CONFIG_MEMBER,
    FORMAT_VERSION,
    MANIFEST,
    STATE_PREFIX,
    summary_of,
)
from tsed.state.backupfile import BackupDamaged, BackupError, BackupTooNew, decrypt_file
from tsed.state.paths import REPLACED_PREFIX, RESTORE_PREFIX, StatePaths
from tsed.state.restoreswap import (
    SwapResult,
    abandon_unreadable_plan,
    finish_interrupted_swap,
    log_finished,
    swap,
)
from tsed.state.swapplan import SwapPlan, restorable_names

_LOGGER = logging.getLogger(__name__)


class RestoreRefused(BackupError, status=409, code="BACKUP_UNIT_HOLDS_DATA"):
    default_hint = (
        "Nur wenn diese Daten wirklich ersetzt werden sollen: tsectl backup restore DATEI "
        "--replace (mit Bestätigung). Die bisherigen Daten werden dann im Zustandsverzeichnis "
        "unter .replaced-<Zeit> aufbewahrt, nicht gelöscht."
    )


class DaemonRunning(BackupError, status=409, code="BACKUP_DAEMON_RUNNING"):
    default_hint = (
        "Stop the unit first (systemctl stop tsed), restore, then start it again "
        "(systemctl start tsed). Nothing was changed."
    )


@dataclass(frozen=True, slots=True)
class RestoreInfo:
    """What a restore put in place."""

    device_id: str
    created_at: float
    format: int
    members: int
    transactions: int
    registers: int
    bindings: int
    archive_entries: int
    archive_files: int  # archive files taken from ``archive_from``
    archive_missing: tuple[str, ...]  # indexed files it did not have (or with another digest)
    replaced: Path | None  # where the unit's earlier entries were kept
    seconds: float


def daemon_running(paths: StatePaths) -> bool:
    """Whether a daemon answers on the state directory's admin socket."""
    path = paths.admin_socket
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _member_path(root: Path, name: str) -> Path:
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise BackupDamaged(f"the backup names a member outside its folder: {name!r}")
    return root.joinpath(*pure.parts)


def _unpack(payload: Path, tree: Path) -> dict[str, Any]:
    """Unpack and check every member against the manifest; returns the manifest."""
    try:
        with tarfile.open(payload, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BackupDamaged("the backup has no manifest")
            handle = tar.extractfile(first)
            assert handle is not None
            manifest = json.loads(handle.read())
            if not isinstance(manifest, dict) or not isinstance(manifest.get("members"), dict):
                raise BackupDamaged("the backup's manifest is not readable")
            version = manifest.get("format")
            if not isinstance(version, int):
                raise BackupDamaged("the backup's manifest names no format version")
            if version > FORMAT_VERSION:
                raise BackupTooNew(
                    f"the backup has format version {version}; this tsed reads up to "
                    f"version {FORMAT_VERSION}"
                )
            expected: dict[str, dict[str, Any]] = manifest["members"]
            seen: set[str] = set()
            while (info := tar.next()) is not None:
                if not info.isfile() or info.name not in expected or info.name in seen:
                    raise BackupDamaged(f"the backup holds an unexpected member {info.name!r}")
                seen.add(info.name)
                target = _member_path(tree, info.name)
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                source = tar.extractfile(info)
                assert source is not None
                digest = hashlib.sha256()
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                want = expected[info.name]
                if digest.hexdigest() != want.get("sha256") or info.size != want.get("size"):
                    raise BackupDamaged(f"{info.name} in the backup does not match its manifest")
    except (tarfile.TarError, EOFError, zlib.error, ValueError, UnicodeDecodeError) as err:
        raise BackupDamaged(f"the backup's contents are not readable ({err})") from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupDamaged(f"the backup lacks {len(missing)} member(s), e.g. {missing[0]}")
    return manifest


def _fiscal_data(paths: StatePaths, scratch: Path) -> str | None:
    """Why the unit at ``paths`` already holds fiscal data (German), or None."""
    found = summary_of(paths.root, scratch)
    parts = []
    if found["transactions"]:
        parts.append(f"{found['transactions']} Transaktion(en)")
    if found["archive_entries"]:
        parts.append(f"{found['archive_entries']} Archiv-Eintrag/Einträge")
    if found["live_bindings"]:
        parts.append(f"{found['live_bindings']} gebundene LIVE-TSS")
    return ", ".join(parts) or None


def _archive_rows(archive: Path) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for index in sorted(p for p in archive.glob("*") if p.is_file()):
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(index)) as db:
            rows += db.execute("SELECT path, sha256 FROM entries ORDER BY id").fetchall()
    return rows


def _take_archive(new_root: Path, source: Path) -> tuple[int, tuple[str, ...]]:
    """Copy the indexed archive files from ``source`` (checked by SHA-256) into the new
    state's archive; returns the count copied and those missing."""
    archive = StatePaths(new_root).archive
    copied, missing = 0, []
    for rel, sha256 in _archive_rows(archive):
        src = _member_path(source, rel)
        if not src.is_file() or _sha256(src) != sha256:
            missing.append(rel)
            continue
        target = _member_path(archive, rel)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        shutil.copyfile(src, target)
        os.chmod(target, 0o444)
        copied += 1
    return copied, tuple(missing)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _free_aside(state_dir: Path, stamp: str) -> Path:
    """A new folder name for what the restore replaces: an earlier restore's folder of the same
    second (a clock that went back, two restores at once) is never mixed in."""
    aside = state_dir / f"{REPLACED_PREFIX}{stamp}"
    count = 1
    while os.path.lexists(aside):
        count += 1
        aside = state_dir / f"{REPLACED_PREFIX}{stamp}-{count}"
    return aside


def finish_restore(state_dir: Path) -> SwapResult | None:
    """``tsectl backup restore --finish``: an interrupted restore's swap finished (forward or
    back) while the daemon is stopped, e.g. as root when the service user could not; None when
    there was none."""
    paths = StatePaths(state_dir)
    if daemon_running(paths):
        raise DaemonRunning("the unit is running: a restore is finished only while it is stopped")
    result = finish_interrupted_swap(paths)
    log_finished(result)
    return result


def restore_backup(
    file: Path,
    password: str,
    *,
    state_dir: Path,
    config_path: Path,
    replace: bool = False,
    archive_from: Path | None = None,
    archive_source: Callable[[Path, Path], Path] | None = None,
    clock: Callable[[], float] = time.time,
    abandon_swap: bool = False,
) -> RestoreInfo:
    """Restore ``file`` into ``state_dir`` (and ``config_path``); see the module's steps.

    ``archive_source`` (instead of ``archive_from``) fetches the archive's files once the
    backup is open and accepted: it gets the unpacked backup (``config.toml``, ``state/``) and
    an empty scratch folder, and returns the folder holding the files (the off-box copy
    restored with the backup's own configuration and vault).

    ``abandon_swap``: an interrupted restore's plan that cannot be read is set aside (kept)
    instead of refusing; the whole backup then goes in place over whatever the state is."""
    started = time.monotonic()
    paths = StatePaths(state_dir)
    if daemon_running(paths):
        raise DaemonRunning("the unit is running: a backup is restored only while it is stopped")
    try:
        source = file.open("rb")
    except OSError as err:
        raise BackupDamaged(f"cannot read {file}: {err.strerror}") from None
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.fromtimestamp(clock(), UTC).strftime("%Y%m%dT%H%M%SZ")
        if abandon_swap:
            abandon_unreadable_plan(paths, stamp)
        log_finished(finish_interrupted_swap(paths))  # a cut restore's swap: staging needed
        for stale in state_dir.glob(f"{RESTORE_PREFIX}*"):  # a killed restore's (plain) files
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=RESTORE_PREFIX, dir=state_dir))
    except OSError as err:
        source.close()
        raise StorageError(f"cannot unpack the backup in {state_dir}: {err.strerror}") from err
    except BaseException:  # an interrupted restore that cannot be finished: the file closed
        source.close()
        raise
    try:
        payload = work / "payload"
        fd = os.open(payload, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with source, os.fdopen(fd, "wb") as out:
            decrypt_file(source, out, password)
        tree = work / "tree"
        manifest = _unpack(payload, tree)
        payload.unlink()
        new_root = tree / STATE_PREFIX.rstrip("/")
        if not (new_root / paths.store.name).is_file():
            raise BackupDamaged("the backup holds no store")
        holds = _fiscal_data(paths, work)
        if holds and not replace:
            raise RestoreRefused(
                f"Dieses Gerät enthält bereits fiskalische Daten ({holds}). Die Wiederherstellung "
                "wurde abgebrochen; nichts wurde verändert."
            )
        copied, missing = 0, tuple[str, ...]()
        if archive_source is not None:
            scratch = work / "archive-source"
            scratch.mkdir(mode=0o700)
            archive_from = archive_source(tree, scratch)
        if archive_from is not None:
            copied, missing = _take_archive(new_root, archive_from)
        else:
            missing = tuple(rel for rel, _ in _archive_rows(StatePaths(new_root).archive))
        summary = summary_of(new_root)
        aside = _free_aside(state_dir, stamp)
        incoming = tuple(sorted(p.name for p in new_root.iterdir()))
        known = restorable_names(paths)
        if unknown := sorted(set(incoming) - known):
            raise BackupDamaged(f"the backup holds {unknown[0]!r}, no entry a restore puts in "
                                "place")  # fmt: skip
        old = tuple(sorted(n for n in known if os.path.lexists(state_dir / n)))
        config = tree / CONFIG_MEMBER
        swap(paths, SwapPlan(
            work.name, new_root.relative_to(work).as_posix(), aside.name, old, incoming,
            config.relative_to(work).as_posix() if config.is_file() else None,
            str(config_path.absolute()) if config.is_file() else None,
            backup_device=str(manifest.get("device_id", "")),
            backup_created=float(manifest.get("created_at", 0.0)),
        ))  # fmt: skip
        kept: Path | None = aside
        with contextlib.suppress(OSError):
            aside.rmdir()  # only when empty: nothing was replaced
            kept = None
    except OSError as err:
        raise StorageError(f"cannot unpack the backup in {work}: {err.strerror or err}") from err
    finally:
        if not paths.restore_swap.exists():  # a swap left part-way still needs its staging
            shutil.rmtree(work, ignore_errors=True)
    info = RestoreInfo(
        str(manifest.get("device_id", "")), float(manifest.get("created_at", 0.0)),
        int(manifest["format"]), len(manifest["members"]), summary["transactions"],
        summary["registers"], summary["bindings"], summary["archive_entries"], copied, missing,
        kept, round(time.monotonic() - started, 3),
    )  # fmt: skip
    _LOGGER.info(
        "backup of device %s restored: %d members, %d transactions, %d archive files taken, "
        "%d missing; earlier state kept in %s",
        info.device_id, info.members, info.transactions, copied, len(missing), kept or "-",
        extra={"TSED_EVENT": "backup_restored"},
    )  # fmt: skip
    return info
