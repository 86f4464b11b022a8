"""Tax numbers: the Länder's printed formats to ELSTER's 13 digits, and clear refusals."""

from __future__ import annotations

import pytest

from tsed.filing.errors import FilingInvalid
from tsed.filing.taxnumber import LAENDER, TaxNumber, parse_tax_number, printed

# the ELSTER conversion examples (printed form, Land, 13 digits)
EXAMPLES = [
    ("93815/08152", "BW", "2893081508152"),
    ("181/815/08155", "BY", "9181081508155"),
    ("21/815/08150", "BE", "1121081508150"),
    ("048/815/08155", "BB", "3048081508155"),
    ("75 815 08152", "HB", "2475081508152"),
    ("02/815/08156", "HH", "2202081508156"),
    ("013 815 08153", "HE", "2613081508153"),
    ("079/815/08151", "MV", "4079081508151"),
    ("24/815/08151", "NI", "2324081508151"),
    ("133/8150/8159", "NW", "5133081508159"),
    ("22/815/08154", "RP", "2722081508154"),
    ("010/815/08182", "SL", "1010081508182"),
    ("201/123/12340", "SN", "3201012312340"),
    ("101/815/08154", "ST", "3101081508154"),
    ("29 815 08158", "SH", "2129081508158"),
    ("151/815/08156", "TH", "4151081508156"),
]


@pytest.mark.parametrize(("text", "land", "elster"), EXAMPLES)
def test_printed_forms_become_thirteen_digits(text: str, land: str, elster: str) -> None:
    number = parse_tax_number(text, land)
    assert number == TaxNumber(elster, land)
    assert parse_tax_number(elster) == number  # the Land follows from the tax office
    assert parse_tax_number(printed(number), land) == number
    assert number.tax_office == elster[:4]


def test_every_land_has_an_example() -> None:
    assert {land for _, land, _ in EXAMPLES} == set(LAENDER)


@pytest.mark.parametrize(
    ("text", "land", "message"),
    [
        ("93815/08152", None, "dazu gehört das Bundesland"),
        ("12345", None, "hat 5 Ziffern"),
        ("28930815081X2", None, "andere Zeichen als Ziffern"),
        ("2893181508152", None, "fünfte Ziffer"),
        ("2893081508152", "BY", "in Baden-Württemberg, nicht in Bayern"),
        ("81/815/08155", "BY", "passt nicht zur Schreibweise in Bayern"),
        ("148/815/08155", "BB", "passt nicht zur Schreibweise in Brandenburg"),
        ("6893081508152", None, "kein deutsches Finanzamt"),
        ("93815/08152", "XX", "Unbekanntes Bundesland"),
    ],
)
def test_bad_tax_numbers_are_refused_in_german(text: str, land: str | None, message: str) -> None:
    with pytest.raises(FilingInvalid, match=message) as caught:
        parse_tax_number(text, land)
    assert caught.value.status == 400
    assert "13-stellig" in caught.value.hint or "Bundesland" in caught.value.hint
