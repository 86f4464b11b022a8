"""Reading a period of the journal without holding up signing.

A year's transactions are read for an export (the DSFinV-K's TSE tables) on a connection of
their own, opened read-only in a worker thread: the store's writer thread, which every
receipt's journal write goes through, never waits for such a read (SQLite's WAL mode lets a
reader see the last commit while the writer goes on).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tsed.state.rows import TxRow
from tsed.state.store import Store

PAGE = 5000  # rows per fetch: memory stays bounded per step, not per period


@dataclass(frozen=True, slots=True)
class Period:
    """Transactions created from ``low`` to ``high`` (Unix seconds, both inclusive), of one
    tenant or one register when given."""

    low: float
    high: float
    tenant_id: str | None = None
    register_id: str | None = None

    def where(self) -> tuple[str, list[object]]:
        clauses = ["created_at >= ?", "created_at <= ?"]
        args: list[object] = [self.low, self.high]
        if self.tenant_id is not None:
            clauses.append("tenant_id = ?")
            args.append(self.tenant_id)
        if self.register_id is not None:
            clauses.append("register_id = ?")
            args.append(self.register_id)
        return " AND ".join(clauses), args  # fixed clauses; every value is a parameter


@contextlib.contextmanager
def _reader(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def pages(path: Path, period: Period, size: int = PAGE) -> Iterator[list[TxRow]]:
    """The period's transactions, oldest first, ``size`` at a time (call it in a thread)."""
    where, args = period.where()
    sql = f"SELECT * FROM transactions WHERE {where} ORDER BY created_at, id"  # noqa: S608
    with _reader(path) as conn:
        cursor = conn.execute(sql, args)
        while batch := cursor.fetchmany(size):
            yield [TxRow(**dict(r)) for r in batch]


def first_signatures(path: Path, period: Period) -> list[TxRow]:
    """Per TSS the period's first signed transaction, in the order of first use."""
    where, args = period.where()
    # SQLite takes a bare column (rowid) from the row that holds the MIN()
    inner = (
        f"SELECT MIN(created_at), rowid AS first FROM transactions WHERE {where} "  # noqa: S608
        "AND result IS NOT NULL GROUP BY tss_id"
    )
    sql = (
        f"SELECT * FROM transactions WHERE rowid IN (SELECT first FROM ({inner})) "  # noqa: S608
        "ORDER BY created_at, id"
    )
    with _reader(path) as conn:
        return [TxRow(**dict(r)) for r in conn.execute(sql, args).fetchall()]


def _read(path: Path, period: Period) -> list[TxRow]:
    return [row for page in pages(path, period) for row in page]


async def txs_created_between(
    store: Store,
    low: float,
    high: float,
    *,
    tenant_id: str | None = None,
    register_id: str | None = None,
) -> list[TxRow]:
    """Transactions created from ``low`` to ``high`` (Unix seconds, both inclusive), oldest
    first, of one tenant or one register when given."""
    period = Period(low, high, tenant_id, register_id)
    rows: list[TxRow] = await asyncio.to_thread(_read, store.path, period)
    return rows


def _signed_late(path: Path) -> list[TxRow]:
    sql = "SELECT * FROM transactions WHERE signed_late = 1 ORDER BY updated_at"
    with _reader(path) as conn:
        return [TxRow(**dict(r)) for r in conn.execute(sql).fetchall()]


async def txs_signed_late(store: Store) -> list[TxRow]:
    """Every transaction signed after its register was answered with a TSE failure (the
    nightly reconciliation), read beside the writer like a period."""
    rows: list[TxRow] = await asyncio.to_thread(_signed_late, store.path)
    return rows
