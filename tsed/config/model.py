"""The unit's configuration: one typed model mirroring the vendor's mask "KassenSichV-Fiskaly".

File: TOML (``/etc/tsed/tsed.toml`` by default), validated on load and on save, written
atomically. Every error names the setting (dotted key), the value and the rule. See
``docs/configuration.md`` for each setting and the mask field it mirrors.

The fiskaly URL is not a setting: it follows from the mode (:func:`fiskaly_urls`). Only fiskaly
SIGN DE API V2 is supported; a configuration asking for V1 is refused.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

from tsed.config.check import (
    bool_value,
    check_keys,
    invalid,
    number_value,
    text_value,
    validate_host,
    validate_vat_id,
    whole_value,
)
from tsed.config.offbox import OffboxConfig, offbox_from_dict, offbox_to_dict
from tsed.config.telemetry import Telemetry, telemetry_from_dict, telemetry_to_dict
from tsed.config.text import checked_setting, setting_text
from tsed.errors import ConfigError
from tsed.state.files import atomic_write
from tsed.state.mode import Mode
from tsed.texts import LANGUAGES

_LOGGER = logging.getLogger(__name__)

DEFAULT_NAME = "KassenSichV-Fiskaly"
USAGE = "clientseitig"
SIGN_URL = "https://kassensichv-middleware.fiskaly.com"
MANAGEMENT_URL = "https://dashboard.fiskaly.com"
URL_OVERRIDE_ENV = "TSED_FISKALY_BASE_URL"
DEFAULT_TENANT = "default"
# Once a setting; now ignored with a warning (the vendor key is fixed in the image, see
# tsed.unit.options.VENDOR_KEY_PATH) and dropped at the next save.
LEGACY_VENDOR_KEY = "vendor_public_key"

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    username: str | None = None


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    vat_id: str | None = None


@dataclass(frozen=True, slots=True)
class Workplace:
    """Per-workplace (register) overrides of chain-wide settings; None = chain-wide value."""

    id: str
    register_deadline: float | None = None
    extended_logging: bool | None = None
    tenant: str | None = None

    @property
    def has_overrides(self) -> bool:
        return any(
            v is not None for v in (self.register_deadline, self.extended_logging, self.tenant)
        )


@dataclass(frozen=True, slots=True)
class Config:
    name: str = DEFAULT_NAME
    created_at: str | None = None
    register_deadline: float = 3.0
    extended_logging: bool = False
    pairing_minutes: int = 5
    abandon_minutes: float = 60.0
    max_open_per_register: int = 100  # open transactions per register (a TSS allows 2000)
    archive_hour: int = 2  # local hour of the nightly archive run (tsed.archive.schedule)
    console_port: str = "/dev/ttyGS0"
    multi_tenant: bool = False
    language: str = "de"  # of tsectl and the console (tsed.texts); the setup page has its own
    proxy: Proxy | None = None
    tenants: tuple[Tenant, ...] = ()
    workplaces: tuple[Workplace, ...] = field(default=())
    offbox: OffboxConfig | None = None  # the archive's off-box copy (tsed.config.offbox)
    telemetry: Telemetry = field(default=Telemetry())

    @property
    def usage(self) -> str:
        return USAGE

    @property
    def saved(self) -> bool:
        """The mask's rule: some actions need the configuration to be saved once."""
        return self.created_at is not None

    def tenant_list(self) -> tuple[Tenant, ...]:
        """The tenants in effect: without the multi-tenant flag exactly one."""
        if self.multi_tenant:
            return self.tenants
        if self.tenants:
            return (self.tenants[0],)
        return (Tenant(DEFAULT_TENANT, self.name),)

    def tenant(self, tenant_id: str) -> Tenant:
        for tenant in self.tenant_list():
            if tenant.id == tenant_id:
                return tenant
        known = ", ".join(t.id for t in self.tenant_list())
        raise ConfigError(
            f"tenant {tenant_id!r} does not exist (known: {known})",
            hint="Add it (tsectl config set tenants.<id>.name NAME, then .vat_id), "
            "or use a known one.",
        )

    def workplace(self, workplace_id: str) -> Workplace | None:
        return next((w for w in self.workplaces if w.id == workplace_id), None)


@dataclass(frozen=True, slots=True)
class EffectiveSettings:
    register_deadline: float
    extended_logging: bool
    tenant: str


def effective(config: Config, workplace_id: str | None) -> EffectiveSettings:
    """Chain-wide settings with the workplace's overrides applied."""
    default_tenant = config.tenant_list()[0].id if config.tenant_list() else DEFAULT_TENANT
    place = config.workplace(workplace_id) if workplace_id else None
    if place is None:
        return EffectiveSettings(config.register_deadline, config.extended_logging, default_tenant)
    return EffectiveSettings(
        place.register_deadline
        if place.register_deadline is not None
        else config.register_deadline,
        place.extended_logging if place.extended_logging is not None else config.extended_logging,
        place.tenant or default_tenant,
    )


def workplaces_with_overrides(config: Config) -> tuple[Workplace, ...]:
    """The mask's list filter "Mit Arbeitsplatzeinstellungen"."""
    return tuple(w for w in config.workplaces if w.has_overrides)


_TOP = {
    "name",
    "created_at",
    "register_deadline",
    "extended_logging",
    "pairing_minutes",
    "abandon_minutes",
    "max_open_per_register",
    "archive_hour",
    "console_port",
    LEGACY_VENDOR_KEY,
    "multi_tenant",
    "language",
    "proxy",
    "tenants",
    "workplaces",
    "offbox",
    "telemetry",
}


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Validate a TOML-shaped mapping into a :class:`Config` (the single validation path)."""
    check_keys(data, _TOP, "")
    if LEGACY_VENDOR_KEY in data:
        _LOGGER.warning(
            "the configuration still has %s: it is ignored (the unit trusts only the vendor key "
            "installed with its image) and removed at the next save",
            LEGACY_VENDOR_KEY,
            extra={"TSED_EVENT": "config_legacy_key", "TSED_KEY": LEGACY_VENDOR_KEY},
        )
    name = text_value(data, "name", "name", DEFAULT_NAME) or DEFAULT_NAME
    if not 1 <= len(name.encode()) <= 48 or not name.isprintable() or not name.strip():
        raise invalid(
            "name", name, "1 to 48 bytes of printable text (it is the mDNS label)",
            text="config.name",
        )  # fmt: skip
    created = text_value(data, "created_at", "created_at", None)
    if created is not None:
        try:
            datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            raise invalid("created_at", created, "an ISO 8601 time") from None
    proxy = None
    if "proxy" in data:
        raw = data["proxy"]
        if not isinstance(raw, Mapping):
            raise invalid("proxy", raw, "must be a table with host and port")
        check_keys(raw, {"host", "port", "username"}, "proxy.")
        host = text_value(raw, "host", "proxy.host", None)
        port = raw.get("port")
        if (host or port is not None) and (
            isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535
        ):
            raise invalid(
                "proxy.port",
                port,
                "a whole number from 1 to 65535",
                "Ask the network administrator for the proxy's port, e.g. 3128.",
                text="config.port",
            )
        if host:
            proxy = Proxy(
                validate_host(host, "proxy.host"),
                int(raw["port"]),
                checked_setting(
                    text_value(raw, "username", "proxy.username", None), "proxy.username"
                ),
            )
    tenants = []
    raw_tenants = data.get("tenants", {})
    if not isinstance(raw_tenants, Mapping):
        raise invalid("tenants", raw_tenants, "must be a table of tenants")
    for tenant_id, raw in raw_tenants.items():
        path = f"tenants.{tenant_id}"
        if not _ID_RE.fullmatch(tenant_id):
            raise invalid(path, tenant_id, "tenant ids are 1-32 of a-z, 0-9 and '-'")
        if not isinstance(raw, Mapping):
            raise invalid(path, raw, "must be a table with name and vat_id")
        check_keys(raw, {"name", "vat_id"}, path + ".")
        tname = text_value(raw, "name", path + ".name", None)
        if not tname:
            raise invalid(path + ".name", tname, "a tenant needs a name")
        setting_text(path + ".name", tname, "tenants.*.name")
        vat = text_value(raw, "vat_id", path + ".vat_id", None)
        tenants.append(
            Tenant(tenant_id, tname, validate_vat_id(vat, path + ".vat_id") if vat else None)
        )
    multi = bool(bool_value(data, "multi_tenant", "multi_tenant", False))
    if multi:
        vats = [t.vat_id for t in tenants]
        if any(v is None for v in vats):
            raise ConfigError(
                "multi_tenant: every tenant needs a VAT ID (vat_id)",
                hint="A TSS belongs to exactly one company / VAT ID.",
            )
        if len(set(vats)) != len(vats):
            raise ConfigError(
                "tenants: two tenants have the same VAT ID",
                hint="Tenants are companies with different VAT IDs.",
            )
    workplaces = []
    raw_places = data.get("workplaces", {})
    if not isinstance(raw_places, Mapping):
        raise invalid("workplaces", raw_places, "must be a table of workplaces")
    tenant_ids = {t.id for t in tenants} or {DEFAULT_TENANT}
    for place_id, raw in raw_places.items():
        path = f"workplaces.{setting_text('workplaces.<serial>', place_id, 'workplaces.*')}"
        if not isinstance(raw, Mapping):
            raise invalid(path, raw, "must be a table of overrides")
        check_keys(raw, {"register_deadline", "extended_logging", "tenant"}, path + ".")
        tenant = text_value(raw, "tenant", path + ".tenant", None)
        if tenant is not None and tenant not in tenant_ids:
            raise invalid(path + ".tenant", tenant, f"must be one of {sorted(tenant_ids)}")
        workplaces.append(
            Workplace(
                place_id,
                number_value(
                    raw, "register_deadline", path + ".register_deadline", None, 0.5, 30.0
                ),
                bool_value(raw, "extended_logging", path + ".extended_logging", None),
                tenant,
            )
        )
    minutes = whole_value(data, "pairing_minutes", 5, 1, 60, " of minutes")
    language = text_value(data, "language", "language", "de") or "de"
    if language not in LANGUAGES:
        raise invalid("language", language, "de or en", text="config.language")
    return Config(
        name=name,
        created_at=created,
        register_deadline=number_value(
            data, "register_deadline", "register_deadline", 3.0, 0.5, 30.0
        )
        or 3.0,
        extended_logging=bool(bool_value(data, "extended_logging", "extended_logging", False)),
        pairing_minutes=int(minutes),
        abandon_minutes=number_value(data, "abandon_minutes", "abandon_minutes", 60.0, 0.01, 1440.0)
        or 60.0,
        max_open_per_register=int(whole_value(data, "max_open_per_register", 100, 1, 1000)),
        archive_hour=int(whole_value(data, "archive_hour", 2, 0, 23, " (an hour of the day)")),
        console_port=checked_setting(
            text_value(data, "console_port", "console_port", "/dev/ttyGS0"), "console_port"
        )
        or "",
        multi_tenant=multi,
        language=language,
        proxy=proxy,
        tenants=tuple(tenants),
        workplaces=tuple(workplaces),
        offbox=offbox_from_dict(data["offbox"]) if "offbox" in data else None,
        telemetry=telemetry_from_dict(data.get("telemetry", {})),
    )


def config_to_dict(config: Config) -> dict[str, Any]:
    """The TOML shape of a configuration (no secrets: there are none in it)."""
    data: dict[str, Any] = {
        "name": config.name,
        "register_deadline": config.register_deadline,
        "extended_logging": config.extended_logging,
        "pairing_minutes": config.pairing_minutes,
        "abandon_minutes": config.abandon_minutes,
        "max_open_per_register": config.max_open_per_register,
        "archive_hour": config.archive_hour,
        "console_port": config.console_port,
        "multi_tenant": config.multi_tenant,
        "language": config.language,
    }
    if config.created_at:
        data["created_at"] = config.created_at
    if config.proxy:
        proxy: dict[str, Any] = {"host": config.proxy.host, "port": config.proxy.port}
        if config.proxy.username:
            proxy["username"] = config.proxy.username
        data["proxy"] = proxy
    if config.tenants:
        data["tenants"] = {
            t.id: {"name": t.name, **({"vat_id": t.vat_id} if t.vat_id else {})}
            for t in config.tenants
        }
    if config.workplaces:
        data["workplaces"] = {
            w.id: {
                k: v
                for k, v in (
                    ("register_deadline", w.register_deadline),
                    ("extended_logging", w.extended_logging),
                    ("tenant", w.tenant),
                )
                if v is not None
            }
            for w in config.workplaces
        }
    if config.offbox:
        data["offbox"] = offbox_to_dict(config.offbox)
    if config.telemetry != Telemetry():
        data["telemetry"] = telemetry_to_dict(config.telemetry)
    return data


def load_config(path: Path) -> Config:
    """Load and validate; a missing file means the defaults."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from err
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"{path} is not valid TOML: {err}",
            hint="Fix the file or restore it; tsectl config set writes valid files.",
        ) from err
    return config_from_dict(data)


def save_config(path: Path, config: Config) -> Config:
    """Validate and write atomically. Sets ``created_at`` on the first save."""
    if config.created_at is None:
        config = replace(config, created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    data = config_to_dict(config)
    config = config_from_dict(data)  # the same rules as load
    atomic_write(path, tomli_w.dumps(data).encode(), mode=0o644)
    return config


# -- fiskaly URL ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FiskalyUrls:
    sign: str
    management: str
    overridden: bool


def fiskaly_urls(mode: Mode, environ: Mapping[str, str]) -> FiskalyUrls:
    """The fiskaly hosts for the mode; ``TSED_FISKALY_BASE_URL`` overrides both (TEST only)."""
    override = environ.get(URL_OVERRIDE_ENV, "").strip()
    if not override:
        return FiskalyUrls(SIGN_URL, MANAGEMENT_URL, overridden=False)
    if "/api/v1" in override or "kassensichv.io" in override:
        raise ConfigError(
            f"{URL_OVERRIDE_ENV}={override!r} is a fiskaly V1 address: only SIGN DE API V2 "
            "is supported",
            hint=f"Unset {URL_OVERRIDE_ENV}.",
        )
    if mode == "LIVE":
        raise ConfigError(
            f"{URL_OVERRIDE_ENV} is set, but the unit is in LIVE mode: in LIVE the fiskaly "
            "URL cannot be changed",
            hint=f"Remove {URL_OVERRIDE_ENV} from the service environment and restart.",
        )
    _LOGGER.warning(
        "TEST mode with the fiskaly URL overridden by %s: %s (testing/staging only)",
        URL_OVERRIDE_ENV,
        override,
        extra={"TSED_EVENT": "fiskaly_url_override", "TSED_URL": override},
    )
    return FiskalyUrls(override, override, overridden=True)
