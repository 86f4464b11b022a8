"""The archive's off-box copy: the archive directory backed up with restic to the installer's
SFTP or REST target, checked, its age reported, and restored when the box lost it.

The unit treats the archive as a directory to copy: :meth:`OffboxCopy.copy` after every
archive run and nightly, :meth:`OffboxCopy.check` (restic's own check, a bounded share of the
data read back), :meth:`OffboxCopy.restore` into an empty directory (the auditor's export when
the box lost its archive, a replacement unit). The outcome of each is kept in
``<state_dir>/offbox/status.json`` (written atomically), read by :func:`offbox_status` for
``tsectl archive status``, the setup page and the metrics.

A target that is down or slow never touches signing: restic runs as a separate process,
bounded in time, and a failure is recorded and raised as an :class:`~tsed.errors.OffboxError`
leaf for the caller to report; the local archive is never changed by this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from tsed.archive.offboxlock import repository_lock
from tsed.archive.restic import BackupSummary, CheckResult, Restic, Snapshot, Target
from tsed.config.model import Config
from tsed.config.offbox import CREDENTIAL_ENTRY, PASSWORD_ENTRY, OffboxConfig
from tsed.errors import (
    ConfigError,
    ConflictError,
    OffboxError,
    OffboxWrongPassword,
    TsedError,
)
from tsed.state.files import atomic_write
from tsed.state.paths import StatePaths
from tsed.state.vault import Vault
from tsed.tss.access import proxy_settings

_LOGGER = logging.getLogger(__name__)

STATUS_FILE = "status.json"
COPIED_FILE = "copied.txt"  # the archive's files at the newest good copy, one a line
STALE_AFTER = 36 * 3600.0  # a nightly copy older than this is reported as stale

State = Literal["off", "never", "ok", "stale", "failing"]


@dataclass(frozen=True, slots=True)
class OffboxStatus:
    """The copy's state for ``tsectl archive status``, the setup page and the metrics."""

    state: State
    repository: str | None = None  # as a person reads it, never with a credential
    last_copy_at: float | None = None  # unix time of the newest good copy
    age_seconds: float | None = None  # now - last_copy_at
    last_snapshot: str | None = None
    last_bytes_added: int | None = None
    repository_bytes: int | None = None
    repository_id: str | None = None  # restic's id: a new one means the target was replaced
    last_check_at: float | None = None
    last_check_ok: bool | None = None
    last_check_subset: str | None = None
    last_error: str | None = None  # code and message of the newest failure (None after success)
    last_error_code: str | None = None
    last_error_at: float | None = None
    last_copy_files: int | None = None  # files in the archive's manifest at the newest copy
    last_error_de: str | None = None  # the last error in German (the page, tsectl)


@dataclass(frozen=True, slots=True)
class CopyResult:
    snapshot_id: str
    created_repository: bool
    summary: BackupSummary
    repository_bytes: int
    seconds: float


@dataclass(frozen=True, slots=True)
class RestoreResult:
    snapshot_id: str
    snapshot_time: float
    files: int
    bytes: int
    seconds: float
    sha256: dict[str, str]  # relative path -> hex digest of every restored file


@dataclass(frozen=True, slots=True)
class _Record:
    repository: str | None = None
    repository_id: str | None = None
    last_copy_at: float | None = None
    last_snapshot: str | None = None
    last_bytes_added: int | None = None
    repository_bytes: int | None = None
    last_check_at: float | None = None
    last_check_ok: bool | None = None
    last_check_subset: str | None = None
    last_error: str | None = None
    last_error_code: str | None = None
    last_error_at: float | None = None
    last_copy_files: int | None = None


def _status_path(state_dir: Path) -> Path:
    return StatePaths(state_dir).offbox / STATUS_FILE


def _load(state_dir: Path) -> _Record:
    try:
        raw = json.loads(_status_path(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _Record()
    if not isinstance(raw, dict):
        return _Record()
    known = set(_Record.__dataclass_fields__)
    return _Record(**{k: v for k, v in raw.items() if k in known})


def offbox_status(state_dir: Path, config: Config, now: float | None = None) -> OffboxStatus:
    """The off-box copy's state as last recorded (no call to the target)."""
    if config.offbox is None:
        return OffboxStatus("off")
    record = _load(state_dir)
    display = config.offbox.repository.display
    if record.repository != display:  # another target than the recorded one: start afresh
        record = _Record(repository=display)
    now = time.time() if now is None else now
    age = None if record.last_copy_at is None else max(0.0, now - record.last_copy_at)
    state: State
    error_newer = record.last_error is not None and (
        record.last_copy_at is None or (record.last_error_at or 0) >= record.last_copy_at
    )
    if error_newer or record.last_check_ok is False:
        state = "failing"
    elif age is None:
        state = "never"
    elif age > STALE_AFTER:
        state = "stale"
    else:
        state = "ok"
    return OffboxStatus(state, display, age_seconds=age, **{
        k: v for k, v in asdict(record).items() if k != "repository"
    })  # fmt: skip


def record_files(state_dir: Path, config: Config, files: list[str]) -> None:
    """The files the archive's manifest listed when it was copied."""
    if config.offbox is None:
        return
    path = StatePaths(state_dir).offbox / COPIED_FILE
    atomic_write(path, "".join(f"{name}\n" for name in files).encode(), mode=0o600)
    _write(state_dir, config.offbox.repository.display, last_copy_files=len(files))


def copied_files(state_dir: Path) -> set[str]:
    """The files of the newest good copy (empty before the first)."""
    try:
        text = (StatePaths(state_dir).offbox / COPIED_FILE).read_text(encoding="utf-8")
    except OSError:
        return set()
    return {line for line in text.splitlines() if line}


def record_failure(state_dir: Path, config: Config, err: TsedError, now: float) -> None:
    """Record a failure that happened before restic could run (no password in the vault)."""
    if config.offbox is None:
        return
    _write(state_dir, config.offbox.repository.display, last_error=f"{err.code}: {err.message}",
           last_error_code=err.code, last_error_at=now)  # fmt: skip


def _write(state_dir: Path, display: str, **changes: Any) -> None:
    record = _load(state_dir)
    if record.repository != display:
        record = _Record(repository=display)
    record = replace(record, **changes)
    path = _status_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, json.dumps(asdict(record), indent=1).encode(), mode=0o600)


class OffboxCopy:
    """The off-box copy of one archive directory. One restic run at a time."""

    def __init__(
        self,
        offbox: OffboxConfig,
        target: Target,
        state_dir: Path,
        *,
        binary: str = "restic",
        host: str = "tsed",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.offbox = offbox
        self.state_dir = state_dir
        self.host = host
        self.clock = clock
        self.restic = Restic(
            target, binary=binary, timeout=offbox.timeout_minutes * 60.0,
            runtime_dir=StatePaths(state_dir).offbox / "run",
        )  # fmt: skip
        self._lock = asyncio.Lock()
        self._initialized = False

    @classmethod
    def from_config(
        cls, config: Config, vault: Vault, state_dir: Path, **kwargs: Any
    ) -> OffboxCopy | None:
        """The copy as configured (None without ``offbox.repository``); the password and
        the target's credential come from the vault, the proxy from the shop's settings."""
        offbox = config.offbox
        if offbox is None:
            return None
        password = vault.get(PASSWORD_ENTRY)
        if not password:
            raise ConfigError(
                f"offbox.repository is set, but the vault has no repository password "
                f"({PASSWORD_ENTRY})",
                hint="Enter the repository password on the setup page (at least 12 characters; "
                "write it on the installer's record sheet: without it nobody can read the copy).",
            )
        directory = StatePaths(state_dir).offbox
        target = Target(
            offbox.repository, password, offbox.login, vault.get(CREDENTIAL_ENTRY),
            offbox.host_key, offbox.ca_file, proxy_settings(config, vault),
            known_hosts=directory / "known_hosts", cache_dir=directory / "cache",
        )  # fmt: skip
        return cls(offbox, target, state_dir, **kwargs)

    @property
    def display(self) -> str:
        return self.offbox.repository.display

    def status(self, config: Config) -> OffboxStatus:
        return offbox_status(self.state_dir, config, self.clock())

    async def copy(self, source: Path) -> CopyResult:
        """Back up the archive directory ``source``; the repository is created on first use."""
        async with self._lock, repository_lock(self.state_dir, self.restic.timeout):
            started = time.monotonic()
            try:
                created = False
                if not self._initialized:
                    created = await self.restic.init()
                    self._initialized = True
                    self._note_repository(self.restic.repository_id)
                summary = await self.restic.backup(source, host=self.host)
                stats = await self.restic.stats()
            except OffboxError as err:
                self._failed("copy", err)
                raise
            seconds = time.monotonic() - started
            self._update(
                last_copy_at=self.clock(), last_snapshot=summary.snapshot_id,
                last_bytes_added=summary.data_added, repository_bytes=stats.total_size,
                last_error=None, last_error_code=None, last_error_at=None,
            )  # fmt: skip
            _LOGGER.info(
                "archive copied off the box to %s: snapshot %s, %d new files, %d bytes added, "
                "repository %d bytes, %.1f s",
                self.display, summary.snapshot_id, summary.files_new, summary.data_added,
                stats.total_size, seconds,
                extra={"TSED_EVENT": "offbox_copy", "TSED_SNAPSHOT": summary.snapshot_id,
                       "TSED_REPOSITORY": self.display, "TSED_BYTES": summary.data_added},
            )  # fmt: skip
            return CopyResult(summary.snapshot_id, created, summary, stats.total_size, seconds)

    async def copy_or_report(self, source: Path) -> CopyResult | None:
        """:meth:`copy` for the scheduler (after an archive run, nightly): a failure is
        recorded and logged with its hint, never raised; signing and the archive go on."""
        try:
            return await self.copy(source)
        except OffboxError:
            return None

    async def check(self, subset: str | None = None) -> CheckResult:
        """restic's check; ``subset`` (default ``offbox.check_subset``) of the data is read."""
        share = subset or self.offbox.check_subset
        async with self._lock, repository_lock(self.state_dir, self.restic.timeout):
            try:
                result = await self.restic.check(share)
            except OffboxError as err:
                self._failed("check", err)
                raise
            self._update(last_check_at=self.clock(), last_check_ok=result.ok,
                         last_check_subset=share)  # fmt: skip
        level = logging.INFO if result.ok else logging.ERROR
        _LOGGER.log(
            level, "off-box copy check (%s of the data read) at %s: %s",
            share, self.display, "no errors" if result.ok else result.message,
            extra={"TSED_EVENT": "offbox_check", "TSED_OK": result.ok,
                   "TSED_REPOSITORY": self.display},
        )  # fmt: skip
        return result

    async def latest(self) -> Snapshot | None:
        """The newest copy at the target (asks the target)."""
        async with self._lock, repository_lock(self.state_dir, self.restic.timeout):
            snapshots = await self.restic.snapshots()
        return snapshots[-1] if snapshots else None

    async def restore(self, target_dir: Path, snapshot: str = "latest") -> RestoreResult:
        """Restore a copy into ``target_dir`` (absent or empty; never over an archive)."""
        await asyncio.to_thread(_empty_directory, target_dir)
        started = time.monotonic()
        async with self._lock, repository_lock(self.state_dir, self.restic.timeout):
            snapshots = await self.restic.snapshots()
            if not snapshots:
                raise OffboxError(f"{self.display} holds no copy of the archive yet")
            chosen = snapshots[-1] if snapshot == "latest" else next(
                (s for s in snapshots if s.id.startswith(snapshot)), None
            )  # fmt: skip
            if chosen is None:
                raise OffboxError(f"{self.display} has no snapshot {snapshot!r}")
            await self.restic.restore(chosen.id, target_dir)
        digests, size = await asyncio.to_thread(_tree_summary, target_dir)
        seconds = time.monotonic() - started
        _LOGGER.info(
            "archive restored from %s (snapshot %s of %s) into %s: %d files, %d bytes, %.1f s",
            self.display, chosen.short_id, chosen.time.isoformat(), target_dir, len(digests),
            size, seconds,
            extra={"TSED_EVENT": "offbox_restore", "TSED_SNAPSHOT": chosen.id,
                   "TSED_REPOSITORY": self.display},
        )  # fmt: skip
        return RestoreResult(
            chosen.id, chosen.time.timestamp(), len(digests), size, seconds, digests
        )

    def _note_repository(self, repository_id: str | None) -> None:
        """Remember the repository's id; another id at the same place means the copies made
        there before are gone (a new disk, a deleted repository): loud, and copied afresh."""
        known = _load(self.state_dir)
        if (
            known.repository == self.display
            and known.repository_id
            and repository_id
            and known.repository_id != repository_id
        ):
            _LOGGER.error(
                "the off-box repository at %s is not the one the unit copied to before "
                "(id %s, was %s): the earlier copies there are gone; the whole archive is "
                "copied again",
                self.display, repository_id[:12], known.repository_id[:12],
                extra={"TSED_EVENT": "offbox_repository_replaced",
                       "TSED_REPOSITORY": self.display},
            )  # fmt: skip
        self._update(repository_id=repository_id)

    def _failed(self, what: str, err: OffboxError) -> None:
        if isinstance(err, OffboxWrongPassword):
            self._initialized = False
        self._update(last_error=f"{err.code}: {err.message}", last_error_code=err.code,
                     last_error_at=self.clock())  # fmt: skip
        _LOGGER.warning(
            "off-box %s to %s failed: %s (%s)", what, self.display, err.message, err.hint,
            extra={"TSED_EVENT": f"offbox_{what}_failed", "TSED_CODE": err.code,
                   "TSED_REPOSITORY": self.display},
        )  # fmt: skip

    def _update(self, **changes: Any) -> None:
        _write(self.state_dir, self.display, **changes)


def _empty_directory(path: Path) -> None:
    """Make ``path`` an empty directory, refusing one that holds anything."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConflictError(
            f"{path} is not an empty directory: a restore never writes over files",
            hint="Name a new or empty directory (tsectl archive restore --to DIR).",
        )
    path.mkdir(parents=True, exist_ok=True)


def _tree_summary(root: Path) -> tuple[dict[str, str], int]:
    digests = tree_digests(root)
    return digests, sum((root / name).stat().st_size for name in digests)


def tree_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``, by path relative to it (``/``-separated)."""
    found: dict[str, str] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            found[path.relative_to(root).as_posix()] = digest.hexdigest()
    return dict(sorted(found.items()))
