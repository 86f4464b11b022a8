"""Optional persistence of the simulator's state in SQLite (WAL), one JSON row per object.

The simulator keeps everything in memory and writes each change through, so a restart with the
same state directory continues with the same organizations, keys, TSS (private keys included),
clients, counters, transactions and exports, and SUBMIT DE's taxpayers, establishments, client
data and submissions (:mod:`.submit`). Signed logs are kept for exports.

The file has a schema version (the setting ``schema_version``): 1 is a state from before
SUBMIT DE was kept (it has no such setting and loads as it is), 2 the current one; a file of a
newer simulator is refused (:class:`SimStateTooNew`) instead of being misread.

Each change is one SQLite transaction (:func:`one_commit`): signing a revision writes its log,
its transaction and its TSS's counters, and a power cut between two of those commits would
leave the TSS's counters behind its own records, so the next start would get the same
transaction number (and its logs the same signature counters) again.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tsed.fiskaly.simulator.model import (
    ApiKey,
    Client,
    Export,
    LogEntry,
    Organization,
    Revision,
    Transaction,
    Tss,
)

SCHEMA_VERSION = 2  # 2: SUBMIT DE's objects are kept as well
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
                                    PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS logs (tss_id TEXT NOT NULL, counter INTEGER NOT NULL,
    log_time INTEGER NOT NULL, file_name TEXT NOT NULL, data BLOB NOT NULL,
    signature BLOB NOT NULL, tx_number INTEGER, client_id TEXT,
    PRIMARY KEY (tss_id, counter));
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _tss_to_json(tss: Tss) -> dict[str, Any]:
    pem = tss.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "id": tss.id,
        "env": tss.env,
        "organization_id": tss.organization_id,
        "private_key": pem,
        "public_key": base64.b64encode(tss.public_key).decode(),
        "serial_number": tss.serial_number,
        "certificate": tss.certificate,
        "time_creation": tss.time_creation,
        "admin_puk": tss.admin_puk,
        "state": tss.state,
        "metadata": tss.metadata,
        "description": tss.description,
        "admin_pin": tss.admin_pin,
        "pin_blocked": tss.pin_blocked,
        "failed_logins": tss.failed_logins,
        "signature_counter": tss.signature_counter,
        "transaction_counter": tss.transaction_counter,
        "times": tss.times,
        "bsi_certification_id": tss.bsi_certification_id,
    }


def _tss_from_json(data: dict[str, Any]) -> Tss:
    key = serialization.load_pem_private_key(data.pop("private_key").encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    data["public_key"] = base64.b64decode(data["public_key"])
    return Tss(private_key=key, **data)


def _tx_to_json(tx: Transaction) -> dict[str, Any]:
    return asdict(tx)


def _tx_from_json(data: dict[str, Any]) -> Transaction:
    revisions = [Revision(**rev) for rev in data.pop("revisions")]
    return Transaction(revisions=revisions, **data)


def _export_to_json(export: Export) -> dict[str, Any]:
    body = asdict(export)
    body.pop("polls", None)
    return body


class SimStateTooNew(RuntimeError):
    """The state directory was written by a newer simulator."""


def stored_version(state_dir: Path) -> int | None:
    """The schema version of the state in ``state_dir`` (None: no state yet), read only."""
    path = state_dir / "simulator.sqlite"
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        table = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'settings'").fetchone()
        row = table and db.execute("SELECT value FROM settings WHERE name = 'schema_version'")
        found = row.fetchone() if row else None
    finally:
        db.close()
    return int(found[0]) if found else 1


class SimPersistence:
    """Write-through persistence; ``None`` state dir means memory only (no instance)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / "simulator.sqlite"
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: each change is on the disk before the simulator answers, as at fiskaly. With
        # NORMAL a power cut could take back clients, counters and transactions the unit's
        # store (FULL) had already answered registers with: the unit, restarted, met
        # E_CLIENT_NOT_FOUND for its own clients or handed out a signature counter twice.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._depth = 0
        found = self.setting("schema_version")
        self.loaded_version = int(found) if found is not None else 1  # the file as it was
        if self.loaded_version > SCHEMA_VERSION:
            self._db.close()
            raise SimStateTooNew(
                f"{path} was written by a newer simulator (schema {self.loaded_version}, this "
                f"one knows {SCHEMA_VERSION}): use that version, or another state directory"
            )
        if self.loaded_version < SCHEMA_VERSION:  # nothing to convert: new kinds of rows only
            self.set_setting("schema_version", str(SCHEMA_VERSION))

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """The writes inside are one commit (nested: the outermost commits). What was written
        is committed on an error too: the simulator's memory already holds it."""
        if self._depth == 0:
            self._db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("COMMIT")

    def _put(self, kind: str, obj_id: str, body: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO objects (kind, id, body) VALUES (?, ?, ?)",
            (kind, obj_id, json.dumps(body, separators=(",", ":"))),
        )

    def save_object(self, kind: str, obj_id: str, body: dict[str, Any]) -> None:
        """A row of ``kind`` (the parts of the simulator that keep plain JSON objects)."""
        self._put(kind, obj_id, body)

    def setting(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, name: str, value: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)", (name, value)
        )

    def save_org(self, org: Organization) -> None:
        self._put("org", org.id, asdict(org))

    def save_key(self, key: ApiKey) -> None:
        self._put("key", key.id, asdict(key))

    def save_tss(self, tss: Tss) -> None:
        self._put("tss", tss.id, _tss_to_json(tss))

    def save_client(self, client: Client) -> None:
        self._put("client", client.id, asdict(client))

    def save_tx(self, tx: Transaction) -> None:
        self._put("tx", f"{tx.tss_id}/{tx.id}", _tx_to_json(tx))

    def save_export(self, export: Export) -> None:
        self._put("export", f"{export.tss_id}/{export.id}", _export_to_json(export))

    def save_log(self, entry: LogEntry) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO logs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.tss_id,
                entry.counter,
                entry.log_time,
                entry.file_name,
                entry.data,
                entry.signature,
                entry.tx_number,
                entry.client_id,
            ),
        )

    def forget(self, kind: str, obj_ids: list[str]) -> None:
        self._db.executemany(
            "DELETE FROM objects WHERE kind = ? AND id = ?", [(kind, i) for i in obj_ids]
        )

    def forget_logs(self, tss_id: str, before: int) -> None:
        self._db.execute("DELETE FROM logs WHERE tss_id = ? AND log_time < ?", (tss_id, before))

    def load(self, kind: str) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT body FROM objects WHERE kind = ?", (kind,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def load_orgs(self) -> list[Organization]:
        return [Organization(**row) for row in self.load("org")]

    def load_keys(self) -> list[ApiKey]:
        return [ApiKey(**row) for row in self.load("key")]

    def load_tss(self) -> list[Tss]:
        return [_tss_from_json(row) for row in self.load("tss")]

    def load_clients(self) -> list[Client]:
        return [Client(**row) for row in self.load("client")]

    def load_txs(self) -> list[Transaction]:
        return [_tx_from_json(row) for row in self.load("tx")]

    def load_exports(self) -> list[Export]:
        return [Export(**row) for row in self.load("export")]

    def load_logs(self) -> list[LogEntry]:
        rows = self._db.execute("SELECT * FROM logs ORDER BY tss_id, counter").fetchall()
        return [LogEntry(*row) for row in rows]


class _Persisted(Protocol):
    persist: SimPersistence | None


_S = TypeVar("_S", bound=_Persisted)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def one_commit(change: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """``change`` (a function of the simulator's state) writes all it writes in one commit."""

    @functools.wraps(change)
    def run(state: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if state.persist is None:
            return change(state, *args, **kwargs)
        with state.persist.atomic():
            return change(state, *args, **kwargs)

    return run
