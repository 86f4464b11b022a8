"""The admin API's wire format: every operation's answer keeps its keys, their order and the
JSON types of their values (``tests/support/admin_wire.json``, recorded from the answers of a
running unit before the operations returned typed views instead of dictionaries).

tsectl, the serial console, the setup page's script and the admin OpenAPI document read these
answers; a view type that renames, drops, reorders or retypes a field fails here.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.provisioning import signed_activation
from tests.support.unit import RECEIPT, running_unit
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.provisioning.document import generate_vendor_key, load_private_key

EXPECTED = Path(__file__).resolve().parent.parent / "support" / "admin_wire.json"
PASSWORD = "Kassen-Passwort-2026"
REPOSITORY_PASSWORD = "Repository-Passwort-7Hq2x"


UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def shape(value: Any) -> Any:
    """The JSON shape of ``value``: keys in order, the type of every leaf; a list's distinct
    element shapes in order of appearance."""
    if isinstance(value, dict):  # ids as keys (a TSS per id) are one shape: "<uuid>"
        return {
            ("<uuid>" if UUID_RE.match(key) else key): shape(item) for key, item in value.items()
        }
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            if shape(item) not in shapes:
                shapes.append(shape(item))
        return shapes
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str"}[type(value)]


def ordered(value: Any) -> Any:
    """``value`` with its key order made part of equality (dicts compare unordered)."""
    if isinstance(value, dict):
        return [[key, ordered(item)] for key, item in value.items()]
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


ADDRESS = {"street": "Markt", "house_number": "1", "zip_code": "70173", "town": "Stuttgart"}


async def filing_calls(call: Any) -> None:
    """The notification duty's operations (tsed.net.admin_filing), on the paired register."""
    await call("filing_taxpayer", "PUT", "/filing/taxpayers/default", 200,
               json={"name": "Laden GmbH", "tax_number": "2893081508152", **ADDRESS})  # fmt: skip
    await call("filing_premises", "PUT", "/filing/premises/laden", 200,
               json={"name": "Laden", **ADDRESS})  # fmt: skip
    await call("filing_register", "PUT", "/filing/registers/ERS kasse-1", 200,
               json={"premises": "laden", "maker": "Kassen AG", "model": "K1",
                     "software": "Kasse Pro", "purchased_on": "2026-01-02"})  # fmt: skip
    await call("filing_status", "GET", "/filing", 200)
    await call("filing_master_data", "GET", "/filing/master-data", 200)
    await call("filing_html", "GET", "/filing/premises/laden/html", 200)
    await call("filing_csv", "GET", "/filing/premises/laden/csv", 200)
    await call("filing_submit", "POST", "/filing/premises/laden/submission", 201)
    await call("filing_filed", "POST", "/filing/premises/laden/filed", 200)


async def collect(tmp: Path) -> dict[str, Any]:
    """The answer of every admin operation on a unit run from first boot to LIVE and back."""
    answers: dict[str, Any] = {}
    sim = Simulator()
    server = SimulatorServer(sim)
    await server.start()
    private_pem, public_pem = generate_vendor_key()
    (tmp / "vendor.pub").write_bytes(public_pem)
    vendor = load_private_key(private_pem)
    try:
        async with running_unit(
            tmp / "state",
            environ={"TSED_FISKALY_BASE_URL": server.base_url},
            vendor_key=tmp / "vendor.pub",
        ) as unit:
            daemon = unit.daemon
            daemon.exports.poll_interval = 0.1
            transport = httpx.AsyncHTTPTransport(uds=str(daemon.options.admin_socket))
            admin = httpx.AsyncClient(
                transport=transport, base_url="http://unit/admin/v1", timeout=60
            )
            web = httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context(), timeout=30)

            async def call(name: str, method: str, path: str, expect: int, **kw: Any) -> Any:
                response = await admin.request(method, path, **kw)
                assert response.status_code == expect, (name, response.text)
                answers[name] = response.json()
                return answers[name]

            def activation(env: str) -> bytes:
                mgmt = sim.add_api_key(env)  # type: ignore[arg-type]
                return signed_activation(
                    vendor, daemon.identity.device_id, env, mgmt.api_key, mgmt.api_secret,
                    organization_id=mgmt.organization_id,
                )  # fmt: skip

            async with admin, web:
                await call("status", "GET", "/status", 200)
                await call("health_none", "GET", "/health", 200)  # no night yet
                await call("update_status", "GET", "/update", 200)
                await call("password_status", "GET", "/password", 200)
                answers["page_session"] = (await web.get("/setup/session")).json()
                await call("setup_code", "GET", "/setup-code", 200)
                await call("wizard", "GET", "/wizard", 200)
                await call("password_set", "PUT", "/password", 200, json={"password": PASSWORD})
                pairing = await call("pairing", "POST", "/pairing", 201, json={"minutes": 5})
                paired = await web.post(
                    "/api/v1/pairings",
                    json={"code": pairing["code"], "register_serial": "ERS kasse-1"},
                )
                assert paired.status_code == 201, paired.text
                token, register_id = paired.json()["token"], paired.json()["register_id"]
                receipt = await web.post(
                    "/api/v1/receipts", json=RECEIPT, headers={"Authorization": f"Bearer {token}"}
                )
                assert receipt.status_code == 200, receipt.text
                await call("registers", "GET", "/registers", 200)
                await filing_calls(call)
                await call("test_receipt", "POST", "/test-receipt", 201)
                await call("wizard_update", "PUT", "/wizard", 200, json={"step": 3})
                await call("dashboard", "GET", "/dashboard", 200)
                await call("config_show", "GET", "/config", 200)
                await call("config_set", "PUT", "/config/name", 200, json={"value": "Laden"})
                await call("config_update", "PUT", "/config", 200,
                           json={"values": {"name": "Laden Mitte"}})  # fmt: skip
                await call("tss_status", "GET", "/tss", 200)
                await call("tss_setup", "POST", "/tss", 200, json={})
                await call("connection_test", "POST", "/test", 200)
                daemon.archive.archiver.poll_interval = 0.1
                await daemon.running.ops.housekeeping.run("nightly")  # the routine, at once
                await call("health", "GET", "/health", 200)
                await call("health_run", "POST", "/health/run", 202)
                for _ in range(600):  # 60 s at most: the on-demand run ends
                    if not (await admin.get("/health")).json()["running"]:
                        break
                    await asyncio.sleep(0.1)
                await call("reset", "POST", "/reset", 200, json={"register_id": register_id})
                outage = await daemon.store.open_outage("fiskaly unreachable", time.time() - 60)
                await daemon.store.close_outage(outage, time.time())
                await call("outages", "GET", "/outages", 200)
                await call("backup_create", "POST", "/backup", 201, json={"password": PASSWORD})
                job = await call("export_start", "POST", "/exports", 202, json={})
                for _ in range(300):  # 30 s at most
                    done = await call("export_status", "GET", f"/exports/{job['id']}", 200)
                    if done["state"] != "running":
                        break
                    await asyncio.sleep(0.1)
                assert done["state"] == "done", done
                daemon.archive.archiver.poll_interval = 0.1
                await call("archive_run", "POST", "/archive/run", 202)
                for _ in range(300):  # 30 s at most
                    run = await call("archive_progress", "GET", "/archive/run", 200)
                    if not run["running"]:
                        break
                    await asyncio.sleep(0.1)
                assert run["state"] == "done", run
                await call("archive_status", "GET", "/archive", 200)
                await call("archive_verify", "POST", "/archive/verify", 200)
                today = time.strftime("%Y-%m-%d", time.gmtime())
                await call("archive_export", "POST", "/archive/export", 201,
                           json={"from": today, "to": today})  # fmt: skip
                await call("archive_offbox_password", "PUT", "/archive/offbox-password", 200,
                           json={"password": REPOSITORY_PASSWORD})  # fmt: skip
                own = sim.add_api_key("TEST")
                await call("credentials_set", "PUT", "/credentials", 200,
                           json={"api_key": own.api_key, "api_secret": own.api_secret})  # fmt: skip
                await call("tenants", "GET", "/tenants", 200)
                await call("tenant_add", "POST", "/tenants", 201,
                           json={"id": "nord", "name": "Nord GmbH"})  # fmt: skip
                await call("activation_test", "POST", "/activation", 200,
                           content=activation("TEST"))  # fmt: skip
                await call("anlegen_test", "POST", "/credentials", 201, json={"confirm": True})
                await call("status_fiskaly", "GET", "/status", 200)
                await call("factory_reset", "POST", "/factory-reset", 200,
                           json={"confirm": True})  # fmt: skip
        # LIVE needs fiskaly's own URL: a unit on the built-in simulator follows the activation
        async with running_unit(tmp / "live", vendor_key=tmp / "vendor.pub") as unit:
            daemon = unit.daemon
            transport = httpx.AsyncHTTPTransport(uds=str(daemon.options.admin_socket))
            admin = httpx.AsyncClient(
                transport=transport, base_url="http://unit/admin/v1", timeout=60
            )
            async with admin:
                await call("activation_live", "POST", "/activation", 200,
                           content=activation("LIVE"))  # fmt: skip
                await call("status_live", "GET", "/status", 200)
                await call("tss_live", "GET", "/tss", 200)
    finally:
        await server.stop()
        sim.close()
    return answers


@pytest.mark.timeout(240)
async def test_every_admin_answer_keeps_its_wire_shape(tmp_path: Path) -> None:
    answers = await collect(tmp_path)
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert sorted(answers) == sorted(expected)
    for name, answer in answers.items():
        assert shape(answer) == expected[name], name
        assert ordered(shape(answer)) == ordered(expected[name]), f"{name}: key order"
    secret = answers["anlegen_test"]["credentials"][0]["api_secret"]
    assert len(secret) >= 32  # the one-time reveal, and only there
    assert all(secret not in json.dumps(v) for k, v in answers.items() if k != "anlegen_test")
    assert REPOSITORY_PASSWORD not in json.dumps(answers)  # stored, never echoed
    code = answers["setup_code"]["code"]  # the setup code: only its own answer on the socket
    assert len(code) == 9 and all(code not in json.dumps(v) for k, v in answers.items()
                                  if k != "setup_code")  # fmt: skip
