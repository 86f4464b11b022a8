"""The OpenAPI 3.0 description of the register API v1 (served at /api/v1/openapi.json).

Every operation has an ``operationId`` (generated clients name their functions after it) and
lists the errors it answers with: the fuzz test (``tests/net/test_api_fuzz.py``) fails on any
status a call answers that is not listed, ``tests/contract/test_register_api.py`` drives the
listed 401/405 of every call, and ``tests/contract/test_openapi_client.py`` generates a client from
it.
"""

from __future__ import annotations

from typing import Any

from tsed import __version__
from tsed.net import openapi_dsfinvk
from tsed.net.openapi_schemas import (
    FAILED_EXAMPLE,
    PENDING_EXAMPLE,
    RECEIPT_EXAMPLE,
    SCHEMAS,
    SIGNED_EXAMPLE,
    TX_STATES,
)

IDEMPOTENCY_PATTERN = r"^[\x21-\x7e]{1,128}$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(
    schema: dict[str, Any], description: str, examples: dict[str, Any] | None = None
) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = {name: {"value": value} for name, value in examples.items()}
    return {"description": description, "content": {"application/json": media}}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response = _json(_ref("Error"), description)
    if headers:
        response["headers"] = headers
    return response


_HEADER = {"schema": {"type": "string"}}
ERRORS: dict[str, dict[str, Any]] = {
    "400": _error("Malformed request: the message names the field and the rule"),
    "401": _error(
        "Missing, unknown or revoked token (pairing: wrong code)",
        {"WWW-Authenticate": {**_HEADER, "description": 'Bearer realm="tsed register API"'}},
    ),
    "403": _error("The transaction was started in the other mode (TEST/LIVE)"),
    "404": _error("Unknown transaction id (or another register's)"),
    "405": _error(
        "This method is not defined on the path",
        {"Allow": {**_HEADER, "description": "the methods the path has"}},
    ),
    "409": _error(
        "Wrong order of calls, state does not allow it, Idempotency-Key reused, or "
        "TOO_MANY_OPEN_TRANSACTIONS"
    ),
    "413": _error("Body larger than 64 KiB"),
    "429": _error(
        "Too many failures without a valid token: locked out for a while; a request with a "
        "valid token is never refused so",
        {
            "Retry-After": {
                "schema": {"type": "integer"},
                "description": "seconds to wait (the same number as in the message)",
            }
        },
    ),
    "507": _error("The unit cannot write its journal (disk full or failing)"),
}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": IDEMPOTENCY_PATTERN, "maxLength": 128},
    "description": "Recommended on every mutating call: 1 to 128 printable ASCII characters "
    "without spaces (a UUID). A retry with the same key gets the first answer and never a "
    "second transaction; the same key with another request answers 409.",
    "example": "3f1c0a4e-8d2b-4a61-9c1e-5b7f2d9e0a11",
}
TX_ID = {
    "name": "tx_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
LIST_PARAMS = [
    {
        "name": "state",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": True,
        "schema": {"type": "array", "items": {"type": "string", "enum": TX_STATES}},
        "description": "only these states (repeat the parameter, or separate by commas)",
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    },
    {
        "name": "before",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "format": "uuid"},
        "description": "the 'next' of the previous page",
    },
]


def _op(
    operation_id: str,
    summary: str,
    ok: dict[str, Any],
    errors: str,
    *,
    body: str | None = None,
    params: list[Any] | None = None,
    public: bool = False,
    body_required: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {**ok, **{status: ERRORS[status] for status in errors.split()}},
    }
    if description:
        op["description"] = description
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if public:
        op["security"] = []
    return op


def openapi_document() -> dict[str, Any]:
    tx = _json(
        _ref("Transaction"),
        "The transaction; with the TSE data when signed, with a failure (print its "
        "receipt_text) when the TSE did not sign in time",
        {"signed": SIGNED_EXAMPLE, "tse_failure": FAILED_EXAMPLE},
    )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "TSE-LAN unit register API",
            "version": f"1 ({__version__})",
            "description": "Local KassenSichV signing for cash registers. See "
            "docs/register-api.md.",
        },
        "components": {
            "schemas": {**SCHEMAS, **openapi_dsfinvk.SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/pairings": {
                "post": _op(
                    "pairRegister",
                    "Redeem the one-time pairing code",
                    {
                        "201": _json(_ref("Pairing"), "Paired: keep the token secret"),
                        "403": _error(
                            "TENANT_MISMATCH: the installer bound this register to another tenant"
                        ),
                    },
                    "400 401 405 409 413 429 507",
                    body="PairingRequest",
                    public=True,
                    description="409 when no window is open or the serial is already paired "
                    "(the window then stays open: revoke the old register, then pair).",
                )
            },
            "/api/v1/status": {
                "get": _op(
                    "getStatus",
                    "Mode, backend and TSE availability",
                    {"200": _json(_ref("Status"), "Status")},
                    "405",
                    public=True,
                )
            },
            "/api/v1/openapi.json": {
                "get": _op(
                    "getOpenApi",
                    "This document",
                    {"200": _json({"type": "object"}, "OpenAPI 3")},
                    "405",
                    public=True,
                )
            },
            "/api/v1/receipts": {
                "post": _op(
                    "signReceipt",
                    "Sign a receipt in one call (start + finish)",
                    {"200": tx},
                    "400 401 405 409 413 429 507",
                    body="Receipt",
                    params=[IDEMPOTENCY],
                )
            },
            "/api/v1/transactions": {
                "post": _op(
                    "startTransaction",
                    "Start a transaction (answers once journaled; pending)",
                    {
                        "201": _json(
                            _ref("Transaction"), "Started (pending)", {"started": PENDING_EXAMPLE}
                        )
                    },
                    "400 401 405 409 429 507",
                    params=[IDEMPOTENCY],
                ),
                "get": _op(
                    "listTransactions",
                    "This register's transactions, newest first (recovery at start-up)",
                    {"200": _json(_ref("TransactionList"), "One page")},
                    "400 401 404 405 429",
                    params=LIST_PARAMS,
                ),
            },
            "/api/v1/transactions/{tx_id}": {
                "get": _op(
                    "getTransaction",
                    "Read a transaction (recover a lost answer)",
                    {"200": tx},
                    "400 401 404 405 429",
                    params=[TX_ID],
                ),
                "put": _op(
                    "updateTransaction",
                    "Update the receipt of an open transaction",
                    {"200": tx},
                    "400 401 403 404 405 409 413 429 507",
                    body="Receipt",
                    params=[TX_ID, IDEMPOTENCY],
                ),
            },
            "/api/v1/transactions/{tx_id}/finish": {
                "post": _op(
                    "finishTransaction",
                    "Finish with the receipt: TSE data and qr_code_data",
                    {"200": tx},
                    "400 401 403 404 405 409 413 429 507",
                    body="Receipt",
                    params=[TX_ID, IDEMPOTENCY],
                )
            },
            "/api/v1/transactions/{tx_id}/cancel": {
                "post": _op(
                    "cancelTransaction",
                    "Abort an open transaction (signed as AVBelegabbruch)",
                    {"200": tx},
                    "400 401 403 404 405 409 413 429 507",
                    body="Receipt",
                    params=[TX_ID, IDEMPOTENCY],
                    body_required=False,
                    description="No body, or receipt_type CANCELLATION (or ABORT) with the "
                    "amounts rung up so far; any other receipt_type is refused with 400. To "
                    "void a finished sale, sign a new RECEIPT with negated amounts (Storno).",
                )
            },
            "/api/v1/simulator/faults": {
                "get": _op(
                    "getSimulatorFaults",
                    "The built-in simulator's fault switches",
                    {"200": _json(_ref("Faults"), "The switches")},
                    "401 405 409 429",
                ),
                "post": _op(
                    "setSimulatorFaults",
                    "Change fault switches (drive TSE failures while testing)",
                    {"200": _json(_ref("Faults"), "The switches after the change")},
                    "400 401 405 409 413 429",
                    body="FaultSettings",
                    description="Only while the unit signs with its built-in simulator "
                    "(409 otherwise). Affects every register of the unit.",
                ),
                "delete": _op(
                    "resetSimulatorFaults",
                    "All fault switches off; hanging calls are let go",
                    {"200": _json(_ref("Faults"), "The switches after the reset")},
                    "401 405 409 429",
                ),
            },
            "/api/v1/transactions/{tx_id}/qr.png": {
                "get": _op(
                    "getTransactionQr",
                    "The receipt's QR code as PNG",
                    {
                        "200": {
                            "description": "PNG",
                            "content": {
                                "image/png": {"schema": {"type": "string", "format": "binary"}}
                            },
                        }
                    },
                    "400 401 404 405 429",
                    params=[TX_ID],
                )
            },
            **openapi_dsfinvk.paths(_op, _json, _ref),
        },
    }


__all__ = ["RECEIPT_EXAMPLE", "openapi_document"]
