"""fiskaly Management API v0: organizations and API keys (the unit's "Anlegen").

Management credentials arrive with the vendor's activation. API keys created with a
management token get that token's environment (TEST or LIVE).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tsed.fiskaly.models import ApiKey, Organization
from tsed.fiskaly.session import JsonSession

DEFAULT_MANAGEMENT_URL = "https://dashboard.fiskaly.com"
API_PREFIX = "/api/v0"


class ManagementClient(JsonSession):
    """The Management API v0 client (organizations and API keys)."""

    DEFAULT_BASE_URL: ClassVar[str] = DEFAULT_MANAGEMENT_URL
    API_PREFIX: ClassVar[str] = API_PREFIX

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
