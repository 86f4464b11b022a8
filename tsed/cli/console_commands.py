"""The serial console's commands: each one admin API call, its answer printed for a person.

Errors from the daemon are printed as one line from its ``message`` and ``hint``; a daemon
that does not answer is reported as not running, with how to check. Passwords and pairing
codes are shown or read on the line only, never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from tsed.cli.adminclient import AdminClient, CommandFailed, NotRunning
from tsed.net import netinfo

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = "/dev/ttyGS0"
CONFIRM_WORDS = ("JA", "YES")
TEST_NOTICE = "Die technische Sicherheitseinrichtung (fiskaly-TSE) ist im Test-Modus eingerichtet"

HELP = """\
Commands / Befehle:
  status          mode, addresses, fingerprint, TSE, registers / Zustand der Einheit
  network         interfaces, default route, DNS servers / Netzwerk
  pair [MIN] [TENANT]  open a pairing window (asks the password) / Kasse koppeln
  password        set the admin password (asks the current one) / Admin-Passwort setzen
  setup-code      the one-time code for the first password in the browser /
                  Einrichtungscode für das erste Passwort im Browser
  factory-reset   erase registers, settings, credentials (asks the password) /
                  Werkseinstellungen (fragt das Passwort)
  help            this text / diese Hilfe
Ctrl-C cancels a prompt / Strg-C bricht ab.
"""


class Terminal(Protocol):
    def write(self, text: str) -> None: ...

    def read_line(self, *, echo: bool = True) -> str | None: ...


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _printable(text: str, limit: int = 40) -> str:
    shown = "".join(ch if ch.isprintable() else "?" for ch in text)
    return shown[:limit] + ("..." if len(shown) > limit else "")


def format_error(err: CommandFailed) -> str:
    """One line for the installer: what went wrong and what to do."""
    if err.code == NotRunning.code:
        return (
            "Error: tsed is not running (its admin socket does not answer). "
            "Check with: systemctl status tsed / tsed läuft nicht."
        )
    line = f"Error: {_one_line(err.message)}"
    if err.hint:
        line += f" Hint: {_one_line(err.hint)}"
    return line


class Commands:
    """Dispatch one typed line to its command."""

    def __init__(self, term: Terminal, admin: AdminClient) -> None:
        self.term = term
        self.admin = admin
        self.table: dict[str, Callable[[list[str]], None]] = {
            "help": self.help,
            "?": self.help,
            "status": self.status,
            "network": self.network,
            "pair": self.pair,
            "password": self.password,
            "setup-code": self.setup_code,
            "factory-reset": self.factory_reset,
        }

    def say(self, text: str = "") -> None:
        self.term.write(text + "\n")

    def dispatch(self, line: str) -> None:
        words = line.strip().split()
        if not words:
            return
        name, args = words[0].lower(), words[1:]
        command = self.table.get(name)
        if command is None:
            self.say(
                f"Unknown command '{_printable(words[0])}'. Type help. / "
                "Unbekannter Befehl, 'help' zeigt die Befehle."
            )
            return
        try:
            command(args)
        except CommandFailed as err:
            _LOGGER.info(
                "console command %s failed: %s",
                name,
                err.code,
                extra={"TSED_EVENT": "console_error", "TSED_CODE": err.code},
            )
            self.say(format_error(err))
        except Exception as err:  # never a traceback on the line
            _LOGGER.error(
                "console command %s crashed: %s",
                name,
                type(err).__name__,
                extra={"TSED_EVENT": "console_crash"},
            )
            self.say(
                f"Error: the console could not run '{name}' ({type(err).__name__}). "
                "Check with: journalctl -u tsed-console"
            )

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = self.admin.call(method, path, body)
        if not isinstance(data, dict):
            raise CommandFailed(f"tsed answered {path} with something unexpected")
        return data

    # -- commands ------------------------------------------------------------------------------

    def help(self, _args: list[str]) -> None:
        self.term.write(HELP)

    def status(self, _args: list[str]) -> None:
        data = self.call("GET", "/admin/v1/status")
        device = data.get("device") or {}
        tse = data.get("tse") or {}
        mode = str(data.get("mode", "?"))
        notice = f"  ({TEST_NOTICE})" if mode == "TEST" else ""
        self.say(f"Mode / Modus:   {mode}{notice}")
        addresses = data.get("addresses") or []
        self.say(f"Addresses:      {', '.join(map(str, addresses)) or '-'}")
        self.say(f"Device id:      {device.get('id', '?')} (short {device.get('short_id', '?')})")
        self.say(f"Fingerprint:    {device.get('fingerprint', '?')}")
        self.say("                (certificate SHA-256 / Zertifikat, wie im Browser)")
        if device.get("key_sha256"):
            self.say(f"Key hash:       {device['key_sha256']} (registers pin / Kassen-Pinning)")
        if tse.get("available"):
            self.say("TSE:            reachable / erreichbar")
        else:
            since = tse.get("since") or "?"
            reason = tse.get("reason") or "unknown"
            self.say(f"TSE:            FAILING since {since}: {_one_line(reason)}")
        registers = data.get("registers", 0)
        count = len(registers) if isinstance(registers, list) else registers
        self.say(f"Registers:      {count} paired / gekoppelt")
        self.say(f"Open tx:        {data.get('open_transactions', 0)}")

    def setup_code(self, _args: list[str]) -> None:
        data = self.call("GET", "/admin/v1/setup-code")
        code = data.get("code")
        if not code:
            self.say(
                "Einrichtungscode: keiner mehr – das Admin-Passwort ist gesetzt. / "
                "No setup code: the admin password is set."
            )
            return
        self.say(f"Einrichtungscode / setup code:  {code}")
        self.say(
            "  Im Browser auf der Einrichtungsseite (https://<Adresse>:8443/setup/) eingeben, um "
            "das Admin-Passwort zu setzen. Gilt einmal. / Type it on the setup page to set the "
            "admin password; valid once."
        )

    def announce_setup_code(self) -> None:
        """At the start of a session: the setup code while the first password is not set."""
        try:
            if self.call("GET", "/admin/v1/setup-code").get("code"):
                self.setup_code([])
        except (CommandFailed, NotRunning):
            pass  # the daemon is not up yet: 'setup-code' shows it later

    def network(self, _args: list[str]) -> None:
        try:
            mode = str(self.call("GET", "/admin/v1/status").get("mode", "?"))
        except CommandFailed as err:
            mode = "unknown (" + format_error(err).removeprefix("Error: ") + ")"
        self.say(f"Mode / Modus:   {mode}")
        self.say("Interfaces:")
        for iface in netinfo.interfaces():
            self.say(f"  {iface.name:12} {', '.join(iface.addresses) or '-'}")
        route = netinfo.default_route()
        shown = f"{route.gateway} via {route.interface}" if route else "-"
        self.say(f"Default route:  {shown}")
        self.say(f"DNS servers:    {', '.join(netinfo.dns_servers()) or '-'}")

    def pair(self, args: list[str]) -> None:
        body: dict[str, Any] = {}
        if args:
            # The daemon validates the range; a non-number goes as text so it can say why.
            body["minutes"] = int(args[0]) if args[0].isascii() and args[0].isdigit() else args[0]
        if len(args) > 1:
            body["tenant"] = args[1]  # the daemon refuses unknown tenants with the known ones
        if self.call("GET", "/admin/v1/password").get("set"):
            # Whoever holds the cable pairs a register only with the password; the daemon
            # checks it and counts failures towards the console's lockout.
            current = self._current_password()
            if current is None:
                self.say("Aborted, no pairing window opened. / Abgebrochen.")
                return
            body["password"] = current
        data = self.call("POST", "/admin/v1/pairing", body)
        self.say(f"Pairing code:   {data.get('code', '?')}")
        self.say(f"Valid until:    {data.get('expires_at', '?')}")
        self.say(f"Fingerprint:    {data.get('fingerprint', '?')} (certificate SHA-256)")
        if data.get("tenant"):
            self.say(f"Tenant / Mandant: {_printable(str(data['tenant']), 64)}")
        self.say("Enter the code at the register; it works once. / Code an der Kasse eingeben.")
        _LOGGER.info("pairing window opened from the console", extra={"TSED_EVENT": "console_pair"})

    def _confirm(self, question: str) -> bool:
        self.term.write(f"{question} Type JA or YES / JA oder YES eingeben: ")
        answer = self.term.read_line()
        return answer is not None and answer.strip().upper() in CONFIRM_WORDS

    def _current_password(self) -> str | None:
        """Ask for the current admin password (not echoed); ``None`` when cancelled."""
        self.term.write("Current admin password / Aktuelles Admin-Passwort: ")
        current = self.term.read_line(echo=False)
        return current or None

    def password(self, _args: list[str]) -> None:
        state = self.call("GET", "/admin/v1/password")
        body: dict[str, Any] = {}
        if state.get("set"):
            # Whoever holds the cable must know the password to replace it; the daemon checks
            # it and counts failures towards a lockout.
            current = self._current_password()
            if current is None:
                self.say("Aborted, nothing changed. / Abgebrochen.")
                return
            body["current"] = current
        self.term.write("New admin password / Neues Admin-Passwort: ")
        first = self.term.read_line(echo=False)
        if not first:
            self.say("Aborted, nothing changed. / Abgebrochen.")
            return
        self.term.write("Repeat / Wiederholen: ")
        second = self.term.read_line(echo=False)
        if second is None:
            self.say("Aborted, nothing changed. / Abgebrochen.")
            return
        if first != second:
            self.say("Error: the two entries differ; nothing changed. / Eingaben verschieden.")
            return
        self.call("PUT", "/admin/v1/password", {**body, "password": first})
        self.say("Admin password set. / Admin-Passwort gesetzt.")
        _LOGGER.info("admin password set from the console", extra={"TSED_EVENT": "console_pw"})

    def factory_reset(self, _args: list[str]) -> None:
        self.say(
            "Factory reset erases paired registers, settings and credentials on this unit. / "
            "Setzt die Einheit auf Werkseinstellungen zurück."
        )
        body: dict[str, Any] = {"confirm": True}
        if self.call("GET", "/admin/v1/password").get("set"):
            current = self._current_password()
            if current is None:
                self.say("Aborted, nothing changed. / Abgebrochen.")
                return
            body["password"] = current
        if not self._confirm("Continue? / Fortfahren?"):
            self.say("Aborted, nothing changed. / Abgebrochen.")
            return
        data = self.call("POST", "/admin/v1/factory-reset", body)
        if data.get("reset"):
            self.say("Factory reset done. / Auf Werkseinstellungen zurückgesetzt.")
        else:
            self.say("Error: tsed did not confirm the reset. Check with: journalctl -u tsed")
        _LOGGER.warning("factory reset from the console", extra={"TSED_EVENT": "console_reset"})
