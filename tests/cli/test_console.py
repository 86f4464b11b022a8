"""The serial console end to end: a real console process on a pty pair, a real admin server.

The installer's side is the pty master (raw); the console opens the slave through a symlink,
as it opens /dev/ttyGS0 on the unit. Admin routes that are not in the daemon yet come from the
contract fake in console_support; the routes the daemon has are also checked against the
real daemon (running_unit).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.console import (
    FINGERPRINT,
    PAIRING_CODE,
    Cable,
    FakeAdmin,
    start_console,
    stop_console,
)
from tests.support.unit import running_unit


@dataclass
class Setup:
    cable: Cable
    admin: FakeAdmin
    proc: object
    log: str = ""


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Setup]:
    admin = FakeAdmin(tmp_path / "admin.sock")
    admin.start()
    cable = Cable(tmp_path / "ttyGS0")
    proc = start_console(cable.path, admin.socket_path)
    setup = Setup(cable, admin, proc)
    try:
        cable.expect("help")
        cable.expect("> ")
        yield setup
    finally:
        setup.log = stop_console(proc)
        cable.close()
        admin.stop()


def test_help_is_bilingual_and_lists_every_command(console: Setup) -> None:
    answer = console.cable.command("help")
    for name in ("status", "network", "pair", "password", "factory-reset", "help"):
        assert f"  {name}" in answer
    assert "Befehle" in answer and "Commands" in answer
    assert "Unknown command 'frobnicate'" in console.cable.command("frobnicate now")


def test_status_shows_mode_addresses_fingerprint_tse_registers(console: Setup) -> None:
    answer = console.cable.command("status")
    assert "Mode / Modus:   TEST" in answer and "Test-Modus" in answer
    assert "192.0.2.10, fe80::1" in answer
    assert FINGERPRINT in answer
    assert "FAILING since 2026-01-02T03:04:05Z: timeout" in answer
    assert "Registers:      3 paired" in answer


def test_password_is_never_echoed_and_the_daemon_rules_apply(console: Setup) -> None:
    cable, secret = console.cable, "correct horse battery"
    cable.send("password\r")
    cable.expect("Neues Admin-Passwort: ")
    cable.send("kurz9\r")
    cable.expect("Wiederholen: ")
    cable.send("kurz9\r")
    answer = cable.expect("\r\n> ")
    assert "Error: the password needs at least 10 characters Hint: Choose a longer one" in answer
    # mismatch: nothing is sent to the daemon
    cable.send("password\r")
    cable.expect("Passwort: ")
    cable.send(secret + "\r")
    cable.expect("Wiederholen: ")
    cable.send(secret + "x\r")
    assert "differ" in cable.expect("\r\n> ")
    # typing mistakes fixed with backspace stay invisible too
    cable.send("password\r")
    cable.expect("Passwort: ")
    cable.send(secret + "zz\x7f\x7f\r")
    cable.expect("Wiederholen: ")
    cable.send(secret + "\r")
    answer = cable.expect("\r\n> ")
    assert "Admin password set" in answer
    assert console.admin.password == secret
    # once set, replacing asks the current one first (not echoed); an empty answer aborts
    cable.send("password\r")
    cable.expect("Aktuelles Admin-Passwort: ")
    cable.send("\r")
    assert "Aborted" in cable.expect("\r\n> ")
    cable.send("password\r")
    cable.expect("Aktuelles Admin-Passwort: ")
    cable.send(secret + "\r")
    cable.expect("Neues Admin-Passwort: ")
    cable.send(secret + "2\r")
    cable.expect("Wiederholen: ")
    cable.send(secret + "2\r")
    assert "Admin password set" in cable.expect("\r\n> ")
    puts = [c for c in console.admin.calls if c[0] == "PUT"]
    assert [c[2]["password"] for c in puts] == ["kurz9", secret, secret + "2"]
    assert puts[-1][2]["current"] == secret  # the daemon checks it (tests/security)
    log = stop_console(console.proc)  # type: ignore[arg-type]
    seen = cable.transcript.decode(errors="replace")
    assert "Admin password set" in seen  # the transcript is complete
    for leaked in (secret, "kurz9", "battery", "zz"):
        assert leaked not in seen
        assert leaked not in log


def test_pair_shows_code_expiry_fingerprint_and_never_logs_the_code(console: Setup) -> None:
    answer = console.cable.command("pair")
    assert f"Pairing code:   {PAIRING_CODE}" in answer
    assert "Valid until:    2026-01-02T03:09:05Z" in answer
    assert FINGERPRINT in answer
    assert "Error: minutes: 'soon' is not 1..60" in console.cable.command("pair soon")
    console.cable.command("pair 10")
    console.cable.command("pair 10 firma-a")  # a window for one tenant (issue 13 item 4)
    bodies = [c[2] for c in console.admin.calls if c[1] == "/admin/v1/pairing"]
    assert bodies == [
        {},
        {"minutes": "soon"},
        {"minutes": 10},
        {"minutes": 10, "tenant": "firma-a"},
    ]
    log = stop_console(console.proc)  # type: ignore[arg-type]
    assert "pairing window opened" in log
    assert PAIRING_CODE not in log and PAIRING_CODE.replace("-", "") not in log


def test_pair_asks_the_admin_password_once_one_is_set(console: Setup) -> None:
    console.admin.password = "Kabel-Passwort-77"
    console.cable.send("pair 5\r")
    console.cable.expect("Aktuelles Admin-Passwort: ")
    console.cable.send("\x03")  # Ctrl-C: nothing is opened
    assert "no pairing window opened" in console.cable.expect("\r\n> ")
    console.cable.send("pair 5\r")
    console.cable.expect("Aktuelles Admin-Passwort: ")
    console.cable.send("falsch-falsch\r")
    answer = console.cable.expect("\r\n> ")
    assert "Error: the current admin password is wrong" in answer and "Pairing code" not in answer
    console.cable.send("pair 5\r")
    console.cable.expect("Aktuelles Admin-Passwort: ")
    console.cable.send("Kabel-Passwort-77\r")
    assert f"Pairing code:   {PAIRING_CODE}" in console.cable.expect("\r\n> ")
    assert "Mode / Modus:   TEST" in console.cable.command("status")  # status stays open
    bodies = [c[2] for c in console.admin.calls if c[1] == "/admin/v1/pairing"]
    assert bodies == [
        {"minutes": 5, "password": "falsch-falsch"},
        {"minutes": 5, "password": "Kabel-Passwort-77"},
    ]
    seen = console.cable.transcript.decode(errors="replace")
    log = stop_console(console.proc)  # type: ignore[arg-type]
    assert "Kabel-Passwort-77" not in seen and "falsch-falsch" not in seen
    assert "Kabel-Passwort-77" not in log and "falsch-falsch" not in log


def test_factory_reset_needs_ja_or_yes(console: Setup) -> None:
    cable = console.cable
    for answer in ("no", "", "JAA", "\x03"):
        cable.send("factory-reset\r")
        cable.expect("eingeben: ")
        cable.send(answer if answer == "\x03" else answer + "\r")
        assert "Aborted" in cable.expect("\r\n> ") or answer == "\x03"
    assert console.admin.resets == 0
    cable.send("factory-reset\r")
    cable.expect("eingeben: ")
    cable.send("JA\r")
    assert "Factory reset done" in cable.expect("\r\n> ")
    assert console.admin.resets == 1
    cable.send("factory-reset\r")
    cable.expect("eingeben: ")
    cable.send("yes\r")
    cable.expect("\r\n> ")
    assert console.admin.resets == 2


def test_garbage_overlong_lines_and_escape_sequences_are_survived(console: Setup) -> None:
    cable = console.cable
    cable.send(bytes(range(256)) + b"\xff\xfe\xc3(\r")  # several lines, Ctrl-C, ESC inside
    cable.send("help\r")
    cable.expect("Commands / Befehle")
    cable.expect("\r\n> ")
    cable.send(b"x" * 5000 + b"\r")
    assert "line too long" in cable.expect("\r\n> ")
    cable.send(b"\x1b[A\x1b[B\x1bOPst\x1b[1;5Catus\r")  # arrows and F1 inside the word
    assert "Mode / Modus:   TEST" in cable.expect("\r\n> ")
    cable.send("stat\x15help\r")  # Ctrl-U clears the line
    assert "Commands / Befehle" in cable.expect("\r\n> ")
    cable.send("pa\x03")
    cable.expect("^C\r\n> ")
    assert "Commands" in cable.command("HELP")
    assert console.proc.poll() is None  # type: ignore[attr-defined]


def test_daemon_down_is_reported_with_how_to_check(tmp_path: Path) -> None:
    cable = Cable(tmp_path / "tty")
    stale = tmp_path / "admin.sock"  # left behind by a crashed daemon: nothing listens
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(stale))
    proc = start_console(cable.path, stale)
    try:
        cable.expect("> ")
        for command in ("status", "pair"):
            answer = cable.command(command)
            assert "tsed is not running" in answer and "systemctl status tsed" in answer
            assert "Traceback" not in answer
        answer = cable.command("network")
        assert "Mode / Modus:   unknown (tsed is not running" in answer
        assert "Interfaces:" in answer and "DNS servers:" in answer
        stale.unlink()  # no socket at all
        assert "systemctl status tsed" in cable.command("status")
    finally:
        log = stop_console(proc)
        cable.close()
    assert "Traceback" not in log


def test_a_pulled_cable_is_reopened(console: Setup) -> None:
    console.cable.command("help")
    console.cable.unplug()
    console.cable.connect()  # a new pty behind the same path, as a re-enumerated gadget
    console.cable.send("\r")
    console.cable.expect("> ")
    assert "Mode / Modus:   TEST" in console.cable.command("status")
    log = stop_console(console.proc)  # type: ignore[arg-type]
    assert "lost" in log or "cannot open" in log


async def test_against_the_real_daemon(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        cable = Cable(tmp_path / "tty")
        proc = start_console(cable.path, unit.daemon.options.admin_socket)
        try:
            banner = await asyncio.to_thread(cable.expect, "> ")
            code = (
                unit.daemon.running.ops.setup_code.shown()
            )  # first boot: the console shows the code
            assert code and f"Setup code:  {code}" in banner  # the console speaks English here
            assert code in await asyncio.to_thread(cable.command, "setup-code")
            answer = await asyncio.to_thread(cable.command, "status")
            assert "Mode / Modus:   TEST" in answer
            assert unit.daemon.identity.fingerprint_sha256 in answer  # the key hash, labelled
            presented = await asyncio.to_thread(unit.presented_fingerprint)
            assert f"Fingerprint:    {presented}" in answer  # what the browser shows
            assert "Registers:      0 paired" in answer
            answer = await asyncio.to_thread(cable.command, "pair 2")
            assert "Pairing code:" in answer and unit.daemon.pairing.is_open
            answer = await asyncio.to_thread(cable.command, "pair 99")
            assert "Error: minutes: 99 is not a whole number from 1 to 60" in answer
            # first-run password through the console, then the setup page takes it
            secret = "Konsole-Passwort-42"

            def set_password(first: str, second: str) -> str:
                cable.send("password\r")
                cable.expect("Passwort: ")
                cable.send(first + "\r")
                cable.expect("Wiederholen: ")
                cable.send(second + "\r")
                return cable.expect("\r\n> ")

            short = await asyncio.to_thread(set_password, "kurz", "kurz")
            assert "at least 10 characters" in short  # the daemon's rule, not the console's
            assert "Admin password set" in await asyncio.to_thread(set_password, secret, secret)
            assert "No setup code any more" in await asyncio.to_thread(cable.command, "setup-code")
            async with httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context()) as web:
                login = await web.post("/setup/login", json={"password": secret})
                assert login.status_code == 200
            answer = await asyncio.to_thread(cable.command, "status")
            assert any(a in answer for a in unit.daemon.addresses()) or not unit.daemon.addresses()
            # factory reset: the password, then JA, erase password and configuration
            cable.send("factory-reset\r")
            await asyncio.to_thread(cable.expect, "Aktuelles Admin-Passwort: ")
            cable.send(secret + "\r")
            await asyncio.to_thread(cable.expect, "eingeben: ")
            cable.send("JA\r")
            assert "Factory reset done" in await asyncio.to_thread(cable.expect, "\r\n> ")
            assert (await unit.tsectl("--json", "password", "status"))[1].count("false") == 1
            renewed = (
                unit.daemon.running.ops.setup_code.shown()
            )  # a new code for the next installer
            assert renewed and renewed != code
            assert renewed in await asyncio.to_thread(cable.command, "setup-code")
        finally:
            log = await asyncio.to_thread(stop_console, proc)
            cable.close()
        assert "Traceback" not in log
        assert code not in log and renewed not in log
