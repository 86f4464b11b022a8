"""tsectl in German: a real unit (built-in simulator) on loopback, many commands with their
failure paths, every printed line German or data (``tests/support/german.py`` reads the
catalogue backwards); the language from ``--lang``, ``TSED_LANG`` and the setting
``language``; ``--json`` unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import io
import json
import socket
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.german import english_lines, is_german
from tests.support.unit import Unit, running_unit
from tsed.cli import tsectl
from tsed.cli.say import argparse_message, choose_language, set_lang


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = tsectl.main(argv, out=out)
        except SystemExit as exit_:  # argparse's usage errors
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


async def _tsectl(unit: Unit, *args: str, lang: str | None = "de") -> tuple[int, str, str]:
    argv = ["--socket", str(unit.daemon.options.admin_socket), *args]
    if lang is not None:
        argv = ["--lang", lang, *argv]
    return await asyncio.to_thread(_run, argv)


def test_the_reverse_lookup_can_fail() -> None:
    assert english_lines("  part 1: triggered (PENDING) after 3 s") != []
    assert english_lines("tsectl: proxy.port: 70000 is not valid (a whole number)") != []
    assert english_lines("Registers:     0 paired") != []
    assert english_lines("Kassen:          2 gekoppelt\nProxy-Port: 70000 ist keine gültige "
                         "Portnummer (1–65535).") == []  # fmt: skip
    assert is_german("0f6e3c1a-9d2b-4e8f-a1b2-c3d4e5f60718  Kasse 1")  # data
    fingerprint = ":".join(["AB", "CD", "EF", "FA", "DE", "AD", "BE", "EA"] * 4)
    assert is_german(f"Fingerabdruck:   {fingerprint}")  # hex pairs are no words


async def test_tsectl_speaks_german_on_every_path(tmp_path: Path) -> None:
    seen: dict[tuple[str, ...], tuple[int, str]] = {}
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.exports.poll_interval = 0.1

        async def say(*args: str) -> tuple[int, str]:
            code, out, err = await _tsectl(unit, *args)
            seen[args] = (code, out + err)
            return code, out + err

        assert (await say("status"))[0] == 0
        assert (await say("registers"))[0] == 0  # empty: "Keine Einträge"
        assert (await say("pair"))[0] == 0
        register = await unit.pair("Kasse 1")
        await register.receipt()
        assert (await say("pair", "--serial", "Kasse 1"))[0] == 0  # "schon gekoppelt"
        assert (await say("registers"))[0] == 0
        assert (await say("config", "show"))[0] == 0
        assert (await say("config", "set", "name", "Filiale 7"))[0] == 0
        code, text = await say("config", "set", "proxy.port", "70000")
        assert code == 1 and "Proxy-Port: 70000 ist keine gültige Portnummer (1–65535)." in text
        assert (await say("config", "set", "proxy.host", "bad host!"))[0] == 1
        assert (await say("config", "set", "name", "   "))[0] == 1
        assert (await say("config", "set", "frobnicate", "1"))[0] == 1
        assert (await say("config", "set", "pairing_minutes", "99"))[0] == 1
        assert (await say("config", "set", "language", "fr"))[0] == 1
        assert (await say("test"))[0] == 0
        assert (await say("tss", "status"))[0] == 0
        assert (await say("health"))[0] == 0
        assert (await say("password", "status"))[0] == 0
        assert (await say("tenants"))[0] == 0
        assert (await say("logging", "extended", "on"))[0] == 0
        code, text = await say("export", "-o", str(tmp_path / "tse.tar"))
        assert code == 0 and "Teil 1 von 1: angefordert" in text and " KB" in text
        assert (await say("export", "verify", str(tmp_path / "tse.tar")))[0] == 0
        assert (await say("export", "verify", str(tmp_path / "none.tar")))[0] == 2
        assert (await say("archive", "run"))[0] == 0
        assert (await say("archive", "status"))[0] == 0
        assert (await say("archive", "verify"))[0] == 0
        today = datetime.now(UTC).date().isoformat()
        assert (await say("archive", "export", "--from", today, "--to", today))[0] == 0
        state = ("--state-dir", str(unit.state_dir))
        assert (await say(*state, "archive", "copy-status"))[0] == 0
        assert (await say(*state, "archive", "copy"))[0] == 1  # none configured
        assert (await say("export", "--from", "2026-1", "-o", str(tmp_path / "x.tar")))[0] == 2
        assert (await say("export"))[0] == 2
        assert (await say("reset", "--register", register.register_id))[0] == 0
        assert (await say("reset"))[0] == 2
        assert (await say("registers", "revoke"))[0] == 2
        unknown = str(uuid.uuid4())
        code, text = await say("registers", "revoke", unknown)
        assert code == 1 and f"Die Kasse {unknown} gibt es nicht." in text
        assert (await say("registers", "revoke", register.register_id))[0] == 0
        assert (await say("credentials", "set"))[0] == 2
        assert (await say("activate", str(tmp_path / "missing.json")))[0] == 1
        assert (await say("frobnicate"))[0] == 2
        assert (await say("pair", "--minutes", "abc"))[0] == 2
        assert (await say("config"))[0] == 2
    code, out, err = await asyncio.to_thread(
        _run, ["--lang", "de", "--socket", str(tmp_path / "none.sock"), "status"]
    )
    seen[("status", "(not running)")] = (code, out + err)
    assert code == 1
    english = {args: english_lines(text) for args, (_c, text) in seen.items()}
    english = {args: found for args, found in english.items() if found}
    assert not english, f"English lines in German mode: {english}"
    assert len(seen) >= 38
    printed = "\n".join(text for _c, text in seen.values())
    for german in ("Aufruf: tsectl", "Keine Einträge", "ÜBERSPRUNGEN", "Nicht geprüft:",
                   "schon als Kasse", "Hinweis:", "Geschrieben:", "Archiv geprüft",
                   "Kopie außer Haus: nicht eingerichtet"):  # fmt: skip
        assert german in printed, german
    assert "usage:" not in printed and "{'" not in printed  # no English usage, no dict dump


async def test_json_stays_machine_readable(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        code, out, _ = await _tsectl(unit, "--json", "status")
        english_code, english_out, _ = await _tsectl(unit, "--json", "status", lang="en")
    assert code == english_code == 0
    german, english = json.loads(out), json.loads(english_out)
    assert german.keys() == english.keys() and german["mode"] == "TEST"


async def test_the_language_setting_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TSED_LANG")
    async with running_unit(tmp_path / "state") as unit:
        monkeypatch.setenv("TSED_CONFIG", str(unit.state_dir / "tsed.toml"))
        _, text, _ = await _tsectl(unit, "status", lang=None)
        assert "Kassen:          0 gekoppelt" in text  # the default: German
        code, _, _ = await _tsectl(unit, "config", "set", "language", "en", lang=None)
        assert code == 0
        _, text, _ = await _tsectl(unit, "status", lang=None)
        assert "Registers:     0 paired" in text  # the setting
        monkeypatch.setenv("TSED_LANG", "de")
        _, text, _ = await _tsectl(unit, "status", lang=None)
        assert "Kassen:" in text  # the environment before the setting
        _, text, _ = await _tsectl(unit, "status", lang="en")
        assert "Registers:" in text  # the flag before everything
        _, shown, _ = await _tsectl(unit, "--json", "config", "show", lang=None)
        assert json.loads(shown)["language"] == "en"  # mirrored in the admin API


async def test_password_mismatch_is_german(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    typed = iter(["Kassen-Passwort-2026", "Kassen-Passwort-2027"])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(getpass, "getpass", lambda _prompt="": next(typed))
    async with running_unit(tmp_path / "state") as unit:
        code, out, err = await _tsectl(unit, "password")
    assert code == 2
    assert "Die beiden Eingaben sind verschieden." in err and "usage:" not in err
    assert english_lines(out + err) == []


def test_argparse_messages_in_german() -> None:
    set_lang("de")
    assert argparse_message("the following arguments are required: action") == (
        "folgende Angaben fehlen: action"
    )
    assert argparse_message("unrecognized arguments: --frob") == "unbekannte Angaben: --frob"
    assert "ungültige Auswahl" in argparse_message(
        "argument COMMAND: invalid choice: 'x' (choose from 'a', 'b')"
    )


def test_choose_language() -> None:
    assert choose_language(["--lang", "en", "status"], {"TSED_LANG": "de"}) == "en"
    assert choose_language(["--lang=de"], {"TSED_LANG": "en"}) == "de"
    assert choose_language([], {"TSED_LANG": "en_US.UTF-8", "TSED_CONFIG": "/nonexistent"}) == "en"
    assert choose_language([], {"TSED_CONFIG": "/nonexistent"}) == "de"


def _help(lang: str) -> str:
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        code, _out, _err = _run(["--lang", lang, "--help"])  # argparse prints on stdout
    assert code == 0
    return shown.getvalue()


def test_help_speaks_german_where_argparse_speaks() -> None:
    german = _help("de")
    assert german.startswith("Aufruf: tsectl")
    assert "\nOptionen:\n" in german and "zeigt diese Hilfe" in german and "usage:" not in german
    english = _help("en")
    assert english.startswith("usage: tsectl") and "\noptions:\n" in english


def _run_all(argv: list[str]) -> tuple[int, str]:
    """Like :func:`_run`, with what tsectl writes to standard output itself (a failed test)."""
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        code, out, err = _run(argv)
    return code, shown.getvalue() + out + err


async def test_test_and_status_say_what_was_found_in_german(tmp_path: Path) -> None:
    """A saved proxy nobody answers on and an archive export with findings: ``tsectl test``
    names the proxy and why, ``tsectl status`` the finding, both in German from the catalogue
    (no line English, no generic sentence in place of the finding); ``--lang en`` keeps the
    unit's English."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair("Kasse 1")
        await register.receipt()
        sim = unit.daemon.sim
        assert sim is not None
        ((tss_id, logs),) = sim.state.logs.items()
        logs[-1] = replace(logs[-1], signature=bytes(64))  # the TSE serves a bad signature
        assert (await _tsectl(unit, "archive", "run"))[0] == 1  # kept, with findings
        for key, value in (("proxy.host", "127.0.0.1"), ("proxy.port", str(dead))):
            assert (await _tsectl(unit, "config", "set", key, value))[0] == 0
        socket_args = ["--socket", str(unit.daemon.options.admin_socket)]
        test_code, test = await asyncio.to_thread(_run_all, ["--lang", "de", *socket_args, "test"])
        _, status = await asyncio.to_thread(_run_all, ["--lang", "de", *socket_args, "status"])
        _, english = await asyncio.to_thread(_run_all, ["--lang", "en", *socket_args, "status"])
        _, english_test = await asyncio.to_thread(_run_all, ["--lang", "en", *socket_args, "test"])
    assert test_code == 1
    assert f"Proxy 127.0.0.1:{dead}: keine Verbindung (ECONNREFUSED)" in test, test
    assert "→ Proxy-Host und -Port prüfen" in test
    assert "der gespeicherte Proxy antwortet nicht" not in test  # not the generic sentence
    assert f"Archiv: der Export der TSS {tss_id}, Zähler " in status, status
    assert "hat Befunde (" in status and "siehe tsectl archive status" in status
    assert english_lines(test) == [] and english_lines(status) == [], (test, status)
    assert f"archive: the export of TSS {tss_id}" in english and "has findings" in english
    assert f"proxy 127.0.0.1:{dead}: no connection" in english_test
