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
from tsed.cli.say import error_lines
from tsed.net import netinfo
from tsed.texts import Lang, text
from tsed.texts.formats import when

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = "/dev/ttyGS0"
CONFIRM_WORDS = ("JA", "YES")
HELP_LINES = (
    "console.help.head", "console.help.status", "console.help.network", "console.help.pair",
    "console.help.password", "console.help.reset", "console.help.reset2", "console.help.help",
    "console.help.cancel",
)  # fmt: skip


class Terminal(Protocol):
    def write(self, text: str) -> None: ...

    def read_line(self, *, echo: bool = True) -> str | None: ...


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _printable(text: str, limit: int = 40) -> str:
    shown = "".join(ch if ch.isprintable() else "?" for ch in text)
    return shown[:limit] + ("..." if len(shown) > limit else "")


def format_error(err: CommandFailed, lang: Lang = "en") -> str:
    """One line for the installer: what went wrong and what to do."""
    if err.code == NotRunning.code:
        return text("console.not_running", lang)
    if lang == "en":  # the daemon's own English message and hint
        message, hint = err.message, err.hint
    else:
        message, hint = error_lines(err, lang)
    line = text("console.error", lang, message=_one_line(message))
    if hint:
        line += text("console.error_hint", lang, hint=_one_line(hint))
    return line


class Commands:
    """Dispatch one typed line to its command."""

    def __init__(self, term: Terminal, admin: AdminClient, lang: Lang = "en") -> None:
        self.term = term
        self.admin = admin
        self.lang: Lang = lang
        self.table: dict[str, Callable[[list[str]], None]] = {
            "help": self.help,
            "?": self.help,
            "status": self.status,
            "network": self.network,
            "pair": self.pair,
            "password": self.password,
            "factory-reset": self.factory_reset,
        }

    def say(self, line: str = "") -> None:
        self.term.write(line + "\n")

    def t(self, text_id: str, /, **params: Any) -> str:
        return text(text_id, self.lang, **params)

    def dispatch(self, line: str) -> None:
        words = line.strip().split()
        if not words:
            return
        name, args = words[0].lower(), words[1:]
        command = self.table.get(name)
        if command is None:
            self.say(self.t("console.unknown", name=_printable(words[0])))
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
            self.say(format_error(err, self.lang))
        except Exception as err:  # never a traceback on the line
            _LOGGER.error(
                "console command %s crashed: %s",
                name,
                type(err).__name__,
                extra={"TSED_EVENT": "console_crash"},
            )
            self.say(self.t("console.crashed", name=name, kind=type(err).__name__))

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = self.admin.call(method, path, body)
        if not isinstance(data, dict):
            raise CommandFailed(f"tsed answered {path} with something unexpected").localized(
                "console.unexpected", path=path
            )
        return data

    # -- commands ------------------------------------------------------------------------------

    def help(self, _args: list[str]) -> None:
        self.term.write("".join(self.t(line) + "\n" for line in HELP_LINES))

    def status(self, _args: list[str]) -> None:
        data = self.call("GET", "/admin/v1/status")
        device = data.get("device") or {}
        tse = data.get("tse") or {}
        mode = str(data.get("mode", "?"))
        self.say(self.t("console.mode_test" if mode == "TEST" else "console.mode", mode=mode))
        addresses = data.get("addresses") or []
        self.say(self.t("console.addresses", addresses=", ".join(map(str, addresses)) or "-"))
        self.say(
            self.t("console.device", id=device.get("id", "?"), short=device.get("short_id", "?"))
        )
        self.say(self.t("console.fingerprint", fingerprint=device.get("fingerprint", "?")))
        self.say(self.t("console.fingerprint_note"))
        if device.get("key_sha256"):
            self.say(self.t("console.key_hash", hash=device["key_sha256"]))
        if tse.get("available"):
            self.say(self.t("console.tse_ok"))
        else:
            since = tse.get("since") or "?"
            if self.lang == "en":  # the unit's own English reason
                reason = _one_line(tse.get("reason") or "unknown")
                self.say(self.t("console.tse_failing_reason", since=since, reason=reason))
            else:
                self.say(self.t("console.tse_failing", since=when(since, self.lang, "?")))
        registers = data.get("registers", 0)
        count = len(registers) if isinstance(registers, list) else registers
        self.say(self.t("console.registers", count=count))
        self.say(self.t("console.open", count=data.get("open_transactions", 0)))

    def network(self, _args: list[str]) -> None:
        try:
            mode = str(self.call("GET", "/admin/v1/status").get("mode", "?"))
        except CommandFailed as err:
            reason = format_error(err, self.lang)
            reason = reason.removeprefix(self.t("console.error", message=""))
            mode = self.t("console.mode_unknown", reason=reason)
        self.say(self.t("console.mode", mode=mode))
        self.say(self.t("console.interfaces"))
        for iface in netinfo.interfaces():
            self.say(f"  {iface.name:12} {', '.join(iface.addresses) or '-'}")
        route = netinfo.default_route()
        shown = (
            self.t("console.route_via", gateway=route.gateway, interface=route.interface)
            if route
            else "-"
        )
        self.say(self.t("console.route", route=shown))
        self.say(self.t("console.dns", servers=", ".join(netinfo.dns_servers()) or "-"))

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
                self.say(self.t("console.aborted_pair"))
                return
            body["password"] = current
        data = self.call("POST", "/admin/v1/pairing", body)
        until = data.get("expires_at", "?")
        self.say(self.t("console.pair_code", code=data.get("code", "?")))
        self.say(self.t("console.pair_until", until=until if self.lang == "en" else when(
            until, self.lang, "?")))  # fmt: skip
        self.say(self.t("console.pair_fingerprint", fingerprint=data.get("fingerprint", "?")))
        if data.get("tenant"):
            self.say(self.t("console.pair_tenant", tenant=_printable(str(data["tenant"]), 64)))
        self.say(self.t("console.pair_enter"))
        _LOGGER.info("pairing window opened from the console", extra={"TSED_EVENT": "console_pair"})

    def _confirm(self, question: str) -> bool:
        self.term.write(self.t("console.confirm", question=question))
        answer = self.term.read_line()
        return answer is not None and answer.strip().upper() in CONFIRM_WORDS

    def _current_password(self) -> str | None:
        """Ask for the current admin password (not echoed); ``None`` when cancelled."""
        self.term.write(self.t("console.current_password"))
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
                self.say(self.t("console.aborted"))
                return
            body["current"] = current
        self.term.write(self.t("console.new_password"))
        first = self.term.read_line(echo=False)
        if not first:
            self.say(self.t("console.aborted"))
            return
        self.term.write(self.t("console.repeat"))
        second = self.term.read_line(echo=False)
        if second is None:
            self.say(self.t("console.aborted"))
            return
        if first != second:
            self.say(self.t("console.differ"))
            return
        self.call("PUT", "/admin/v1/password", {**body, "password": first})
        self.say(self.t("console.password_set"))
        _LOGGER.info("admin password set from the console", extra={"TSED_EVENT": "console_pw"})

    def factory_reset(self, _args: list[str]) -> None:
        self.say(self.t("console.reset_what"))
        body: dict[str, Any] = {"confirm": True}
        if self.call("GET", "/admin/v1/password").get("set"):
            current = self._current_password()
            if current is None:
                self.say(self.t("console.aborted"))
                return
            body["password"] = current
        if not self._confirm(self.t("console.continue")):
            self.say(self.t("console.aborted"))
            return
        data = self.call("POST", "/admin/v1/factory-reset", body)
        if data.get("reset"):
            self.say(self.t("console.reset_done"))
        else:
            self.say(self.t("console.reset_unconfirmed"))
        _LOGGER.warning("factory reset from the console", extra={"TSED_EVENT": "console_reset"})
