"""JSON views of simulator objects and the list envelope with paging."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from tsed.fiskaly.simulator.engine import SimState
from tsed.fiskaly.simulator.model import (
    API_VERSION,
    BSI_CERTIFICATION_ID,
    Client,
    Tss,
    schema_error,
)


def tss_view(state: SimState, tss: Tss, *, with_puk: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "_id": tss.id,
        "_type": "TSS",
        "_env": tss.env,
        "_version": API_VERSION,
        "state": tss.state,
        "time_creation": tss.time_creation,
        "certificate": tss.certificate,
        "serial_number": tss.serial_number,
        "public_key": base64.b64encode(tss.public_key).decode(),
        "signature_algorithm": "ecdsa-plain-SHA256",
        "signature_timestamp_format": "unixTime",
        "transaction_data_encoding": "UTF-8",
        "max_number_registered_clients": state.limits.max_clients,
        "max_number_active_transactions": state.limits.max_active_tx,
        "supported_update_variants": "SIGNED",
        "metadata": dict(tss.metadata),
    }
    if with_puk and tss.state == "CREATED":
        view["admin_puk"] = tss.admin_puk
    if tss.state != "CREATED":
        view["signature_counter"] = str(tss.signature_counter)
        view["transaction_counter"] = str(tss.transaction_counter)
        view["number_registered_clients"] = state.registered_clients(tss.id)
        view["number_active_transactions"] = state.active_tx.get(tss.id, 0)
    if tss.state in ("UNINITIALIZED", "INITIALIZED", "DISABLED"):
        view["bsi_certification_id"] = tss.bsi_certification_id or BSI_CERTIFICATION_ID
    if tss.description is not None:
        view["description"] = tss.description
    view.update(tss.times)
    return view


def client_view(client: Client, *, created: bool = False) -> dict[str, Any]:
    """A client as fiskaly shows it. Retrieve, list and update answers require ``time_update``
    (contract ClientResponse, UpdateClientResponse): before any update it is the creation time
    (inferred); the create answer has none."""
    view: dict[str, Any] = {
        "_id": client.id,
        "_type": "CLIENT",
        "_env": client.env,
        "_version": API_VERSION,
        "serial_number": client.serial_number,
        "state": client.state,
        "tss_id": client.tss_id,
        "metadata": dict(client.metadata),
        "time_creation": client.time_creation,
    }
    if client.time_update is not None:
        view["time_update"] = client.time_update
    elif not created:
        view["time_update"] = client.time_creation
    return view


def _states(request: web.Request) -> set[str] | None:
    states = {
        value
        for key, value in request.query.items()
        if key == "states[]" or (key.startswith("states[") and key.endswith("]")) or key == "states"
    }
    return states or None


def paginate(
    request: web.Request, items: list[dict[str, Any]], default_order: str
) -> tuple[list[dict[str, Any]], int]:
    """Apply ``states[]``, ``order_by``, ``order``, ``offset`` and ``limit`` (1..100)."""
    query = request.query
    try:
        limit = int(query.get("limit", "100"))
        offset = int(query.get("offset", "0"))
    except ValueError:
        raise schema_error("limit and offset must be integers") from None
    if not 1 <= limit <= 100 or offset < 0:
        raise schema_error("limit must be 1..100 and offset ≥ 0")
    order = query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise schema_error("order must be asc or desc")
    states = _states(request)
    if states:
        items = [item for item in items if item.get("state") in states]
    if query.get("show_deleted", "true") == "false":
        items = [item for item in items if item.get("state") != "DELETED"]
    order_by = query.get("order_by", default_order)
    items.sort(key=lambda item: (item.get(order_by) is None, item.get(order_by) or 0))
    if order == "desc":
        items.reverse()
    return items[offset : offset + limit], len(items)


def list_view(page: tuple[list[dict[str, Any]], int], kind: str, env: str) -> dict[str, Any]:
    """List envelope. ``count`` is the number of items matching the filter (all pages)."""
    data, total = page
    return {"data": data, "count": total, "_type": kind, "_env": env, "_version": API_VERSION}
