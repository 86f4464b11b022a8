"""'Anlegen' and own TEST credentials: every rule of the mask, against the simulator over HTTP."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

import pytest

from tests.support.provisioning import (
    DEVICE,
    VAT_A,
    VAT_B,
    Unit,
    multi_tenant_config,
    saved_config,
    unit,
)
from tsed.config.edit import set_value
from tsed.config.model import Tenant
from tsed.errors import ConfigError, InputError, ModeError
from tsed.fiskaly import errors as ferr
from tsed.fiskaly.client import FiskalyClient
from tsed.provisioning.activation import ActivationMissing
from tsed.provisioning.anlegen import (
    AddressMissing,
    ConfigNotSaved,
    ConfirmationRequired,
    CredentialsExist,
    CredentialsRejected,
    CredentialsTestOnly,
    FiskalyAccess,
    ManagementRejected,
    MultiTenantLocked,
    OrgAddress,
    create_credentials,
    credentials_created,
    credentials_status,
    set_credentials,
)
from tsed.state.rows import BindingRow
from tsed.tss.registry import vault_key

__all__ = ["unit"]


async def _anlegen(u: Unit, config=None, **kwargs):
    args: dict[str, Any] = {"confirm": True, "device_id": DEVICE, "store": u.store}
    args.update(kwargs)
    return await create_credentials(
        config=config or saved_config(), state_dir=u.state_dir, vault=u.vault, access=u.access,
        **args,
    )  # fmt: skip


def _managed_orgs(u: Unit, manager: str) -> list[Any]:
    return [o for o in u.sim.state.orgs.values() if o.managed_by == manager]


async def test_refused_until_the_configuration_was_saved(unit: Unit) -> None:
    unit.activate()
    with pytest.raises(ConfigNotSaved) as caught:
        await _anlegen(unit, replace(saved_config(), created_at=None))
    assert caught.value.code == "CONFIG_NOT_SAVED" and "save" in caught.value.hint.lower()


async def test_without_activation_it_says_the_activation_is_missing(unit: Unit) -> None:
    with pytest.raises(ActivationMissing) as caught:
        await _anlegen(unit)
    assert caught.value.code == "ACTIVATION_MISSING"
    assert "Freischaltung" in caught.value.message and "vendor" in caught.value.hint


async def test_needs_the_explicit_confirmation(unit: Unit) -> None:
    _result, mgmt = unit.activate()
    orgs_before = len(unit.sim.state.orgs)
    with pytest.raises(ConfirmationRequired) as caught:
        await _anlegen(unit, confirm=False)
    assert caught.value.code == "CONFIRMATION_REQUIRED"
    assert len(unit.sim.state.orgs) == orgs_before
    assert not credentials_created(unit.state_dir)
    assert mgmt.api_key


async def test_creates_organization_and_key_which_authenticates(unit: Unit, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    _result, mgmt = unit.activate()
    config = saved_config(tenants=(Tenant("default", "Filiale", VAT_A),))
    result = await _anlegen(unit, config)
    assert result.env == "TEST" and result.source == "anlegen" and result.verified
    (created,) = result.created
    secret = created.api_secret
    assert secret and len(secret) == 43
    # the organization at fiskaly: managed by the vendor's organization, VAT ID set
    (org,) = _managed_orgs(unit, mgmt.organization_id)
    assert org.id == created.organization_id and org.vat_id == VAT_A
    assert org.name == "Optik Muster GmbH"
    key = unit.sim.state.keys[created.api_key]
    assert key.env == "TEST" and key.organization_id == org.id
    # the secret: in the vault, shown once, nowhere else
    assert unit.vault.get(vault_key("default", "TEST", "api_secret")) == secret
    assert secret not in json.dumps(result.to_json())
    assert result.to_json(reveal_secret=True)["credentials"][0]["api_secret"] == secret
    assert secret not in repr(result) and secret not in caplog.text
    assert secret not in (unit.state_dir / "credentials.json").read_text()
    status = credentials_status(unit.state_dir, unit.vault)
    assert secret not in json.dumps(status.to_json()) and status.multi_tenant_locked
    # the new key works on the SIGN DE API and belongs to the new organization
    async with FiskalyClient(
        api_key=created.api_key, api_secret=secret, base_url=unit.server.base_url
    ) as client:
        token = await client.authenticate()
    assert token.env == "TEST" and token.organization_id == org.id
    # once created, a second Anlegen has nothing to do
    with pytest.raises(CredentialsExist):
        await _anlegen(unit, config)


async def test_multi_tenant_one_organization_per_tenant_and_lock(unit: Unit) -> None:
    _result, mgmt = unit.activate()
    config = multi_tenant_config(Tenant("nord", "Optik Nord GmbH", VAT_A),
                                 Tenant("sued", "Optik Süd GmbH", VAT_B))  # fmt: skip
    assert not credentials_created(unit.state_dir)
    # before credentials exist the choice may still change
    set_value(config, "multi_tenant", "false", credentials_created=False)
    result = await _anlegen(unit, config)
    assert {c.tenant_id for c in result.created} == {"nord", "sued"}
    orgs = {o.vat_id: o for o in _managed_orgs(unit, mgmt.organization_id)}
    assert set(orgs) == {VAT_A, VAT_B}
    assert orgs[VAT_B].name == "Optik Süd GmbH"
    for item in result.created:
        assert unit.sim.state.keys[item.api_key].organization_id == item.organization_id
    # afterwards the choice is locked: in the configuration editor and in Anlegen
    assert credentials_created(unit.state_dir)
    with pytest.raises(ConfigError) as caught:
        set_value(config, "multi_tenant", "false",
                  credentials_created=credentials_created(unit.state_dir))  # fmt: skip
    assert "multi_tenant" in caught.value.message
    with pytest.raises(MultiTenantLocked) as locked:
        await _anlegen(unit, saved_config())
    assert locked.value.code == "MULTI_TENANT_LOCKED"
    # a tenant added later gets its own credentials; the others are kept
    bigger = multi_tenant_config(Tenant("nord", "Optik Nord GmbH", VAT_A),
                                 Tenant("sued", "Optik Süd GmbH", VAT_B),
                                 Tenant("west", "Optik West GmbH", "DE100000008"))  # fmt: skip
    more = await _anlegen(unit, bigger)
    assert [c.tenant_id for c in more.created] == ["west"]
    assert set(more.skipped) == {"nord", "sued"}


async def test_live_activation_creates_live_credentials(unit: Unit) -> None:
    result, _mgmt = unit.activate("LIVE")
    assert result.mode == "LIVE"
    created = await _anlegen(unit)
    assert created.env == "LIVE" and created.verified
    assert unit.sim.state.keys[created.created[0].api_key].env == "LIVE"
    assert unit.vault.get(vault_key("default", "LIVE", "api_key")) == created.created[0].api_key


async def test_management_credentials_of_the_wrong_environment(unit: Unit) -> None:
    unit.activate("TEST", mgmt=unit.sim.add_api_key("LIVE"))
    with pytest.raises(ModeError) as caught:
        await _anlegen(unit)
    assert "LIVE" in caught.value.message and "TEST" in caught.value.message


async def test_refused_management_credentials(unit: Unit) -> None:
    _result, mgmt = unit.activate()
    unit.sim.state.keys[mgmt.api_key].status = "disabled"
    with pytest.raises(ManagementRejected) as caught:
        await _anlegen(unit)
    assert caught.value.code == "MANAGEMENT_CREDENTIALS_REJECTED"


async def test_address_is_needed_before_anything_is_created(unit: Unit) -> None:
    unit.activate(address=False)
    orgs_before = len(unit.sim.state.orgs)
    with pytest.raises(AddressMissing):
        await _anlegen(unit)
    assert len(unit.sim.state.orgs) == orgs_before
    given = {"default": OrgAddress("Marktplatz 2", "20095", "Hamburg")}
    result = await _anlegen(unit, addresses=given)
    org = unit.sim.state.orgs[result.created[0].organization_id]
    assert org.extra["town"] == "Hamburg"


async def test_interrupted_anlegen_resumes_without_a_second_organization(unit: Unit) -> None:
    _result, mgmt = unit.activate()
    unit.sim.faults.update(
        {"route": r"POST /api/v0/organizations/\{org_id\}/api-keys", "error_rate": 1.0,
         "error_status": 400, "error_code": "E_SOME_FAILURE"}
    )  # fmt: skip
    with pytest.raises(ferr.FiskalyRejected):
        await _anlegen(unit)
    assert len(_managed_orgs(unit, mgmt.organization_id)) == 1
    assert not credentials_created(unit.state_dir)
    unit.sim.faults.reset()
    result = await _anlegen(unit)
    (org,) = _managed_orgs(unit, mgmt.organization_id)
    assert result.created[0].organization_id == org.id


def test_access_follows_the_mode_and_takes_the_proxy_password_from_the_vault(tmp_path) -> None:
    from tsed.config.model import Proxy
    from tsed.state.vault import Vault

    vault = Vault(tmp_path / "vault.json")
    vault.set("proxy.password", "Proxy-Secret-1")
    config = saved_config(proxy=Proxy("proxy.shop.lan", 3128, "kasse"))
    access = FiskalyAccess.from_config(config, vault, "TEST", {})
    assert access.sign_url == "https://kassensichv-middleware.fiskaly.com"
    assert access.management_url == "https://dashboard.fiskaly.com"
    assert access.proxy is not None and access.proxy.password == "Proxy-Secret-1"
    assert "Proxy-Secret-1" not in repr(access)
    override = {"TSED_FISKALY_BASE_URL": "http://127.0.0.1:9"}
    assert FiskalyAccess.from_config(config, vault, "TEST", override).sign_url.endswith(":9")
    with pytest.raises(ConfigError):
        FiskalyAccess.from_config(config, vault, "LIVE", override)


# -- own TEST credentials ---------------------------------------------------------------------


async def _set(unit: Unit, key: str, secret: str, config=None, **kwargs):
    return await set_credentials(
        config=config or saved_config(), state_dir=unit.state_dir, vault=unit.vault,
        access=unit.access, api_key=key, api_secret=secret, store=unit.store, **kwargs,
    )  # fmt: skip


async def test_own_test_credentials_are_checked_and_stored(unit: Unit) -> None:
    creds = unit.sim.add_api_key("TEST")
    result = await _set(unit, creds.api_key, creds.api_secret)
    assert result.source == "manual" and result.verified
    assert unit.vault.get(vault_key("default", "TEST", "api_secret")) == creds.api_secret
    assert credentials_created(unit.state_dir)
    assert creds.api_secret not in json.dumps(result.to_json(reveal_secret=True))
    with pytest.raises(CredentialsRejected) as caught:
        await _set(unit, creds.api_key, "wrong-secret")
    assert caught.value.status == 400


async def test_own_credentials_are_test_only(unit: Unit) -> None:
    live = unit.sim.add_api_key("LIVE")
    with pytest.raises(CredentialsTestOnly) as caught:
        await _set(unit, live.api_key, live.api_secret)
    assert "LIVE credentials" in caught.value.message
    assert unit.vault.get(vault_key("default", "TEST", "api_key")) is None
    unit.activate("LIVE")
    test = unit.sim.add_api_key("TEST")
    with pytest.raises(CredentialsTestOnly) as refused:
        await _set(unit, test.api_key, test.api_secret)
    assert "LIVE" in refused.value.message


async def test_own_credentials_need_the_tenant_when_multi_tenant(unit: Unit) -> None:
    creds = unit.sim.add_api_key("TEST")
    config = multi_tenant_config(Tenant("nord", "Nord", VAT_A), Tenant("sued", "Süd", VAT_B))
    with pytest.raises(InputError):
        await _set(unit, creds.api_key, creds.api_secret, config)
    with pytest.raises(ConfigError):
        await _set(unit, creds.api_key, creds.api_secret, config, tenant_id="ost")
    result = await _set(unit, creds.api_key, creds.api_secret, config, tenant_id="sued")
    assert result.created[0].tenant_id == "sued"


async def test_credentials_of_another_organization_archive_the_old_test_tss(unit: Unit) -> None:
    first = unit.sim.add_api_key("TEST")
    await _set(unit, first.api_key, first.api_secret)
    await unit.store.save_binding(
        BindingRow("default", "TEST", "tss-old", "INITIALIZED", None, 1.0)
    )
    second = unit.sim.add_api_key("TEST")  # another organization
    result = await _set(unit, second.api_key, second.api_secret)
    assert any("tss-old" in note for note in result.notes)
    assert await unit.store.bindings() == []
