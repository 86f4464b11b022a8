"""The setup page's HTTP side against a real unit: sessions, CSRF, lockout, the mask's rules
enforced by the daemon (not the page), audit events, exports, factory reset."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.provisioning import signed_activation
from tests.support.unit import Unit, running_unit
from tsed.cli import tsectl
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.tr03151 import verify_qr_code
from tsed.provisioning.document import (
    generate_vendor_key,
    load_private_key,
)

PASSWORD = "Kassen-Passwort-2026"
API = "/setup/api/admin/v1"


@dataclass
class Setup:
    unit: Unit
    sim: Simulator
    vendor_key: Any
    tmp: Path

    def activation(self, env: str = "TEST", *, device: str | None = None) -> bytes:
        mgmt = self.sim.add_api_key(env)  # type: ignore[arg-type]
        return signed_activation(
            self.vendor_key, device or self.unit.daemon.identity.device_id, env,
            mgmt.api_key, mgmt.api_secret, organization_id=mgmt.organization_id,
        )  # fmt: skip

    def browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.unit.base_url, verify=self.unit.ssl_context(), timeout=30
        )

    async def set_password(self, password: str = PASSWORD) -> int:
        code, _out = await self.unit.tsectl("password")
        return code


@asynccontextmanager
async def setup_unit(tmp_path: Path) -> AsyncIterator[Setup]:
    sim = Simulator()
    server = SimulatorServer(sim)
    await server.start()
    private_pem, public_pem = generate_vendor_key()
    (tmp_path / "vendor.pub").write_bytes(public_pem)
    try:
        async with running_unit(
            tmp_path / "state",
            environ={"TSED_FISKALY_BASE_URL": server.base_url},
            vendor_key=tmp_path / "vendor.pub",
        ) as unit:
            unit.daemon.exports.poll_interval = 0.1
            yield Setup(unit, sim, load_private_key(private_pem), tmp_path)
    finally:
        await server.stop()
        sim.close()


async def tsectl_stdin(
    unit: Unit, monkeypatch: pytest.MonkeyPatch, text: str, *args: str
) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    return await unit.tsectl(*args)


async def login(browser: httpx.AsyncClient, password: str = PASSWORD) -> str:
    response = await browser.post("/setup/login", json={"password": password})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf"]
    return csrf


async def test_page_assets_and_security_headers(tmp_path: Path) -> None:
    async with setup_unit(tmp_path) as s, s.browser() as browser:
        page = await browser.get("/setup/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "Anlegen" in page.text and "Mehrere Mandanten in Filialkette" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        for name in ("text.js", "common.js", "setup.js", "wizard.js", "dashboard.js", "setup.css"):
            asset = await browser.get(f"/setup/static/{name}")
            assert asset.status_code == 200 and len(asset.content) > 1000
        assert (await browser.get("/setup/static/../../vault.json")).status_code == 404
        bare = await browser.get("/setup")
        assert bare.status_code == 302 and bare.headers["location"] == "/setup/"
        assert "http" not in page.text.split("<body>")[0].replace("http-equiv", "")  # no CDN


async def test_password_login_cookie_csrf_logout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with setup_unit(tmp_path) as s, s.browser() as browser:
        session = (await browser.get("/setup/session")).json()
        assert session == {
            "logged_in": False, "password_set": False, "mode": "TEST",
            "lockout": {"attempts_left": 5, "retry_after": 0},
        }  # fmt: skip
        early = await browser.post("/setup/login", json={"password": PASSWORD})
        assert early.status_code == 401 and "tsectl password" in early.json()["error"]["hint"]
        code, out = await tsectl_stdin(s.unit, monkeypatch, "short\n", "password")
        assert code == 1
        code, out = await tsectl_stdin(s.unit, monkeypatch, PASSWORD + "\n", "password")
        assert code == 0 and "is set" in out
        assert (await browser.get(f"{API}/status")).status_code == 401
        wrong = await browser.post("/setup/login", json={"password": "not-the-password"})
        assert wrong.status_code == 401
        response = await browser.post("/setup/login", json={"password": PASSWORD})
        cookie = response.headers["set-cookie"]
        for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/setup"):
            assert flag in cookie
        cookie_value = cookie.split(";")[0].split("=", 1)[1]
        csrf = csrf_first = response.json()["csrf"]
        status = await browser.get(f"{API}/status")
        assert status.status_code == 200 and status.json()["mode"] == "TEST"
        body = {"values": {"name": "Filiale 7"}}
        no_csrf = await browser.put(f"{API}/config", json=body)
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["error"]["message"]
        bad_csrf = await browser.put(f"{API}/config", json=body, headers={"X-CSRF-Token": "x"})
        assert bad_csrf.status_code == 403
        saved = await browser.put(f"{API}/config", json=body, headers={"X-CSRF-Token": csrf})
        assert saved.status_code == 200 and saved.json()["name"] == "Filiale 7"
        assert saved.json()["saved"] is True
        out_ = await browser.post("/setup/logout", json={}, headers={"X-CSRF-Token": csrf})
        assert out_.status_code == 200
        assert (await browser.get(f"{API}/status")).status_code == 401
        # a new password ends every session
        csrf = await login(browser)
        code, _ = await tsectl_stdin(s.unit, monkeypatch, "Ein-neues-Passwort\n", "password")
        assert code == 0
        assert (await browser.get(f"{API}/status")).status_code == 401
    audits = [r for r in caplog.records if getattr(r, "TSED_EVENT", "") == "admin_audit"]
    actions = {(r.TSED_ACTION, r.TSED_STATUS) for r in audits}  # type: ignore[attr-defined]
    assert ("PUT /admin/v1/config", "200") in actions
    assert ("PUT /admin/v1/config", "403") not in actions  # refused before the route
    assert any(r.TSED_ACTOR.startswith("web:") for r in audits)  # type: ignore[attr-defined]
    assert any(r.TSED_ACTOR.startswith("uid:") for r in audits)  # type: ignore[attr-defined]
    text = caplog.text + "".join(
        str(vars(r))
        for r in caplog.records  # the journal fields too
    )
    for secret in (PASSWORD, "Ein-neues-Passwort", cookie_value, csrf_first):
        assert secret not in text
    for path in (tmp_path / "state").rglob("*"):  # the vault keeps only a scrypt hash
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data and b"Ein-neues-Passwort" not in data


async def test_login_lockout_after_repeated_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with setup_unit(tmp_path) as s, s.browser() as browser:
        await tsectl_stdin(s.unit, monkeypatch, PASSWORD + "\n", "password")
        statuses = []
        for attempt in range(12):
            response = await browser.post("/setup/login", json={"password": f"guess-{attempt}"})
            statuses.append(response.status_code)
        assert statuses[0] == 401 and statuses[-1] == 429
        locked = await browser.post("/setup/login", json={"password": PASSWORD})
        assert locked.status_code == 429  # even the right password waits out the lockout


async def test_anlegen_rules_enforced_by_the_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with setup_unit(tmp_path) as s, s.browser() as browser:
        await tsectl_stdin(s.unit, monkeypatch, PASSWORD + "\n", "password")
        csrf = await login(browser)
        headers = {"X-CSRF-Token": csrf}
        anlegen = await browser.post(f"{API}/credentials", json={"confirm": True}, headers=headers)
        assert anlegen.status_code == 409 and "saved once" in anlegen.json()["error"]["message"]
        await browser.put(f"{API}/config", json={"values": {"name": "Laden"}}, headers=headers)
        anlegen = await browser.post(f"{API}/credentials", json={"confirm": True}, headers=headers)
        assert anlegen.status_code == 409
        assert "Freischaltung" in anlegen.json()["error"]["message"]  # activation missing
        wrong = s.activation(device="00000000-0000-4000-8000-000000000000")
        refused = await browser.post(f"{API}/activation", content=wrong, headers=headers)
        assert refused.status_code >= 400 and "device" in refused.json()["error"]["message"]
        accepted = await browser.post(f"{API}/activation", content=s.activation(), headers=headers)
        assert accepted.status_code == 200 and accepted.json()["mode"] == "TEST"
        unconfirmed = await browser.post(f"{API}/credentials", json={}, headers=headers)
        assert unconfirmed.status_code == 400 and "Ja" in unconfirmed.json()["error"]["message"]
        created = await browser.post(f"{API}/credentials", json={"confirm": True}, headers=headers)
        assert created.status_code == 201, created.text
        item = created.json()["credentials"][0]
        secret = item["api_secret"]
        assert len(secret) > 20 and created.json()["backend"] == "fiskaly"
        config = (await browser.get(f"{API}/config")).json()
        assert config["credentials"][0]["api_key"] == item["api_key"]
        assert config["credentials_created"] is True
        assert secret not in json.dumps(config)  # shown once, never again
        locked = await browser.put(
            f"{API}/config", json={"values": {"multi_tenant": "true"}}, headers=headers
        )
        assert locked.status_code == 400 and "multi_tenant" in locked.json()["error"]["message"]
        url = await browser.put(f"{API}/config", json={"values": {"url": "x"}}, headers=headers)
        assert url.status_code == 400  # the URL is not a setting
        test = await browser.post(f"{API}/test", headers=headers)
        assert test.status_code == 200 and test.json()["ok"], test.json()["lines"]
        again = await browser.post(f"{API}/credentials", json={"confirm": True}, headers=headers)
        assert again.status_code == 409
        register = await s.unit.pair()
        receipt = await register.receipt()
        assert receipt["tse_failure"] is False and receipt["mode"] == "TEST"
        assert verify_qr_code(receipt["result"]["qr_code_data"]).valid


async def test_tenants_export_outages_and_factory_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with setup_unit(tmp_path) as s:
        unit = s.unit
        code, out = await unit.tsectl("--json", "tenants", "add", "nord", "--name", "Nord GmbH")
        assert code == 0, out
        code, out = await unit.tsectl("--json", "tenants", "add", "nord", "--name", "X")
        assert code == 1 and "exists" in json.loads(out)["error"]["message"]
        code, out = await unit.tsectl("--json", "tenants")
        assert json.loads(out)["tenants"] == [{"id": "nord", "name": "Nord GmbH", "vat_id": None}]
        code, out = await unit.tsectl("logging", "extended", "on")
        assert code == 0 and unit.daemon.config.extended_logging is True
        register = await unit.pair()
        for _ in range(3):
            await register.receipt()
        target = tmp_path / "export.tar"
        code, out = await unit.tsectl("--json", "export", "-o", str(target))
        assert code == 0, out
        written = json.loads(out)["written"][0]
        import tarfile

        with tarfile.open(target) as tar:
            assert len(tar.getnames()) >= 3  # logs of the signed transactions
        assert written["size"] == target.stat().st_size
        code, out = await unit.tsectl("--json", "export", "--from", "2026-13-01", "-o", "x")
        assert code == 2
        code, out = await unit.tsectl("--json", "factory-reset")
        assert code == 2  # needs a confirmation
        await tsectl_stdin(unit, monkeypatch, PASSWORD + "\n", "password")
        code, out = await unit.tsectl("--json", "factory-reset", "--yes")
        assert code == 0, out
        assert (await unit.tsectl("--json", "password", "status"))[1].count("false") == 1
        gone = await register.call("POST", "/api/v1/receipts", {})
        assert gone.status_code == 401  # the register must pair again
        code, out = await unit.tsectl("--json", "config", "show")
        shown = json.loads(out)
        assert shown["saved"] is False and "tenants" not in shown
        code, out = await unit.tsectl("--json", "status")
        assert json.loads(out)["registers"] == 0


def test_tsectl_usage_errors_exit_2() -> None:
    out = io.StringIO()
    assert tsectl.main(["--socket", "/nonexistent", "tenants", "add"], out=out) == 2
    assert tsectl.main(["--socket", "/nonexistent", "credentials", "set"], out=out) == 2


async def test_every_admin_route_on_the_page_needs_a_session_and_csrf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tsed.net.admin import build_admin_app

    routes = sorted(
        {
            (r.method, r.resource.canonical)
            for r in build_admin_app(object()).router.routes()  # type: ignore[arg-type]
            if r.resource is not None and r.method != "HEAD"
        }
    )
    assert len(routes) >= 20  # the enumeration is not empty by accident
    async with setup_unit(tmp_path) as s, s.browser() as browser:
        register = await s.unit.pair()
        await tsectl_stdin(s.unit, monkeypatch, PASSWORD + "\n", "password")
        for method, template in routes:
            path = "/setup/api" + template.replace("{register_id}", register.register_id)
            path = path.replace("{key}", "name").replace("{job_id}", "x").replace("{part}", "1")
            anonymous = await browser.request(method, path, json={})
            assert anonymous.status_code == 401, (method, path)
            bearer = await browser.request(method, path, json={}, headers=register.auth)
            assert bearer.status_code == 401, (method, path)  # a register is no installer
        csrf = await login(browser)
        for method, template in routes:
            if method == "GET":
                continue
            path = "/setup/api" + template.replace("{register_id}", register.register_id)
            path = path.replace("{key}", "name").replace("{job_id}", "x").replace("{part}", "1")
            forged = await browser.request(method, path, json={}, headers={"X-CSRF-Token": "x"})
            assert forged.status_code == 403, (method, path)
        assert csrf
        still = await register.receipt()  # nothing above touched the register
        assert still["tse_failure"] is False


async def test_tsectl_export_is_on_the_disk_once_it_says_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut right after ``tsectl export`` answered must not leave an empty file."""
    import os

    flushed: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    async with setup_unit(tmp_path) as s:
        register = await s.unit.pair()
        await register.receipt()
        target = tmp_path / "download" / "export.tar"
        target.parent.mkdir()
        monkeypatch.setattr(os, "fsync", recording_fsync)
        code, out = await s.unit.tsectl("--json", "export", "-o", str(target))
        monkeypatch.undo()
        assert code == 0, out
    assert json.loads(out)["written"][0]["size"] == target.stat().st_size
    partial = flushed.index(str(target) + ".partial")
    assert str(target.parent) in flushed[partial:]  # then the rename
