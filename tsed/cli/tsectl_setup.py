"""``tsectl`` set-up commands: password, credentials create (Anlegen), tenants, export, logging,
factory-reset. Each calls one admin route (see :mod:`tsed.net.admin`); no logic of its own."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from tsed.cli.adminclient import AdminClient, CommandFailed, NotConfirmed, UsageError
from tsed.cli.tsectl_verify import add_verify_arguments

Printer = Callable[[Mapping[str, Any], TextIO], object]
Result = tuple[Any, Printer]
EXPORT_POLL = 2.0


def read_secret(prompt: str, *, twice: bool = False) -> str:
    """From the terminal without echo, or one line of standard input (scripts)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if twice and getpass.getpass("Repeat: ") != first:
        raise UsageError("the two entries differ", "Type the same password twice.")
    return first


def _confirmed(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{question} needs a confirmation", "Add --yes to confirm.")
    answer = input(f"{question} [Ja/Nein]: ").strip().lower()
    return answer in ("ja", "j", "yes", "y")


def _print_password(data: Mapping[str, Any], out: TextIO) -> None:
    out.write("Admin password is set.\n" if data.get("set") else "No admin password set.\n")


def _print_setup_code(data: Mapping[str, Any], out: TextIO) -> None:
    if not data.get("code"):
        out.write(
            "Kein Einrichtungscode mehr: das Admin-Passwort ist gesetzt (ändern: tsectl "
            "password).\n"
        )
        return
    out.write(
        f"Einrichtungscode: {data['code']}\n"
        "Auf der Einrichtungsseite (https://<Adresse der Einheit>:8443/setup/) eingeben und "
        "dort das Admin-Passwort setzen. Der Code gilt einmal.\n"
    )


def _print_created(data: Mapping[str, Any], out: TextIO) -> None:
    for item in data.get("credentials", []):
        out.write(
            f"Tenant {item['tenant_id']} ({item['env']}): API key {item['api_key']}\n"
            f"  API secret: {item.get('api_secret', '(not shown)')}\n"
        )
    out.write("Write the API secret down now: it is never shown again.\n")
    if data.get("switch"):
        out.write(f"The unit now signs in {data['switch'].get('mode')} mode.\n")


def _print_tenants(data: Mapping[str, Any], out: TextIO) -> None:
    state = "on" if data.get("multi_tenant") else "off"
    locked = " (locked: credentials exist)" if data.get("locked") else ""
    out.write(f"Mehrere Mandanten in Filialkette: {state}{locked}\n")
    for tenant in data.get("tenants", []):
        out.write(f"  {tenant['id']:<16} {tenant['name']:<30} {tenant.get('vat_id') or ''}\n")
    if not data.get("tenants"):
        out.write("  (no tenants: one chain-wide tenant 'default')\n")


def _print_export(data: Mapping[str, Any], out: TextIO) -> None:
    for item in data.get("written", []):
        out.write(f"Wrote {item['path']} ({item['size']} bytes, sha256 {item['sha256']})\n")


def _addresses(items: list[str] | None) -> dict[str, dict[str, str]] | None:
    if not items:
        return None
    out: dict[str, dict[str, str]] = {}
    for item in items:
        tenant, _, rest = item.partition("=")
        parts = rest.split(";")
        if not tenant or len(parts) != 3:
            raise UsageError(
                f"--address {item!r} is not TENANT=STREET;ZIP;TOWN",
                "Example: --address default='Hauptstr. 1;10115;Berlin'",
            )
        out[tenant] = {"street": parts[0], "zip": parts[1], "town": parts[2]}
    return out


def _date(text: str | None, end: bool) -> int | None:
    if text is None:
        return None
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD or ISO time)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(text) == 10:
        moment += timedelta(days=1, seconds=-1)
    return int(moment.timestamp())


def _export(client: AdminClient, args: argparse.Namespace) -> Result:
    if not args.output:
        raise UsageError("export needs -o FILE (where to write the TAR)")
    body: dict[str, Any] = {"tss_id": args.tss} if args.tss else {}
    if args.tenant:
        body["tenant"] = args.tenant
    for name, value in (("start_date", _date(args.start, False)),
                        ("end_date", _date(args.end, True))):  # fmt: skip
        if value is not None:
            body[name] = value
    job = client.call("POST", "/admin/v1/exports", body)
    seen = 0
    deadline = time.monotonic() + args.wait
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(EXPORT_POLL)
        job = client.call("GET", f"/admin/v1/exports/{job['id']}")
        for line in job["progress"][seen:]:
            print(f"  {line}", file=sys.stderr)
        seen = len(job["progress"])
    if job["state"] == "running":
        raise CommandFailed(
            f"export {job['id']} is still running after {args.wait:.0f} s",
            "Try a narrower range, or a longer --wait.",
        )
    if job["state"] != "done":
        error = job.get("error") or {}
        raise CommandFailed(error.get("message", "the export failed"), error.get("hint", ""))
    target = Path(args.output)
    written = []
    for item in job["files"]:
        path = (
            target
            if len(job["files"]) == 1
            else target.with_name(f"{target.stem}.part{item['part']}{target.suffix}")
        )
        client.download(f"/admin/v1/exports/{job['id']}/files/{item['part']}", path)
        written.append({"path": str(path), "size": item["size"], "sha256": item["sha256"]})
    return {"export": job["id"], "tss_id": job["tss_id"], "written": written}, _print_export


def print_telemetry(data: Mapping[str, Any], out: TextIO) -> None:
    """The telemetry block of ``tsectl status`` (``GET /admin/v1/status``)."""
    if not data.get("enabled"):
        return  # off: the default, not worth a line
    last = data.get("last_push_at")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last)) if last else "never"
    out.write(f"Telemetry:     to {data.get('gateway')}, last push {when}\n")
    if not data.get("token_set"):
        out.write("Telemetry:     no credential set (tsectl telemetry set-token)\n")
    if data.get("last_error"):
        out.write(f"Telemetry:     FAILING: {data['last_error']}\n")


def _telemetry(client: AdminClient, args: argparse.Namespace) -> Result:
    if args.action == "status":
        return client.call("GET", "/admin/v1/status").get("telemetry", {}), print_telemetry
    if args.action == "clear-token":
        client.call("PUT", "/admin/v1/config", {"values": {"telemetry.token": ""}})
        return {"token_set": False}, lambda d, out: out.write("Telemetry credential removed.\n")
    token = read_secret("Telemetry token (password or bearer token): ").strip()
    if not token:
        raise UsageError(
            "no telemetry token on standard input",
            "Example: tsectl telemetry set-token < token.txt",
        )
    client.call("PUT", "/admin/v1/config", {"values": {"telemetry.token": token}})
    return {"token_set": True}, lambda d, out: out.write("Telemetry credential saved.\n")


def run_setup_command(client: AdminClient, args: argparse.Namespace) -> Result | None:
    """The set-up commands; None when ``args.command`` is not one of them."""
    command = args.command
    if command == "password":
        if args.action == "status":
            return client.call("GET", "/admin/v1/password"), _print_password
        password = read_secret("New admin password: ", twice=True)
        return client.call("PUT", "/admin/v1/password", {"password": password}), _print_password
    if command == "setup-code":
        return client.call("GET", "/admin/v1/setup-code"), _print_setup_code
    if command == "credentials" and args.action == "create":
        if not _confirmed(args, "Create the fiskaly credentials now (Anlegen)?"):
            raise NotConfirmed("not confirmed: nothing was created")
        body = {"confirm": True, "addresses": _addresses(args.address)}
        return client.call("POST", "/admin/v1/credentials", body), _print_created
    if command == "tenants":
        if args.action == "add":
            if not args.id or not args.name:
                raise UsageError("tenants add needs ID and --name")
            body = {"id": args.id, "name": args.name, "vat_id": args.vat_id}
            return client.call("POST", "/admin/v1/tenants", body), _print_tenants
        return client.call("GET", "/admin/v1/tenants"), _print_tenants
    if command == "export":
        return _export(client, args)
    if command == "logging":
        value = "true" if args.state == "on" else "false"
        client.call("PUT", "/admin/v1/config/extended_logging", {"value": value})
        return {"extended_logging": args.state == "on"}, lambda d, out: out.write(
            f"Extended logging is {'on' if d['extended_logging'] else 'off'}.\n"
        )
    if command == "telemetry":
        return _telemetry(client, args)
    if command == "factory-reset":
        if not _confirmed(args, "Erase configuration, credentials, registers and password?"):
            raise NotConfirmed("not confirmed: nothing was erased")
        data = client.call("POST", "/admin/v1/factory-reset", {"confirm": True})
        return data, lambda d, out: out.write("Factory reset done; set a new password.\n")
    return None


def add_setup_parsers(sub: Any) -> None:
    password = sub.add_parser(
        "password", help="set the admin password of the setup page (read from the terminal)"
    )
    password.add_argument("action", nargs="?", choices=["set", "status"], default="set")
    sub.add_parser(
        "setup-code",
        help="the one-time code for the first admin password on the setup page (Einrichtungscode)",
    )
    tenants = sub.add_parser("tenants", help="list or add tenants (Mehrere Mandanten)")
    tenants.add_argument("action", nargs="?", choices=["list", "add"], default="list")
    tenants.add_argument("id", nargs="?", help="tenant id (add)")
    tenants.add_argument("--name", help="company name (add)")
    tenants.add_argument("--vat-id", help="USt-IdNr., e.g. DE123456789 (add)")
    export = sub.add_parser(
        "export", help="TAR export of a TSS to a file (-o), or verify a TAR file (verify FILE)"
    )
    export.add_argument("--tss", help="TSS id (default: the TSS of the tenant)")
    export.add_argument("--tenant", help="tenant id (default: the first)")
    export.add_argument("--from", dest="start", help="start date (YYYY-MM-DD, UTC)")
    export.add_argument("--to", dest="end", help="end date, inclusive (YYYY-MM-DD, UTC)")
    export.add_argument("-o", "--output", help="where to write the TAR file")
    export.add_argument("--wait", type=float, default=3600.0, help="give up after (s)")
    add_verify_arguments(export)
    logging = sub.add_parser("logging", help="extended logging on or off (Erweitertes Logging)")
    logging.add_argument("what", choices=["extended"])
    logging.add_argument("state", choices=["on", "off"])
    telemetry = sub.add_parser(
        "telemetry",
        help="fleet telemetry: status, or set the unit's credential for the Pushgateway "
        "(read from the terminal or standard input)",
    )
    telemetry.add_argument("action", choices=["status", "set-token", "clear-token"])
    reset = sub.add_parser("factory-reset", help="back to first boot (keeps fiscal records)")
    reset.add_argument("--yes", action="store_true", help="confirm without asking")
