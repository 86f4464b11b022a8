"""fiskaly Management API v0: organizations and API keys (the unit's "Anlegen").

Management credentials arrive with the vendor's activation. API keys created with a
management token get that token's environment (TEST or LIVE).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from tsed.fiskaly.auth import TokenManager
from tsed.fiskaly.calls import check_v2_url
from tsed.fiskaly.errors import BadCredentials
from tsed.fiskaly.models import ApiKey, AuthToken, ModelError, Organization
from tsed.fiskaly.transport import HttpCore, ProxySettings, RetryPolicy, Timeouts

DEFAULT_MANAGEMENT_URL = "https://dashboard.fiskaly.com"
API_PREFIX = "/api/v0"


class ManagementClient:
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str = DEFAULT_MANAGEMENT_URL,
        proxy: ProxySettings | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_auth: Callable[[AuthToken], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        root = check_v2_url(base_url)
        self._http = HttpCore(
            root + API_PREFIX, proxy=proxy, timeouts=timeouts, retry=retry, transport=transport
        )
        self._auth = TokenManager(
            self._http, "/auth", api_key, api_secret, on_auth=on_auth, clock=clock
        )

    def __repr__(self) -> str:
        return f"ManagementClient(base_url={self._http.base_url!r})"

    async def start(self) -> None:
        await self._http.start()

    async def stop(self) -> None:
        await self._http.stop()

    async def authenticate(self) -> AuthToken:
        return await self._auth.authenticate()

    async def _json(self, method: str, path: str, what: str, body: Any = None) -> Any:
        token = await self._auth.token()
        try:
            response = await self._http.request(method, path, what=what, json=body, token=token)
        except BadCredentials:
            token = await self._auth.invalidate(token)
            response = await self._http.request(method, path, what=what, json=body, token=token)
        try:
            return response.json()
        except ValueError:
            raise ModelError(f"{what}: fiskaly answered without JSON") from None

    async def create_organization(
        self,
        *,
        name: str,
        address_line1: str,
        zip_code: str,
        town: str,
        country_code: str = "DEU",
        vat_id: str | None = None,
        managed_by_organization_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Organization:
        body: dict[str, Any] = {
            "name": name,
            "address_line1": address_line1,
            "zip": zip_code,
            "town": town,
            "country_code": country_code,
        }
        if vat_id:
            body["vat_id"] = vat_id
        if managed_by_organization_id:
            body["managed_by_organization_id"] = managed_by_organization_id
        if metadata:
            body["metadata"] = dict(metadata)
        data = await self._json("POST", "/organizations", "create organization", body)
        return Organization.parse(data)

    async def list_organizations(self) -> list[Organization]:
        data = await self._json("GET", "/organizations", "list organizations")
        return [Organization.parse(row) for row in data.get("data", [])]

    async def create_api_key(self, organization_id: str, name: str) -> ApiKey:
        """Create an API key; the returned secret is shown by fiskaly only this once."""
        data = await self._json(
            "POST", f"/organizations/{organization_id}/api-keys", "create API key",
            {"name": name, "status": "enabled"},
        )  # fmt: skip
        return ApiKey.parse(data)

    async def list_api_keys(self, organization_id: str) -> list[ApiKey]:
        data = await self._json(
            "GET", f"/organizations/{organization_id}/api-keys", "list API keys"
        )
        return [ApiKey.parse(row) for row in data.get("data", [])]
