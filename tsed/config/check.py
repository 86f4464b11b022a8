"""Checks of single configuration values: each error names the setting (dotted key), the
value and the rule. Used by :mod:`tsed.config.model` (load, save) and :mod:`tsed.config.edit`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from tsed.errors import ConfigError

HOST_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
VAT_RE = re.compile(r"^DE[0-9]{9}$")
V1_KEYS = {
    "url",
    "base_url",
    "fiskaly_url",
    "api_url",
    "api_version",
    "kassensichv_url",
    "fiskaly_base_url",
    "version",
    "endpoint",
}


def vat_check_digit(first_eight: str) -> int:
    """Check digit of a German USt-IdNr (ISO 7064, MOD 11,10) from its first 8 digits."""
    product = 10
    for char in first_eight:
        total = (int(char) + product) % 10 or 10
        product = (2 * total) % 11
    check = 11 - product
    return 0 if check == 10 else check


def validate_vat_id(value: str, key: str) -> str:
    vat = value.strip().upper().replace(" ", "")
    if not VAT_RE.fullmatch(vat):
        raise ConfigError(
            f"{key}: {value!r} is not a German USt-IdNr (rule: 'DE' followed by 9 digits)",
            hint="Write the VAT ID as printed on the tax office's letter, e.g. DE123456789.",
        ).localized("config.vat", field=key, value=value)
    if vat_check_digit(vat[2:10]) != int(vat[10]):
        raise ConfigError(
            f"{key}: {value!r} fails the USt-IdNr check digit (rule: ISO 7064 MOD 11,10)",
            hint="A digit is probably mistyped; compare with the tax office's letter.",
        ).localized("config.vat_digit", field=key, value=value)
    return vat


def invalid(
    key: str,
    value: Any,
    rule: str,
    hint: str | None = None,
    *,
    text: str = "config.invalid",
    **params: Any,
) -> ConfigError:
    """The setting ``key`` has a bad ``value``: English ``rule``; ``text`` names the catalogue
    line (:mod:`tsed.texts`) with ``params`` for the German and English text."""
    shown = "" if value is None else str(value)
    return ConfigError(f"{key}: {value!r} is not valid ({rule})", hint=hint).localized(
        text, field=key, value=shown, **params
    )


def text_value(data: Mapping[str, Any], key: str, path: str, default: str | None) -> str | None:
    value = data.get(key, default)
    if value is None or (isinstance(value, str) and value == "" and default is None):
        return None
    if not isinstance(value, str):
        raise invalid(path, value, "must be text", text="config.text")
    return value


def number_value(
    data: Mapping[str, Any], key: str, path: str, default: float | None, low: float, high: float
) -> float | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(
            path, value, f"must be a number from {low} to {high}", text="config.range",
            low=_num(low), high=_num(high),
        )  # fmt: skip
    if not low <= float(value) <= high:
        raise invalid(
            path, value, f"must be from {low} to {high}", text="config.range",
            low=_num(low), high=_num(high),
        )  # fmt: skip
    return float(value)


def whole_value(
    data: Mapping[str, Any], key: str, default: int, low: int, high: int, unit: str = ""
) -> float:
    value = number_value(data, key, key, default, low, high)
    if value is None or value != int(value):
        raise invalid(
            key, value, f"a whole number{unit} from {low} to {high}", text="config.whole",
            low=low, high=high,
        )  # fmt: skip
    return value


def bool_value(data: Mapping[str, Any], key: str, path: str, default: bool | None) -> bool | None:
    value = data.get(key, default)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(path, value, "must be true or false", text="config.bool")
    return value


def check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in data:
        path = f"{where}{key}"
        if key.lower() in V1_KEYS or (
            isinstance(data[key], str) and ("/api/v1" in data[key] or "kassensichv.io" in data[key])
        ):
            raise ConfigError(
                f"{path}: only fiskaly SIGN DE API V2 is supported; the fiskaly URL is not a "
                "setting (it follows from the mode) and fiskaly V1 is no longer supported",
                hint=f"Remove '{path}' from the configuration.",
            ).localized("config.v1", field=path, key=path)
        if key not in allowed:
            raise ConfigError(
                f"{path}: unknown setting",
                hint=f"Check the spelling; known settings here: {', '.join(sorted(allowed))}.",
            ).localized("config.unknown", field=path, key=path, known=", ".join(sorted(allowed)))


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def validate_host(value: str, key: str) -> str:
    host = value.strip()
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    if not HOST_RE.fullmatch(host):
        raise invalid(key, value, "must be a host name or an IP address", text="config.host")
    return host.lower()
