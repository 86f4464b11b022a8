"""Pairing: the installer decides the tenant, never the register (issue 13 item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.support.security import admin_call
from tests.support.unit import Unit, running_unit
from tsed.config.check import vat_check_digit

VAT_A = f"DE12345678{vat_check_digit('12345678')}"
VAT_B = f"DE13669597{vat_check_digit('13669597')}"
CONFIG = (
    "multi_tenant = true\n"
    f'[tenants.firma-a]\nname = "Firma A GmbH"\nvat_id = "{VAT_A}"\n'
    f'[tenants.firma-b]\nname = "Firma B GmbH"\nvat_id = "{VAT_B}"\n'
    '[workplaces."ERS kasse-T1"]\ntenant = "firma-a"\n'
)


async def _window(unit: Unit, *tenant: str) -> str:
    code, out = await unit.tsectl("--json", "pair", *tenant)
    assert code == 0, out
    return str(json.loads(out)["code"])


async def _pair(unit: Unit, code: str, serial: str, **extra: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context()) as http:
        return await http.post(
            "/api/v1/pairings", json={"code": code, "register_serial": serial, **extra}
        )


async def test_a_register_cannot_choose_another_company(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config=CONFIG) as unit:
        # the workplace setting binds kasse-T1 to firma-a: asking for firma-b is refused
        code = await _window(unit)
        refused = await _pair(unit, code, "ERS kasse-T1", tenant="firma-b")
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "TENANT_MISMATCH"
        assert "'firma-a'" in error["message"] and "'firma-b'" in error["message"]
        assert "tsectl pair --tenant" in error["hint"]
        assert unit.daemon.pairing.is_open  # the right register can still use the window
        assert not unit.daemon.registers.rows
        # even a window opened for firma-b: the workplace setting wins
        code = await _window(unit, "--tenant", "firma-b")
        paired = await _pair(unit, code, "ERS kasse-T1")
        assert paired.status_code == 201 and paired.json()["tenant"] == "firma-a"
        # no workplace setting: the window's tenant binds, and a register asking for the
        # other one is refused
        code = await _window(unit, "--tenant", "firma-b")
        refused = await _pair(unit, code, "ERS kasse-T2", tenant="firma-a")
        assert refused.status_code == 403
        paired = await _pair(unit, code, "ERS kasse-T2", tenant="firma-b")
        assert paired.status_code == 201 and paired.json()["tenant"] == "firma-b"
        rows = {r.serial: r.tenant_id for r in unit.daemon.registers.rows.values()}
        assert rows == {"ERS kasse-T1": "firma-a", "ERS kasse-T2": "firma-b"}


async def test_a_window_for_an_unknown_tenant_is_refused_naming_the_known(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config=CONFIG) as unit:
        answer = await admin_call(unit, "POST", "/admin/v1/pairing", {"tenant": "firma-x"})
        assert answer.status_code == 400
        assert "firma-a, firma-b" in answer.json()["error"]["message"]
        assert not unit.daemon.pairing.is_open
        code, out = await unit.tsectl("pair", "--tenant", "firma-b")
        assert code == 0 and "Tenant:        firma-b" in out
