"""``tsectl taxpayer|premises|filing`` and ``tsectl registers set``: the notification duty
(§ 146a Abs. 4 AO; routes of :mod:`tsed.net.admin_filing`). German, like the installers."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from tsed.cli.adminclient import AdminClient, UsageError
from tsed.cli.say import t
from tsed.config.text import shown
from tsed.texts import has

Printer = Callable[[Mapping[str, Any], TextIO], object]
BASE = "/admin/v1/filing"
SUBMIT_WAIT = 330.0  # the unit follows a submission for up to 300 s
ADDRESS = (
    ("street", "Straße"),
    ("house_number", "Hausnummer"),
    ("zip_code", "Postleitzahl"),
    ("town", "Ort"),
)
REGISTER_OPTIONS = (
    ("premises", "Betriebsstätte (Kennung)"),
    ("kind", "Art: 1 Kasse, 2 App, 3 Waage, 4 Taxameter, 5 Wegstreckenzähler"),
    ("maker", "Hersteller"),
    ("model", "Modell"),
    ("software", "Software"),
    ("software_version", "Softwareversion"),
    ("purchased_on", "Anschaffungsdatum JJJJ-MM-TT"),
    ("first_use_on", "Inbetriebnahme JJJJ-MM-TT (Vorgabe: Kopplungsdatum)"),
    ("decommissioned_on", "Außerbetriebnahme JJJJ-MM-TT"),
    ("decommission_reason", "Grund der Außerbetriebnahme"),
    ("remarks", "Bemerkungen"),
)


def _option(parser: argparse.ArgumentParser, name: str, text: str) -> None:
    parser.add_argument("--" + name.replace("_", "-"), dest=name, help=text)


def add_filing_commands(sub: Any) -> None:
    taxpayer = sub.add_parser("taxpayer", help="Steuerpflichtige/r (Meldepflicht § 146a Abs. 4 AO)")
    taxpayer.add_argument("action", choices=["show", "set"])
    taxpayer.add_argument("--tenant", default="default", help="Mandant (Vorgabe: default)")
    for name, text in (
        ("name", "Name"),
        ("tax_number", "Steuernummer"),
        ("land", "Bundesland (BW, BY, …) zur Schreibweise des Bescheids"),
        ("person", "legal oder natural"),
        ("first_name", "Vorname"),
        ("last_name", "Nachname"),
        ("legal_form", "Rechtsform"),
        *ADDRESS,
    ):
        _option(taxpayer, name, text)
    premises = sub.add_parser("premises", help="Betriebsstätten: list, set ID")
    premises.add_argument("action", choices=["list", "set"])
    premises.add_argument("premises_id", nargs="?", help="Kennung, z. B. filiale-1")
    premises.add_argument("--tenant", help="Mandant (beim Anlegen; Vorgabe: default)")
    for name, text in (
        ("name", "Bezeichnung"),
        *ADDRESS,
        ("decommissioned_on", "Aufgabe der Betriebsstätte JJJJ-MM-TT"),
    ):
        _option(premises, name, text)
    filing = sub.add_parser("filing", help="Mitteilungen: status, print, csv, submit, done")
    filing.add_argument("action", choices=["status", "print", "csv", "submit", "done"])
    filing.add_argument("--premises", help="Betriebsstätte (Kennung)")
    filing.add_argument("--out", type=Path, help="print/csv: in diese Datei schreiben")


def add_register_options(registers: argparse.ArgumentParser) -> None:
    registers.add_argument("--tenant", help="set: Mandant einer noch nicht gekoppelten Kasse")
    for name, text in REGISTER_OPTIONS:
        _option(registers, name, text)


def _fields(args: argparse.Namespace, names: Any) -> dict[str, str]:
    return {name: getattr(args, name) for name, _ in names if getattr(args, name) is not None}


def run_filing_command(client: AdminClient, args: argparse.Namespace) -> tuple[Any, Printer] | None:
    if args.command == "taxpayer":
        if args.action == "show":
            data = client.call("GET", BASE + "/master-data")
            return data, _print_taxpayers
        names = (
            ("name", ""),
            ("tax_number", ""),
            ("land", ""),
            ("person", ""),
            ("first_name", ""),
            ("last_name", ""),
            ("legal_form", ""),
            *ADDRESS,
        )
        data = client.call("PUT", f"{BASE}/taxpayers/{args.tenant}", _fields(args, names))
        return data, lambda d, out: out.write(
            f"Gespeichert: {shown(d['name'])}, Steuernummer {d['tax_number']} ({d['land']})\n"
        )
    if args.command == "premises":
        if args.action == "list":
            return client.call("GET", BASE + "/master-data"), _print_premises
        if not args.premises_id:
            raise UsageError(
                "premises set braucht die Kennung",
                "Beispiel: tsectl premises set "
                "filiale-1 --name 'Filiale Mitte' --street … --zip-code … --town …",
            )
        body: dict[str, Any] = _fields(args, (("name", ""), *ADDRESS, ("decommissioned_on", "")))
        if args.tenant:
            body["tenant"] = args.tenant
        data = client.call("PUT", f"{BASE}/premises/{args.premises_id}", body)
        return data, lambda d, out: out.write(f"Gespeichert: Betriebsstätte {d['premises_id']}\n")
    if args.command == "registers" and args.action == "set":
        if not args.register_id:
            raise UsageError(
                "registers set braucht die Kennung oder Seriennummer der Kasse",
                "Beispiel: tsectl registers set 'ERS kasse-1' --premises filiale-1",
            )
        body = _fields(args, REGISTER_OPTIONS)
        if args.tenant:
            body["tenant"] = args.tenant
        data = client.call("PUT", f"{BASE}/registers/{args.register_id}", body)
        return data, _print_register
    if args.command == "filing":
        return _filing(client, args)
    return None


def _filing(client: AdminClient, args: argparse.Namespace) -> tuple[Any, Printer]:
    if args.action == "status":
        return client.call("GET", BASE), print_filing_status
    if not args.premises:
        raise UsageError(
            f"filing {args.action} braucht --premises KENNUNG",
            "Die Betriebsstätten zeigt: tsectl premises list",
        )
    where = f"{BASE}/premises/{args.premises}"
    if args.action in ("print", "csv"):
        data = client.call("GET", where + ("/html" if args.action == "print" else "/csv"))
        out_file: Path | None = args.out

        def write(d: Mapping[str, Any], out: TextIO) -> None:
            if out_file is None:
                out.write(d["content"])
                return
            out_file.write_text(d["content"], encoding="utf-8")
            out.write(f"Geschrieben: {out_file}\n")

        return data, write
    if args.action == "submit":  # SUBMIT DE validates and transmits: minutes, not seconds
        patient = AdminClient(client.socket_path, timeout=SUBMIT_WAIT)
        try:
            data = patient.call("POST", where + "/submission")
        finally:
            patient.close()
        return data, lambda d, out: out.write(
            f"Mitteilung übermittelt (fiskaly SUBMIT DE, Vorgang {d['id']}): {d['state']}\n"
        )
    data = client.call("POST", where + "/filed")
    return data, lambda d, out: out.write(
        f"Als gemeldet vermerkt: {d['premises']} ({d['closed']} Vorgang/Vorgänge)\n"
    )


def print_filing_status(data: Mapping[str, Any], out: TextIO) -> None:
    """The notification duty's lines of ``tsectl status``, from the catalogue by the events'
    kind (``filing.kind.<kind>``; an unknown kind: the unit's own German text)."""
    pending = data.get("pending", [])
    if not pending:
        out.write(t("filing.none") + "\n")
    for event in pending:
        left = event["days_left"]
        kind = f"filing.kind.{event.get('kind')}"
        what = t(kind) if has(kind) else shown(event["text"])
        line = t(
            "filing.due" if left >= 0 else "filing.overdue", due=event["due_on"],
            days=left if left >= 0 else -left, what=what, subject=shown(event["subject"]),
            premises=shown(event["premises"]) if event["premises"] else t("filing.all_premises"),
            tenant=shown(event["tenant"]),
        )  # fmt: skip
        out.write(line + "\n")
    for sub in data.get("submissions", []):
        values = {"id": sub["id"], "premises": shown(sub["premises"]), "state": sub["state"]}
        if sub.get("error"):
            out.write(t("filing.submission_error", error=shown(sub["error"]), **values) + "\n")
        else:
            out.write(t("filing.submission", **values) + "\n")


def _print_taxpayers(data: Mapping[str, Any], out: TextIO) -> None:
    for tp in data.get("taxpayers", []):
        address = tp["address"]
        out.write(
            f"{tp['tenant_id']}: {shown(tp['name'])}, Steuernummer {tp['tax_number']} "
            f"({tp['land']}), {shown(address['street'])} {shown(address['house_number'])}, "
            f"{address['zip_code']} {shown(address['town'])}\n"
        )
    if not data.get("taxpayers"):
        out.write("Noch keine Steuerpflichtigen: tsectl taxpayer set --name … --tax-number …\n")


def _print_premises(data: Mapping[str, Any], out: TextIO) -> None:
    registers = data.get("registers", [])
    for p in data.get("premises", []):
        address = p["address"]
        count = sum(1 for r in registers if r["premises_id"] == p["premises_id"])
        out.write(
            f"{p['premises_id']} ({p['tenant_id']}): {shown(p['name'])}, "
            f"{shown(address['street'])} {shown(address['house_number'])}, "
            f"{address['zip_code']} {shown(address['town'])}; {count} Kasse(n)\n"
        )
    if not data.get("premises"):
        out.write("Noch keine Betriebsstätte: tsectl premises set filiale-1 --name … \n")


def _print_register(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(
        f"Gespeichert: Kasse {shown(data['serial'])} (Betriebsstätte "
        f"{shown(data['premises_id'] or '-')})\n"
    )
