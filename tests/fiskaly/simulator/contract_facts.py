"""Facts of fiskaly's published SIGN DE API V2 contract, as a table the simulator is held to.

Source: fiskaly's OpenAPI document "fiskaly SIGN DE API" version 2.1.35 (``openapi 3.0.3``,
``com.fiskaly.sign-api:2.1.35``), as vendored by public client libraries
(``fiskaly-openapi-sign-de-spec-v2.1.35.json``); the 2.2.x document rendered on fiskaly's
developer site was not found in a public repository. Facts marked ``SUMMARY`` come from the
project's reference summary of the contract (``fiskaly-sign-de-v2.md``), not from the document.
This is our own table of facts (names, required fields, types, codes, statuses), not the
document itself.
"""

from __future__ import annotations

from typing import Any

STRING, INTEGER, NUMBER, OBJECT, ARRAY = "string", "integer", "number", "object", "array"
BIGINT = "bigint-string"  # SignatureCounter / TransactionCounter: a string of digits
COUNTER = "string-or-number"  # BigintCounter of transaction signatures (a known issue)

_TSS_COMMON_REQUIRED = [
    "certificate", "serial_number", "public_key", "signature_algorithm",
    "signature_timestamp_format", "transaction_data_encoding", "max_number_registered_clients",
    "max_number_active_transactions", "supported_update_variants", "_id", "_type", "_env",
    "_version",
]  # fmt: skip
_TSS_TYPES = {
    "certificate": STRING, "serial_number": STRING, "public_key": STRING,
    "signature_algorithm": STRING, "signature_timestamp_format": STRING,
    "transaction_data_encoding": STRING, "max_number_registered_clients": INTEGER,
    "max_number_active_transactions": INTEGER, "supported_update_variants": STRING,
    "_id": STRING, "_type": STRING, "_env": STRING, "_version": STRING,
    "time_creation": INTEGER, "time_uninit": INTEGER, "time_init": INTEGER,
    "time_disable": INTEGER, "state": STRING, "description": STRING, "admin_puk": STRING,
    "signature_counter": BIGINT, "transaction_counter": BIGINT,
    "number_registered_clients": INTEGER, "number_active_transactions": INTEGER,
    "metadata": OBJECT, "bsi_certification_id": STRING,
}  # fmt: skip
_TSS_ENUMS = {
    "_type": ["TSS"], "_env": ["TEST", "LIVE"], "signature_algorithm": ["ecdsa-plain-SHA256"],
    "signature_timestamp_format": ["unixTime"], "transaction_data_encoding": ["UTF-8"],
    "supported_update_variants": ["SIGNED"],
}  # fmt: skip
_CLIENT_TYPES = {
    "serial_number": STRING, "state": STRING, "tss_id": STRING, "metadata": OBJECT,
    "_id": STRING, "_type": STRING, "_env": STRING, "_version": STRING,
    "time_creation": INTEGER, "time_update": INTEGER,
}  # fmt: skip
_CLIENT_ENUMS = {"state": ["REGISTERED", "DEREGISTERED"], "_type": ["CLIENT"]}
_TX_REQUIRED = [
    "tss_id", "tss_serial_number", "client_id", "client_serial_number", "state", "revision",
    "latest_revision", "_type", "_id", "_env", "_version",
]  # fmt: skip
_TX_TYPES = {
    "number": INTEGER, "time_start": INTEGER, "client_serial_number": STRING,
    "tss_serial_number": STRING, "state": STRING, "client_id": STRING, "schema": OBJECT,
    "revision": INTEGER, "latest_revision": INTEGER, "tss_id": STRING, "metadata": OBJECT,
    "_type": STRING, "_id": STRING, "_env": STRING, "_version": STRING, "time_end": INTEGER,
    "qr_code_data": STRING, "log": OBJECT, "signature": OBJECT, "_middleware": OBJECT,
}  # fmt: skip
_TX_ENUMS = {"state": ["ACTIVE", "FINISHED", "CANCELLED"], "_type": ["TRANSACTION"]}


def _list(type_name: str) -> dict[str, Any]:
    return {
        "required": ["data", "count", "_type", "_env", "_version"],
        "types": {"data": ARRAY, "count": INTEGER, "_type": STRING, "_env": STRING},
        "enums": {"_type": [type_name], "_env": ["TEST", "LIVE"]},
    }


# Response schemas: required fields, JSON types of the fields, allowed values.
RESPONSES: dict[str, dict[str, Any]] = {
    "AuthenticationResponse": {
        "required": ["access_token"],
        "types": {
            "access_token": STRING,
            "access_token_claims": OBJECT,
            "access_token_expires_in": INTEGER,
            "access_token_expires_at": INTEGER,
            "refresh_token": STRING,
            "refresh_token_expires_in": INTEGER,
            "refresh_token_expires_at": INTEGER,
        },
        "nested": {
            "access_token_claims": {"required": ["env"], "enums": {"env": ["TEST", "LIVE"]}}
        },
    },
    "CreateTssResponse": {
        "required": ["admin_puk", "state", "time_creation", *_TSS_COMMON_REQUIRED],
        "types": _TSS_TYPES,
        "enums": {**_TSS_ENUMS, "state": ["CREATED"]},
    },
    "UpdateTssResponse": {
        "required": ["state", "time_creation", "time_uninit", *_TSS_COMMON_REQUIRED],
        "types": _TSS_TYPES,
        "enums": {**_TSS_ENUMS, "state": ["UNINITIALIZED", "INITIALIZED", "DISABLED"]},
        "absent": ["admin_puk"],
    },
    "RetrieveTssResponse": {
        "required": ["state", "time_creation", *_TSS_COMMON_REQUIRED],
        "types": _TSS_TYPES,
        "enums": {
            **_TSS_ENUMS,
            "state": [
                "CREATED",
                "UNINITIALIZED",
                "INITIALIZED",
                "DISABLED",
                "DELETED",
                "DEFECTIVE",
                "EVICTED",
            ],
        },
        "absent": ["admin_puk"],  # the PUK only shows while CREATED, in createTss's answer
    },
    "ListTssResponse": _list("TSS_LIST"),
    "CreateClientResponse": {
        "required": [
            "serial_number",
            "state",
            "tss_id",
            "_id",
            "_type",
            "_env",
            "_version",
            "time_creation",
        ],
        "types": _CLIENT_TYPES,
        "enums": _CLIENT_ENUMS,
    },
    "ClientResponse": {  # retrieveClient; UpdateClientResponse has the same required fields
        "required": [
            "serial_number",
            "state",
            "tss_id",
            "_id",
            "_type",
            "_env",
            "_version",
            "time_creation",
            "time_update",
        ],
        "types": _CLIENT_TYPES,
        "enums": _CLIENT_ENUMS,
    },
    "ClientListResponse": _list("CLIENT_LIST"),
    "TxResponse": {
        "required": [*_TX_REQUIRED, "number", "time_start", "log", "signature"],
        "types": _TX_TYPES,
        "enums": _TX_ENUMS,
        "nested": {
            "log": {
                "required": ["operation", "timestamp", "timestamp_format"],
                "types": {"operation": STRING, "timestamp": INTEGER, "timestamp_format": STRING},
                "enums": {
                    "operation": ["Start", "Update", "Finish"],
                    "timestamp_format": ["unixTime"],
                },
            },
            "signature": {
                "required": ["value", "algorithm", "counter", "public_key"],
                "types": {
                    "value": STRING,
                    "algorithm": STRING,
                    "counter": COUNTER,
                    "public_key": STRING,
                },
                "enums": {"algorithm": ["ecdsa-plain-SHA256"]},
            },
        },
    },
    "MiddlewarePendingTxResponse": {
        "required": [*_TX_REQUIRED, "_middleware"],
        "types": _TX_TYPES,
        "enums": _TX_ENUMS,
        "nested": {
            "log": {"required": ["operation", "timestamp_format"], "absent": ["timestamp"]},
            "signature": {"required": ["algorithm", "public_key"], "absent": ["value", "counter"]},
            # SUMMARY: the Middleware schema's required fields
            "_middleware": {
                "required": ["latest_stored_signature_counter_in_backend", "smaers_url"],
                "types": {
                    "latest_stored_signature_counter_in_backend": BIGINT,
                    "smaers_url": STRING,
                },
            },
        },
        "absent": ["qr_code_data"],
    },
    "TxListResponse": _list("TRANSACTION_LIST"),
    "ExportResponse": {  # SUMMARY (§7.3)
        "required": ["_id", "_type", "_env", "_version", "tss_id", "state", "time_request"],
        "types": {
            "_id": STRING,
            "tss_id": STRING,
            "state": STRING,
            "time_request": INTEGER,
            "time_start": INTEGER,
            "time_end": INTEGER,
            "time_expiration": INTEGER,
            "exception": STRING,
            "metadata": OBJECT,
        },
        "enums": {
            "_type": ["EXPORT"],
            "state": ["PENDING", "WORKING", "COMPLETED", "CANCELLED", "ERROR"],
        },
    },
    "ExportListResponse": _list("EXPORT_LIST"),
    "ErrorResponse": {  # every error schema: code (where one is given), message, status, error
        "required": ["status_code", "error", "message"],
        "types": {"status_code": NUMBER, "error": STRING, "message": STRING, "code": STRING},
    },
}

# Error codes and the HTTP status their schema gives them.
ERROR_STATUS: dict[str, int] = {
    "E_FAILED_SCHEMA_VALIDATION": 400,  # SUMMARY
    "E_TSS_NOT_FOUND": 404,
    "E_CLIENT_NOT_FOUND": 404,  # on retrieve; 400 on upsertTransaction / triggerExport
    "E_TX_NOT_FOUND": 404,  # on retrieve; 400 on triggerExport (transaction_number)
    "E_EXPORT_NOT_FOUND": 404,  # SUMMARY
    "E_ACCESS_DENIED": 403,
    "E_TSS_DEFECTIVE": 423,
    "E_TSS_DELETED": 423,
    "E_TSS_EVICTED": 423,
    "E_TSS_LOCKED": 503,
    "E_EXPORT_NOT_COMPLETED": 404,
    "E_EXPORT_DUPLICATE_RATE_LIMITED": 409,
    "E_MIDDLEWARE_PENDING_REQUEST": 444,
    "E_USE_MIDDLEWARE": 432,
    "E_ADMIN_PIN_BLOCKED": 423,  # SUMMARY
    "E_ILLEGAL_TSS_STATE_CHANGE": 400,  # SUMMARY
    "E_CHANGE_ADMIN_PIN_FAILED": 400,  # SUMMARY
    "E_TSS_CONFLICT": 409,  # SUMMARY
    "E_CLIENT_CONFLICT": 409,  # SUMMARY
    "E_TX_UPSERT": 400,  # SUMMARY
}
# The dedicated ClientDeregisteredErrorResponse says 401, upsertTransaction's responses say
# 400: both are documented, so a client must accept either (it maps by code).
CLIENT_DEREGISTERED_STATUSES = (400, 401)
ACCESS_DENIED_DESCRIPTION = "You may not access this resource"

# Request rules.
UPDATE_TSS = {
    "required": ["state"],
    "properties": ["description", "state", "metadata"],
    "additional_properties": False,
    "state": ["UNINITIALIZED", "INITIALIZED", "DISABLED"],
    "description_pattern": r"^[A-Za-z0-9 '()+,-./:=?]{0,100}$",
}
CHANGE_ADMIN_PIN_REQUIRED = ["admin_puk", "new_admin_pin"]
AUTHENTICATE_ADMIN_REQUIRED = ["admin_pin"]
TX_REVISION_MINIMUM = 1
METADATA_LIMITS = {"keys": 40, "key_length": 40, "value_length": 500}
EXPORT_EXCEPTIONS = [  # SUMMARY (ExportResponse.exception)
    "E_UNEXPECTED", "E_ID_NOT_FOUND", "E_BAD_REQUEST", "E_INTERNAL",
    "E_TRANSACTION_ID_NOT_FOUND", "E_NO_DATA_AVAILABLE", "E_TOO_MANY_RECORDS",
    "E_ALREADY_PROCESSING", "E_LOGS_NOT_DELETED", "E_EXPORT_PROCESSING_TIMEOUT",
]  # fmt: skip
