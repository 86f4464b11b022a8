"""The journal's writes of a register's call, each one store request (one commit).

A start, a finish and a one-call receipt each decide inside their own write what used to take
reads of their own before it: whether the ``Idempotency-Key`` was used already (then nothing is
written and the key's row comes back for the replay) and, for a start, whether the register
may open one more transaction. The writer thread runs one request at a time, so the check and
the write it guards see the same journal (:class:`tsed.state.store.Store`).
"""

# ruff: noqa: S608 - SQL is built only from dataclass field names and fixed state lists
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tsed.errors import ConflictError
from tsed.state.rows import IdemRow, TxRow, columns_of, row_from, values_of

STARTED = ("journaled", "active")
_TX_COLUMNS = columns_of(TxRow)
_INSERT_TX = (
    f"INSERT INTO transactions ({','.join(_TX_COLUMNS)}) "
    f"VALUES ({','.join('?' * len(_TX_COLUMNS))})"
)


@dataclass(frozen=True, slots=True)
class Claim:
    """What a keyed write did: ``written``; else ``taken`` (the key's earlier request) or
    ``open_now`` (the register's started transactions, when the cap refused one more)."""

    written: bool
    taken: IdemRow | None = None
    open_now: int | None = None


WRITTEN = Claim(True)
UNCHANGED = Claim(False)


def key_row(conn: sqlite3.Connection, register_id: str, key: str) -> IdemRow | None:
    row = conn.execute(
        "SELECT * FROM idempotency WHERE register_id = ? AND key = ?", (register_id, key)
    ).fetchone()
    return row_from(IdemRow, row)


def insert_key(conn: sqlite3.Connection, row: IdemRow) -> None:
    try:
        conn.execute("INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?)", values_of(row))
    except sqlite3.IntegrityError:
        raise ConflictError(
            f"Idempotency-Key {row.key!r} is already in use",
            hint="Send the same request again to get its answer, or use a new key.",
        ) from None


def set_answer(conn: sqlite3.Connection, register_id: str, key: str, response: str) -> None:
    conn.execute(
        "UPDATE idempotency SET response = ? WHERE register_id = ? AND key = ?",
        (response, register_id, key),
    )


def count_started(conn: sqlite3.Connection, register_id: str) -> int:
    sql = "SELECT COUNT(*) FROM transactions WHERE state IN (?, ?) AND register_id = ?"
    return int(conn.execute(sql, (*STARTED, register_id)).fetchone()[0])


def insert_tx(
    conn: sqlite3.Connection, row: TxRow, idem: IdemRow | None, max_open: int | None
) -> Claim:
    """Journal a new transaction with its key, unless the key is taken or the register has
    ``max_open`` started transactions already (then nothing is written)."""
    if idem is not None:
        taken = key_row(conn, idem.register_id, idem.key)
        if taken is not None:
            return Claim(False, taken=taken)
    if max_open is not None:
        open_now = count_started(conn, row.register_id)
        if open_now >= max_open:
            return Claim(False, open_now=open_now)
    if idem is not None:
        insert_key(conn, idem)
    conn.execute(_INSERT_TX, values_of(row))
    return WRITTEN


def update_tx(
    conn: sqlite3.Connection,
    tx_id: str,
    expected: Iterable[str] | None,
    *,
    idem: IdemRow | None,
    answer: tuple[str, str, str] | None,
    late_if_failed: bool,
    changes: dict[str, Any],
) -> Claim:
    """Compare-and-set (see :meth:`tsed.state.store.Store.update_tx`); a taken key writes
    nothing and comes back as ``taken``."""
    if idem is not None:
        taken = key_row(conn, idem.register_id, idem.key)
        if taken is not None:
            return Claim(False, taken=taken)
    late = changes.pop("signed_late", 0) if late_if_failed else None
    sets = ", ".join(f"{name} = ?" for name in changes)
    args: list[Any] = [*changes.values()]
    if late is not None:
        sets += ", signed_late = CASE WHEN failure IS NOT NULL THEN 1 ELSE ? END"
        args.append(late)
    args.append(tx_id)
    sql = f"UPDATE transactions SET {sets} WHERE id = ?"
    if expected is not None:
        states = list(expected)
        sql += f" AND state IN ({','.join('?' * len(states))})"
        args.extend(states)
    if idem is not None:
        insert_key(conn, idem)
    count = int(conn.execute(sql, args).rowcount)
    if idem is not None and not count:  # raised: the batch is redone without this write
        raise ConflictError(f"transaction {tx_id} changed meanwhile; read it again")
    if answer is not None:
        set_answer(conn, *answer)
    return WRITTEN if count else UNCHANGED


def activate(conn: sqlite3.Connection, ids: Iterable[str], at: float) -> None:
    """Started at fiskaly: the rows still ``journaled`` become ``active`` at revision 1."""
    conn.executemany(
        "UPDATE transactions SET state = 'active', revision = 1, updated_at = ? "
        "WHERE id = ? AND state = 'journaled'",
        [(at, local_id) for local_id in ids],
    )
