"""Management API v0 (``/api/v0``): organizations and API keys, enough for "Anlegen".

A management token is obtained with ``POST /api/v0/auth`` using an API key of a (main)
organization. New API keys get the environment of the management token; organizations
created through the API are managed by the token's organization.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tsed.fiskaly.simulator.keys import STATE_KEY
from tsed.fiskaly.simulator.model import MANAGEMENT_VERSION, Organization, SimError, schema_error

ORG_REQUIRED = {"name", "address_line1", "zip", "town", "country_code"}
ORG_OPTIONAL = {
    "display_name",
    "vat_id",
    "tax_number",
    "economy_id",
    "address_line2",
    "state",
    "contact_person_id",
    "billing_address_id",
    "billing_options",
    "metadata",
    "managed_by_organization_id",
}


def _org_view(org: Organization, envs: list[str]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "_id": org.id,
        "_type": "MANAGED_ORGANIZATION" if org.managed_by else "ORGANIZATION",
        "_envs": envs,
        "name": org.name,
        "vat_id": org.vat_id,
        "managed_by_organization_id": org.managed_by,
        "created_at": org.created_at,
    }
    view.update(org.extra)
    return view


def add_routes(
    app: web.Application,
    auth: Callable[[web.Request], Awaitable[web.Response]],
    token_of: Callable[..., Any],
    body_of: Callable[[web.Request], Awaitable[Any]],
    as_json: Callable[..., web.Response],
) -> None:
    def visible(request: web.Request, org_id: str) -> Organization:
        state = request.app[STATE_KEY]
        token = token_of(request, "v0")
        org = state.orgs.get(org_id)
        if org is None:
            raise SimError(404, "E_ORGANIZATION_NOT_FOUND", f"organization {org_id} not found")
        if token.organization_id not in (org.id, org.managed_by):
            raise SimError(403, "E_ACCESS_DENIED", "You may not access this resource")
        return org

    async def list_orgs(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        token = token_of(request, "v0")
        data = [
            _org_view(org, [token.env])
            for org in state.orgs.values()
            if token.organization_id in (org.id, org.managed_by)
        ]
        return as_json(
            {"_type": "ORGANIZATION_LIST", "_envs": [token.env], "_version": MANAGEMENT_VERSION,
             "data": data, "count": len(data)}
        )  # fmt: skip

    async def create_org(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        token = token_of(request, "v0")
        body = await body_of(request)
        if not isinstance(body, dict):
            raise schema_error("body must be an object")
        missing = ORG_REQUIRED - body.keys()
        unknown = body.keys() - ORG_REQUIRED - ORG_OPTIONAL
        if missing or unknown:
            raise schema_error(
                f"missing {sorted(missing)}" if missing else f"unknown {sorted(unknown)}"
            )
        if not isinstance(body["country_code"], str) or len(body["country_code"]) != 3:
            raise schema_error("country_code must be ISO 3166 alpha-3, e.g. DEU")
        managed_by = body.get("managed_by_organization_id") or token.organization_id
        if managed_by != token.organization_id:
            raise SimError(403, "E_ACCESS_DENIED", "You may not manage that organization")
        extra = {
            k: v
            for k, v in body.items()
            if k not in ("name", "vat_id", "managed_by_organization_id")
        }
        org = state.create_org(
            str(body["name"]), managed_by=managed_by, vat_id=body.get("vat_id"), **extra
        )
        return as_json(_org_view(org, [token.env]))

    async def get_org(request: web.Request) -> web.Response:
        org = visible(request, request.match_info["org_id"])
        return as_json(_org_view(org, [token_of(request, "v0").env]))

    async def list_keys(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        org = visible(request, request.match_info["org_id"])
        data = [
            {"_id": k.id, "_type": "API_KEY", "_envs": [k.env], "key": k.key, "name": k.name,
             "status": k.status, "created_at": k.created_at}
            for k in state.keys.values()
            if k.organization_id == org.id
        ]  # fmt: skip
        return as_json({"_type": "API_KEY_LIST", "data": data, "count": len(data)})

    async def create_key(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        token = token_of(request, "v0")
        org = visible(request, request.match_info["org_id"])
        body = await body_of(request)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise schema_error("name is required")
        key = state.add_key(token.env, organization_id=org.id, name=name.replace(" ", "-")[:30])
        return as_json(
            {"_id": key.id, "_type": "API_KEY", "_envs": [key.env], "key": key.key,
             "secret": key.secret, "name": name, "status": key.status,
             "managed_by_organization_id": org.managed_by, "metadata": {},
             "created_at": key.created_at}
        )  # fmt: skip

    v0 = "/api/v0"
    app.router.add_post(v0 + "/auth", auth)
    app.router.add_get(v0 + "/organizations", list_orgs)
    app.router.add_post(v0 + "/organizations", create_org)
    app.router.add_get(v0 + "/organizations/{org_id}", get_org)
    app.router.add_get(v0 + "/organizations/{org_id}/api-keys", list_keys)
    app.router.add_post(v0 + "/organizations/{org_id}/api-keys", create_key)
