"""The configuration as the admin API shows it: the settings and what the unit adds to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConfiguredCredentials:
    """A tenant's fiskaly API key in the unit's mode (the key only: never its secret)."""

    tenant: str
    api_key: str
    env: str


@dataclass(frozen=True, slots=True)
class ConfigView:
    """``GET /admin/v1/config``: the TOML settings (:func:`~tsed.config.model.config_to_dict`,
    no secrets in them), then the unit's state around them."""

    settings: Mapping[str, Any]
    usage: str
    mode: str
    saved: bool
    proxy_password_set: bool
    credentials_created: bool
    activation: str | None  # the environment of the vendor activation, if any
    credentials: tuple[ConfiguredCredentials, ...]
    url: str  # the fiskaly SIGN DE URL in use

    def to_json(self) -> dict[str, Any]:
        return {
            **self.settings,
            "usage": self.usage,
            "mode": self.mode,
            "saved": self.saved,
            "proxy_password_set": self.proxy_password_set,
            "credentials_created": self.credentials_created,
            "activation": self.activation,
            "credentials": [
                {"tenant": c.tenant, "api_key": c.api_key, "env": c.env} for c in self.credentials
            ],
            "url": self.url,
        }
