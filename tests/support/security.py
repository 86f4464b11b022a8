"""Helpers of the attack scripts: the admin socket, clients from other loopback addresses."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.unit import Unit

ADMIN_PASSWORD = "richtig-langes-Passwort"


async def admin_call(unit: Unit, method: str, path: str, body: Any = None) -> httpx.Response:
    """One call on the unit's admin socket (what tsectl and the console use)."""
    transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://tsed") as client:
        return await client.request(method, path, json=body)


async def set_admin_password(unit: Unit, password: str = ADMIN_PASSWORD) -> None:
    response = await admin_call(unit, "PUT", "/admin/v1/password", {"password": password})
    assert response.status_code == 200, response.text


async def web_login(unit: Unit, password: str = ADMIN_PASSWORD) -> tuple[httpx.AsyncClient, str]:
    """A logged-in setup-page client and its CSRF token."""
    client = httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context(), timeout=30)
    response = await client.post("/setup/login", json={"password": password})
    assert response.status_code == 200, response.text
    return client, str(response.json()["csrf"])
