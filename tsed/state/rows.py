"""The rows of the unit's store (:mod:`tsed.state.store`): frozen, one field per column."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RegisterRow:
    id: str
    serial: str
    label: str | None
    tenant_id: str
    token_hash: str
    created_at: float
    revoked_at: float | None = None
    last_seen_at: float | None = None


@dataclass(frozen=True, slots=True)
class BindingRow:
    tenant_id: str
    env: str
    tss_id: str
    state: str
    serial: str | None
    created_at: float
    archived_at: float | None = None


@dataclass(frozen=True, slots=True)
class ClientRow:
    register_id: str
    tss_id: str
    env: str
    client_id: str
    serial: str
    state: str
    created_at: float


@dataclass(frozen=True, slots=True)
class TxRow:
    id: str
    register_id: str
    tenant_id: str
    env: str
    tss_id: str
    client_id: str
    tx_id: str
    state: str
    revision: int
    kind: str  # "transaction" | "receipt"
    receipt: str | None
    result: str | None
    failure: str | None
    created_at: float
    updated_at: float
    signed_late: int = 0
    outage_id: int | None = None

    def json_field(self, name: str) -> Any:
        value = getattr(self, name)
        return None if value is None else json.loads(value)


@dataclass(frozen=True, slots=True)
class IdemRow:
    register_id: str
    key: str
    fingerprint: str
    local_id: str | None
    response: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class OutageRow:
    id: int
    started_at: float
    ended_at: float | None
    reason: str
    count: int


def row_from(cls: type[T], row: sqlite3.Row | None) -> T | None:
    return None if row is None else cls(**dict(row))


def values_of(row: Any) -> tuple[Any, ...]:
    """The row's fields in column order (flat rows: no deep copy as ``asdict`` makes)."""
    return tuple(getattr(row, name) for name in row.__slots__)


def columns_of(cls: type[Any]) -> list[str]:
    return [f.name for f in fields(cls)]
