"""What the unit knows about its fiskaly credentials, without secrets.

``<state_dir>/credentials.json`` records per environment and tenant the fiskaly organization,
the API key (never the secret: that lives in the vault under
:func:`tsed.tss.registry.vault_key` ``(tenant, env, "api_key" | "api_secret")``), where the
credentials came from ("anlegen" or "manual") and when, and the multi-tenant choice they were
created with (locked from then on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tsed.config.model import Config
from tsed.errors import ConfigError
from tsed.provisioning.activation import load_activation
from tsed.state.files import atomic_write
from tsed.state.mode import read_mode
from tsed.state.paths import StatePaths
from tsed.state.vault import Vault
from tsed.tss.registry import vault_key


class MultiTenantLocked(ConfigError, code="MULTI_TENANT_LOCKED"):
    default_hint = (
        "'Mehrere Mandanten in Filialkette' must be decided before the credentials are created "
        "and cannot change afterwards; set it back, or reset the unit's credentials first."
    )


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenantCredentials:
    tenant_id: str
    organization_id: str | None
    api_key: str
    env: str
    api_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class CredentialsResult:
    """What "Anlegen" / :func:`set_credentials` did. Holds the new secrets only at creation."""

    env: str
    source: str  # "anlegen" | "manual"
    created: tuple[TenantCredentials, ...]
    skipped: tuple[str, ...] = ()
    verified: bool = False
    notes: tuple[str, ...] = ()

    def to_json(self, *, reveal_secret: bool = False) -> dict[str, Any]:
        """The API answer; ``reveal_secret=True`` only for the one answer right after creation."""
        tenants = []
        for item in self.created:
            entry: dict[str, Any] = {
                "tenant_id": item.tenant_id,
                "organization_id": item.organization_id,
                "api_key": item.api_key,
                "env": item.env,
            }
            if reveal_secret and item.api_secret is not None:
                entry["api_secret"] = item.api_secret
            tenants.append(entry)
        return {
            "env": self.env,
            "source": self.source,
            "credentials": tenants,
            "skipped_tenants": list(self.skipped),
            "verified": self.verified,
            "notes": list(self.notes),
            "secret_shown_once": reveal_secret,
        }


@dataclass(frozen=True, slots=True)
class CredentialsStatus:
    """Which tenants have credentials in which environment (no secrets)."""

    mode: str
    activated: bool
    activation_env: str | None
    multi_tenant_locked: bool
    tenants: tuple[TenantCredentials, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "activated": self.activated,
            "activation_env": self.activation_env,
            "multi_tenant_locked": self.multi_tenant_locked,
            "tenants": [
                {"tenant_id": t.tenant_id, "organization_id": t.organization_id,
                 "api_key": t.api_key, "env": t.env}
                for t in self.tenants
            ],
        }  # fmt: skip


# -- the record (no secrets) ------------------------------------------------------------------


def now_text(clock: float) -> str:
    return datetime.fromtimestamp(clock, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_record(state_dir: Path) -> dict[str, Any]:
    path = StatePaths(state_dir).credentials
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"envs": {}}
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"the credentials record {path} is damaged ({err})",
            hint="Restore the state directory from a backup or call service.",
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("envs"), dict):
        raise ConfigError(f"the credentials record {path} is damaged (no envs)")
    return data


def save_record(state_dir: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    atomic_write(StatePaths(state_dir).credentials, text.encode(), mode=0o640)


def tenant_entries(record: dict[str, Any], env: str) -> dict[str, dict[str, Any]]:
    envs: dict[str, Any] = record["envs"]
    entry = envs.setdefault(env, {"tenants": {}})
    tenants: dict[str, dict[str, Any]] = entry.setdefault("tenants", {})
    return tenants


def credentials_created(state_dir: Path) -> bool:
    """True once fiskaly credentials exist (locks the multi-tenant choice)."""
    record = load_record(state_dir)
    return any(
        any(t.get("api_key") for t in env.get("tenants", {}).values())
        for env in record["envs"].values()
    )


def check_multi_tenant(record: dict[str, Any], config: Config) -> None:
    locked = record.get("multi_tenant")
    if locked is not None and bool(locked) != config.multi_tenant and has_keys(record):
        raise MultiTenantLocked(
            "multi_tenant: the credentials were created with 'Mehrere Mandanten in Filialkette' "
            f"{'on' if locked else 'off'}; it cannot change after the credentials exist"
        )


def has_keys(record: dict[str, Any]) -> bool:
    return any(
        any(t.get("api_key") for t in env.get("tenants", {}).values())
        for env in record["envs"].values()
    )


def credentials_status(state_dir: Path, vault: Vault) -> CredentialsStatus:
    mode = read_mode(state_dir)
    record = load_record(state_dir)
    activation = load_activation(state_dir)
    tenants = []
    for env, entry in sorted(record["envs"].items()):
        for tenant_id, item in sorted(entry.get("tenants", {}).items()):
            if item.get("api_key") and vault.get(vault_key(tenant_id, env, "api_secret")):
                tenants.append(
                    TenantCredentials(tenant_id, item.get("organization_id"), item["api_key"], env)
                )
    return CredentialsStatus(
        mode=mode,
        activated=activation is not None,
        activation_env=activation.environment if activation else None,
        multi_tenant_locked=has_keys(record),
        tenants=tuple(tenants),
    )
