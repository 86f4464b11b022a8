"""The DSFinV-K routes in the register API's OpenAPI document (:mod:`tsed.net.api_dsfinvk`):
their paths and the schema of the tables, built from the columns the files are written with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tsed.archive.dsfinvk import TRANSACTION_COLUMNS, TSE_COLUMNS

DAYS = [
    {
        "name": name,
        "in": "query",
        "required": True,
        "schema": {"type": "string", "format": "date"},
        "description": f"{what} day (YYYY-MM-DD, UTC, inclusive); at most 31 days",
    }
    for name, what in (("from", "the first"), ("to", "the last"))
]


def _row(columns: tuple[tuple[str, int | None], ...], description: str) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, limit in columns:
        properties[name] = {"type": "string", **({"maxLength": limit} if limit else {})}
    return {
        "type": "object",
        "description": description,
        "required": [name for name, _ in columns],
        "properties": properties,
    }


SCHEMAS: dict[str, Any] = {
    "DsfinvkTables": {
        "type": "object",
        "description": "The TSE part of the register's DSFinV-K for a period (docs/dsfinvk.md)",
        "required": ["tse", "transactions_tse", "open_left", "notes"],
        "properties": {
            "tse": {"type": "array", "items": _row(TSE_COLUMNS, "a row of tse.csv (Stamm_TSE)")},
            "transactions_tse": {
                "type": "array",
                "items": _row(
                    TRANSACTION_COLUMNS, "a row of transactions_tse.csv (TSE_Transaktionen)"
                ),
            },
            "open_left": {
                "type": "integer",
                "description": "transactions of the period still open (not in the tables)",
            },
            "notes": {"type": "array", "items": {"type": "string"}},
        },
    }
}


def paths(
    op: Callable[..., dict[str, Any]],
    json_of: Callable[[dict[str, Any], str], dict[str, Any]],
    ref: Callable[[str], dict[str, str]],
) -> dict[str, Any]:
    """The three paths, made with the document's own helpers (``_op``, ``_json``, ``_ref``)."""
    csv = {"text/csv": {"schema": {"type": "string"}}}
    errors = "400 401 405 409 429"
    return {
        "/api/v1/dsfinvk": {
            "get": op(
                "getDsfinvkTables",
                "The TSE tables of the DSFinV-K for this register and a period",
                {"200": json_of(ref("DsfinvkTables"), "Both tables, column → value")},
                errors,
                params=DAYS,
            )
        },
        "/api/v1/dsfinvk/tse.csv": {
            "get": op(
                "getDsfinvkTseCsv",
                "tse.csv (Stamm_TSE) for this register and a period",
                {"200": {"description": "CSV: UTF-8, comma, CRLF, a header line", "content": csv}},
                errors,
                params=DAYS,
            )
        },
        "/api/v1/dsfinvk/transactions_tse.csv": {
            "get": op(
                "getDsfinvkTransactionsCsv",
                "transactions_tse.csv (TSE_Transaktionen) for this register and a period",
                {"200": {"description": "CSV: UTF-8, comma, CRLF, a header line", "content": csv}},
                errors,
                params=DAYS,
            )
        },
    }
