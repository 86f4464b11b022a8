"""``tsectl update status|install``: the unit's A/B updates (routes of
:mod:`tsed.net.admin_update`); no logic of its own beyond waiting for an install.

``install FILE|URL``: a file is made absolute here (the daemon reads it; a bundle on a USB
stick or on the data partition), a URL is downloaded by the daemon through the shop's proxy.
The command waits until the bundle is written (or refused) and says what to do next: reboot.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tsed.cli.adminclient import AdminClient, CommandFailed
from tsed.config.text import shown

Printer = Callable[[Mapping[str, Any], TextIO], object]
POLL = 2.0
INSTALL_WAIT = 3600.0  # seconds: download plus writing a slot on slow flash
STATES = {
    "running": "läuft",
    "refused": "abgelehnt",
    "failed": "fehlgeschlagen",
    "installed": "installiert, wird nach dem Neustart aktiv",
    "good": "erfolgreich (neues System geprüft und als gut markiert)",
    "rolled_back": "zurückgesetzt (Gesundheitsprüfung fehlgeschlagen, altes System läuft)",
}


def add_update_parser(sub: Any) -> None:
    update = sub.add_parser("update", help="A/B updates: status, install a signed bundle")
    actions = update.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("status", help="running version, booted slot, the other slot, last result")
    install = actions.add_parser("install", help="install a signed bundle (file or http(s) URL)")
    install.add_argument("source", help="the bundle: a file on this unit or an http(s) URL")
    install.add_argument("--no-wait", action="store_true", help="do not wait for the result")


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def print_update_status(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(f"Laufende Version: {shown(str(data.get('running_version')))}\n")
    if not data.get("available"):
        out.write(f"Updates:          nicht verfügbar ({shown(str(data.get('reason')))})\n")
    else:
        out.write(f"Gebootet:         System {shown(str(data.get('booted_slot')))}\n")
        other = data.get("other_slot") or {}
        if other:
            version = other.get("version") or "-"
            out.write(
                f"Anderes System:   {shown(str(other.get('bootname')))}, Version "
                f"{shown(str(version))}, {shown(str(other.get('boot_status') or '?'))}\n"
            )
    print_result(data.get("last"), out)


def print_result(last: Mapping[str, Any] | None, out: TextIO) -> None:
    if not last:
        out.write("Letztes Update:   keines\n")
        return
    state = str(last.get("state"))
    out.write(
        f"Letztes Update:   {shown(str(last.get('version') or '?'))} aus "
        f"{shown(str(last.get('source')))}: {STATES.get(state, shown(state))} "
        f"({_when(last.get('finished_at') or last.get('started_at'))})\n"
    )
    if last.get("message"):
        out.write(f"                  {shown(str(last['message']))}\n")


def _wait(client: AdminClient, started: Mapping[str, Any]) -> Mapping[str, Any]:
    deadline = time.monotonic() + INSTALL_WAIT
    status: Mapping[str, Any] = {"last": started}
    while time.monotonic() < deadline:
        status = client.call("GET", "/admin/v1/update")
        last = status.get("last") or {}
        if last.get("started_at") == started.get("started_at") and last.get("state") != "running":
            break
        time.sleep(POLL)
    last = status.get("last") or {}
    if last.get("state") in {"refused", "failed"}:
        raise CommandFailed(
            f"Update {STATES[str(last['state'])]}: {last.get('message')}",
            "Die Kasse signiert weiter mit der laufenden Version.",
            str(last.get("code") or "UPDATE_FAILED"),
        )
    return status


def run_update_command(client: AdminClient, args: argparse.Namespace) -> tuple[Any, Printer]:
    if args.action == "status":
        return client.call("GET", "/admin/v1/update"), print_update_status
    source = args.source
    if "://" not in source:
        source = str(Path(source).resolve())
    started = client.call("POST", "/admin/v1/update/install", {"source": source})
    if args.no_wait:
        return {"last": started}, lambda data, out: print_result(data["last"], out)
    status = _wait(client, started)

    def printer(data: Mapping[str, Any], out: TextIO) -> None:
        print_result(data.get("last"), out)
        if (data.get("last") or {}).get("state") == "installed":
            out.write("Neustart aktiviert das neue System: systemctl reboot\n")

    return status, printer
