"""The filing of one premises, complete, in the order of the ELSTER form "Mitteilung nach
§ 146a Abs. 4 AO": a printable HTML page and a CSV (``Abschnitt;Feld;Wert``) for manual entry
in Mein ELSTER.

The form's order (the BMF's data entry guide): the taxpayer, the premises, then each
electronic record-keeping system of the premises (type, software and version, serial, maker,
model, purchase, first use, decommissioning and its reason), then each TSE (serial, BSI
certification id, type, first use, decommissioning). All registers of the premises are listed,
not only the changed one. No ELSTER XML is written here: fiskaly SUBMIT DE generates it.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from datetime import date

from tsed.filing.model import REGISTER_TYPES, Premises, RegisterData, Taxpayer
from tsed.filing.taxnumber import LAND_NAMES, TaxNumber, printed


@dataclass(frozen=True, slots=True)
class TseData:
    tss_id: str
    serial: str | None
    certification: str | None
    state: str


@dataclass(frozen=True, slots=True)
class Filing:
    """Everything one premises' filing lists."""

    taxpayer: Taxpayer
    premises: Premises
    registers: tuple[RegisterData, ...]
    tses: tuple[TseData, ...]
    made_on: str
    upto: int = 0  # the last event raised when the data was read: what its success closes

    def rows(self) -> list[tuple[str, str, str]]:
        """(section, field, value) in the form's order."""
        t, p = self.taxpayer, self.premises
        number = TaxNumber(t.tax_number, t.land)
        out = [
            ("Steuerpflichtige/r", "Name", t.name),
            ("Steuerpflichtige/r", "Steuernummer", printed(number)),
            ("Steuerpflichtige/r", "Steuernummer (ELSTER, 13-stellig)", t.tax_number),
            ("Steuerpflichtige/r", "Bundesland", LAND_NAMES[t.land]),
            ("Steuerpflichtige/r", "Straße", t.address.street),
            ("Steuerpflichtige/r", "Hausnummer", t.address.house_number),
            ("Steuerpflichtige/r", "Postleitzahl", t.address.zip_code),
            ("Steuerpflichtige/r", "Ort", t.address.town),
            ("Betriebsstätte", "Bezeichnung", p.name),
            ("Betriebsstätte", "Straße", p.address.street),
            ("Betriebsstätte", "Hausnummer", p.address.house_number),
            ("Betriebsstätte", "Postleitzahl", p.address.zip_code),
            ("Betriebsstätte", "Ort", p.address.town),
            ("Betriebsstätte", "Anzahl der Aufzeichnungssysteme", str(len(self.registers))),
        ]
        for n, reg in enumerate(self.registers, 1):
            section = f"Aufzeichnungssystem {n}"
            out += [
                (section, "Art", f"{reg.kind} – {REGISTER_TYPES.get(reg.kind, '?')}"),
                (section, "Software", reg.software or ""),
                (section, "Softwareversion", reg.software_version or ""),
                (section, "Seriennummer", reg.serial),
                (section, "Hersteller", reg.maker or ""),
                (section, "Modell", reg.model or ""),
                (section, "Anschaffungsdatum", _day(reg.purchased_on)),
                (section, "Datum der Inbetriebnahme", _day(reg.first_use)),
                (section, "Datum der Außerbetriebnahme", _day(reg.decommissioned_on)),
                (section, "Grund der Außerbetriebnahme", reg.decommission_reason or ""),
            ]
        for n, tse in enumerate(self.tses, 1):
            section = f"TSE {n}"
            out += [
                (section, "Art der TSE", "Cloud-TSE (fiskaly SIGN DE)"),
                (section, "Seriennummer der TSE", tse.serial or ""),
                (section, "BSI-Zertifizierungs-ID", tse.certification or ""),
                (section, "Zustand", tse.state),
            ]
        return out


def _day(iso: str | None) -> str:
    """A day as the form writes it (TT.MM.JJJJ)."""
    return date.fromisoformat(iso).strftime("%d.%m.%Y") if iso else ""


def to_csv(filing: Filing) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(("Abschnitt", "Feld", "Wert"))
    for row in filing.rows():
        writer.writerow(tuple(_cell(value) for value in row))
    return buffer.getvalue()


def _cell(value: str) -> str:
    # a spreadsheet would run a cell starting with = + - @ as a formula
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
    "td,th{border:1px solid #888;padding:4px 8px;text-align:left}th{background:#eee}"
    "h2{margin-top:1.5em}@media print{h1{font-size:16pt}}"
)


def to_html(filing: Filing) -> str:
    """A printable page (German), one table per section of the form."""
    p = filing.premises
    parts = [
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">',
        f"<title>Mitteilung nach § 146a Abs. 4 AO – {html.escape(p.name)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Mitteilung nach § 146a Abs. 4 AO</h1>",
        f"<p>Betriebsstätte <b>{html.escape(p.name)}</b>, erstellt am "
        f"{_day(filing.made_on)}. Alle Aufzeichnungssysteme der Betriebsstätte sind aufgeführt; "
        "die Angaben in dieser Reihenfolge in Mein ELSTER erfassen.</p>",
    ]
    section = None
    for name, field, value in filing.rows():
        if name != section:
            if section is not None:
                parts.append("</table>")
            parts.append(f"<h2>{html.escape(name)}</h2><table><tr><th>Feld</th><th>Wert</th></tr>")
            section = name
        parts.append(f"<tr><td>{html.escape(field)}</td><td>{html.escape(value)}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)
