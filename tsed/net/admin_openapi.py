"""The OpenAPI 3.0 description of the admin API (``GET /admin/v1/openapi.json``).

The same routes are served on the admin Unix socket (``tsectl``, the console) and under
``/setup/api`` for the setup page (session cookie plus ``X-CSRF-Token``). Errors always have
the body ``{"error": {"status", "code", "message", "hint"}}``, plus ``field`` (the setting
it is about) and ``text`` (German and English, :mod:`tsed.net.admin_errors`).
"""

from __future__ import annotations

from typing import Any

from tsed import __version__
from tsed.net.admin_backup import backup_paths

OBJECT: dict[str, Any] = {"type": "object"}
TEXT: dict[str, Any] = {"type": "string", "maxLength": 4096}
LOCALIZED: dict[str, Any] = {
    "type": "object",
    "required": ["message", "hint", "field_label"],
    "properties": {
        "message": {"type": "string"},
        "hint": {"type": "string"},
        "field_label": {"type": "string", "nullable": True},
    },
}
ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "mode": {"type": "string", "enum": ["TEST", "LIVE"]},
        "notice": {"type": "string"},
        "error": {
            "type": "object",
            "required": ["status", "code", "message", "hint"],
            "properties": {
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "hint": {"type": "string"},
                "details": {"type": "object"},
                "field": {
                    "type": "string",
                    "description": "the setting the error is about (dotted path)",
                },
                "text": {
                    "type": "object",
                    "description": "the message, hint and field label per language",
                    "required": ["de", "en"],
                    "properties": {"de": LOCALIZED, "en": LOCALIZED},
                },
            },
        },
    },
}
RANGE = {"type": "integer", "minimum": 0}


def _body(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    status: str = "200",
    *,
    body: dict[str, Any] | None = None,
    params: list[str] = (),  # type: ignore[assignment]
    content: str = "application/json",
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    answer = {content: {"schema": schema or OBJECT}}
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            status: {"description": summary, "content": answer},
            "default": {
                "description": "An error: what is wrong and what to do (hint)",
                "content": {"application/json": {"schema": ERROR}},
            },
        },
    }
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "maxLength": 64}}
            for name in params
        ]  # fmt: skip
    return op


def admin_openapi_document() -> dict[str, Any]:
    confirm = _body({"confirm": {"type": "boolean"}})
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "TSE-LAN unit admin API",
            "version": f"1 ({__version__})",
            "description": "Installer operations: the admin socket (tsectl, console) and the "
            "setup page (/setup/api prefix, session + CSRF). See docs/installation.md.",
        },
        "paths": {
            "/admin/v1/openapi.json": {"get": _op("This document")},
            "/admin/v1/status": {"get": _op("Mode, TSE state, registers, device identity")},
            "/admin/v1/pairing": {
                "post": _op(
                    "Open a pairing window: one-time code, expiry, fingerprint, QR",
                    "201",
                    body=_body(
                        {
                            "minutes": {"type": "integer", "minimum": 1, "maximum": 60},
                            "tenant": TEXT,
                            "password": TEXT,
                        }
                    ),
                )
            },
            "/admin/v1/registers": {"get": _op("Paired registers")},
            "/admin/v1/registers/{register_id}": {
                "delete": _op("Revoke a register", params=["register_id"])
            },
            "/admin/v1/config": {
                "get": _op("The configuration (no secrets)"),
                "put": _op(
                    "Save several dotted keys at once (all or nothing)",
                    body=_body(
                        {"values": {"type": "object", "additionalProperties": TEXT}}, ["values"]
                    ),
                ),
            },
            "/admin/v1/config/{key}": {
                "put": _op(
                    "Set one dotted key",
                    body=_body({"value": TEXT}, ["value"]),
                    params=["key"],
                )
            },
            "/admin/v1/test": {"post": _op("The connection test, one line per step")},
            "/admin/v1/reset": {
                "post": _op(
                    "Re-initialize one register or all",
                    body=_body({"register_id": TEXT, "all": {"type": "boolean"}}),
                )
            },
            "/admin/v1/tss": {
                "get": _op("TSS per tenant: state, counters, clients"),
                "post": _op(
                    "Set up or resume the TSS (new: replace it)",
                    body=_body({"new": {"type": "boolean"}}),
                ),
            },
            "/admin/v1/activation": {
                "post": _op(
                    "Import the vendor's signed activation document",
                    body={
                        "required": True,
                        "content": {"application/json": {"schema": OBJECT}},
                    },
                )
            },
            "/admin/v1/credentials": {
                "put": _op(
                    "Own fiskaly TEST credentials (TEST only)",
                    body=_body(
                        {"api_key": TEXT, "api_secret": TEXT, "tenant": TEXT},
                        ["api_key", "api_secret"],
                    ),
                ),
                "post": _op("'Anlegen': create the credentials (secret once)", "201", body=confirm),
            },
            "/admin/v1/password": {
                "get": _op("Whether the admin password is set"),
                "put": _op(
                    "Set the admin password (current: the one set now; the setup page needs it)",
                    body=_body({"password": TEXT, "current": TEXT}, ["password"]),
                ),
            },
            "/admin/v1/tenants": {
                "get": _op("Tenants (Mehrere Mandanten in Filialkette)"),
                "post": _op(
                    "Add a tenant",
                    "201",
                    body=_body({"id": TEXT, "name": TEXT, "vat_id": TEXT}, ["id", "name"]),
                ),
            },
            "/admin/v1/outages": {"get": _op("The outage journal")},
            "/admin/v1/exports": {
                "post": _op(
                    "Start a TAR export (one kind of range)",
                    "202",
                    body=_body(
                        {
                            "tenant": TEXT,
                            "tss_id": TEXT,
                            "start_date": RANGE,
                            "end_date": RANGE,
                            "start_transaction": RANGE,
                            "end_transaction": RANGE,
                            "start_signature_counter": RANGE,
                            "end_signature_counter": RANGE,
                        }
                    ),
                )
            },
            "/admin/v1/exports/{job_id}": {
                "get": _op("An export's state and progress", params=["job_id"])
            },
            "/admin/v1/exports/{job_id}/files/{part}": {
                "get": _op(
                    "Download part n of a finished export",
                    params=["job_id", "part"],
                    content="application/x-tar",
                    schema={"type": "string", "format": "binary"},
                )
            },
            "/admin/v1/factory-reset": {
                "post": _op(
                    "Back to first boot (confirm: true; password: the setup page needs it)",
                    body=_body({"confirm": {"type": "boolean"}, "password": TEXT}),
                )
            },
            "/admin/metrics": {
                "get": _op(
                    "Prometheus metrics",
                    content="text/plain",
                    schema={"type": "string"},
                )
            },
            **_archive_paths(),
            **backup_paths(_op, _body, TEXT),
            "/admin/v1/health": {
                "get": _op(
                    "The nightly housekeeping: last record (daily health record), the "
                    "last days, certificate watch, certification changes, banner"
                )
            },
            "/admin/v1/health/run": {
                "post": _op("Run the housekeeping now (one run at a time)", "202")
            },
            **_filing_paths(),
            **_wizard_paths(),
            "/admin/v1/update": {
                "get": _op("Running version, booted slot, the other slot, the last update")
            },
            "/admin/v1/update/install": {
                "post": _op(
                    "Install a signed update bundle (a file on the unit or an http(s) URL)",
                    "202",
                    body=_body({"source": TEXT}, ["source"]),
                )
            },
        },
    }


def _filing_paths() -> dict[str, Any]:
    """The notification duty (tsed.net.admin_filing); master data fields: docs/notification.md."""
    base = "/admin/v1/filing"
    fields = {"type": "object", "additionalProperties": TEXT}
    data = {"required": True, "content": {"application/json": {"schema": fields}}}
    premises = ["premises_id"]
    return {
        base: {"get": _op("Pending filings with their days left, and the submissions")},
        base + "/master-data": {"get": _op("Taxpayers, premises and registers")},
        base + "/taxpayers/{tenant}": {
            "put": _op("Set the tenant's taxpayer (name, tax number, address)", body=data,
                       params=["tenant"])
        },
        base + "/premises/{premises_id}": {
            "put": _op("Create or change a premises (Betriebsstätte)", body=data, params=premises)
        },
        base + "/registers/{ref}": {
            "put": _op("Set a register's data (by register id or serial)", body=data,
                       params=["ref"])
        },
        base + "/premises/{premises_id}/html": {
            "get": _op("The premises' filing as a printable page", params=premises)
        },
        base + "/premises/{premises_id}/csv": {
            "get": _op("The premises' filing as CSV (ELSTER form order)", params=premises)
        },
        base + "/premises/{premises_id}/submission": {
            "post": _op("Submit the premises' filing through fiskaly SUBMIT DE", "201",
                        params=premises)
        },
        base + "/premises/{premises_id}/filed": {
            "post": _op("Mark the premises' pending events as filed", params=premises)
        },
    }  # fmt: skip


def _archive_paths() -> dict[str, Any]:
    day = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    return {
        "/admin/v1/archive": {
            "get": _op("The archive per TSS: last counter and time, lag, gaps, findings, disk")
        },
        "/admin/v1/archive/run": {
            "post": _op("Start an archive run now (one at a time)", "202"),
            "get": _op("The running (or last) archive run's progress"),
        },
        "/admin/v1/archive/verify": {
            "post": _op("Re-verify the whole archive (manifest, TAR verifier, counter chain)")
        },
        "/admin/v1/archive/export": {
            "post": _op(
                "The auditor's export of a period (UTC days) from the local archive; files "
                "the box lost come from the off-box copy",
                "201",
                body=_body({"from": day, "to": day, "tenant": TEXT}, ["from", "to"]),
            )
        },
        "/admin/v1/archive/dsfinvk": {
            "post": _op(
                "The DSFinV-K's TSE tables (tse.csv, transactions_tse.csv) of a period (UTC "
                "days) into the auditor's directory",
                "201",
                body=_body({"from": day, "to": day, "tenant": TEXT}, ["from", "to"]),
            )
        },
        "/admin/v1/decommission": {
            "get": _op("The guided decommissioning: its steps and what is left to do"),
            "post": _op(
                "Start a decommissioning (register, tss, exchange, unit); archive first",
                "202",
                body=_body(
                    {
                        "kind": TEXT,
                        "reason": TEXT,
                        "confirm": TEXT,
                        "tenant": TEXT,
                        "register": TEXT,
                        "date": day,
                    },
                    ["kind", "reason"],
                ),
            ),
        },
        "/admin/v1/decommission/resume": {
            "post": _op("Go on with a decommissioning after a failed step", "202")
        },
        "/admin/v1/archive/offbox-password": {
            "put": _op(
                "Store the off-box repository's password in the vault (never echoed)",
                body=_body({"password": TEXT}, ["password"]),
            )
        },
    }


def _wizard_paths() -> dict[str, Any]:
    step = {"type": "integer", "minimum": 1, "maximum": 8}
    return {
        "/admin/v1/wizard": {
            "get": _op("The first-run wizard's step (kept across reloads and restarts)"),
            "put": _op(
                "Move the wizard on (step, or done: the dashboard from now on)",
                body=_body({"step": step, "done": {"type": "boolean"}}),
            ),
        },
        "/admin/v1/test-receipt": {
            "post": _op("Sign a TEST receipt for the first paired register (TEST only)", "201")
        },
        "/admin/v1/dashboard": {
            "get": _op("The overview's certificate dates and filings due (count, nearest deadline)")
        },
        "/admin/v1/setup-code": {
            "get": _op("The one-time setup code for the first password (admin socket only)")
        },
    }
