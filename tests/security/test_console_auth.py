"""Whoever holds the serial cable, or a setup-page session, must know the admin password.

Issue 13 items 5 and 10, against the real daemon: the console on a pty pair, the setup page
over loopback TLS. Bounded: a handful of attempts each.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.support.console import Cable, start_console, stop_console
from tests.support.security import ADMIN_PASSWORD, admin_call, set_admin_password, web_login
from tests.support.unit import running_unit
from tsed.net.passwords import verify_password
from tsed.unit.setup_ops import PASSWORD_KEY

NEW = "ganz-neues-Passwort-7"


async def test_console_password_and_factory_reset_need_the_current_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_unit(tmp_path / "state") as unit:
        cable = Cable(tmp_path / "tty")
        proc = start_console(cable.path, unit.daemon.options.admin_socket)

        def replace(current: str, new: str) -> str:
            cable.send("password\r")
            cable.expect("Aktuelles Admin-Passwort: ")
            cable.send(current + "\r")
            cable.expect("Neues Admin-Passwort: ")
            cable.send(new + "\r")
            cable.expect("Wiederholen: ")
            cable.send(new + "\r")
            return cable.expect("\r\n> ")

        def reset(password: str) -> str:
            cable.send("factory-reset\r")
            cable.expect("Aktuelles Admin-Passwort: ")
            cable.send(password + "\r")
            cable.expect("eingeben: ")
            cable.send("JA\r")
            return cable.expect("\r\n> ")

        try:
            await asyncio.to_thread(cable.expect, "> ")
            # first boot: no password yet, the console may set the first one without asking
            cable.send("password\r")
            await asyncio.to_thread(cable.expect, "Neues Admin-Passwort: ")
            cable.send(ADMIN_PASSWORD + "\r")
            await asyncio.to_thread(cable.expect, "Wiederholen: ")
            cable.send(ADMIN_PASSWORD + "\r")
            assert "Admin password set" in await asyncio.to_thread(cable.expect, "\r\n> ")
            # then a wrong current password changes nothing
            answer = await asyncio.to_thread(replace, "geraten-123456", NEW)
            assert "current admin password is wrong" in answer
            stored = unit.daemon.vault.get(PASSWORD_KEY)
            assert stored is not None and verify_password(ADMIN_PASSWORD, stored)
            # nor does a factory reset with a wrong password
            answer = await asyncio.to_thread(reset, "geraten-654321")
            assert "current admin password is wrong" in answer
            assert unit.daemon.vault.get(PASSWORD_KEY) is not None
            # failures count towards a lockout: after five even the right password waits
            for n in range(3):
                await asyncio.to_thread(replace, f"geraten-{n:06}", NEW)
            answer = await asyncio.to_thread(replace, ADMIN_PASSWORD, NEW)
            assert "too many failed attempts" in answer, answer
            stored = unit.daemon.vault.get(PASSWORD_KEY)
            assert stored is not None and verify_password(ADMIN_PASSWORD, stored)
            # after the lockout the right password works, for both commands
            unit.daemon.console_limiter._sources.clear()  # the 30 s have passed
            assert "Admin password set" in await asyncio.to_thread(replace, ADMIN_PASSWORD, NEW)
            assert "Factory reset done" in await asyncio.to_thread(reset, NEW)
            assert unit.daemon.vault.get(PASSWORD_KEY) is None
        finally:
            log = await asyncio.to_thread(stop_console, proc)
            cable.close()
    seen = cable.transcript.decode(errors="replace")
    for secret in (ADMIN_PASSWORD, NEW, "geraten-123456"):
        assert secret not in seen and secret not in log and secret not in caplog.text


async def test_console_pair_needs_the_password_and_shares_the_lockout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Whoever holds the cable pairs a register only with the admin password (once one is
    set); wrong ones open no window and count towards the console's one lockout."""
    caplog.set_level(logging.DEBUG)
    async with running_unit(tmp_path / "state") as unit:
        cable = Cable(tmp_path / "tty")
        proc = start_console(cable.path, unit.daemon.options.admin_socket)

        def pair(password: str | None) -> str:
            cable.send("pair 5\r")
            if password is None:
                return cable.expect("\r\n> ")
            cable.expect("Aktuelles Admin-Passwort: ")
            cable.send(password + "\r")
            return cable.expect("\r\n> ")

        def replace(current: str) -> str:
            cable.send("password\r")
            cable.expect("Aktuelles Admin-Passwort: ")
            cable.send(current + "\r")
            cable.expect("Neues Admin-Passwort: ")
            cable.send(NEW + "\r")
            cable.expect("Wiederholen: ")
            cable.send(NEW + "\r")
            return cable.expect("\r\n> ")

        try:
            await asyncio.to_thread(cable.expect, "> ")
            # first boot: no password yet, pair asks for none
            assert "Pairing code:" in await asyncio.to_thread(pair, None)
            unit.daemon.pairing.close()
            await set_admin_password(unit)
            answer = await asyncio.to_thread(pair, "geraten-111111")
            assert "current admin password is wrong" in answer and "Pairing code" not in answer
            assert not unit.daemon.pairing.is_open
            # pair and password failures count towards one lockout (5 failures)
            for n in range(2):
                await asyncio.to_thread(replace, f"geraten-{n:06}")
            for n in range(2):
                await asyncio.to_thread(pair, f"geraten-2{n:05}")
            answer = await asyncio.to_thread(pair, ADMIN_PASSWORD)
            assert "too many failed attempts" in answer, answer
            assert not unit.daemon.pairing.is_open
            # status and network stay open, locked out or not
            assert "Mode / Modus:   TEST" in await asyncio.to_thread(cable.command, "status")
            assert "Interfaces:" in await asyncio.to_thread(cable.command, "network")
            unit.daemon.console_limiter._sources.clear()  # the 30 s have passed
            answer = await asyncio.to_thread(pair, ADMIN_PASSWORD)
            assert "Pairing code:" in answer and unit.daemon.pairing.is_open
            # the setup page's session and root's tsectl still pair without the password
            web, csrf = await web_login(unit)
            try:
                opened = await web.post(
                    "/setup/api/admin/v1/pairing", json={}, headers={"X-CSRF-Token": csrf}
                )
                assert opened.status_code == 201, opened.text
            finally:
                await web.aclose()
            assert (await admin_call(unit, "POST", "/admin/v1/pairing", {})).status_code == 201
        finally:
            log = await asyncio.to_thread(stop_console, proc)
            cable.close()
    seen = cable.transcript.decode(errors="replace")
    for secret in (ADMIN_PASSWORD, "geraten-111111"):
        assert secret not in seen and secret not in log and secret not in caplog.text


async def test_the_admin_api_checks_a_current_password_it_is_sent(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        await set_admin_password(unit)
        wrong = await admin_call(
            unit, "PUT", "/admin/v1/password", {"password": NEW, "current": "falsch-falsch"}
        )
        assert wrong.status_code == 403 and "nothing changed" in wrong.json()["error"]["message"]
        assert wrong.json()["error"]["code"] == "PASSWORD_WRONG"
        reset = await admin_call(
            unit, "POST", "/admin/v1/factory-reset", {"confirm": True, "password": "falsch"}
        )
        assert reset.status_code == 403
        assert unit.daemon.vault.get(PASSWORD_KEY) is not None
        # root on the unit (tsectl, no proof sent) may still set a forgotten password
        assert (await admin_call(unit, "PUT", "/admin/v1/password", {"password": NEW})).is_success


async def test_the_setup_page_changes_the_password_only_with_the_current_one(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "state") as unit:
        await set_admin_password(unit)
        web, csrf = await web_login(unit)
        headers = {"X-CSRF-Token": csrf}
        try:
            path = "/setup/api/admin/v1/password"
            missing = await web.put(path, json={"password": NEW}, headers=headers)
            assert missing.status_code == 400, missing.text
            assert "current admin password is needed" in missing.json()["error"]["message"]
            wrong = await web.put(
                path, json={"password": NEW, "current": "falsch-falsch"}, headers=headers
            )
            assert wrong.status_code == 403  # not 401: the session stays valid
            still = await web.get("/setup/api/admin/v1/status")
            assert still.status_code == 200
            reset = await web.post(
                "/setup/api/admin/v1/factory-reset", json={"confirm": True}, headers=headers
            )
            assert reset.status_code == 400 and "password" in reset.json()["error"]["message"]
            stored = unit.daemon.vault.get(PASSWORD_KEY)
            assert stored is not None and verify_password(ADMIN_PASSWORD, stored)
            right = await web.put(
                path, json={"password": NEW, "current": ADMIN_PASSWORD}, headers=headers
            )
            assert right.status_code == 200, right.text
        finally:
            await web.aclose()
        again, _csrf = await web_login(unit, NEW)
        await again.aclose()
