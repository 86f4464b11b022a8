"""The admin API's error bodies against a real unit: the common shape kept, plus ``field`` and
``text.de``/``text.en`` from the catalogue; the register API's bodies unchanged; no secret in a
text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.support.german import english_lines
from tests.support.unit import Unit, running_unit
from tsed.texts import LANGUAGES, errors

SECRET = "Geheim-Token-0815-xyz"


def _admin(unit: Unit) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
    return httpx.AsyncClient(transport=transport, base_url="http://unit/admin/v1", timeout=30)


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert {"status", "code", "message", "hint", "text"} <= set(error)
    assert set(error["text"]) == set(LANGUAGES)
    for lang in LANGUAGES:
        assert set(error["text"][lang]) == {"message", "hint", "field_label"}
    assert english_lines(error["text"]["de"]["message"] + "\n" + error["text"]["de"]["hint"]) == []
    return error


async def test_a_field_error_names_the_field_in_both_languages(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit, _admin(unit) as admin:
        response = await admin.put("/config/proxy.port", json={"value": "70000"})
        assert response.status_code == 400
        error = _error(response)
        assert error["code"] == "CONFIG_INVALID" and error["field"] == "proxy.port"
        assert error["message"].startswith("proxy.port: 70000 is not valid")  # kept as it was
        assert error["text"]["de"] == {
            "message": "Proxy-Port: 70000 ist keine gültige Portnummer (1–65535).",
            "hint": "Den Port des Proxys beim Netzwerk-Administrator erfragen, z. B. 3128.",
            "field_label": "Proxy-Port",
        }
        assert error["text"]["en"]["field_label"] == "Proxy port"
        several = await admin.put("/config", json={"values": {"name": "Laden", "proxy.host":
                                                                "kein host!"}})  # fmt: skip
        error = _error(several)
        assert error["field"] == "proxy.host" and error["text"]["de"]["field_label"] == "Proxy"
        spaces = _error(await admin.put("/config/name", json={"value": "   "}))
        assert spaces["field"] == "name"
        assert spaces["text"]["de"]["message"] == "Name: nur Leerzeichen sind kein Name."


async def test_other_errors_read_their_code(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit, _admin(unit) as admin:
        missing = _error(await admin.get("/no-such-thing"))
        assert missing["code"] == "NO_SUCH_ROUTE" and "field" not in missing
        assert missing["text"]["de"]["message"] == errors("de")["NO_SUCH_ROUTE"][0]
        assert missing["text"]["en"]["message"] == missing["message"]  # the instance's English
        unknown = _error(await admin.delete("/registers/0f6e3c1a-9d2b-4e8f-a1b2-c3d4e5f60718"))
        assert unknown["status"] == 404 and unknown["text"]["de"]["message"]
        # the register API stays English for developers, in its documented shape
        register = httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context())
        async with register:
            refused = await register.post("/api/v1/receipts", json={})
        assert refused.status_code == 401
        assert set(refused.json()["error"]) == {"status", "code", "message", "hint"}


async def test_login_and_lockout_texts_are_german(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit, _admin(unit) as admin:
        page = httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context(), timeout=30)
        async with page:
            unset = _error(await page.post("/setup/login", json={"password": "x"}))
            assert unset["text"]["de"]["message"] == "Es ist noch kein Admin-Passwort gesetzt."
            ok = await admin.put("/password", json={"password": "Kassen-Passwort-2026"})
            assert ok.status_code == 200
            seen: list[dict[str, Any]] = []
            for _ in range(8):  # bounded: the lockout comes after 5 failures
                response = await page.post("/setup/login", json={"password": "falsch-falsch"})
                seen.append(_error(response))
                if response.status_code == 429:
                    break
        assert seen[0]["text"]["de"]["message"] == "Das Admin-Passwort ist falsch."
        locked = seen[-1]
        assert locked["code"] in ("LOCKED_OUT", "RATE_LIMITED")
        assert (
            "gesperrt für" in locked["text"]["de"]["message"]
            or "Versuche" in (locked["text"]["de"]["message"])
        )


async def test_no_secret_reaches_an_error_text(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit, _admin(unit) as admin:
        weak = await admin.put("/password", json={"password": "xQ9#zt"})
        assert weak.status_code == 400 and "xQ9#zt" not in weak.text
        bad = await admin.put(
            "/config", json={"values": {"telemetry.token": SECRET + "\x01", "name": "Laden"}}
        )
        assert bad.status_code in (200, 400)
        assert SECRET not in bad.text
