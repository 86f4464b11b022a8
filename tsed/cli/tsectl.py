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
from tsed.cli.say import (
    Parser,
    add_lang,
    choose_language,
    error_lines,
    lang,
    os_reason,
    set_lang,
    t,
)
from tsed.cli.tsectl_archive import add_archive_actions, run_archive_command
from tsed.cli.tsectl_backup import add_backup_parser, run_backup
from tsed.cli.tsectl_decommission import add_decommission_parser, run_decommission
from tsed.cli.tsectl_dsfinvk import ACTIONS as DSFINVK_ACTIONS
from tsed.cli.tsectl_dsfinvk import add_dsfinvk_action, run_dsfinvk
from tsed.cli.tsectl_filing import (
    add_filing_commands,
    add_register_options,
    print_filing_status,
    run_filing_command,
)
from tsed.cli.tsectl_health import (
    add_health_parser,
    print_health,
    print_status_line,
    run_health,
)
from tsed.cli.tsectl_offbox import ACTIONS as OFFBOX_ACTIONS
from tsed.cli.tsectl_offbox import add_offbox_actions, run_offbox
from tsed.cli.tsectl_setup import (
    add_setup_parsers,
    print_telemetry,
    read_secret,
    run_setup_command,
)
from tsed.cli.tsectl_text import notice_lines, print_reset, print_test, print_tss
from tsed.cli.tsectl_update import add_update_parser, run_update_command
from tsed.cli.tsectl_verify import print_report, run_verify
from tsed.config.text import shown
from tsed.texts import field_label
from tsed.texts.formats import when

SIMULATOR_SUFFIX = " (built-in simulator)"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


# -- human output -----------------------------------------------------------------------------


def _print_status_and_filing(data: Mapping[str, Any], out: TextIO) -> None:
    _print_status(data, out)
    print_filing_status(data.get("filing", {}), out)


def _print_status(data: Mapping[str, Any], out: TextIO) -> None:
    tse = data.get("tse", {})
    device = data.get("device", {})
    mode = data.get("mode", "?")
    say = [t("status.mode_test") if mode == "TEST" else t("status.mode", mode=mode)]
    backend = data.get("backend", "?")
    say.append(  # the simulator: where register developers drive TSE failures
        t("status.backend_sim") if backend == "simulator" else t("status.backend", backend=backend)
    )
    if tse.get("available"):
        say.append(t("status.tse_ok"))
    else:
        since = when(tse.get("since"), lang(), "?")
        if lang() == "en":  # the reason is the unit's own English text
            reason = shown(str(tse.get("reason") or "unknown"))
            say.append(t("status.tse_failing_reason", since=since, reason=reason))
        else:
            say.append(t("status.tse_failing", since=since))
        say.append(t("status.tse_failing.hint"))
    say.append(t("status.registers", count=data.get("registers", 0)))
    say.append(t("status.open", count=data.get("open_transactions", 0)))
    say.append(t("status.listen", listen=data.get("listen", "?")))
    say.append(t("status.device", id=device.get("id", "?"), short=device.get("short_id", "?")))
    say.append(t("status.fingerprint", fingerprint=device.get("fingerprint", "?")))
    say.append(t("status.fingerprint_note"))
    if device.get("key_sha256"):
        say.append(t("status.key_hash", hash=device["key_sha256"]))
    say.append(t("status.addresses", addresses=", ".join(data.get("addresses") or []) or "?"))
    if not data.get("password_set", True):
        say.append(t("status.no_password"))
    pairing = data.get("pairing", {})
    if pairing.get("open"):
        say.append(t("status.pairing_open", until=when(pairing.get("expires_at"), lang())))
    out.write("".join(line + "\n" for line in say))
    print_telemetry(data.get("telemetry", {}), out)
    if data.get("housekeeping"):
        print_status_line(data["housekeeping"], out)
    for notice in notice_lines(data):
        out.write(t("status.notice", notice=notice) + "\n")


def _print_pairing(data: Mapping[str, Any], out: TextIO) -> None:
    say = [
        t("pair.code", code=data["code"]),
        t("pair.until", until=when(data["expires_at"], lang())),
        t("pair.fingerprint", fingerprint=data["fingerprint"]),
    ]
    if data.get("tenant"):
        say.append(t("pair.tenant", tenant=data["tenant"]))
    say.append(t("pair.enter"))
    replaces = data.get("replaces")
    if replaces:
        say.append(t("pair.replaces", serial=shown(str(replaces["serial"])), id=replaces["id"]))
        say.append(t("pair.replaces_how", id=replaces["id"]))
        say.append(t("pair.replaces_then"))
    else:
        say.append(t("pair.replacing"))
    out.write("".join(line + "\n" for line in say))
    if data.get("qr_text") and out.isatty():
        import segno  # noqa: PLC0415

        segno.make(data["qr_text"], error="m").terminal(out=out, compact=True)


def _print_registers(data: Mapping[str, Any], out: TextIO) -> None:
    registers = data.get("registers", [])
    if not registers:
        out.write(t("registers.none") + "\n")
        return
    header = t(
        "registers.header",
        id=f"{t('registers.col_id'):36}",
        serial=f"{t('registers.col_serial'):24}",
        tenant=f"{t('registers.col_tenant'):12}",
        state=f"{t('registers.col_state'):8}",
    )
    out.write(header + "\n")
    for reg in registers:
        state = t("registers.revoked") if reg.get("revoked_at") else t("registers.active")
        serial, tenant = shown(str(reg.get("serial", ""))), shown(str(reg.get("tenant_id", "")))
        label = shown(str(reg.get("label") or ""))  # escaped: a label cannot fake a line
        out.write(
            f"{shown(str(reg['id'])):36}  {serial:24}  {tenant:12}  "
            f"{state:8}  {when(reg.get('last_seen_at'), lang())}  {label}".rstrip()
            + "\n"
        )


def _print_mapping(data: Mapping[str, Any], out: TextIO, prefix: str = "") -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            _print_mapping(value, out, f"{name}.")
            continue
        if isinstance(value, list):
            text = json.dumps(value, ensure_ascii=False)
        elif isinstance(value, bool):
            text = t("value.true") if value else t("value.false")
        else:
            text = t("value.none") if value is None or value == "" else str(value)
        if name == "url" and text.endswith(SIMULATOR_SUFFIX):  # tsed.unit.backend's words
            text = t("config.url_simulator", url=text.removesuffix(SIMULATOR_SUFFIX))
        label = field_label(name, lang())
        if label:
            out.write(t("config.line", label=label, key=shown(name), value=shown(text)) + "\n")
        else:
            out.write(t("config.line_plain", key=shown(name), value=shown(text)) + "\n")


# -- commands ---------------------------------------------------------------------------------

Printer = Callable[[Mapping[str, Any], TextIO], object]


def _run_admin(args: argparse.Namespace) -> tuple[Any, Printer]:
    client = AdminClient(args.socket_path)
    try:
        done = run_setup_command(client, args)
        if done is not None:
            return done
        if args.command == "decommission":
            return run_decommission(client, args)
        if args.command == "archive" and args.action in DSFINVK_ACTIONS:
            return run_dsfinvk(client, args)
        if args.command == "archive":
            return run_archive_command(client, args)
        filing = run_filing_command(client, args)
        if filing is not None:
            return filing
        if args.command == "update":
            return run_update_command(client, args)
        if args.command == "status":
            status = dict(client.call("GET", "/admin/v1/status"))
            health = run_health(client, args)
            status["housekeeping"] = {k: health.get(k) for k in ("next_run", "last", "banner")}
            status["filing"] = client.call("GET", "/admin/v1/filing")
            return status, _print_status_and_filing
        if args.command == "health":
            return run_health(client, args), print_health
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
                    ).localized("cli.revoke_needs_id")
                data = client.call("DELETE", f"/admin/v1/registers/{args.register_id}")
                return data, lambda d, out: out.write(
                    t("registers.revoked_one", id=d["revoked"]) + "\n"
                )
            return client.call("GET", "/admin/v1/registers"), _print_registers
        if args.command == "reset":
            if bool(args.register) == bool(args.all):
                raise UsageError("name one register (--register ID) or --all").localized(
                    "cli.reset_needs_target"
                )
            body = {"register_id": args.register} if args.register else {"all": True}
            return client.call("POST", "/admin/v1/reset", body), print_reset
        if args.command == "tss":
            if args.action == "setup":
                body = {"new": bool(args.new)}
                return client.call("POST", "/admin/v1/tss", body), print_tss
            return client.call("GET", "/admin/v1/tss"), print_tss
        if args.command == "activate":
            try:
                document = Path(args.file).read_bytes()
            except OSError as err:
                raise CommandFailed(
                    f"cannot read {args.file}: {err.strerror}",
                    "Give the path of the vendor's activation file.",
                ).localized("cli.cannot_read", path=args.file, reason=os_reason(err)) from err
            return client.call("POST", "/admin/v1/activation", raw=document), _print_mapping
        if args.command == "credentials":
            if not args.api_key:
                raise UsageError("credentials set needs --api-key").localized("cli.needs_api_key")
            secret = read_secret(t("prompt.api_secret")).strip()
            if not secret:
                raise UsageError(
                    "no API secret on standard input",
                    "Example: tsectl credentials set --api-key KEY < secret.txt",
                ).localized("cli.no_secret")
            body = {"api_key": args.api_key, "api_secret": secret, "tenant": args.tenant}
            return client.call("PUT", "/admin/v1/credentials", body), _print_mapping
        if args.command == "test":
            data = client.call("POST", "/admin/v1/test")
            if not data.get("ok"):
                if not args.json:
                    print_test(data, sys.stdout)
                raise CommandFailed(
                    "the connection test failed", "Follow the hint of the failed step.", "FAILED"
                ).localized("cli.test_failed")
            return data, print_test
        if args.command == "config":
            if args.action == "set":
                if args.key is None or args.value is None:
                    raise UsageError(
                        "config set needs KEY and VALUE",
                        "Example: tsectl config set proxy.host 192.0.2.10",
                    ).localized("cli.config_set_needs")
                data = client.call("PUT", f"/admin/v1/config/{args.key}", {"value": args.value})
                label = field_label(args.key, lang()) or args.key
                return data, lambda d, out: out.write(
                    t("config.saved", label=label, key=shown(args.key), value=shown(args.value))
                    + "\n"
                )
            return client.call("GET", "/admin/v1/config"), _print_mapping
    finally:
        client.close()
    raise UsageError(f"unknown command {args.command}", "See tsectl --help.").localized(
        "cli.unknown_command", command=args.command
    )


def _print_discovered(data: Mapping[str, Any], out: TextIO) -> None:
    units = data.get("units", [])
    if not units:
        out.write(t("discover.none") + "\n")
        return
    for unit in units:
        addresses = ", ".join(unit.get("addresses") or []) or "?"
        pairing = t("discover.open") if unit.get("pair") else t("discover.closed")
        line = t(
            "discover.line", name=shown(str(unit.get("name"))),
            url=f"https://{addresses}:{unit.get('port')}",
            mode=str(unit.get("mode") or "?").upper(), pairing=pairing, fp=unit.get("fp"),
        )  # fmt: skip
        out.write(line + "\n")


def _run_discover(args: argparse.Namespace) -> tuple[Any, Printer]:
    import asyncio  # noqa: PLC0415 - only this command needs an event loop

    from tsed.net.mdns import discover  # noqa: PLC0415

    units = asyncio.run(discover(args.seconds, interfaces=args.interface or None))
    return {"units": [unit.to_json() for unit in units]}, _print_discovered


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tsectl",
        description="Set up and inspect the TSE-LAN unit (talks to the running tsed).",
        epilog="Exit codes: 0 success, 1 failure, 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"tsectl {__version__}")
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    add_lang(parser)
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
    registers = sub.add_parser("registers", help="list paired registers, revoke or set one")
    registers.add_argument("action", nargs="?", choices=["list", "revoke", "set"], default="list")
    registers.add_argument("register_id", nargs="?", help="register id (revoke, set) or serial")
    add_register_options(registers)  # registers set: the notification duty's data
    add_filing_commands(sub)  # taxpayer, premises, filing (tsed.cli.tsectl_filing)
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
    add_health_parser(sub)
    archive = sub.add_parser(
        "archive",
        help="the fiscal archive: status, run, verify, the auditor's export, the DSFinV-K's "
        "TSE tables, its off-box copy",
    )
    actions = archive.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_archive_actions(actions)
    add_offbox_actions(actions)
    add_backup_parser(sub)  # tsectl backup create|restore|fetch: tsed.cli.tsectl_backup
    add_dsfinvk_action(actions)
    add_decommission_parser(sub)
    add_update_parser(sub)
    discover = sub.add_parser("discover", help="list TSE-LAN units on the network (mDNS)")
    discover.add_argument("--seconds", type=float, default=3.0, help="how long to listen")
    discover.add_argument(
        "--interface", action="append", help="IPv4 address of the interface to ask on (repeatable)"
    )
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    set_lang(choose_language(sys.argv[1:] if argv is None else argv, os.environ))
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
        elif args.command == "backup":
            data, printer = run_backup(args)
        else:
            data, printer = _run_admin(args)
    except CommandFailed as err:
        if err.code == UsageError.code:
            parser.print_usage(sys.stderr)
        if args.json:
            json.dump({"error": {"code": err.code, "message": err.message, "hint": err.hint}}, out)
            out.write("\n")
        else:
            message, hint = error_lines(err)
            print(t("cli.error", message=message), file=sys.stderr)
            if hint:
                print(t("cli.hint", hint=hint), file=sys.stderr)
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
