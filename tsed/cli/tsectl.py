"""``tsectl``: the installer's and technician's command line.

It talks to the running daemon over the admin Unix socket in the state directory (override
with ``--socket``); every command prints a human answer by default and JSON with ``--json``.
Exit codes: 0 success, 1 failure (with a message and a hint), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from tsed import __version__
from tsed.cli.adminclient import AdminClient, CommandFailed, UsageError
from tsed.cli.common import add_socket, add_state_dir, socket_path
from tsed.cli.tsectl_archive import add_archive_actions, run_archive_command
from tsed.cli.tsectl_offbox import ACTIONS as OFFBOX_ACTIONS
from tsed.cli.tsectl_offbox import add_offbox_actions, run_offbox
from tsed.cli.tsectl_setup import (
    add_setup_parsers,
    print_telemetry,
    read_secret,
    run_setup_command,
)
from tsed.cli.tsectl_update import add_update_parser, run_update_command
from tsed.cli.tsectl_verify import print_report, run_verify
from tsed.config.text import shown

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


# -- human output -----------------------------------------------------------------------------


def _print_status(data: Mapping[str, Any], out: TextIO) -> None:
    tse = data.get("tse", {})
    device = data.get("device", {})
    mode = data.get("mode", "?")
    out.write(f"Mode:          {mode}")
    out.write(
        "  (TEST: Die technische Sicherheitseinrichtung (fiskaly-TSE) ist im Test-Modus "
        "eingerichtet)\n"
        if mode == "TEST"
        else "\n"
    )
    backend = data.get("backend", "?")
    if backend == "simulator":  # where register developers drive TSE failures
        backend = "simulator (fault switches: /api/v1/simulator/faults, register token)"
    out.write(f"Backend:       {backend}\n")
    if tse.get("available"):
        out.write("TSE:           reachable\n")
    else:
        since = tse.get("since") or "?"
        out.write(f"TSE:           FAILING since {since}: {tse.get('reason') or 'unknown'}\n")
    out.write(f"Registers:     {data.get('registers', 0)} paired\n")
    out.write(f"Open tx:       {data.get('open_transactions', 0)}\n")
    out.write(f"Listen:        {data.get('listen', '?')}\n")
    out.write(f"Device id:     {device.get('id', '?')} (short {device.get('short_id', '?')})\n")
    out.write(f"Fingerprint:   {device.get('fingerprint', '?')}\n")
    out.write("               (certificate SHA-256, as the browser shows it / wie im Browser)\n")
    if device.get("key_sha256"):
        out.write(f"Key hash:      {device['key_sha256']} (what registers pin)\n")
    out.write(f"Addresses:     {', '.join(data.get('addresses') or []) or '?'}\n")
    if not data.get("password_set", True):
        out.write("Admin password: not set (tsectl password) - the setup page needs it\n")
    pairing = data.get("pairing", {})
    if pairing.get("open"):
        out.write(f"Pairing:       open until {pairing.get('expires_at')}\n")
    print_telemetry(data.get("telemetry", {}), out)
    for notice in data.get("notices", []):
        out.write(f"Notice:        {notice}\n")


def _print_pairing(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(f"Pairing code:  {data['code']}\n")
    out.write(f"Valid until:   {data['expires_at']}\n")
    out.write(f"Fingerprint:   {data['fingerprint']} (certificate SHA-256 / wie im Browser)\n")
    if data.get("tenant"):
        out.write(f"Tenant:        {data['tenant']}\n")
    out.write("Enter the code at the register (or scan the QR code); it works once.\n")
    replaces = data.get("replaces")
    if replaces:
        out.write(
            f"Serial {replaces['serial']!r} is already paired as register {replaces['id']}.\n"
            f"To replace that register: tsectl registers revoke {replaces['id']}\n"
            "then pair the new one with this code while the window is open.\n"
        )
    else:
        out.write("Replacing a register? Revoke the old one first (tsectl registers revoke ID).\n")
    if data.get("qr_text") and out.isatty():
        import segno  # noqa: PLC0415

        segno.make(data["qr_text"], error="m").terminal(out=out, compact=True)


def _print_registers(data: Mapping[str, Any], out: TextIO) -> None:
    registers = data.get("registers", [])
    if not registers:
        out.write("No registers paired. Open a pairing window with: tsectl pair\n")
        return
    out.write(f"{'ID':36}  {'SERIAL':24}  {'TENANT':12}  {'STATE':8}  LAST SEEN / LABEL\n")
    for reg in registers:
        state = "revoked" if reg.get("revoked_at") else "active"
        serial, tenant = shown(str(reg.get("serial", ""))), shown(str(reg.get("tenant_id", "")))
        label = shown(str(reg.get("label") or ""))  # escaped: a label cannot fake a line
        out.write(
            f"{shown(str(reg['id'])):36}  {serial:24}  {tenant:12}  "
            f"{state:8}  {reg.get('last_seen_at') or '-'}  {label}\n"
        )


def _print_lines(data: Mapping[str, Any], out: TextIO) -> None:
    for line in data.get("lines", []):
        out.write(f"{shown(str(line))}\n")


def _print_mapping(data: Mapping[str, Any], out: TextIO, prefix: str = "") -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            _print_mapping(value, out, f"{name}.")
        elif isinstance(value, list):
            out.write(f"{shown(name)} = {shown(json.dumps(value, ensure_ascii=False))}\n")
        else:
            text = "" if value is None else str(value)
            if isinstance(value, bool):
                text = "true" if value else "false"
            out.write(f"{shown(name)} = {shown(text)}\n")


# -- commands ---------------------------------------------------------------------------------

Printer = Callable[[Mapping[str, Any], TextIO], object]


def _run_admin(args: argparse.Namespace) -> tuple[Any, Printer]:
    client = AdminClient(args.socket_path)
    try:
        done = run_setup_command(client, args)
        if done is not None:
            return done
        if args.command == "archive":
            return run_archive_command(client, args)
        if args.command == "update":
            return run_update_command(client, args)
        if args.command == "status":
            return client.call("GET", "/admin/v1/status"), _print_status
        if args.command == "pair":
            known = None
            if args.serial:
                registers = client.call("GET", "/admin/v1/registers").get("registers", [])
                known = next(
                    (
                        r
                        for r in registers
                        if r.get("serial") == args.serial and not r.get("revoked_at")
                    ),
                    None,
                )
            body: dict[str, Any] = {"minutes": args.minutes} if args.minutes else {}
            if args.tenant:
                body["tenant"] = args.tenant
            data = dict(client.call("POST", "/admin/v1/pairing", body))
            if known is not None:
                data["replaces"] = {"id": known["id"], "serial": known["serial"]}
            return data, _print_pairing
        if args.command == "registers":
            if args.action == "revoke":
                if not args.register_id:
                    raise UsageError(
                        "registers revoke needs the register id",
                        "List the ids with: tsectl registers",
                    )
                data = client.call("DELETE", f"/admin/v1/registers/{args.register_id}")
                return data, lambda d, out: out.write(f"Revoked register {d['revoked']}.\n")
            return client.call("GET", "/admin/v1/registers"), _print_registers
        if args.command == "reset":
            if bool(args.register) == bool(args.all):
                raise UsageError("name one register (--register ID) or --all")
            body = {"register_id": args.register} if args.register else {"all": True}
            return client.call("POST", "/admin/v1/reset", body), _print_mapping
        if args.command == "tss":
            if args.action == "setup":
                body = {"new": bool(args.new)}
                return client.call("POST", "/admin/v1/tss", body), _print_mapping
            return client.call("GET", "/admin/v1/tss"), _print_mapping
        if args.command == "activate":
            try:
                document = Path(args.file).read_bytes()
            except OSError as err:
                raise CommandFailed(
                    f"cannot read {args.file}: {err.strerror}",
                    "Give the path of the vendor's activation file.",
                ) from err
            return client.call("POST", "/admin/v1/activation", raw=document), _print_mapping
        if args.command == "credentials":
            if not args.api_key:
                raise UsageError("credentials set needs --api-key")
            secret = read_secret("API secret: ").strip()
            if not secret:
                raise UsageError(
                    "no API secret on standard input",
                    "Example: tsectl credentials set --api-key KEY < secret.txt",
                )
            body = {"api_key": args.api_key, "api_secret": secret, "tenant": args.tenant}
            return client.call("PUT", "/admin/v1/credentials", body), _print_mapping
        if args.command == "test":
            data = client.call("POST", "/admin/v1/test")
            if not data.get("ok"):
                _print_lines(data, sys.stdout)
                raise CommandFailed(
                    "the connection test failed", "Follow the hint of the failed step.", "FAILED"
                )
            return data, _print_lines
        if args.command == "config":
            if args.action == "set":
                if args.key is None or args.value is None:
                    raise UsageError(
                        "config set needs KEY and VALUE",
                        "Example: tsectl config set proxy.host 192.0.2.10",
                    )
                data = client.call("PUT", f"/admin/v1/config/{args.key}", {"value": args.value})
                return data, lambda d, out: out.write(f"Saved: {args.key} = {args.value}\n")
            return client.call("GET", "/admin/v1/config"), _print_mapping
    finally:
        client.close()
    raise UsageError(f"unknown command {args.command}", "See tsectl --help.")


def _print_discovered(data: Mapping[str, Any], out: TextIO) -> None:
    units = data.get("units", [])
    if not units:
        out.write("No TSE-LAN unit answered on this network.\n")
        return
    for unit in units:
        addresses = ", ".join(unit.get("addresses") or []) or "?"
        pairing = "pairing open" if unit.get("pair") else "pairing closed"
        out.write(
            f"{unit.get('name')}: https://{addresses}:{unit.get('port')}  "
            f"{str(unit.get('mode') or '?').upper()}  {pairing}  key hash {unit.get('fp')}…\n"
        )


def _run_discover(args: argparse.Namespace) -> tuple[Any, Printer]:
    import asyncio  # noqa: PLC0415 - only this command needs an event loop

    from tsed.net.mdns import discover  # noqa: PLC0415

    units = asyncio.run(discover(args.seconds, interfaces=args.interface or None))
    return {"units": [unit.to_json() for unit in units]}, _print_discovered


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsectl",
        description="Set up and inspect the TSE-LAN unit (talks to the running tsed).",
        epilog="Exit codes: 0 success, 1 failure, 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"tsectl {__version__}")
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    add_socket(parser)
    add_state_dir(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("status", help="mode, TSE state, registers, device fingerprint")
    pair = sub.add_parser("pair", help="open a pairing window and show the one-time code")
    pair.add_argument("--minutes", type=int, help="how long the window stays open (default 5)")
    pair.add_argument(
        "--serial", help="the serial of the register to pair (says so if it is already paired)"
    )
    pair.add_argument(
        "--tenant", help="the tenant the register is bound to (multi-tenant; default: the first)"
    )
    registers = sub.add_parser("registers", help="list paired registers, or revoke one")
    registers.add_argument("action", nargs="?", choices=["list", "revoke"], default="list")
    registers.add_argument("register_id", nargs="?", help="register id (for revoke)")
    config = sub.add_parser("config", help="show or change the configuration")
    config.add_argument("action", choices=["show", "set"])
    config.add_argument("key", nargs="?", help="dotted key, e.g. proxy.host")
    config.add_argument("value", nargs="?", help="new value (empty string clears)")
    sub.add_parser("test", help="connection test: DNS, proxy, TLS, auth, TSS, clock")
    credentials = sub.add_parser(
        "credentials",
        help="create: 'Anlegen' (vendor activation needed); set: own fiskaly TEST credentials "
        "(secret on standard input)",
    )
    credentials.add_argument("action", choices=["create", "set"])
    credentials.add_argument("--api-key", help="set: the fiskaly API key")
    credentials.add_argument("--tenant", help="set: tenant id (with several tenants)")
    credentials.add_argument("--yes", action="store_true", help="create: confirm ('Ja')")
    credentials.add_argument(
        "--address",
        action="append",
        help="create: TENANT=STREET;ZIP;TOWN when the activation has no address (repeatable)",
    )
    reset = sub.add_parser("reset", help="re-initialize a register (new fiskaly client) or all")
    reset.add_argument("--register", help="register id (tsectl registers lists them)")
    reset.add_argument("--all", action="store_true", help="every paired register")
    tss = sub.add_parser("tss", help="TSS per tenant: status, or set it up (--new replaces it)")
    tss.add_argument("action", choices=["status", "setup"])
    tss.add_argument("--new", action="store_true", help="setup: replace the TSS by a new one")
    activate = sub.add_parser("activate", help="apply the vendor's activation file (LIVE)")
    activate.add_argument("file", help="the signed activation document")
    add_setup_parsers(sub)
    archive = sub.add_parser(
        "archive",
        help="the fiscal archive: status, run, verify, the auditor's export, its off-box copy",
    )
    actions = archive.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_archive_actions(actions)
    add_offbox_actions(actions)
    add_update_parser(sub)
    discover = sub.add_parser("discover", help="list TSE-LAN units on the network (mDNS)")
    discover.add_argument("--seconds", type=float, default=3.0, help="how long to listen")
    discover.add_argument(
        "--interface", action="append", help="IPv4 address of the interface to ask on (repeatable)"
    )
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    args.socket_path = socket_path(args, os.environ)
    try:
        if args.command == "discover":
            data, printer = _run_discover(args)
        elif args.command == "export" and args.action == "verify":
            data, printer = run_verify(args), print_report
        elif args.command == "archive" and args.action in OFFBOX_ACTIONS:
            data, printer = run_offbox(args)
        else:
            data, printer = _run_admin(args)
    except CommandFailed as err:
        if err.code == UsageError.code:
            parser.print_usage(sys.stderr)
        if args.json:
            json.dump({"error": {"code": err.code, "message": err.message, "hint": err.hint}}, out)
            out.write("\n")
        else:
            print(f"tsectl: {err.message}", file=sys.stderr)
            if err.hint:
                print(f"  hint: {err.hint}", file=sys.stderr)
        return EXIT_USAGE if err.code == UsageError.code else EXIT_FAILURE
    if args.json:
        json.dump(data, out, ensure_ascii=False, indent=2, sort_keys=True)
        out.write("\n")
    else:
        printer(data, out)
    if args.command == "export" and args.action == "verify" and not data["ok"]:
        return EXIT_FAILURE
    if args.command == "archive" and data.get("ok") is False:  # a check with findings
        return EXIT_FAILURE
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
