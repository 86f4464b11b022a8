"""``tsectl`` set-up commands: password, credentials create (Anlegen), tenants, export, logging,
factory-reset. Each calls one admin route (see :mod:`tsed.net.admin`); no logic of its own."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from tsed.cli.adminclient import AdminClient, CommandFailed, NotConfirmed, UsageError
from tsed.cli.say import lang, t
from tsed.cli.tsectl_verify import add_verify_arguments
from tsed.config.text import shown
from tsed.texts import has
from tsed.texts.formats import size, when

Printer = Callable[[Mapping[str, Any], TextIO], object]
Result = tuple[Any, Printer]
EXPORT_POLL = 2.0


def read_secret(prompt: str, *, twice: bool = False) -> str:
    """From the terminal without echo, or one line of standard input (scripts)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if twice and getpass.getpass(t("prompt.repeat")) != first:
        raise UsageError("the two entries differ", "Type the same password twice.").localized(
            "cli.passwords_differ"
        )
    return first


def _confirmed(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{question} needs a confirmation", "Add --yes to confirm.").localized(
            "cli.needs_confirmation", question=question
        )
    answer = input(t("prompt.confirm", question=question)).strip().lower()
    return answer in ("ja", "j", "yes", "y")


def _print_password(data: Mapping[str, Any], out: TextIO) -> None:
    out.write((t("password.set") if data.get("set") else t("password.unset")) + "\n")


def _print_created(data: Mapping[str, Any], out: TextIO) -> None:
    for item in data.get("credentials", []):
        out.write(
            t("created.line", tenant=item["tenant_id"], env=item["env"], key=item["api_key"]) + "\n"
        )
        secret = item.get("api_secret")
        out.write(
            (t("created.secret", secret=secret) if secret else t("created.secret_hidden")) + "\n"
        )
    out.write(t("created.note") + "\n")
    if data.get("switch"):
        out.write(t("created.switch", mode=data["switch"].get("mode")) + "\n")


def _print_tenants(data: Mapping[str, Any], out: TextIO) -> None:
    state = t("value.true") if data.get("multi_tenant") else t("value.false")
    out.write(t("tenants.multi_locked" if data.get("locked") else "tenants.multi", state=state))
    out.write("\n")
    for tenant in data.get("tenants", []):
        line = t(
            "tenants.line", id=f"{shown(tenant['id']):<16}", name=f"{shown(tenant['name']):<30}",
            vat_id=tenant.get("vat_id") or "",
        )  # fmt: skip
        out.write(line.rstrip() + "\n")
    if not data.get("tenants"):
        out.write(t("tenants.none") + "\n")


def _print_export(data: Mapping[str, Any], out: TextIO) -> None:
    for item in data.get("written", []):
        name = shown(Path(str(item["path"])).name)
        written = t("export.written", name=name, size=size(item["size"], lang()),
                    sha256=item["sha256"])  # fmt: skip
        out.write(written + "\n")


_PROGRESS = re.compile(
    r"part (?P<part>\d+)(?: of (?P<parts>\d+))?: (?P<event>\w+) \((?P<state>[^)]*)\) after "
    r"(?P<seconds>\d+) s(?:: .*)?"
)


def progress_line(line: str) -> str:
    """A line of the export's progress (``tsed.tss.exportjobs``) in the run's language; what
    follows the state (fiskaly's filters, server paths) stays out."""
    found = _PROGRESS.fullmatch(line)
    if found is None:
        return f"  {shown(line)}"
    event = f"export.event.{found['event']}"
    return t(
        "export.progress" if found["parts"] else "export.progress_one", part=found["part"],
        parts=found["parts"] or "", state=found["state"],
        event=t(event) if has(event) else t("export.event.other"), seconds=found["seconds"],
    )  # fmt: skip


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
            ).localized("cli.address_format", item=item)
        out[tenant] = {"street": parts[0], "zip": parts[1], "town": parts[2]}
    return out


def _date(text: str | None, end: bool) -> int | None:
    if text is None:
        return None
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD or ISO time)").localized(
            "cli.not_a_date", text=text
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(text) == 10:
        moment += timedelta(days=1, seconds=-1)
    return int(moment.timestamp())


def _export(client: AdminClient, args: argparse.Namespace) -> Result:
    if not args.output:
        raise UsageError("export needs -o FILE (where to write the TAR)").localized(
            "cli.export_needs_output"
        )
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
            print(progress_line(str(line)), file=sys.stderr)
        seen = len(job["progress"])
    if job["state"] == "running":
        raise CommandFailed(
            f"export {job['id']} is still running after {args.wait:.0f} s",
            "Try a narrower range, or a longer --wait.",
        ).localized("cli.export_running", seconds=f"{args.wait:.0f}")
    if job["state"] != "done":
        error = job.get("error") or {}
        failed = CommandFailed(
            error.get("message", "the export failed"), error.get("hint", ""),
            str(error.get("code", CommandFailed.code)), error.get("text"),
        )  # fmt: skip
        raise failed if error else failed.localized("cli.export_failed")
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
    pushed = when(last, lang()) if last else t("status.telemetry_never")
    out.write(t("status.telemetry", gateway=data.get("gateway"), when=pushed) + "\n")
    if not data.get("token_set"):
        out.write(t("status.telemetry_no_token") + "\n")
    if data.get("last_error"):
        if lang() == "en":  # the unit's own English text
            reason = shown(str(data["last_error"]))
            out.write(t("status.telemetry_failing_reason", reason=reason) + "\n")
        else:
            out.write(t("status.telemetry_failing") + "\n")


def _telemetry(client: AdminClient, args: argparse.Namespace) -> Result:
    if args.action == "status":
        return client.call("GET", "/admin/v1/status").get("telemetry", {}), print_telemetry
    if args.action == "clear-token":
        client.call("PUT", "/admin/v1/config", {"values": {"telemetry.token": ""}})
        return {"token_set": False}, lambda d, out: out.write(t("telemetry.removed") + "\n")
    token = read_secret(t("prompt.token")).strip()
    if not token:
        raise UsageError(
            "no telemetry token on standard input",
            "Example: tsectl telemetry set-token < token.txt",
        ).localized("cli.no_token")
    client.call("PUT", "/admin/v1/config", {"values": {"telemetry.token": token}})
    return {"token_set": True}, lambda d, out: out.write(t("telemetry.saved") + "\n")


def run_setup_command(client: AdminClient, args: argparse.Namespace) -> Result | None:
    """The set-up commands; None when ``args.command`` is not one of them."""
    command = args.command
    if command == "password":
        if args.action == "status":
            return client.call("GET", "/admin/v1/password"), _print_password
        password = read_secret(t("prompt.new_password"), twice=True)
        return client.call("PUT", "/admin/v1/password", {"password": password}), _print_password
    if command == "credentials" and args.action == "create":
        if not _confirmed(args, t("question.anlegen")):
            raise NotConfirmed("not confirmed: nothing was created").localized("cli.not_created")
        body = {"confirm": True, "addresses": _addresses(args.address)}
        return client.call("POST", "/admin/v1/credentials", body), _print_created
    if command == "tenants":
        if args.action == "add":
            if not args.id or not args.name:
                raise UsageError("tenants add needs ID and --name").localized(
                    "cli.tenants_add_needs"
                )
            body = {"id": args.id, "name": args.name, "vat_id": args.vat_id}
            return client.call("POST", "/admin/v1/tenants", body), _print_tenants
        return client.call("GET", "/admin/v1/tenants"), _print_tenants
    if command == "export":
        return _export(client, args)
    if command == "logging":
        value = "true" if args.state == "on" else "false"
        client.call("PUT", "/admin/v1/config/extended_logging", {"value": value})
        return {"extended_logging": args.state == "on"}, lambda d, out: out.write(
            t("logging.on" if d["extended_logging"] else "logging.off") + "\n"
        )
    if command == "telemetry":
        return _telemetry(client, args)
    if command == "factory-reset":
        if not _confirmed(args, t("question.factory_reset")):
            raise NotConfirmed("not confirmed: nothing was erased").localized("cli.not_erased")
        data = client.call("POST", "/admin/v1/factory-reset", {"confirm": True})
        return data, lambda d, out: out.write(t("factory_reset.done") + "\n")
    return None


def add_setup_parsers(sub: Any) -> None:
    password = sub.add_parser(
        "password", help="set the admin password of the setup page (read from the terminal)"
    )
    password.add_argument("action", nargs="?", choices=["set", "status"], default="set")
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
