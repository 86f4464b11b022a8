"""Atomic file writes: a power loss leaves the old or the new content, never a broken file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from tsed.errors import StorageError, StorageFull


def atomic_write(
    path: Path, data: bytes, *, mode: int = 0o644, owner: tuple[int, int] | None = None
) -> None:
    """Write ``data`` to ``path``: temp file in the same directory, fsync, rename, fsync dir.

    The temp file is created with ``mode`` from the start (no window with wider permissions),
    and given to ``owner`` (uid, gid; run as root) before it gets its name.
    """
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise _storage_error(path, err) from err
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _storage_error(path, err) from err


def _storage_error(path: Path, err: OSError) -> StorageError:
    if err.errno == errno.ENOSPC:
        return StorageFull(f"cannot write {path}: the disk is full")
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(f"cannot write {path}: {err.strerror}")
    return StorageError(f"cannot write {path}: {err.strerror or err}")
