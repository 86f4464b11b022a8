"""The serial console in German against the real daemon: every line it prints on the cable is
German or data (``tests/support/german.py``), failure paths included; English on request."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.console import Cable, start_console, stop_console
from tests.support.german import english_lines
from tests.support.unit import running_unit


async def test_the_console_speaks_german(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        cable = Cable(tmp_path / "tty")
        proc = start_console(cable.path, unit.daemon.options.admin_socket, lang="de")
        seen: list[str] = []
        try:
            seen.append(await asyncio.to_thread(cable.expect, "> "))
            for line in ("help", "status", "network", "pair 2", "pair 99", "pair bald",
                         "frobnicate"):  # fmt: skip
                seen.append(await asyncio.to_thread(cable.command, line))

            def password(first: str, second: str) -> str:
                cable.send("password\r")
                cable.expect("Neues Admin-Passwort: ")
                cable.send(first + "\r")
                cable.expect("Wiederholen: ")
                cable.send(second + "\r")
                return cable.expect("\r\n> ")

            seen.append(await asyncio.to_thread(password, "Konsole-Passwort-42", "anders-42-x"))
            seen.append(await asyncio.to_thread(password, "kurz", "kurz"))
            seen.append(await asyncio.to_thread(password, "Konsole-Passwort-42",
                                                "Konsole-Passwort-42"))  # fmt: skip

            def pair_wrong() -> str:
                cable.send("pair 2\r")
                cable.expect("Aktuelles Admin-Passwort: ")
                cable.send("falsch-falsch\r")
                return cable.expect("\r\n> ")

            seen.append(await asyncio.to_thread(pair_wrong))
        finally:
            cable.close()
            log = stop_console(proc)
    text = "\n".join(seen).replace("\r", "")
    assert "Modus:          TEST" in text and "Kassen:         0 gekoppelt" in text
    assert "Kopplungscode:" in text and "Admin-Passwort gesetzt." in text
    assert "Die beiden Eingaben sind verschieden" in text
    assert "Unbekannter Befehl „frobnicate“" in text
    assert "Fehler:" in text and "Hinweis:" in text
    assert "Kopplungsfenster: „99“ ist keine ganze Zahl von 1 bis 60 (Minuten)." in text
    lines = [line.removeprefix("> ") for line in text.splitlines()]
    lines = [
        line
        for line in lines
        if line not in ("help", "status", "network", "frobnicate") and not line.startswith("pair ")
    ]  # fmt: skip  (the echo of what was typed)
    assert english_lines("\n".join(lines)) == [], english_lines("\n".join(lines))
    assert "Konsole-Passwort-42" not in text and "Konsole-Passwort-42" not in log
    assert "Traceback" not in log
