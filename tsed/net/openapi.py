"""The OpenAPI 3.0 description of the register API v1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from tsed import __version__

RECEIPT_TYPES = [
    "RECEIPT",
    "TRAINING",
    "TRANSFER",
    "ORDER",
    "CANCELLATION",
    "ABORT",
    "BENEFIT_IN_KIND",
    "INVOICE",
    "OTHER",
    "ANNULATION",
]
VAT_RATES = ["NORMAL", "REDUCED_1", "SPECIAL_RATE_1", "SPECIAL_RATE_2", "NULL"]
AMOUNT = {"type": "string", "pattern": r"^-?\d{1,12}\.\d{2,5}$", "example": "11.90"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "Malformed request: the message names the field and the rule"),
    "401": _json(_ref("Error"), "Missing, unknown or revoked token"),
    "404": _json(_ref("Error"), "Unknown transaction id (or not this register's)"),
    "409": _json(
        _ref("Error"),
        "Wrong order of calls, an Idempotency-Key reused, or TOO_MANY_OPEN_TRANSACTIONS",
    ),
    "413": _json(_ref("Error"), "Body larger than 64 KiB"),
    "429": _json(
        _ref("Error"),
        "Too many failures without a valid token: locked out for a while (Retry-After); a "
        "request with a valid token is never refused so",
    ),
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "mode"],
        "properties": {
            "mode": {"type": "string", "enum": ["TEST", "LIVE"]},
            "notice": {"type": "string", "description": "TEST only: show in red"},
            "error": {
                "type": "object",
                "required": ["status", "code", "message", "hint"],
                "properties": {
                    "status": {"type": "integer"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "hint": {"type": "string"},
                    "details": {"type": "object"},
                },
            },
        },
    },
    "Receipt": {
        "type": "object",
        "additionalProperties": False,
        "required": ["receipt_type", "amounts_per_vat_rate"],
        "properties": {
            "receipt_type": {"type": "string", "enum": RECEIPT_TYPES},
            "amounts_per_vat_rate": {
                "type": "array",
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["vat_rate", "amount"],
                    "properties": {
                        "vat_rate": {"type": "string", "enum": VAT_RATES},
                        "amount": AMOUNT,
                    },
                },
            },
            "amounts_per_payment_type": {
                "type": "array",
                "maxItems": 50,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["payment_type", "amount"],
                    "properties": {
                        "payment_type": {"type": "string", "enum": ["CASH", "NON_CASH"]},
                        "amount": AMOUNT,
                        "currency_code": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
                    },
                },
            },
        },
    },
    "SignedResult": {
        "type": "object",
        "required": [
            "transaction_number",
            "signature_counter",
            "time_start",
            "time_end",
            "signature",
            "public_key",
            "tss_serial_number",
            "signature_algorithm",
            "log_time_format",
            "client_serial_number",
            "process_type",
            "process_data",
            "qr_code_data",
        ],
        "properties": {
            "transaction_number": {"type": "integer"},
            "signature_counter": {"type": "integer"},
            "time_start": {"type": "string", "format": "date-time"},
            "time_end": {"type": "string", "format": "date-time"},
            "signature": {"type": "string"},
            "public_key": {"type": "string"},
            "tss_serial_number": {"type": "string"},
            "signature_algorithm": {"type": "string"},
            "log_time_format": {"type": "string"},
            "client_serial_number": {"type": "string"},
            "process_type": {"type": "string"},
            "process_data": {"type": "string"},
            "qr_code_data": {"type": "string"},
        },
    },
    "Failure": {
        "type": "object",
        "required": ["code", "reason", "receipt_text", "at"],
        "properties": {
            "code": {
                "type": "string",
                "enum": [
                    "TSE_TIMEOUT",
                    "TSE_UNREACHABLE",
                    "TSE_REJECTED",
                    "TSE_NOT_READY",
                    "TSE_FAIL_FAST",
                ],
            },
            "reason": {"type": "string"},
            "receipt_text": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
        },
    },
    "Transaction": {
        "type": "object",
        "required": [
            "id",
            "state",
            "pending",
            "mode",
            "tse_failure",
            "signed_late",
            "failure",
            "result",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "state": {
                "type": "string",
                "enum": [
                    "journaled",
                    "active",
                    "finishing",
                    "cancelling",
                    "finished",
                    "cancelled",
                    "failed",
                ],
            },
            "pending": {"type": "boolean"},
            "mode": {"type": "string", "enum": ["TEST", "LIVE"]},
            "notice": {"type": "string", "description": "TEST only: show in red"},
            "tse_failure": {"type": "boolean"},
            "signed_late": {"type": "boolean"},
            "failure": {"nullable": True, "allOf": [_ref("Failure")]},
            "result": {"nullable": True, "allOf": [_ref("SignedResult")]},
        },
    },
    "Status": {
        "type": "object",
        "required": ["mode", "backend", "tse", "pairing_open", "api_version"],
        "properties": {
            "mode": {"type": "string", "enum": ["TEST", "LIVE"]},
            "backend": {"type": "string", "enum": ["simulator", "fiskaly"]},
            "tse": {
                "type": "object",
                "properties": {
                    "available": {"type": "boolean"},
                    "since": {"type": "number", "nullable": True},
                    "reason": {"type": "string", "nullable": True},
                },
            },
            "notice": {"type": "string", "nullable": True},
            "pairing_open": {"type": "boolean"},
            "api_version": {"type": "integer"},
        },
    },
    "PairingRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["code", "register_serial"],
        "properties": {
            "code": {"type": "string"},
            "register_serial": {"type": "string", "maxLength": 70},
            "label": {"type": "string", "maxLength": 64},
            "tenant": {"type": "string", "maxLength": 64},
        },
    },
    "Pairing": {
        "type": "object",
        "required": ["token", "register_id", "tenant", "fingerprint"],
        "properties": {
            "token": {"type": "string"},
            "register_id": {"type": "string"},
            "tenant": {"type": "string"},
            "fingerprint": {"type": "string"},
        },
    },
}

IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 128},
    "description": "Same key → same answer; never a second transaction",
}
TX_ID = {
    "name": "tx_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    body: str | None = None,
    params: list[Any] | None = None,
    public: bool = False,
    body_required: bool = True,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {**ok, **ERRORS}}
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
    tx = {"200": _json(_ref("Transaction"), "The transaction, with the TSE data when signed")}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "TSE-LAN unit register API",
            "version": f"1 ({__version__})",
            "description": "Local KassenSichV signing for cash registers. See "
            "docs/register-api.md.",
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/pairings": {
                "post": _op(
                    "Redeem the one-time pairing code",
                    {
                        "201": _json(_ref("Pairing"), "Paired"),
                        "403": _json(_ref("Error"), "TENANT_MISMATCH: the installer bound another"),
                    },
                    body="PairingRequest",
                    public=True,
                )
            },
            "/api/v1/status": {
                "get": _op(
                    "Mode, backend and TSE availability",
                    {"200": _json(_ref("Status"), "Status")},
                    public=True,
                )
            },
            "/api/v1/openapi.json": {
                "get": _op(
                    "This document", {"200": _json({"type": "object"}, "OpenAPI 3")}, public=True
                )
            },
            "/api/v1/receipts": {
                "post": _op(
                    "Sign a receipt in one call (start + finish)",
                    tx,
                    body="Receipt",
                    params=[IDEMPOTENCY],
                )
            },
            "/api/v1/transactions": {
                "post": _op(
                    "Start a transaction (answers once journaled; pending)",
                    {"201": _json(_ref("Transaction"), "Started (pending)")},
                    params=[IDEMPOTENCY],
                )
            },
            "/api/v1/transactions/{tx_id}": {
                "get": _op("Read a transaction (recover a lost answer)", tx, params=[TX_ID]),
                "put": _op(
                    "Update the receipt of an open transaction",
                    tx,
                    body="Receipt",
                    params=[TX_ID, IDEMPOTENCY],
                ),
            },
            "/api/v1/transactions/{tx_id}/finish": {
                "post": _op(
                    "Finish with the receipt: TSE data and qr_code_data",
                    tx,
                    body="Receipt",
                    params=[TX_ID, IDEMPOTENCY],
                )
            },
            "/api/v1/transactions/{tx_id}/cancel": {
                "post": _op(
                    "Cancel (signed as cancelled)",
                    tx,
                    body="Receipt",
                    params=[TX_ID, IDEMPOTENCY],
                    body_required=False,
                )
            },
            "/api/v1/transactions/{tx_id}/qr.png": {
                "get": _op(
                    "The receipt's QR code as PNG",
                    {"200": {"description": "PNG", "content": {"image/png": {}}}},
                    params=[TX_ID],
                )
            },
        },
    }
