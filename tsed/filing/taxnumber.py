"""German tax numbers (Steuernummer): the Länder's printed formats and ELSTER's 13 digits.

A tax office prints the tax number in its Land's format (``FF/BBB/UUUUP`` in most Länder,
``FFBBB/UUUUP`` in Baden-Württemberg, ``FFF/BBB/UUUUP`` in Bayern and the eastern Länder, ``0FF
BBB UUUUP`` in Hessen, ``FFF/BBBB/UUUP`` in Nordrhein-Westfalen); electronic filings (ELSTER,
and so fiskaly SUBMIT DE) use the nationwide 13-digit form: the four-digit number of the tax
office (Bundesfinanzamtsnummer, whose leading digits name the Land), a ``0``, then district and
distinguishing number with the check digit (8 digits).
Source: the "einheitliches
Bundesschema" of the ELSTER tax number conversion, as tabulated per Land e.g. in the German
Wikipedia article "Steuernummer" (section "Aufbau"); ``docs/notification.md`` repeats the
table. The Länder's check-digit algorithms differ and are not all published: the check digit
is not verified (the tax office's answer to the filing is the final check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tsed.filing.errors import FilingInvalid

# Land: (ELSTER prefix, digits printed, what the printed form starts with, if anything)
LAENDER: dict[str, tuple[str, int, str]] = {
    "BW": ("28", 10, ""),  # Baden-Württemberg   FFBBB/UUUUP
    "BY": ("9", 11, ""),  # Bayern              FFF/BBB/UUUUP
    "BE": ("11", 10, ""),  # Berlin              FF/BBB/UUUUP
    "BB": ("3", 11, "0"),  # Brandenburg         0FF/BBB/UUUUP
    "HB": ("24", 10, ""),  # Bremen              FF BBB UUUUP
    "HH": ("22", 10, ""),  # Hamburg             FF/BBB/UUUUP
    "HE": ("26", 11, "0"),  # Hessen             0FF BBB UUUUP (the 0 is dropped)
    "MV": ("4", 11, "0"),  # Mecklenburg-Vorp.   0FF/BBB/UUUUP
    "NI": ("23", 10, ""),  # Niedersachsen       FF/BBB/UUUUP
    "NW": ("5", 11, ""),  # Nordrhein-Westfalen FFF/BBBB/UUUP
    "RP": ("27", 10, ""),  # Rheinland-Pfalz     FF/BBB/UUUUP
    "SL": ("1", 11, "0"),  # Saarland            0FF/BBB/UUUUP
    "SN": ("3", 11, "2"),  # Sachsen             2FF/BBB/UUUUP
    "ST": ("3", 11, "1"),  # Sachsen-Anhalt      1FF/BBB/UUUUP
    "SH": ("21", 10, ""),  # Schleswig-Holstein  FF BBB UUUUP
    "TH": ("4", 11, "1"),  # Thüringen           1FF/BBB/UUUUP
}
LAND_NAMES = {
    "BW": "Baden-Württemberg", "BY": "Bayern", "BE": "Berlin", "BB": "Brandenburg",
    "HB": "Bremen", "HH": "Hamburg", "HE": "Hessen", "MV": "Mecklenburg-Vorpommern",
    "NI": "Niedersachsen", "NW": "Nordrhein-Westfalen", "RP": "Rheinland-Pfalz",
    "SL": "Saarland", "SN": "Sachsen", "ST": "Sachsen-Anhalt", "SH": "Schleswig-Holstein",
    "TH": "Thüringen",
}  # fmt: skip
# the leading digits of a 13-digit tax number (the tax office's number) → Land
_ELSTER_PREFIX = {
    "28": "BW", "9": "BY", "11": "BE", "30": "BB", "24": "HB", "22": "HH", "26": "HE",
    "40": "MV", "23": "NI", "5": "NW", "27": "RP", "10": "SL", "32": "SN", "31": "ST",
    "21": "SH", "41": "TH",
}  # fmt: skip
_SEPARATORS = re.compile(r"[\s/]")
_HINT = (
    "Die Steuernummer 13-stellig (ELSTER-Format, z. B. 2893081508152) oder wie auf dem "
    "Steuerbescheid mit dem Bundesland angeben (z. B. 93815/08152 und Bundesland BW, bei tsectl "
    "--land BW)."
)


@dataclass(frozen=True, slots=True)
class TaxNumber:
    """A tax number in ELSTER's 13 digits, with its Land and tax office."""

    elster: str
    land: str

    @property
    def tax_office(self) -> str:
        """The four-digit number of the tax office (Bundesfinanzamtsnummer)."""
        return self.elster[:4]

    @property
    def land_name(self) -> str:
        return LAND_NAMES[self.land]


def land_of(elster: str) -> str | None:
    """The Land whose tax office the 13-digit number names, if any."""
    for length in (2, 1):
        land = _ELSTER_PREFIX.get(elster[:length])
        if land is not None:
            return land
    return None


def parse_tax_number(text: str, land: str | None = None) -> TaxNumber:
    """``text`` (13 digits, or the Land's printed form with ``land``) as a :class:`TaxNumber`;
    :class:`FilingInvalid` names what is wrong."""
    if land is not None:
        land = land.strip().upper()
        if land not in LAENDER:
            raise FilingInvalid(
                f"Unbekanntes Bundesland {land!r}",
                hint="Bundesland als Kürzel: " + ", ".join(sorted(LAENDER)),
                field="land",
            )
    digits = _SEPARATORS.sub("", text.strip())
    if not digits.isdigit():
        raise FilingInvalid(
            f"Die Steuernummer {text!r} enthält andere Zeichen als Ziffern", hint=_HINT
        )
    if len(digits) == 13:
        elster = digits
    elif len(digits) in (10, 11):
        if land is None:
            raise FilingInvalid(
                f"Die Steuernummer {text!r} ist in der Schreibweise eines Bundeslandes: "
                "dazu gehört das Bundesland",
                hint=_HINT,
            )
        elster = _from_printed(digits, land, text)
    else:
        raise FilingInvalid(
            f"Die Steuernummer {text!r} hat {len(digits)} Ziffern (erwartet: 13, oder 10 bzw. "
            "11 in der Schreibweise des Bundeslandes)",
            hint=_HINT,
        )
    if elster[4] != "0":
        raise FilingInvalid(
            f"Die Steuernummer {text!r} ist keine 13-stellige ELSTER-Steuernummer (die fünfte "
            "Ziffer ist dort immer 0)",
            hint=_HINT,
        )
    found = land_of(elster)
    if found is None:
        raise FilingInvalid(
            f"Die Steuernummer {text!r} nennt kein deutsches Finanzamt ({elster[:4]})", hint=_HINT
        )
    if land is not None and found != land:
        raise FilingInvalid(
            f"Die Steuernummer {text!r} gehört zu einem Finanzamt in {LAND_NAMES[found]}, nicht "
            f"in {LAND_NAMES[land]}",
            hint=_HINT,
        )
    return TaxNumber(elster, found)


def _from_printed(digits: str, land: str, text: str) -> str:
    prefix, length, lead = LAENDER[land]
    if len(digits) != length or (lead and not digits.startswith(lead)):
        shape = "FF/BBB/UUUUP" if length == 10 else f"{lead or 'F'}FF/BBB/UUUUP"
        if land == "NW":
            shape = "FFF/BBBB/UUUP"
        raise FilingInvalid(
            f"Die Steuernummer {text!r} passt nicht zur Schreibweise in {LAND_NAMES[land]} "
            f"({shape}, {length} Ziffern)",
            hint=_HINT,
        )
    if land == "HE":  # 0FF BBB UUUUP: the leading 0 is not part of the tax office's number
        return prefix + digits[1:3] + "0" + digits[3:]
    office = digits[: length - 8]
    return prefix + office + "0" + digits[length - 8 :]


def printed(number: TaxNumber) -> str:
    """The tax number as the Land prints it (for the printable page)."""
    prefix, length, lead = LAENDER[number.land]
    rest = number.elster[5:]
    office = number.elster[len(prefix) : 4]
    if number.land == "HE":
        return f"0{office} {rest[:3]} {rest[3:]}"
    if number.land == "NW":
        return f"{office}/{rest[:4]}/{rest[4:]}"
    if number.land == "BW":  # FFBBB/UUUUP
        return f"{office}{rest[:3]}/{rest[3:]}"
    if number.land in ("HB", "SH"):
        return f"{office} {rest[:3]} {rest[3:]}"
    del length, lead
    return f"{office}/{rest[:3]}/{rest[3:]}"
