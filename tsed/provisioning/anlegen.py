"""Provisioning: fiskaly credentials ("Anlegen" and own TEST credentials), following the mask.

The mask's rules are enforced here, not only on the setup page:

* "Anlegen" is refused until the configuration was saved once (``created_at`` set);
* without the vendor's activation it explains that the activation is missing;
* it needs the explicit confirmation of the "Ja" dialog (``confirm=True``);
* it then creates, through fiskaly's Management API with the activation's credentials, one
  managed organization per tenant (VAT ID set) and an API key + secret for the unit's mode.
  The secret goes to the vault and is returned exactly once (``to_json(reveal_secret=True)``
  of the creation result); nothing shows it later;
* the multi-tenant choice ("Mehrere Mandanten in Filialkette") must be made before
  credentials exist and is locked afterwards (:func:`credentials_created` feeds
  :func:`tsed.config.edit.set_value`).

:func:`set_credentials` lets a register developer with an own fiskaly TEST account enter key
and secret (TEST only; checked against fiskaly with an authentication).

What was created is recorded without secrets in ``<state_dir>/credentials.json``; each step is
recorded before the next one is taken, so an interrupted "Anlegen" resumes without creating a
second organization. The secrets live in the vault under
:func:`tsed.tss.registry.vault_key` ``(tenant, env, "api_key" | "api_secret")``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tsed.config.model import Config, Tenant
from tsed.errors import ConflictError, ForbiddenError, InputError, ModeError
from tsed.fiskaly import errors as ferr
from tsed.fiskaly.management import ManagementClient
from tsed.fiskaly.models import AuthToken
from tsed.provisioning.activation import (
    ActivationMissing,
    load_activation,
    management_credentials,
    require_activation,
)
from tsed.provisioning.credentials import (
    CredentialsResult,
    CredentialsStatus,
    MultiTenantLocked,
    TenantCredentials,
    check_multi_tenant,
    credentials_created,
    credentials_status,
    load_record,
    now_text,
    save_record,
    tenant_entries,
)
from tsed.state.mode import Mode, read_mode
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.tss.access import FiskalyAccess
from tsed.tss.registry import vault_key

__all__ = [
    "AddressMissing",
    "ConfigNotSaved",
    "ConfirmationRequired",
    "CredentialsExist",
    "CredentialsRejected",
    "CredentialsResult",
    "CredentialsStatus",
    "CredentialsTestOnly",
    "FiskalyAccess",
    "ManagementRejected",
    "MultiTenantLocked",
    "OrgAddress",
    "TenantCredentials",
    "create_credentials",
    "credentials_created",
    "credentials_status",
    "set_credentials",
]

_LOGGER = logging.getLogger(__name__)


# -- errors -----------------------------------------------------------------------------------


class ConfigNotSaved(ConflictError, code="CONFIG_NOT_SAVED"):
    default_hint = (
        "Save the configuration once first (setup page 'Speichern', or tsectl config set); "
        "'Anlegen' is enabled after the first save."
    )


class ConfirmationRequired(InputError, code="CONFIRMATION_REQUIRED"):
    default_hint = (
        "Confirm the dialog with 'Ja' (tsectl: --yes); the credentials are then created at "
        "fiskaly and shown once."
    )


class CredentialsExist(ConflictError, code="CREDENTIALS_EXIST"):
    default_hint = (
        "Every tenant has fiskaly credentials already; run the connection test (tsectl test)."
    )


class CredentialsRejected(InputError, code="CREDENTIALS_REJECTED"):
    default_hint = (
        "fiskaly refused this API key and secret: copy them again from the fiskaly dashboard "
        "(TEST environment)."
    )


class CredentialsTestOnly(ModeError, code="CREDENTIALS_TEST_ONLY"):
    default_hint = (
        "Own credentials are for register developers in TEST only; LIVE credentials are "
        "created with 'Anlegen' after the vendor's LIVE activation."
    )


class ManagementRejected(ForbiddenError, code="MANAGEMENT_CREDENTIALS_REJECTED"):
    default_hint = (
        "fiskaly refused the vendor's management credentials: ask the vendor for a new "
        "activation document."
    )


class AddressMissing(InputError, code="ORGANIZATION_ADDRESS_MISSING"):
    default_hint = (
        "fiskaly needs the organization's address: give it to 'Anlegen' (street, zip, town), "
        "or ask the vendor to include it in the activation document."
    )


# -- Anlegen ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrgAddress:
    address_line1: str
    zip: str
    town: str
    country_code: str = "DEU"


def _address(
    tenant: Tenant, addresses: Mapping[str, OrgAddress] | None, state_dir: Path
) -> OrgAddress:
    if addresses and tenant.id in addresses:
        return addresses[tenant.id]
    activation = load_activation(state_dir)
    org = activation.organization if activation else None
    if org and org.address_line1 and org.zip and org.town:
        return OrgAddress(org.address_line1, org.zip, org.town, org.country_code)
    raise AddressMissing(f"no address for the fiskaly organization of tenant {tenant.id!r}")


async def _management_token(client: ManagementClient, mode: Mode) -> AuthToken:
    try:
        token = await client.authenticate()
    except ferr.BadCredentials:
        raise ManagementRejected(
            "fiskaly refused the management credentials of the vendor activation"
        ) from None
    if token.env != mode:
        raise ModeError(
            f"the vendor's management credentials create {token.env} credentials, but the unit "
            f"is in {mode} mode",
            hint="Ask the vendor for an activation document for the unit's mode.",
        )
    return token


async def create_credentials(
    *,
    config: Config,
    state_dir: Path,
    vault: Vault,
    access: FiskalyAccess,
    confirm: bool,
    device_id: str = "",
    addresses: Mapping[str, OrgAddress] | None = None,
    verify: bool = True,
    store: Store | None = None,
    clock: float | None = None,
) -> CredentialsResult:
    """The mask's "Anlegen": organizations and API keys for every tenant without credentials."""
    if not config.saved:
        raise ConfigNotSaved("'Anlegen' is possible only after the configuration was saved once")
    activation = require_activation(state_dir, "'Anlegen' (creating the fiskaly credentials)")
    if not confirm:
        raise ConfirmationRequired(
            "'Anlegen' creates fiskaly credentials and needs the confirmation 'Ja'"
        )
    mgmt_creds = management_credentials(vault)
    if mgmt_creds is None:
        raise ActivationMissing(
            "the vendor's management credentials are missing from the vault",
            hint="Import the activation document again (tsectl activate FILE).",
        )
    mode = read_mode(state_dir)
    record = load_record(state_dir)
    check_multi_tenant(record, config)
    entries = tenant_entries(record, mode)
    todo = [
        t
        for t in config.tenant_list()
        if not (
            entries.get(t.id, {}).get("api_key") and vault.get(vault_key(t.id, mode, "api_secret"))
        )
    ]
    skipped = tuple(t.id for t in config.tenant_list() if t not in todo)
    if not todo:
        raise CredentialsExist(f"every tenant has fiskaly {mode} credentials already")
    now = time.time() if clock is None else clock
    for tenant in todo:  # fail before anything is created
        _address(tenant, addresses, state_dir)
    created: list[TenantCredentials] = []
    mgmt = access.management_client(mgmt_creds.api_key, mgmt_creds.api_secret)
    try:
        token = await _management_token(mgmt, mode)
        managing = activation.organization.id or token.organization_id
        record["multi_tenant"] = config.multi_tenant
        for tenant in todo:
            entry = entries.setdefault(tenant.id, {})
            org_id = entry.get("organization_id")
            if not org_id:
                address = _address(tenant, addresses, state_dir)
                name = tenant.name if config.multi_tenant else activation.organization.name
                org = await mgmt.create_organization(
                    name=name, address_line1=address.address_line1, zip_code=address.zip,
                    town=address.town, country_code=address.country_code, vat_id=tenant.vat_id,
                    managed_by_organization_id=managing,
                    metadata={"tsed_device": device_id or "unknown", "tsed_tenant": tenant.id},
                )  # fmt: skip
                org_id = org.id
                entry.update(organization_id=org_id, organization_created_at=now_text(now))
                save_record(state_dir, record)  # resumable: never a second organization
            key = await mgmt.create_api_key(org_id, f"tsed-{device_id[:8] or 'unit'}-{tenant.id}")
            if not key.secret:
                raise ferr.FiskalyError(
                    f"fiskaly created API key {key.key} without returning its secret",
                    hint="Run 'Anlegen' again; the key without secret is not used.",
                )
            vault.update(
                {
                    vault_key(tenant.id, mode, "api_key"): key.key,
                    vault_key(tenant.id, mode, "api_secret"): key.secret,
                }
            )
            entry.update(api_key=key.key, key_id=key.id, source="anlegen",
                         created_at=now_text(now))  # fmt: skip
            save_record(state_dir, record)
            created.append(TenantCredentials(tenant.id, org_id, key.key, mode, key.secret))
            _LOGGER.info(
                "fiskaly %s credentials created for tenant %s (organization %s, API key %s)",
                mode, tenant.id, org_id, key.key,
                extra={"TSED_EVENT": "credentials_created", "TSED_MODE": mode,
                       "TSED_TENANT": tenant.id},
            )  # fmt: skip
    finally:
        await mgmt.stop()
    notes: list[str] = []
    verified = await _verify_all(access, created, mode, notes) if verify else False
    if store is not None:
        await store.audit(
            "installer", "credentials_created",
            {"env": mode, "tenants": [c.tenant_id for c in created],
             "api_keys": [c.api_key for c in created]},
        )  # fmt: skip
    return CredentialsResult(mode, "anlegen", tuple(created), skipped, verified, tuple(notes))


async def _verify_all(
    access: FiskalyAccess, created: list[TenantCredentials], mode: str, notes: list[str]
) -> bool:
    """Authenticate with every new key (fiskaly may need a moment for new keys)."""
    ok = True
    for item in created:
        client = access.sign_client(item.api_key, item.api_secret or "")
        try:
            token = await client.authenticate()
            if token.env != mode:
                ok = False
                notes.append(f"tenant {item.tenant_id}: the new key is for {token.env}")
        except ferr.FiskalyError as err:
            ok = False
            notes.append(f"tenant {item.tenant_id}: the new key does not authenticate yet: "
                         f"{err.message}")  # fmt: skip
        finally:
            await client.stop()
    return ok


# -- own TEST credentials ---------------------------------------------------------------------


async def set_credentials(
    *,
    config: Config,
    state_dir: Path,
    vault: Vault,
    access: FiskalyAccess,
    api_key: str,
    api_secret: str,
    tenant_id: str | None = None,
    store: Store | None = None,
    clock: float | None = None,
) -> CredentialsResult:
    """Use an own fiskaly TEST account's key and secret (register developers; TEST only)."""
    mode = read_mode(state_dir)
    if mode != "TEST":
        raise CredentialsTestOnly("own credentials can only be set in TEST mode; the unit is LIVE")
    if not api_key.strip() or not api_secret.strip():
        raise InputError("API key and API secret must not be empty")
    if tenant_id is None:
        if config.multi_tenant:
            raise InputError(
                "with several tenants, name the tenant the credentials belong to",
                hint="Add --tenant ID (tsectl config show lists the tenants).",
            )
        tenant_id = config.tenant_list()[0].id
    config.tenant(tenant_id)  # refuses unknown tenants with a hint
    record = load_record(state_dir)
    check_multi_tenant(record, config)
    client = access.sign_client(api_key.strip(), api_secret.strip())
    try:
        token = await client.authenticate()
    except ferr.BadCredentials:
        raise CredentialsRejected(f"fiskaly refused the API key {api_key.strip()}") from None
    finally:
        await client.stop()
    if token.env != "TEST":
        raise CredentialsTestOnly(
            f"these are {token.env} credentials; own credentials must be TEST credentials"
        )
    notes: list[str] = []
    entries = tenant_entries(record, "TEST")
    old_org = entries.get(tenant_id, {}).get("organization_id")
    if store is not None and old_org and old_org != token.organization_id:
        now = time.time() if clock is None else clock
        for binding in await store.bindings():
            if binding.tenant_id == tenant_id and binding.env == "TEST":
                await store.archive_bindings_of(binding.tss_id, now)
                notes.append(
                    f"TSS {binding.tss_id} belongs to the previous fiskaly organization and was "
                    "archived; registers must be reset (tsectl reset --all)"
                )
    vault.update(
        {
            vault_key(tenant_id, "TEST", "api_key"): api_key.strip(),
            vault_key(tenant_id, "TEST", "api_secret"): api_secret.strip(),
        }
    )
    record["multi_tenant"] = config.multi_tenant
    entries[tenant_id] = {
        "api_key": api_key.strip(),
        "organization_id": token.organization_id,
        "source": "manual",
        "created_at": now_text(time.time() if clock is None else clock),
    }
    save_record(state_dir, record)
    _LOGGER.info(
        "own fiskaly TEST credentials set for tenant %s (API key %s)", tenant_id, api_key.strip(),
        extra={"TSED_EVENT": "credentials_set", "TSED_MODE": "TEST", "TSED_TENANT": tenant_id},
    )  # fmt: skip
    if store is not None:
        await store.audit(
            "installer", "credentials_set", {"tenant": tenant_id, "api_key": api_key.strip()}
        )
    creds = TenantCredentials(tenant_id, token.organization_id, api_key.strip(), "TEST")
    return CredentialsResult("TEST", "manual", (creds,), (), True, tuple(notes))
