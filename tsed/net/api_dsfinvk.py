"""The register API's DSFinV-K routes: a paired register's own TSE tables of a period.

=================================================  =======================================
``GET /api/v1/dsfinvk?from=DAY&to=DAY``            both tables as JSON (column → value)
``GET /api/v1/dsfinvk/tse.csv?from=DAY&to=DAY``    ``tse.csv`` (Stamm_TSE) as the DSFinV-K
``GET /api/v1/dsfinvk/transactions_tse.csv?…``     ``transactions_tse.csv`` (TSE_Transaktionen)
=================================================  =======================================

Days are ``YYYY-MM-DD`` (UTC, both inclusive), at most 31 days per call (a register asks per
cash closing). Columns and their sources: docs/dsfinvk.md.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from tsed.archive.dsfinvk import (
    TRANSACTION_COLUMNS,
    TSE_COLUMNS,
    TseTables,
    csv_text,
    tables_json,
)
from tsed.errors import ConflictError, InputError
from tsed.net.http import json_response
from tsed.signing.outcome import RegisterRef


class DsfinvkSource(Protocol):
    async def register_tables(self, register_id: str, start: str, end: str) -> TseTables: ...


def _days(request: web.Request) -> tuple[str, str]:
    unknown = sorted(set(request.query) - {"from", "to"})
    if unknown:
        raise InputError(f"unknown query parameter {unknown[0]!r}", hint="Use from and to.")
    start, end = request.query.get("from"), request.query.get("to")
    if not start or not end:
        raise InputError(
            "from and to are required: the first and the last day (YYYY-MM-DD, UTC)",
            hint="Example: /api/v1/dsfinvk?from=2026-12-01&to=2026-12-01",
        )
    return start, end


def add_dsfinvk_routes(
    r: web.UrlDispatcher,
    source: DsfinvkSource | None,
    register_key: web.RequestKey[RegisterRef],
) -> None:
    async def tables(request: web.Request) -> TseTables:
        if source is None:
            raise ConflictError("this unit gives no DSFinV-K data")
        start, end = _days(request)
        return await source.register_tables(request[register_key].register_id, start, end)

    async def as_json(request: web.Request) -> web.Response:
        return json_response(tables_json(await tables(request)))

    async def tse_csv(request: web.Request) -> web.Response:
        text = csv_text(TSE_COLUMNS, (await tables(request)).tse)
        return web.Response(text=text, content_type="text/csv", charset="utf-8")

    async def transactions_csv(request: web.Request) -> web.Response:
        text = csv_text(TRANSACTION_COLUMNS, (await tables(request)).transactions)
        return web.Response(text=text, content_type="text/csv", charset="utf-8")

    r.add_get("/api/v1/dsfinvk", as_json)
    r.add_get("/api/v1/dsfinvk/tse.csv", tse_csv)
    r.add_get("/api/v1/dsfinvk/transactions_tse.csv", transactions_csv)
