"""The first-run wizard against a real unit: the setup code (socket only, never in a log or a
page answer), the first password in the browser, the wizard's step across a restart, and the
signed TEST receipt with its QR code."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.unit import Unit, running_unit
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.tr03151 import verify_qr_code

PASSWORD = "Erstes-Passwort-2026"
API = "/setup/api/admin/v1"


def admin(unit: Unit) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
    return httpx.AsyncClient(transport=transport, base_url="http://unit/admin/v1", timeout=30)


def browser(unit: Unit) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context(), timeout=30)


async def setup_code(unit: Unit) -> str:
    async with admin(unit) as socket:
        answer = (await socket.get("/setup-code")).json()
    code: str = answer["code"]
    return code


@pytest.mark.timeout(120)
async def test_first_password_in_the_browser_with_the_setup_code(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_unit(tmp_path / "state") as unit, browser(unit) as web:
        code = await setup_code(unit)
        assert len(code) == 9
        code_out, out = await unit.tsectl("setup-code")
        assert code_out == 0 and code in out and "Einrichtungscode" in out
        # the page's mount never serves the code, and no page answer carries it
        assert (await web.get(f"{API}/setup-code")).status_code == 401
        session = await web.get("/setup/session")
        assert code not in session.text and session.json()["password_set"] is False
        wrong = await web.post(
            "/setup/first-password", json={"code": "AAAA-AAAA", "password": PASSWORD}
        )
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "SETUP_CODE_WRONG"
        left = (await web.get("/setup/session")).json()["lockout"]
        assert left == {"attempts_left": 4, "retry_after": 0}
        weak = await web.post("/setup/first-password", json={"code": code, "password": "kurz"})
        assert weak.status_code == 400 and weak.json()["error"]["code"] == "PASSWORD_TOO_WEAK"
        assert (await web.get("/setup/session")).json()["lockout"]["attempts_left"] == 4
        right = await web.post(
            "/setup/first-password", json={"code": code.lower(), "password": PASSWORD}
        )
        assert right.status_code == 200, right.text
        csrf = right.json()["csrf"]
        assert code not in right.text
        status = await web.get(f"{API}/status")
        assert status.status_code == 200 and status.json()["password_set"] is True
        wizard = (await web.get(f"{API}/wizard")).json()
        assert wizard == {"step": 2, "steps": 8, "done": False}
        # used up: not again, not shown any more, its hash gone from the state directory
        again = await web.post("/setup/first-password", json={"code": code, "password": PASSWORD})
        assert again.status_code == 409
        async with admin(unit) as socket:
            assert (await socket.get("/setup-code")).json() == {"code": None, "password_set": True}
        assert not (tmp_path / "state" / "setup_code.json").exists()
        moved = await web.put(f"{API}/wizard", json={"step": 5}, headers={"X-CSRF-Token": csrf})
        assert moved.json()["step"] == 5
        bad = await web.put(f"{API}/wizard", json={"step": 9}, headers={"X-CSRF-Token": csrf})
        assert bad.status_code == 400 and "9" in bad.json()["error"]["message"]
    logged = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    assert code not in logged and code.replace("-", "") not in logged
    assert PASSWORD not in logged
    # a restart continues the wizard at its step; no new code once the password is set
    async with running_unit(tmp_path / "state") as unit, browser(unit) as web:
        login = await web.post("/setup/login", json={"password": PASSWORD})
        assert (await web.get(f"{API}/wizard")).json()["step"] == 5, login.text
        async with admin(unit) as socket:
            assert (await socket.get("/setup-code")).json()["code"] is None
            # a factory reset: the wizard from step 1 again, with a new setup code
            reset = await socket.post("/factory-reset", json={"confirm": True})
            assert reset.status_code == 200, reset.text
            assert (await socket.get("/wizard")).json() == {"step": 1, "steps": 8, "done": False}
            renewed = (await socket.get("/setup-code")).json()["code"]
            assert renewed and renewed != code


@pytest.mark.timeout(120)
async def test_a_restart_before_the_password_makes_a_new_code(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        first = await setup_code(unit)
    async with running_unit(tmp_path / "state") as unit, browser(unit) as web:
        second = await setup_code(unit)
        assert first != second
        old = await web.post("/setup/first-password", json={"code": first, "password": PASSWORD})
        assert old.status_code == 401


@pytest.mark.timeout(120)
async def test_a_password_from_tsectl_ends_the_setup_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    async with running_unit(tmp_path / "state") as unit, browser(unit) as web:
        code = await setup_code(unit)
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        assert (await unit.tsectl("password"))[0] == 0
        late = await web.post("/setup/first-password", json={"code": code, "password": PASSWORD})
        assert late.status_code == 409


@pytest.mark.timeout(120)
async def test_the_wizard_signs_a_test_receipt_with_its_qr_code(tmp_path: Path) -> None:
    sim = Simulator()
    server = SimulatorServer(sim)
    await server.start()
    try:
        async with (
            running_unit(
                tmp_path / "state", environ={"TSED_FISKALY_BASE_URL": server.base_url}
            ) as unit,
            admin(unit) as socket,
        ):
            refused = await socket.post("/test-receipt")
            assert refused.status_code == 409 and "pair" in refused.json()["error"]["hint"].lower()
            await unit.pair("Kasse 1")
            signed = await socket.post("/test-receipt")
            assert signed.status_code == 201, signed.text
            receipt: dict[str, Any] = signed.json()
            assert receipt["mode"] == "TEST" and receipt["register"] == "Kasse 1"
            assert receipt["signature"] and receipt["signature_counter"] > 0
            assert verify_qr_code(receipt["qr_code_data"]).valid
            assert receipt["qr_image"].startswith("data:image/svg+xml")
            again = (await socket.post("/test-receipt")).json()
            assert again["transaction_number"] > receipt["transaction_number"]
    finally:
        await server.stop()
        sim.close()
