"""The unit's SQLite store (WAL): registers, TSS bindings, the transaction journal, outages,
idempotency keys and audit events.

Fiscal rows are written with ``synchronous=FULL`` (every commit reaches the disk before the
register gets an answer), in **group commits**: one worker thread owns the connection and
commits everything that queued up meanwhile in one transaction, so a busy shop pays one fsync
per batch instead of one per receipt (``tests/bench/bench_store.py`` measures both).

Transaction journal states (``TxRow.state``)::

    journaled ──upstream start──▶ active ──finish journaled──▶ finishing ──▶ finished
        │                           │                              │
        └──────────── cancel ───────┴──▶ cancelling ──▶ cancelled   └─(no answer in time)─▶ failed
    failed ──late signing──▶ finished (signed_late)

``active`` is journaled lazily (no commit of its own): a finish goes from ``journaled`` to
``finishing`` with the revision, and a transaction left open is marked by the next drain.
"""

# ruff: noqa: S608 - SQL is built only from dataclass field names and fixed state lists
from __future__ import annotations

import asyncio
import errno
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from tsed.errors import ConflictError, StorageError, StorageFull
from tsed.state import journal
from tsed.state.journal import Claim
from tsed.state.rows import (
    BindingRow,
    ClientRow,
    IdemRow,
    OutageRow,
    RegisterRow,
    TxRow,
    columns_of,
    row_from,
    values_of,
)

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
SCHEMA_VERSION = 1  # PRAGMA user_version; a store of a higher one is refused (StoreTooNew)


class StoreTooNew(StorageError, code="STORE_TOO_NEW"):
    """The store was written by a newer tsed (an update that was rolled back, or an older
    image installed on a unit's data partition): the daemon does not start on it."""

    default_hint = (
        "Boot the newer version again (tsectl update status shows the other slot) or install "
        "an update at least as new; the fiscal data stays untouched until then."
    )


OPEN_STATES = ("journaled", "active", "finishing", "cancelling", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS registers (
    id TEXT PRIMARY KEY, serial TEXT NOT NULL, label TEXT, tenant_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE, created_at REAL NOT NULL, revoked_at REAL,
    last_seen_at REAL);
CREATE TABLE IF NOT EXISTS bindings (
    tenant_id TEXT NOT NULL, env TEXT NOT NULL, tss_id TEXT NOT NULL, state TEXT NOT NULL,
    serial TEXT, created_at REAL NOT NULL, archived_at REAL, PRIMARY KEY (tss_id));
CREATE TABLE IF NOT EXISTS clients (
    register_id TEXT NOT NULL, tss_id TEXT NOT NULL, env TEXT NOT NULL, client_id TEXT NOT NULL,
    serial TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (register_id, tss_id));
CREATE TABLE IF NOT EXISTS transactions (
    id TEXT PRIMARY KEY, register_id TEXT NOT NULL, tenant_id TEXT NOT NULL, env TEXT NOT NULL,
    tss_id TEXT NOT NULL, client_id TEXT NOT NULL, tx_id TEXT NOT NULL, state TEXT NOT NULL,
    revision INTEGER NOT NULL, kind TEXT NOT NULL, receipt TEXT, result TEXT, failure TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, signed_late INTEGER NOT NULL DEFAULT 0,
    outage_id INTEGER);
CREATE INDEX IF NOT EXISTS transactions_state ON transactions (state);
CREATE INDEX IF NOT EXISTS transactions_register ON transactions (register_id, created_at);
CREATE TABLE IF NOT EXISTS idempotency (
    register_id TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    local_id TEXT, response TEXT, created_at REAL NOT NULL, PRIMARY KEY (register_id, key));
CREATE TABLE IF NOT EXISTS outages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at REAL NOT NULL, ended_at REAL,
    reason TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, details TEXT);
"""


class Store:
    """All persistent state of the unit. Async methods run in one writer thread."""

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self.commits = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        if self._thread is not None:
            return
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._thread = threading.Thread(
            target=self._run,
            args=(asyncio.get_running_loop(), ready),
            name="tsed-store",
            daemon=True,
        )
        self._thread.start()
        await ready

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, thread.join)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        # before anything writes: a store of a newer schema is left exactly as it is
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreTooNew(
                f"{self.path} was written by a newer tsed (schema {version}; this tsed reads "
                f"up to {SCHEMA_VERSION}): it is not opened, so nothing in it changes"
            )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return conn

    def _run(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        try:
            self._conn = self._connect()
        except (sqlite3.Error, OSError, StorageError) as err:
            error = err if isinstance(err, StorageError) else _storage_error(self.path, err)
            loop.call_soon_threadsafe(_settle, ready, None, error)
            return
        loop.call_soon_threadsafe(_settle, ready, None, None)
        conn = self._conn
        while True:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            try:
                self._commit(conn, batch)
            except Exception as err:  # the writer thread must outlive any one batch
                _LOGGER.exception("store batch failed", extra={"TSED_EVENT": "storage_failed"})
                failure = _storage_error(self.path, err)
                for _fn, future, waiting in batch:
                    waiting.call_soon_threadsafe(_settle, future, None, failure)
        conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        """One transaction per batch, writes back to back (each SQLite call hands the GIL
        over twice); a batch where a write fails is redone with a savepoint per write."""
        results: list[tuple[Any, Any, BaseException | None, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                results = [(future, fn(conn), None, loop) for fn, future, loop in batch]
            except Exception:
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                results = self._one_by_one(conn, batch)
            conn.execute("COMMIT")
            self.commits += 1
        except (sqlite3.Error, OSError) as err:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error as rollback_err:  # SQLite rolled back already (disk full)
                    _LOGGER.warning("rollback after a failed commit: %s", rollback_err)
            failure = _storage_error(self.path, err)
            _LOGGER.error(
                "journal write failed: %s",
                failure.message,
                extra={"TSED_EVENT": "storage_failed", "TSED_CODE": failure.code},
            )
            results = [(future, None, failure, loop) for _fn, future, loop in batch]
        # One wake-up of each waiting loop per batch, not one per request.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, Any]]] = {}
        for future, value, outcome, loop in results:
            by_loop.setdefault(loop, []).append((future, value, outcome))
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle_all, settled)

    def _one_by_one(
        self, conn: sqlite3.Connection, batch: list[Any]
    ) -> list[tuple[Any, Any, BaseException | None, Any]]:
        results: list[tuple[Any, Any, BaseException | None, Any]] = []
        for index, (fn, future, loop) in enumerate(batch):
            savepoint = f"sp{index}"
            conn.execute(f"SAVEPOINT {savepoint}")
            try:
                value = fn(conn)
            except Exception as err:  # handed to the waiting coroutine
                conn.execute(f"ROLLBACK TO {savepoint}")
                conn.execute(f"RELEASE {savepoint}")
                results.append((future, None, _map(err, self.path), loop))
                continue
            conn.execute(f"RELEASE {savepoint}")
            results.append((future, value, None, loop))
        return results

    async def _submit(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._thread is None:
            raise StorageError("the store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, future, loop))
        return await future

    # -- registers --------------------------------------------------------------------------

    async def add_register(self, row: RegisterRow) -> None:
        cols = columns_of(RegisterRow)
        sql = f"INSERT INTO registers ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"
        await self._submit(lambda c: c.execute(sql, values_of(row)))

    async def list_registers(self) -> list[RegisterRow]:
        rows = await self._submit(
            lambda c: c.execute("SELECT * FROM registers ORDER BY created_at").fetchall()
        )
        return [RegisterRow(**dict(r)) for r in rows]

    async def revoke_register(self, register_id: str, at: float) -> bool:
        cursor = await self._submit(
            lambda c: c.execute(
                "UPDATE registers SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (at, register_id),
            )
        )
        return bool(cursor.rowcount)

    async def touch_registers(self, seen: dict[str, float]) -> None:
        await self._submit(
            lambda c: c.executemany(
                "UPDATE registers SET last_seen_at = ? WHERE id = ?",
                [(at, rid) for rid, at in seen.items()],
            )
        )

    # -- bindings and clients ---------------------------------------------------------------

    async def bindings(self, *, include_archived: bool = False) -> list[BindingRow]:
        sql = "SELECT * FROM bindings" + ("" if include_archived else " WHERE archived_at IS NULL")
        rows = await self._submit(lambda c: c.execute(sql + " ORDER BY created_at").fetchall())
        return [BindingRow(**dict(r)) for r in rows]

    async def save_binding(self, row: BindingRow) -> None:
        cols = columns_of(BindingRow)
        marks = ",".join("?" * len(cols))
        sql = f"INSERT OR REPLACE INTO bindings ({','.join(cols)}) VALUES ({marks})"
        await self._submit(lambda c: c.execute(sql, values_of(row)))

    async def archive_bindings(self, env: str, at: float) -> int:
        cursor = await self._submit(
            lambda c: c.execute(
                "UPDATE bindings SET archived_at = ? WHERE env = ? AND archived_at IS NULL",
                (at, env),
            )
        )
        return int(cursor.rowcount)

    async def archive_bindings_of(self, tss_id: str, at: float) -> None:
        await self._submit(
            lambda c: c.execute(
                "UPDATE bindings SET archived_at = ? WHERE tss_id = ?", (at, tss_id)
            )
        )

    async def clients(self) -> list[ClientRow]:
        rows = await self._submit(lambda c: c.execute("SELECT * FROM clients").fetchall())
        return [ClientRow(**dict(r)) for r in rows]

    async def save_client(self, row: ClientRow) -> None:
        cols = columns_of(ClientRow)
        marks = ",".join("?" * len(cols))
        sql = f"INSERT OR REPLACE INTO clients ({','.join(cols)}) VALUES ({marks})"
        await self._submit(lambda c: c.execute(sql, values_of(row)))

    # -- transactions and idempotency -------------------------------------------------------

    async def insert_tx(
        self, row: TxRow, idem: IdemRow | None = None, *, max_open: int | None = None
    ) -> Claim:
        """Journal a new transaction (and its idempotency key) in one SQLite transaction;
        nothing is written if the key is taken or ``max_open`` started transactions of the
        register are open already (:func:`tsed.state.journal.insert_tx`)."""
        return await self._submit(lambda c: journal.insert_tx(c, row, idem, max_open))

    async def update_tx(
        self,
        tx_id: str,
        expected: Iterable[str] | None,
        *,
        idem: IdemRow | None = None,
        answer: tuple[str, str, str] | None = None,
        late_if_failed: bool = False,
        **changes: Any,
    ) -> bool:
        """Compare-and-set: update only while the row is in one of the ``expected`` states.

        With ``idem`` the idempotency key is recorded in the same commit; if the row is no
        longer in an expected state, neither is written and :class:`ConflictError` is raised
        (also when the key is in use: :meth:`update_keyed` hands its row back instead).
        ``answer`` (register id, key, response) stores a key's answer in the same commit.
        ``late_if_failed`` sets ``signed_late`` when the row carries a failure at the moment of
        the commit (a register was answered with a TSE failure, whatever raced with it).
        """
        claim = await self.update_keyed(
            tx_id, expected, idem=idem, answer=answer, late_if_failed=late_if_failed, **changes
        )
        if claim.taken is not None:
            raise ConflictError(
                f"Idempotency-Key {claim.taken.key!r} is already in use",
                hint="Send the same request again to get its answer, or use a new key.",
            )
        return claim.written

    async def update_keyed(
        self,
        tx_id: str,
        expected: Iterable[str] | None,
        *,
        idem: IdemRow | None = None,
        answer: tuple[str, str, str] | None = None,
        late_if_failed: bool = False,
        **changes: Any,
    ) -> Claim:
        """:meth:`update_tx`, but a taken key writes nothing and comes back as ``taken``."""
        return await self._submit(
            lambda c: journal.update_tx(
                c, tx_id, expected, idem=idem, answer=answer,
                late_if_failed=late_if_failed, changes=changes,
            )
        )  # fmt: skip

    async def activate(self, ids: Iterable[str], at: float) -> None:
        """Rows started at fiskaly and still ``journaled`` become ``active`` (one commit)."""
        wanted = list(ids)
        await self._submit(lambda c: journal.activate(c, wanted, at))

    async def get_tx(self, local_id: str) -> TxRow | None:
        row = await self._submit(
            lambda c: c.execute("SELECT * FROM transactions WHERE id = ?", (local_id,)).fetchone()
        )
        return row_from(TxRow, row)

    async def txs_in_states(self, states: Iterable[str]) -> list[TxRow]:
        wanted = list(states)
        sql = (
            f"SELECT * FROM transactions WHERE state IN ({','.join('?' * len(wanted))}) "
            "ORDER BY created_at"
        )
        rows = await self._submit(lambda c: c.execute(sql, wanted).fetchall())
        return [TxRow(**dict(r)) for r in rows]

    async def txs_of_register(
        self, register_id: str, states: Iterable[str] | None, limit: int, before: str | None
    ) -> list[TxRow]:
        """A register's transactions, newest first; ``before`` (an id) continues a page."""
        where, args = ["register_id = ?"], [register_id]
        if states is not None:
            wanted = list(states)
            where.append(f"state IN ({','.join('?' * len(wanted))})")
            args.extend(wanted)
        if before is not None:
            where.append(
                "(created_at, id) < (SELECT created_at, id FROM transactions "
                "WHERE id = ? AND register_id = ?)"
            )
            args.extend([before, register_id])
        sql = (
            f"SELECT * FROM transactions WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        rows = await self._submit(lambda c: c.execute(sql, [*args, limit]).fetchall())
        return [TxRow(**dict(r)) for r in rows]

    async def count_started(self, register_id: str) -> int:
        """Transactions of one register that are started and not finished or cancelled."""
        return await self._submit(lambda c: journal.count_started(c, register_id))

    async def count_open(self) -> int:
        sql = (
            f"SELECT COUNT(*) FROM transactions WHERE state IN ({','.join('?' * len(OPEN_STATES))})"
        )
        return int(await self._submit(lambda c: c.execute(sql, OPEN_STATES).fetchone()[0]))

    async def get_idem(self, register_id: str, key: str) -> IdemRow | None:
        return await self._submit(lambda c: journal.key_row(c, register_id, key))

    async def set_idem_response(self, register_id: str, key: str, response: str) -> None:
        await self._submit(lambda c: journal.set_answer(c, register_id, key, response))

    # -- outages and audit ------------------------------------------------------------------

    async def open_outage(self, reason: str, at: float) -> int:
        cursor = await self._submit(
            lambda c: c.execute(
                "INSERT INTO outages (started_at, reason) VALUES (?, ?)", (at, reason)
            )
        )
        return int(cursor.lastrowid or 0)

    async def close_outage(self, outage_id: int, at: float) -> None:
        await self._submit(
            lambda c: c.execute(
                "UPDATE outages SET ended_at = ?, count = (SELECT COUNT(*) FROM transactions "
                "WHERE outage_id = ?) WHERE id = ?",
                (at, outage_id, outage_id),
            )
        )

    async def outages(self) -> list[OutageRow]:
        rows = await self._submit(
            lambda c: c.execute(
                "SELECT o.id, o.started_at, o.ended_at, o.reason, "
                "(SELECT COUNT(*) FROM transactions t WHERE t.outage_id = o.id) AS count "
                "FROM outages o ORDER BY o.id"
            ).fetchall()
        )
        return [OutageRow(**dict(r)) for r in rows]

    async def audit(self, actor: str, action: str, details: dict[str, Any] | None = None) -> None:
        await self._submit(
            lambda c: c.execute(
                "INSERT INTO audit (at, actor, action, details) VALUES (?, ?, ?, ?)",
                (time.time(), actor, action, json.dumps(details or {}, sort_keys=True)),
            )
        )

    async def integrity_check(self) -> str:
        return str(await self._submit(lambda c: c.execute("PRAGMA integrity_check").fetchone()[0]))


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in settled:
        _settle(future, value, error)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _map(err: Exception, path: Path) -> Exception:
    if isinstance(err, sqlite3.Error | OSError):
        return _storage_error(path, err)
    return err


def _storage_error(path: Path, err: BaseException) -> StorageError:
    text = str(err).lower()
    if "full" in text or getattr(err, "errno", None) == errno.ENOSPC:
        return StorageFull(f"the state directory {path.parent} is full: {path.name} cannot grow")
    if "readonly" in text or "read-only" in text:
        return StorageError(f"{path} is read-only")
    return StorageError(f"the store {path} failed: {err}")
