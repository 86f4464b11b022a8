"""The filing store: master data, reportable events and submissions, in the state directory.

Its own SQLite file (``filing.sqlite``, :attr:`~tsed.state.paths.StatePaths.filing`) with a
schema version (``PRAGMA user_version``), WAL and ``synchronous=FULL``: an answer to the
installer comes after the commit reached the disk. Master data rows are JSON documents of the
frozen records of :mod:`tsed.filing.model`; events and submissions have columns. Calls run in
a worker thread, one at a time.

The schema version rule: a change an older release still reads (a new table, created with
``CREATE TABLE IF NOT EXISTS``, whose rows an older release does not need) keeps the version;
only a change an older release cannot read raises it. An update runs before it is marked good,
and after a rollback the older tsed opens the same file: an additive change lets it, a raised
version makes it refuse the file (:class:`~tsed.state.store.StoreTooNew`, the daemon exits
with 3, as for the main store), so the file is left exactly as it is. So what a submission
needs for a resume (the digest of its filing and the last event it covers) lives in
``submission_resume``, beside the schema-1 ``submissions`` table and joined to it when read; a
submission without such a row (made by an older release) has neither, and its success closes
no event by itself (:func:`~tsed.filing.submit.follow`).

Version 2 was a development layout with these two values as columns of ``submissions``; a
file of it is converted back (the values into ``submission_resume``, the columns dropped,
version 1, one transaction), so the next change an older release cannot read takes 3.
"""

# ruff: noqa: S608 - SQL is built only from fixed table names
from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tsed.errors import StorageError
from tsed.filing.model import Address, Premises, RegisterData, Taxpayer
from tsed.state.store import StoreTooNew

T = TypeVar("T")
SCHEMA_VERSION = 1  # raised only by a change an older release cannot read (see the module)
_SUBMISSION_COLUMNS = "id, premises_id, state, created_at, updated_at, error"
_SUBMISSIONS = """
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY, premises_id TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, error TEXT);
"""
_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS taxpayers (tenant_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS premises (
    premises_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registers (
    key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, serial TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, premises_id TEXT,
    kind TEXT NOT NULL, subject TEXT NOT NULL, occurred_on TEXT NOT NULL, due_on TEXT NOT NULL,
    filed_on TEXT, filed_by TEXT);
CREATE TABLE IF NOT EXISTS known_tss (
    tss_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, state TEXT NOT NULL, serial TEXT,
    certification TEXT);
"""
    + _SUBMISSIONS
    + """
CREATE TABLE IF NOT EXISTS submission_resume (
    id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, upto INTEGER NOT NULL);
"""
)
# The development layout 2 back to 1. Its rows without a digest had their last event guessed
# when schema 1 was taken over (every event of the day they were made, later ones included):
# they are left without one. The others were recorded with both when they were made.
_FROM_2 = f"""
INSERT OR IGNORE INTO submission_resume (id, content_hash, upto)
    SELECT id, content_hash, upto FROM submissions
    WHERE content_hash IS NOT NULL AND upto IS NOT NULL;
CREATE TABLE submissions_1 (
    id TEXT PRIMARY KEY, premises_id TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, error TEXT);
INSERT INTO submissions_1 SELECT {_SUBMISSION_COLUMNS} FROM submissions;
DROP TABLE submissions;
ALTER TABLE submissions_1 RENAME TO submissions;
"""


@dataclass(frozen=True, slots=True)
class Event:
    """A reportable event (meldepflichtiger Vorgang) and its deadline (one month)."""

    id: int
    tenant_id: str
    premises_id: str | None  # None: every premises of the tenant
    kind: str
    subject: str
    occurred_on: str
    due_on: str
    filed_on: str | None = None
    filed_by: str | None = None  # "manual" or the submission id


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    """A submission of a premises' filing, recorded before it is made at SUBMIT DE (state
    ``CREATING``) and at every state seen after; what a resume after a restart follows."""

    id: str
    premises_id: str
    state: str
    created_at: float
    updated_at: float
    error: str | None = None  # fiskaly's reason of a failure state
    content_hash: str | None = None  # of the filing submitted (:func:`tsed.filing.submit.digest`)
    upto: int | None = None  # the last event the filing covers: closed when it succeeds;
    # both None: made by an older release, which did not record them


@dataclass(frozen=True, slots=True)
class FilingData:
    """What the filing of a premises is made of, read at one moment (:meth:`FilingStore.
    filing_data`): ``last_event`` is the last event raised by then, the last one it covers."""

    premises: Premises | None  # None: not known
    taxpayer: Taxpayer | None
    registers: tuple[RegisterData, ...]  # of the premises
    known_tss: dict[str, dict[str, Any]]
    last_event: int


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}


def _doc(value: object) -> str:
    return json.dumps(dataclasses.asdict(value), ensure_ascii=False, sort_keys=True)  # type: ignore[call-overload]


def _taxpayer(doc: str) -> Taxpayer:
    data = json.loads(doc)
    data["address"] = Address(**data["address"])
    return Taxpayer(**data)


def _premises(doc: str) -> Premises:
    data = json.loads(doc)
    data["address"] = Address(**data["address"])
    return Premises(**data)


def _register(doc: str) -> RegisterData:
    return RegisterData(**json.loads(doc))


class FilingStore:
    """The notification duty's durable state (see the module)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        # before anything writes: a file of a newer schema is left exactly as it is
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        layout_2 = version == 2 and {"content_hash", "upto"} <= _columns(conn, "submissions")
        if version > SCHEMA_VERSION and not layout_2:
            conn.close()
            raise StoreTooNew(
                f"{self.path} was written by a newer tsed (schema {version}; this tsed reads "
                f"up to {SCHEMA_VERSION}): it is not opened, so nothing in it changes"
            )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        if layout_2:  # one transaction with the version: a cut leaves layout 2 or 1, whole
            conn.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} {_FROM_2} PRAGMA user_version=1; COMMIT;"
            )
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return conn

    async def open(self) -> None:
        if self._conn is None:
            try:
                self._conn = await asyncio.to_thread(self._connect)
            except (sqlite3.Error, OSError) as err:
                raise StorageError(f"the filing store {self.path} cannot be opened: {err}") from err

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:

            def close() -> None:
                with self._lock:  # after a call still running in its thread
                    conn.close()

            await asyncio.to_thread(close)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise StorageError("the filing store is not open")

        def locked() -> T:
            with self._lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result

        try:
            return await asyncio.to_thread(locked)
        except sqlite3.Error as err:
            raise StorageError(f"the filing store {self.path} failed: {err}") from err

    # -- master data --------------------------------------------------------------------------

    async def taxpayer(self, tenant_id: str) -> Taxpayer | None:
        def get(conn: sqlite3.Connection) -> Taxpayer | None:
            row = conn.execute(
                "SELECT doc FROM taxpayers WHERE tenant_id=?", (tenant_id,)
            ).fetchone()
            return _taxpayer(row["doc"]) if row else None

        return await self._run(get)

    async def taxpayers(self) -> list[Taxpayer]:
        def get(conn: sqlite3.Connection) -> list[Taxpayer]:
            rows = conn.execute("SELECT doc FROM taxpayers ORDER BY tenant_id").fetchall()
            return [_taxpayer(row["doc"]) for row in rows]

        return await self._run(get)

    async def save_taxpayer(self, taxpayer: Taxpayer) -> None:
        await self._run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO taxpayers VALUES (?, ?)",
                (taxpayer.tenant_id, _doc(taxpayer)),
            )
        )

    async def premises(self) -> list[Premises]:
        def get(conn: sqlite3.Connection) -> list[Premises]:
            rows = conn.execute("SELECT doc FROM premises ORDER BY premises_id").fetchall()
            return [_premises(row["doc"]) for row in rows]

        return await self._run(get)

    async def save_premises(self, premises: Premises) -> None:
        await self._run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO premises VALUES (?, ?, ?)",
                (premises.premises_id, premises.tenant_id, _doc(premises)),
            )
        )

    async def registers(self) -> list[RegisterData]:
        def get(conn: sqlite3.Connection) -> list[RegisterData]:
            rows = conn.execute("SELECT doc FROM registers ORDER BY serial, key").fetchall()
            return [_register(row["doc"]) for row in rows]

        return await self._run(get)

    async def save_register(self, data: RegisterData, *, replaces: str | None = None) -> None:
        def save(conn: sqlite3.Connection) -> None:
            if replaces is not None and replaces != data.key:
                conn.execute("DELETE FROM registers WHERE key=?", (replaces,))
            conn.execute(
                "INSERT OR REPLACE INTO registers VALUES (?, ?, ?, ?)",
                (data.key, data.tenant_id, data.serial, _doc(data)),
            )

        await self._run(save)

    async def filing_data(self, premises_id: str) -> FilingData:
        """The master data of ``premises_id``'s filing and the last event, in one read: an
        event raised after it is not in the filing made of it, nor closed by its success."""

        def get(conn: sqlite3.Connection) -> FilingData:
            row = conn.execute(
                "SELECT doc FROM premises WHERE premises_id=?", (premises_id,)
            ).fetchone()
            premises = _premises(row["doc"]) if row else None
            tenant = premises.tenant_id if premises else None
            found = conn.execute(
                "SELECT doc FROM taxpayers WHERE tenant_id=?", (tenant,)
            ).fetchone()
            docs = conn.execute("SELECT doc FROM registers ORDER BY serial, key").fetchall()
            tss = conn.execute("SELECT * FROM known_tss").fetchall()
            last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
            return FilingData(
                premises, _taxpayer(found["doc"]) if found else None,
                tuple(r for r in (_register(d["doc"]) for d in docs)
                      if r.premises_id == premises_id),
                {row["tss_id"]: dict(row) for row in tss}, int(last),
            )  # fmt: skip

        return await self._run(get)

    # -- events ---------------------------------------------------------------------------

    async def add_event(
        self, tenant_id: str, premises_id: str | None, kind: str, subject: str,
        occurred_on: str, due_on: str,
    ) -> Event:  # fmt: skip
        def add(conn: sqlite3.Connection) -> Event:
            cursor = conn.execute(
                "INSERT INTO events (tenant_id, premises_id, kind, subject, occurred_on, due_on)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (tenant_id, premises_id, kind, subject, occurred_on, due_on),
            )
            assert cursor.lastrowid is not None
            return Event(
                cursor.lastrowid, tenant_id, premises_id, kind, subject, occurred_on, due_on
            )

        return await self._run(add)

    async def events(self, *, open_only: bool = False) -> list[Event]:
        where = " WHERE filed_on IS NULL" if open_only else ""

        def get(conn: sqlite3.Connection) -> list[Event]:
            rows = conn.execute(f"SELECT * FROM events{where} ORDER BY due_on, id").fetchall()
            return [Event(**dict(row)) for row in rows]

        return await self._run(get)

    async def close_events(
        self, tenant_id: str, premises_id: str, filed_on: str, filed_by: str, *, upto: int
    ) -> int:
        """Mark the open events of ``premises_id`` (and the tenant's premises-wide ones) with
        an id ≤ ``upto`` as filed; returns how many."""

        def close(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "UPDATE events SET filed_on=?, filed_by=? WHERE filed_on IS NULL AND id<=? AND "
                "tenant_id=? AND (premises_id=? OR premises_id IS NULL)",
                (filed_on, filed_by, upto, tenant_id, premises_id),
            )
            return cursor.rowcount

        return await self._run(close)

    # -- submissions and known TSS ----------------------------------------------------------

    async def save_submission(self, row: SubmissionRow) -> None:
        def save(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO submissions ({_SUBMISSION_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row.id, row.premises_id, row.state, row.created_at, row.updated_at, row.error),
            )
            if row.content_hash is not None and row.upto is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO submission_resume VALUES (?, ?, ?)",
                    (row.id, row.content_hash, row.upto),
                )

        await self._run(save)

    async def submissions(self) -> list[SubmissionRow]:
        def get(conn: sqlite3.Connection) -> list[SubmissionRow]:
            rows = conn.execute(
                "SELECT s.id, s.premises_id, s.state, s.created_at, s.updated_at, s.error, "
                "r.content_hash, r.upto FROM submissions s "
                "LEFT JOIN submission_resume r ON r.id = s.id ORDER BY s.created_at"
            ).fetchall()
            return [SubmissionRow(**dict(row)) for row in rows]

        return await self._run(get)

    async def known_tss(self) -> dict[str, dict[str, Any]]:
        def get(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            rows = conn.execute("SELECT * FROM known_tss").fetchall()
            return {row["tss_id"]: dict(row) for row in rows}

        return await self._run(get)

    async def save_tss(
        self, tss_id: str, tenant_id: str, state: str, serial: str | None,
        certification: str | None,
    ) -> None:  # fmt: skip
        await self._run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO known_tss VALUES (?, ?, ?, ?, ?)",
                (tss_id, tenant_id, state, serial, certification),
            )
        )
