"""Editing the configuration one dotted key at a time (``tsectl config set KEY VALUE``).

Values arrive as text, are parsed into the right type and validated exactly like a loaded
file (:func:`tsed.config.model.config_from_dict`).
"""

from __future__ import annotations

import math
from typing import Any

from tsed.config.check import V1_KEYS, check_keys, invalid
from tsed.config.model import LEGACY_VENDOR_KEY, Config, config_from_dict, config_to_dict
from tsed.config.offbox import TYPES as OFFBOX_TYPES
from tsed.config.telemetry import EDIT_TYPES as TELEMETRY_TYPES
from tsed.errors import ConfigError

# -- editing ----------------------------------------------------------------------------------

_BOOL_WORDS = {
    "true": True,
    "ja": True,
    "on": True,
    "yes": True,
    "1": True,
    "false": False,
    "nein": False,
    "off": False,
    "no": False,
    "0": False,
}
_TYPES: dict[str, str] = {
    "name": "str",
    "register_deadline": "float",
    "extended_logging": "bool",
    "pairing_minutes": "int",
    "abandon_minutes": "float",
    "max_open_per_register": "int",
    "archive_hour": "int",
    "console_port": "str",
    "multi_tenant": "bool",
    "language": "str",
    "proxy.host": "str",
    "proxy.port": "int",
    "proxy.username": "str",
    "tenants.*.name": "str",
    "tenants.*.vat_id": "str",
    "workplaces.*.register_deadline": "float",
    "workplaces.*.extended_logging": "bool",
    "workplaces.*.tenant": "str",
    **OFFBOX_TYPES,
    **TELEMETRY_TYPES,
}

_NAMES = {"name", "tenants.*.name"}  # a name of only spaces is refused, never replaced


def _parse_raw(kind: str, key: str, raw: str) -> Any:
    text = raw.strip()
    if text == "":
        return None
    if kind == "bool":
        if text.lower() not in _BOOL_WORDS:
            raise invalid(key, raw, "true or false (also ja/nein, on/off)", text="config.bool")
        return _BOOL_WORDS[text.lower()]
    if kind in ("int", "float"):
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise invalid(key, raw, "must be a number", text="config.number") from None
        if not math.isfinite(number):
            raise invalid(key, raw, "must be a finite number", text="config.number")
        if kind == "int":
            if number != int(number):
                raise invalid(key, raw, "must be a whole number", text="config.integer")
            return int(number)
        return number
    return text


def set_value(config: Config, key: str, raw: str, *, credentials_created: bool = False) -> Config:
    """Set one dotted key from text, validated exactly like a loaded file."""
    parts = key.split(".")
    pattern = key if len(parts) < 3 else f"{parts[0]}.*.{parts[2]}"
    if key == "created_at":
        raise ConfigError(
            "created_at is read-only: it is set when the configuration is first saved"
        ).localized("config.read_only", field=key)
    if key == LEGACY_VENDOR_KEY:
        raise ConfigError(
            f"{LEGACY_VENDOR_KEY} is not a setting: the unit trusts only the vendor key "
            "installed with its image",
            hint="Only the vendor switches a unit to LIVE; a different vendor key needs a "
            "different image.",
        )
    if parts[0].lower() in V1_KEYS:
        check_keys({parts[0]: raw}, set(), "")
    if pattern not in _TYPES or len(parts) > 3:
        raise ConfigError(
            f"{key}: unknown setting",
            hint="Known: " + ", ".join(k.replace("*", "<id>") for k in _TYPES) + ".",
        ).localized("config.unknown", field=key, key=key, known="tsectl config show")
    if pattern in _NAMES and raw and not raw.strip():
        raise invalid(
            key,
            raw,
            "only spaces is not a name",
            hint="Type a name, or leave the field empty for the default.",
            text="config.spaces",
        )
    value = _parse_raw(_TYPES[pattern], key, raw)
    data = config_to_dict(config)
    target = data
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    if value is None:
        target.pop(parts[-1], None)
        if (parts[0], parts[-1]) in (("proxy", "host"), ("offbox", "repository")):
            data.pop(parts[0], None)
    else:
        target[parts[-1]] = value
    if (
        parts[0] == "proxy"
        and "proxy" in data
        and "port" not in data["proxy"]
        and value is not None
    ):
        data["proxy"]["port"] = 3128 if parts[-1] == "host" else data["proxy"].get("port")
    new = config_from_dict(data)
    check_locked_change(config, new, credentials_created=credentials_created)
    return new


def check_locked_change(old: Config, new: Config, *, credentials_created: bool) -> None:
    """The mask's rule: the multi-tenant choice is locked once credentials exist."""
    if credentials_created and old.multi_tenant != new.multi_tenant:
        raise ConfigError(
            "multi_tenant cannot change after the fiskaly credentials were created",
            hint="Decide 'Mehrere Mandanten in Filialkette' before Anlegen; to change it now, "
            "reset the unit's credentials (tsectl reset --all) first.",
        ).localized("config.multi_locked", field="multi_tenant")
