"""The master data of the notification duty, validated (German errors name what is wrong).

Per tenant the :class:`Taxpayer`, per premises (Betriebsstätte) the :class:`Premises`, per
register (paired or not yet) the :class:`RegisterData`. Dates are ISO days (``YYYY-MM-DD``);
register types are the codes of the ELSTER form and of fiskaly SUBMIT DE (``REGISTER_TYPES``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any, Self

from tsed.filing.errors import FilingInvalid
from tsed.filing.taxnumber import parse_tax_number

# the types of electronic record-keeping systems (Art des Aufzeichnungssystems): the codes of
# fiskaly SUBMIT DE's client ``type``; 4 and 5 are fiskaly's (FAQ), the others assumed from the
# ELSTER form's order (docs/notification.md)
REGISTER_TYPES = {
    "1": "Elektronische oder computergestützte Kassensysteme oder Registrierkassen",
    "2": "App-Systeme / Tablet-Kassen",
    "3": "Waagen mit Registrierkassenfunktion",
    "4": "Taxameter",
    "5": "Wegstreckenzähler",
}
PERSONS = ("legal", "natural")
PREMISES_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
ZIP = re.compile(r"\d{5}")
MAX_TEXT = 100


def _text(data: Mapping[str, Any], name: str, label: str, *, required: bool) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FilingInvalid(f"{label} fehlt ({name})", hint=f"{label} angeben.", field=name)
        return None
    if not isinstance(value, str):
        raise FilingInvalid(f"{label} muss Text sein ({name})", field=name)
    value = " ".join(value.split())
    if len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        raise FilingInvalid(
            f"{label} ist zu lang oder enthält Steuerzeichen ({name}, höchstens {MAX_TEXT} "
            "Zeichen)",
            field=name,
        )
    return value


def parse_day(value: object, label: str, name: str | None = None) -> str | None:
    """An ISO day (``YYYY-MM-DD``), or ``None`` for nothing (``name``: the body's key)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FilingInvalid(f"{label}: Datum als Text JJJJ-MM-TT erwartet", field=name)
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise FilingInvalid(
            f"{label}: {value!r} ist kein Datum", hint="Datum als JJJJ-MM-TT angeben.", field=name
        ) from None


def _unknown(data: Mapping[str, Any], known: set[str], what: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise FilingInvalid(
            f"Unbekanntes Feld {unknown[0]!r} bei {what}",
            hint="Bekannte Felder: " + ", ".join(sorted(known)),
            field=unknown[0],
        )


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    house_number: str
    zip_code: str
    town: str

    @classmethod
    def parse(cls, data: Mapping[str, Any], who: str) -> Address:
        street = _text(data, "street", f"Straße ({who})", required=True)
        number = _text(data, "house_number", f"Hausnummer ({who})", required=True)
        zip_code = _text(data, "zip_code", f"Postleitzahl ({who})", required=True)
        town = _text(data, "town", f"Ort ({who})", required=True)
        assert street and number and zip_code and town
        if not ZIP.fullmatch(zip_code):
            raise FilingInvalid(
                f"Postleitzahl ({who}) {zip_code!r} hat nicht fünf Ziffern",
                hint="Deutsche Postleitzahl mit fünf Ziffern angeben.",
                field="zip_code",
            )
        return cls(street, number, zip_code, town)


@dataclass(frozen=True, slots=True)
class Taxpayer:
    """The taxpayer of a tenant (Steuerpflichtige/r): name, tax number, postal address."""

    tenant_id: str
    name: str
    tax_number: str  # 13 digits (ELSTER)
    land: str
    person: str  # legal (company) or natural
    address: Address
    legal_form: str | None = None  # fiskaly's legal form code, if known
    first_name: str | None = None  # natural persons
    last_name: str | None = None

    FIELDS = frozenset(
        {"name", "tax_number", "land", "person", "street", "house_number", "zip_code", "town",
         "legal_form", "first_name", "last_name"}
    )  # fmt: skip

    @classmethod
    def parse(cls, tenant_id: str, data: Mapping[str, Any]) -> Taxpayer:
        _unknown(data, set(cls.FIELDS), "der/dem Steuerpflichtigen")
        name = _text(data, "name", "Name der/des Steuerpflichtigen", required=True)
        raw = _text(data, "tax_number", "Steuernummer", required=True)
        land = _text(data, "land", "Bundesland", required=False)
        assert name and raw
        try:
            number = parse_tax_number(raw, land)
        except FilingInvalid as err:
            raise err.about("tax_number") from None
        person = _text(data, "person", "Art (legal/natural)", required=False) or "legal"
        if person not in PERSONS:
            raise FilingInvalid(
                f"Art der/des Steuerpflichtigen {person!r} ist unbekannt",
                hint="legal (Unternehmen) oder natural (natürliche Person) angeben.",
                field="person",
            )
        first = _text(data, "first_name", "Vorname", required=person == "natural")
        last = _text(data, "last_name", "Nachname", required=person == "natural")
        return cls(
            tenant_id, name, number.elster, number.land, person,
            Address.parse(data, "Steuerpflichtige/r"),
            _text(data, "legal_form", "Rechtsform", required=False), first, last,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Premises:
    """A business premises (Betriebsstätte) of a tenant, with its address."""

    premises_id: str
    tenant_id: str
    name: str
    address: Address
    establishment_id: str  # the UUIDv4 of its establishment at fiskaly SUBMIT DE
    decommissioned_on: str | None = None

    FIELDS = frozenset(
        {"tenant", "name", "street", "house_number", "zip_code", "town", "decommissioned_on"}
    )

    @classmethod
    def parse(
        cls, premises_id: str, tenant_id: str, establishment_id: str, data: Mapping[str, Any]
    ) -> Premises:
        _unknown(data, set(cls.FIELDS), "der Betriebsstätte")
        if not PREMISES_ID.fullmatch(premises_id):
            raise FilingInvalid(
                f"Kennung der Betriebsstätte {premises_id!r} ist ungültig",
                hint="Kleinbuchstaben, Ziffern und '-', höchstens 40 Zeichen (z. B. filiale-1).",
                field="premises_id",
            )
        name = _text(data, "name", "Bezeichnung der Betriebsstätte", required=True)
        assert name
        return cls(
            premises_id, tenant_id, name, Address.parse(data, "Betriebsstätte"),
            establishment_id,
            parse_day(data.get("decommissioned_on"), "Aufgabe der Betriebsstätte",
                      "decommissioned_on"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class RegisterData:
    """What the filing lists of one register (paired, or entered before it is paired)."""

    key: str  # the register id once paired; before, the serial
    tenant_id: str
    serial: str
    premises_id: str | None = None
    kind: str = "1"
    maker: str | None = None
    model: str | None = None
    software: str | None = None
    software_version: str | None = None
    purchased_on: str | None = None
    first_use_on: str | None = None  # default: the pairing date
    decommissioned_on: str | None = None
    decommission_reason: str | None = None
    register_id: str | None = None  # once paired
    paired_on: str | None = None
    remarks: str | None = None

    EDITABLE = frozenset(
        {"premises", "kind", "maker", "model", "software", "software_version", "purchased_on",
         "first_use_on", "decommissioned_on", "decommission_reason", "remarks", "serial"}
    )  # fmt: skip

    def updated(self, data: Mapping[str, Any]) -> Self:
        """This record with ``data`` applied (the editable fields; ``""`` clears one)."""
        _unknown(data, set(self.EDITABLE), "der Kasse")
        changes: dict[str, Any] = {}
        if "premises" in data:
            changes["premises_id"] = _text(data, "premises", "Betriebsstätte", required=False)
        if "kind" in data:
            kind = str(data["kind"]).strip()
            if kind not in REGISTER_TYPES:
                raise FilingInvalid(
                    f"Art der Kasse {kind!r} ist unbekannt",
                    hint="; ".join(f"{k} = {v}" for k, v in REGISTER_TYPES.items()),
                    field="kind",
                )
            changes["kind"] = kind
        labels = {
            "maker": "Hersteller", "model": "Modell", "software": "Software",
            "software_version": "Softwareversion", "decommission_reason": "Grund der "
            "Außerbetriebnahme", "remarks": "Bemerkungen", "serial": "Seriennummer",
        }  # fmt: skip
        for name, label in labels.items():
            if name in data:
                changes[name] = _text(data, name, label, required=name == "serial")
        days = {
            "purchased_on": "Anschaffungsdatum", "first_use_on": "Inbetriebnahme",
            "decommissioned_on": "Außerbetriebnahme",
        }  # fmt: skip
        for name, label in days.items():
            if name in data:
                changes[name] = parse_day(data[name], label, name)
        result = replace(self, **changes)
        result.check_dates()
        return result

    def check_dates(self) -> None:
        """Purchase ≤ first use ≤ decommissioning; a decommissioning has a reason."""
        first_use = self.first_use_on or self.paired_on
        if self.purchased_on and first_use and self.purchased_on > first_use:
            raise FilingInvalid(
                f"Kasse {self.serial}: Anschaffung ({self.purchased_on}) liegt nach der "
                f"Inbetriebnahme ({first_use})",
                hint="Anschaffungsdatum oder Inbetriebnahme korrigieren.",
                field="purchased_on",
            )
        start = first_use or self.purchased_on
        if self.decommissioned_on and start and self.decommissioned_on < start:
            raise FilingInvalid(
                f"Kasse {self.serial}: Außerbetriebnahme ({self.decommissioned_on}) liegt vor "
                f"der Inbetriebnahme ({start})",
                hint="Das Datum der Außerbetriebnahme korrigieren.",
                field="decommissioned_on",
            )
        if self.decommissioned_on and self.decommissioned_on > date.today().isoformat():
            raise FilingInvalid(
                f"Kasse {self.serial}: Außerbetriebnahme ({self.decommissioned_on}) liegt in der "
                "Zukunft",
                hint="Erst nach der Außerbetriebnahme eintragen.",
                field="decommissioned_on",
            )

    @property
    def first_use(self) -> str | None:
        return self.first_use_on or self.paired_on

    def missing(self) -> list[str]:
        """The fields the filing needs that are not known yet (German labels)."""
        needed = {
            "Betriebsstätte": self.premises_id, "Hersteller": self.maker, "Modell": self.model,
            "Software": self.software, "Anschaffungsdatum": self.purchased_on,
            "Inbetriebnahme": self.first_use,
        }  # fmt: skip
        gaps = [label for label, value in needed.items() if not value]
        if self.decommissioned_on and not self.decommission_reason:
            gaps.append("Grund der Außerbetriebnahme")
        return gaps


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))
