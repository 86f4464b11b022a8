"""Schemas and examples of the register API's OpenAPI document (:mod:`tsed.net.openapi`).

The examples are real answers of a unit in TEST mode (shortened signatures and keys); the
contract tests check that every example validates against its schema's required fields.
"""

from __future__ import annotations

from typing import Any

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
TX_STATES = ["journaled", "active", "finishing", "cancelling", "finished", "cancelled", "failed"]
FAILURE_CODES = ["TSE_TIMEOUT", "TSE_UNREACHABLE", "TSE_REJECTED", "TSE_NOT_READY", "TSE_FAIL_FAST"]
AMOUNT = {
    "type": "string",
    "pattern": r"^-?\d{1,12}\.\d{2}$",
    "example": "11.90",
    "description": "Gross amount in the currency, exactly two decimals (negative for a "
    "Storno). The unit refuses more decimals instead of cutting them off: round as you print.",
}
NOTICE = "Die technische Sicherheitseinrichtung (fiskaly-TSE) ist im Test-Modus eingerichtet"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


RECEIPT_EXAMPLE = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}
RESULT_EXAMPLE = {
    "transaction_number": 1,
    "signature_counter": 33,
    "time_start": "2026-11-24T14:00:45.000Z",
    "time_end": "2026-11-24T14:00:45.000Z",
    "signature": "MEUCIQ…",
    "public_key": "BHhR…",
    "tss_serial_number": "3b8a…",
    "signature_algorithm": "ecdsa-plain-SHA256",
    "log_time_format": "unixTime",
    "client_serial_number": "ERS kasse-1",
    "process_type": "Kassenbeleg-V1",
    "process_data": "Beleg^11.90_0.00_0.00_0.00_0.00^11.90:Bar",
    "qr_code_data": "V0;ERS kasse-1;Kassenbeleg-V1;Beleg^11.90_0.00_0.00_0.00_0.00^11.90:Bar;"
    "1;33;2026-11-24T14:00:45.000Z;2026-11-24T14:00:45.000Z;ecdsa-plain-SHA256;unixTime;"
    "MEUCIQ…;BHhR…",
}
SIGNED_EXAMPLE = {
    "id": "6f1c2a8e-3b1d-4c57-9a43-1d2f7e0b9c11",
    "state": "finished",
    "pending": False,
    "mode": "TEST",
    "tse_failure": False,
    "signed_late": False,
    "created_at": "2026-11-24T14:00:45.000Z",
    "notice": NOTICE,
    "failure": None,
    "result": RESULT_EXAMPLE,
}
PENDING_EXAMPLE = {
    **SIGNED_EXAMPLE,
    "state": "journaled",
    "pending": True,
    "result": None,
}
FAILED_EXAMPLE = {
    **SIGNED_EXAMPLE,
    "state": "failed",
    "tse_failure": True,
    "result": None,
    "failure": {
        "code": "TSE_TIMEOUT",
        "reason": "fiskaly did not answer within the register deadline",
        "receipt_text": "TSE ausgefallen: keine Antwort der TSE in der vorgegebenen Zeit "
        "(24.11.2026 14:00:48 UTC). Der Vorgang wurde protokolliert und wird nachsigniert.\n"
        "TSE failure: the receipt could not be signed; the transaction is recorded and will be "
        "signed later.",
        "at": "2026-11-24T14:00:48.000Z",
    },
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
                    "details": {
                        "type": "object",
                        "description": "e.g. field: the JSON path of the field at fault",
                    },
                },
            },
        },
    },
    "Receipt": {
        "type": "object",
        "example": RECEIPT_EXAMPLE,
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
                "enum": FAILURE_CODES,
                "description": "See docs/register-api.md, 'TSE failure codes'",
            },
            "reason": {"type": "string"},
            "receipt_text": {"type": "string", "description": "Print this on the receipt"},
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
            "created_at",
            "failure",
            "result",
        ],
        "example": SIGNED_EXAMPLE,
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "state": {"type": "string", "enum": TX_STATES},
            "pending": {"type": "boolean"},
            "mode": {"type": "string", "enum": ["TEST", "LIVE"]},
            "notice": {"type": "string", "description": "TEST only: show in red"},
            "tse_failure": {"type": "boolean"},
            "signed_late": {
                "type": "boolean",
                "description": "true once a transaction answered with a TSE failure is signed",
            },
            "created_at": {"type": "string", "format": "date-time"},
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
            "simulator": {
                "type": "object",
                "nullable": True,
                "description": "backend simulator only: where its fault switches are",
                "properties": {"faults": {"type": "string"}},
            },
        },
    },
    "TransactionList": {
        "type": "object",
        "required": ["transactions", "next"],
        "properties": {
            "transactions": {"type": "array", "items": _ref("Transaction")},
            "next": {
                "type": "string",
                "nullable": True,
                "description": "pass as 'before' for the next (older) page; null: no more",
            },
        },
    },
    "PairingRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["code", "register_serial"],
        "properties": {
            "code": {"type": "string", "example": "K7QX-9MBT-ZR3A-PW2D"},
            "register_serial": {"type": "string", "maxLength": 70, "example": "ERS kasse-1"},
            "label": {"type": "string", "maxLength": 64},
            "tenant": {"type": "string", "maxLength": 64},
            "software": {
                "type": "object",
                "additionalProperties": False,
                "description": "The register's software, for the unit's notification duty "
                "(§ 146a Abs. 4 AO, docs/notification.md); optional.",
                "properties": {
                    "name": {"type": "string", "maxLength": 64, "example": "Kasse Pro"},
                    "version": {"type": "string", "maxLength": 64, "example": "4.2.1"},
                },
            },
            "manufacturer": {"type": "string", "maxLength": 64, "example": "Kassen AG"},
            "model": {"type": "string", "maxLength": 64, "example": "K1 Touch"},
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
    "FaultSettings": {
        "type": "object",
        "additionalProperties": False,
        "description": "Built-in simulator only. Rates are probabilities from 0 to 1.",
        "example": {"latency_ms": 5000, "route": "tx"},
        "properties": {
            "latency_ms": {
                "type": "number",
                "minimum": 0,
                "maximum": 60000,
                "description": "added to every matching call",
            },
            "jitter_ms": {"type": "number", "minimum": 0, "maximum": 60000},
            "route": {
                "type": "string",
                "nullable": True,
                "maxLength": 200,
                "description": "regex on 'METHOD /path' of fiskaly calls, e.g. 'tx'",
            },
            "error_rate": {"type": "number", "minimum": 0, "maximum": 1},
            "error_status": {"type": "integer", "minimum": 400, "maximum": 599},
            "error_code": {"type": "string", "nullable": True, "maxLength": 200},
            "rate_limit_burst": {"type": "integer", "minimum": 0, "maximum": 10000},
            "retry_after": {"type": "integer", "minimum": 0, "maximum": 3600},
            "drop_rate": {"type": "number", "minimum": 0, "maximum": 1},
            "hang_rate": {"type": "number", "minimum": 0, "maximum": 1},
            "hang_seconds": {"type": "number", "minimum": 0, "maximum": 3600},
            "down_for": {
                "type": "number",
                "minimum": 0,
                "maximum": 3600,
                "description": "seconds of full outage from now",
            },
            "tss_locked": {"type": "boolean"},
        },
    },
    "Faults": {
        "type": "object",
        "description": "The simulator's fault switches as they are now",
        "properties": {
            "latency_ms": {"type": "number"},
            "jitter_ms": {"type": "number"},
            "route": {"type": "string", "nullable": True},
            "error_rate": {"type": "number"},
            "error_status": {"type": "integer"},
            "error_code": {"type": "string", "nullable": True},
            "rate_limit_burst": {"type": "integer"},
            "retry_after": {"type": "integer"},
            "drop_rate": {"type": "number"},
            "hang_rate": {"type": "number"},
            "hang_seconds": {"type": "number"},
            "down_until": {"type": "number"},
            "tss_locked": {"type": "boolean"},
        },
    },
}
