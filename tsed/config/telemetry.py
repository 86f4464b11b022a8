"""The ``[telemetry]`` table: the opt-in push of the unit's metrics to the chain's Pushgateway.

Only where and how: the gateway's HTTPS address, the push interval, the labels that group the
unit's metrics (besides its device id), the kind of credential and an optional CA file. The
credential itself (a Basic password or a bearer token) is a secret and lives in the vault
(``tsectl telemetry set-token``), never here. Parsed and checked by :func:`telemetry_from_dict`
on every load and save, like every other setting (:mod:`tsed.config.model`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from tsed.config.check import (
    bool_value,
    check_keys,
    invalid,
    number_value,
    text_value,
    validate_host,
)
from tsed.config.text import setting_text, without_userinfo

AuthKind = Literal["basic", "bearer"]
DEFAULT_INTERVAL = 60.0
MIN_INTERVAL = 10.0
MAX_INTERVAL = 3600.0
KEYS = {"enabled", "gateway", "interval", "shop", "chain", "auth", "username", "ca_file"}
# what `tsectl config set telemetry.<key>` parses each value as (tsed.config.edit)
EDIT_TYPES = {
    "telemetry.enabled": "bool",
    "telemetry.gateway": "str",
    "telemetry.interval": "float",
    "telemetry.shop": "str",
    "telemetry.chain": "str",
    "telemetry.auth": "str",
    "telemetry.username": "str",
    "telemetry.ca_file": "str",
}
# a label value a dashboard can show and a shell can type: no spaces, no slashes
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_USER_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Telemetry:
    """Where the unit pushes its metrics; ``enabled`` false (the default) pushes nothing."""

    enabled: bool = False
    gateway: str | None = None  # https://host[:port][/prefix]
    interval: float = DEFAULT_INTERVAL
    shop: str | None = None
    chain: str | None = None
    auth: AuthKind = "basic"
    username: str | None = None  # Basic only; None: the unit's device id
    ca_file: str | None = None  # None: the system CA bundle

    @property
    def grouping(self) -> dict[str, str]:
        """The configured labels of the grouping key (the device id is added by the pusher)."""
        return {
            name: value for name, value in (("chain", self.chain), ("shop", self.shop)) if value
        }


def _gateway(value: str) -> str:
    key = "telemetry.gateway"
    setting_text(key, value, "telemetry.gateway")
    parts = urlsplit(value)
    if parts.scheme != "https":
        raise invalid(
            key,
            without_userinfo(value),
            "an https:// address",
            "The push carries a credential: TLS is required.",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise invalid(
            key,
            without_userinfo(value),
            "scheme, host, port and path only",
            "Credentials never go in the address: set them with tsectl telemetry set-token.",
        )
    try:
        port = parts.port
    except ValueError:
        raise invalid(key, without_userinfo(value), "the port must be 1 to 65535") from None
    validate_host(parts.hostname or "", key)
    if port == 0:
        raise invalid(key, without_userinfo(value), "the port must be 1 to 65535")
    return value.rstrip("/")


def _label(raw: Mapping[str, Any], name: str) -> str | None:
    value = text_value(raw, name, f"telemetry.{name}", None)
    if value is not None and not _LABEL_RE.fullmatch(value):
        raise invalid(
            f"telemetry.{name}",
            value,
            "1-64 of A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit",
            "It becomes a label of the unit's metrics, e.g. filiale-7.",
        )
    return value


def telemetry_from_dict(raw: Any) -> Telemetry:
    """Validate the ``[telemetry]`` table (every error names the setting)."""
    if not isinstance(raw, Mapping):
        raise invalid("telemetry", raw, "must be a table")
    check_keys(raw, KEYS, "telemetry.")
    enabled = bool(bool_value(raw, "enabled", "telemetry.enabled", False))
    gateway = text_value(raw, "gateway", "telemetry.gateway", None)
    if gateway is not None:
        gateway = _gateway(gateway)
    elif enabled:
        raise invalid(
            "telemetry.enabled",
            True,
            "needs telemetry.gateway",
            "Set the Pushgateway's address first: "
            "tsectl config set telemetry.gateway https://push.example.net:9091",
        )
    interval = number_value(
        raw, "interval", "telemetry.interval", DEFAULT_INTERVAL, MIN_INTERVAL, MAX_INTERVAL
    )
    auth = text_value(raw, "auth", "telemetry.auth", "basic")
    if auth not in ("basic", "bearer"):
        raise invalid("telemetry.auth", auth, "basic or bearer")
    username = text_value(raw, "username", "telemetry.username", None)
    if username is not None and not _USER_RE.fullmatch(username):
        raise invalid("telemetry.username", username, "1-64 of A-Z, a-z, 0-9, '.', '_', '@', '-'")
    ca_file = text_value(raw, "ca_file", "telemetry.ca_file", None)
    if ca_file is not None:
        setting_text("telemetry.ca_file", ca_file, "telemetry.ca_file")
        path = PurePosixPath(ca_file)
        if not path.is_absolute() or ".." in path.parts:
            raise invalid("telemetry.ca_file", ca_file, "an absolute path to a PEM file")
    return Telemetry(
        enabled=enabled,
        gateway=gateway,
        interval=interval or DEFAULT_INTERVAL,
        shop=_label(raw, "shop"),
        chain=_label(raw, "chain"),
        auth="bearer" if auth == "bearer" else "basic",
        username=username,
        ca_file=ca_file,
    )


def telemetry_to_dict(telemetry: Telemetry) -> dict[str, Any]:
    """The TOML shape of the table (no secret: there is none in it)."""
    data: dict[str, Any] = {"enabled": telemetry.enabled, "interval": telemetry.interval}
    data["auth"] = telemetry.auth
    for name in ("gateway", "shop", "chain", "username", "ca_file"):
        value = getattr(telemetry, name)
        if value is not None:
            data[name] = value
    return data
