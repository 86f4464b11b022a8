"""The fiscal archive on the box: a write-once directory with its own index and manifest.

Layout of ``<state_dir>/archive/`` (self-contained: backing it up or restoring it is copying
this one directory; ``factory-reset`` never touches it):

* ``tss/<tss_id>/<tss_id>_sig<first>-<last>.tar``: the archived TAR exports, named by TSS and
  signature-counter range (12 digits each, so names sort by counter), read-only (0444);
* ``rejected/<tss_id>/…``: exports the verifier found fault with, kept as evidence;
* ``index.sqlite``: one row per file (range, times, size, SHA-256, retention date, findings),
  the TSS the unit stopped using that are still to be archived to their end (``retired``),
  and the last runs (``runs``: one left ``running`` was cut off by a kill or a power loss);
* ``MANIFEST.sha256``: ``sha256sum -c`` format, every archived and rejected file;
* ``staging/``: downloads not yet verified (emptied at the start of every run);
* ``unrecorded/``: a file found in ``tss/`` without an index row (a crash between the rename
  and the commit): moved aside, never deleted; the next run archives that range again. A
  manifest that lags the index (a crash between the commit and its rewrite) is rewritten.

A file counts once its row is committed: the file is fsynced and linked into place (a link
never replaces an existing file), the directory fsynced, then the row committed, then the
manifest rewritten atomically. Nothing is changed or removed before its retention date (ten
years after the end of the calendar year of its last log, GoBD); the unit removes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tsed.errors import ConflictError, StorageError
from tsed.state.files import atomic_write

_LOGGER = logging.getLogger(__name__)

INDEX = "index.sqlite"
MANIFEST = "MANIFEST.sha256"
RETENTION_YEARS = 10
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tss_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('archived', 'rejected')),
    first_counter INTEGER NOT NULL,
    last_counter INTEGER NOT NULL,
    first_time INTEGER,
    last_time INTEGER,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    export_id TEXT NOT NULL,
    archived_at REAL NOT NULL,
    retain_until TEXT NOT NULL,
    logs INTEGER NOT NULL,
    transactions INTEGER NOT NULL,
    findings TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS entries_tss ON entries (tss_id, state, last_counter);
CREATE TRIGGER IF NOT EXISTS entries_write_once BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'archive entries are write-once'); END;
CREATE TRIGGER IF NOT EXISTS entries_keep BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'archive entries are kept until their retention date'); END;
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reason TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    state TEXT NOT NULL DEFAULT 'running'
);
CREATE TABLE IF NOT EXISTS retired (
    tss_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    retired_at REAL NOT NULL,
    done_at REAL
);
"""


class ArchiveConflict(ConflictError, code="ARCHIVE_CONFLICT"):
    default_hint = (
        "The archive is write-once: an entry for this range exists already. Run "
        "'tsectl archive verify' and look at the journal."
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of the archive, as its index row says."""

    id: int
    tss_id: str
    tenant: str
    state: str
    first_counter: int
    last_counter: int
    first_time: int | None
    last_time: int | None
    path: str  # relative to the archive directory
    size: int
    sha256: str
    export_id: str
    archived_at: float
    retain_until: str
    logs: int
    transactions: int
    findings: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tss_id": self.tss_id,
            "tenant": self.tenant,
            "state": self.state,
            "first_counter": self.first_counter,
            "last_counter": self.last_counter,
            "first_time": self.first_time,
            "last_time": self.last_time,
            "file": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "export_id": self.export_id,
            "archived_at": self.archived_at,
            "retain_until": self.retain_until,
            "logs": self.logs,
            "transactions": self.transactions,
            "findings": list(self.findings),
        }


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What a run hands to :meth:`ArchiveStore.record` for a verified (or rejected) file."""

    tss_id: str
    tenant: str
    first_counter: int
    last_counter: int
    first_time: int | None
    last_time: int | None
    sha256: str
    export_id: str
    logs: int
    transactions: int = 0
    findings: tuple[dict[str, Any], ...] = ()


def retain_until(last_time: float | None, now: float) -> str:
    """The end of the tenth calendar year after the file's last log (GoBD § 147 AO)."""
    year = datetime.fromtimestamp(last_time if last_time is not None else now, UTC).year
    return f"{year + RETENTION_YEARS}-12-31"


def file_name(tss_id: str, first: int, last: int) -> str:
    return f"{tss_id}_sig{first:012d}-{last:012d}.tar"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


class ArchiveStore:
    """The archive directory. Blocking methods: call them through ``asyncio.to_thread``."""

    def __init__(self, root: Path, *, clock: Any = time.time) -> None:
        self.root = root
        self.clock = clock
        self.staging = root / "staging"

    # -- opening and recovery ------------------------------------------------------------------

    def open(self) -> None:
        """Create the layout, and move aside any file a crash left without an index row."""
        try:
            for folder in (self.root, self.root / "tss", self.root / "rejected", self.staging):
                folder.mkdir(parents=True, exist_ok=True, mode=0o750)
            with self._db() as db:
                db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise StorageError(f"cannot open the archive in {self.root}: {err}") from err
        self.set_aside_unrecorded()
        if self.manifest() != {e.path: e.sha256 for e in self.entries()}:
            # a cut between a row's commit and the manifest's rewrite: the index counts
            self.write_manifest()
            _LOGGER.warning(
                "archive: the manifest lagged the index (a run was cut off): rewritten from it",
                extra={"TSED_EVENT": "archive_unrecorded"},
            )

    def _set_aside(self, path: Path, rel: str) -> None:
        target = self.root / "unrecorded" / f"{int(self.clock())}_{path.name}"
        target.parent.mkdir(exist_ok=True, mode=0o750)
        for number in range(1, 1000):  # never over an earlier one (same file, same second)
            if not target.exists():
                break
            target = target.with_name(f"{int(self.clock())}-{number}_{path.name}")
        path.rename(target)
        _fsync_dir(path.parent)
        _LOGGER.warning(
            "archive: %s has no index row (a run was cut off): moved to %s; its range is "
            "archived again",
            rel,
            target.relative_to(self.root),
            extra={"TSED_EVENT": "archive_unrecorded"},
        )

    def set_aside_unrecorded(self) -> None:
        """Move aside every file without an index row (a failed index insert, a crash): its
        range is then free for the next run, without a restart."""
        known = {e.path for e in self.entries()}
        for kind in ("tss", "rejected"):
            for path in sorted((self.root / kind).glob("*/*.tar")):
                rel = path.relative_to(self.root).as_posix()
                if rel not in known:
                    self._set_aside(path, rel)

    def run_started(self, reason: str, now: float) -> int:
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO runs (reason, started_at) VALUES (?, ?)", (reason, now)
            )
            db.execute("DELETE FROM runs WHERE id <= ?", ((cursor.lastrowid or 0) - 100,))
            return int(cursor.lastrowid or 0)

    def run_finished(self, run_id: int, state: str, now: float) -> None:
        with self._db() as db:
            db.execute("UPDATE runs SET state = ?, finished_at = ? WHERE id = ?",
                       (state, now, run_id))  # fmt: skip

    def cut_off_runs(self, now: float) -> tuple[str, float] | None:
        """Runs a killed unit left 'running' become 'cut off'; the newest one's reason and
        start (None if there is none)."""
        with self._db() as db:
            row = db.execute("SELECT reason, started_at FROM runs WHERE state = 'running' "
                             "ORDER BY id DESC LIMIT 1").fetchone()  # fmt: skip
            db.execute("UPDATE runs SET state = 'cut off', finished_at = ? "
                       "WHERE state = 'running'", (now,))  # fmt: skip
        return None if row is None else (str(row["reason"]), float(row["started_at"]))

    def retire(self, tss_id: str, tenant: str, now: float) -> None:
        """Keep ``tss_id`` an archive target after the unit stops using it."""
        with self._db() as db:
            db.execute(
                "INSERT INTO retired (tss_id, tenant, retired_at) VALUES (?, ?, ?) "
                "ON CONFLICT (tss_id) DO UPDATE SET done_at = NULL",
                (tss_id, tenant, now),
            )

    def retired(self) -> dict[str, str]:
        """The retired TSS not yet archived to their last signature: id -> tenant."""
        with self._db() as db:
            rows = db.execute("SELECT tss_id, tenant FROM retired WHERE done_at IS NULL")
            return {str(row["tss_id"]): str(row["tenant"]) for row in rows.fetchall()}

    def retired_done(self, tss_id: str) -> None:
        with self._db() as db:
            db.execute("UPDATE retired SET done_at = ? WHERE tss_id = ?", (self.clock(), tss_id))

    def clear_staging(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True, exist_ok=True, mode=0o750)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.root / INDEX, timeout=10.0)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.row_factory = sqlite3.Row
            with db:
                yield db

    # -- reading -------------------------------------------------------------------------------

    def entries(self, tss_id: str | None = None, state: str | None = None) -> list[Entry]:
        sql, args = "SELECT * FROM entries WHERE 1=1", list[str]()
        if tss_id is not None:
            sql, args = sql + " AND tss_id = ?", [*args, tss_id]
        if state is not None:
            sql, args = sql + " AND state = ?", [*args, state]
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY tss_id, first_counter, id", args).fetchall()
        return [_entry(row) for row in rows]

    def last_archived(self, tss_id: str) -> Entry | None:
        with self._db() as db:
            row = db.execute(
                "SELECT * FROM entries WHERE tss_id = ? AND state = 'archived' "
                "ORDER BY last_counter DESC LIMIT 1",
                (tss_id,),
            ).fetchone()
        return None if row is None else _entry(row)

    def path(self, entry: Entry) -> Path:
        return self.root / entry.path

    def disk_use(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    # -- writing -------------------------------------------------------------------------------

    def record(self, source: Path, new: NewEntry) -> Entry:
        """Move a downloaded, checked file from staging into the archive and record it.

        ``findings`` empty: archived (after the previous entry, no gap, no overlap); else
        rejected (kept as evidence under ``rejected/``)."""
        state = "rejected" if new.findings else "archived"
        if state == "archived":
            previous = self.last_archived(new.tss_id)
            # the first file starts where the TSS's logs start (fiskaly: after deployment)
            expected = new.first_counter if previous is None else previous.last_counter + 1
            if new.first_counter != expected:
                raise ArchiveConflict(
                    f"TSS {new.tss_id}: the file starts at signature counter "
                    f"{new.first_counter}, the archive continues at {expected}"
                )
        name = file_name(new.tss_id, new.first_counter, new.last_counter)
        folder = self.root / ("tss" if state == "archived" else "rejected") / new.tss_id
        if state == "rejected":
            name = name.replace(".tar", f"_{int(self.clock() * 1000)}.tar")
        target = folder / name
        rel = target.relative_to(self.root).as_posix()
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o750)
            os.chmod(source, 0o444)
            _fsync_file(source)
            os.link(source, target)  # never replaces: an existing file stays as it is
            _fsync_dir(folder)
            source.unlink()
            _fsync_dir(source.parent)
        except FileExistsError as err:
            raise ArchiveConflict(f"{rel} exists already") from err
        except OSError as err:
            raise StorageError(f"cannot write {rel} into the archive: {err.strerror}") from err
        now = self.clock()
        try:
            entry_id = self._insert(new, state, rel, target, now)
        except sqlite3.Error as err:  # the file must not hold its range until a restart
            self._set_aside(target, rel)
            raise StorageError(
                f"cannot record {rel} in the archive's index: {err}",
                hint="Check the disk (df, dmesg); the next run archives this range again.",
            ) from err
        self.write_manifest()
        (entry,) = [e for e in self.entries(new.tss_id) if e.id == entry_id]
        return entry

    def _insert(self, new: NewEntry, state: str, rel: str, target: Path, now: float) -> int:
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO entries (tss_id, tenant, state, first_counter, last_counter, "
                "first_time, last_time, path, size, sha256, export_id, archived_at, "
                "retain_until, logs, transactions, findings) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    new.tss_id, new.tenant, state, new.first_counter, new.last_counter,
                    new.first_time, new.last_time, rel, target.stat().st_size, new.sha256,
                    new.export_id, now, retain_until(new.last_time, now), new.logs,
                    new.transactions, json.dumps(list(new.findings)),
                ),
            )  # fmt: skip
            return int(cursor.lastrowid or 0)

    def write_manifest(self) -> None:
        lines = [f"{e.sha256}  {e.path}\n" for e in self.entries()]
        atomic_write(self.root / MANIFEST, "".join(lines).encode(), mode=0o644)

    def manifest(self) -> dict[str, str]:
        """The manifest as written: relative path → SHA-256."""
        try:
            text = (self.root / MANIFEST).read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        out: dict[str, str] = {}
        for line in text.splitlines():
            digest, _, rel = line.partition("  ")
            if rel:
                out[rel] = digest
        return out


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        id=int(row["id"]), tss_id=row["tss_id"], tenant=row["tenant"], state=row["state"],
        first_counter=int(row["first_counter"]), last_counter=int(row["last_counter"]),
        first_time=row["first_time"], last_time=row["last_time"], path=row["path"],
        size=int(row["size"]), sha256=row["sha256"], export_id=row["export_id"],
        archived_at=float(row["archived_at"]), retain_until=row["retain_until"],
        logs=int(row["logs"]), transactions=int(row["transactions"]),
        findings=tuple(json.loads(row["findings"])),
    )  # fmt: skip
