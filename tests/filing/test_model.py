"""Master data: German errors naming the field, dates in order, register types."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tsed.filing.errors import FilingInvalid
from tsed.filing.model import Premises, RegisterData, Taxpayer
from tsed.texts.catalogue import error_text

ADDRESS = {"street": "Hauptstraße", "house_number": "1", "zip_code": "70173", "town": "Stuttgart"}


def test_taxpayer_is_parsed_and_normalized() -> None:
    tp = Taxpayer.parse("default", {"name": "Bäckerei  Huber GmbH", "tax_number": "93815/08152",
                                    "land": "bw", **ADDRESS})  # fmt: skip
    assert (tp.name, tp.tax_number, tp.land, tp.person) == (
        "Bäckerei Huber GmbH",
        "2893081508152",
        "BW",
        "legal",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "Name der/des Steuerpflichtigen fehlt"),
        ({"zip_code": "7017"}, "Postleitzahl .* nicht fünf Ziffern"),
        ({"person": "verein"}, "Art der/des Steuerpflichtigen"),
        ({"person": "natural"}, "Vorname fehlt"),
        ({"colour": "red"}, "Unbekanntes Feld 'colour'"),
        ({"town": "A\x07B"}, "Steuerzeichen"),
    ],
)
def test_taxpayer_errors_name_the_field(change: dict[str, str], message: str) -> None:
    data = {"name": "X GmbH", "tax_number": "2893081508152", **ADDRESS, **change}
    with pytest.raises(FilingInvalid, match=message):
        Taxpayer.parse("default", data)


def test_premises_id_is_checked() -> None:
    with pytest.raises(FilingInvalid, match="Kennung der Betriebsstätte"):
        Premises.parse("Filiale 1", "default", "e", {"name": "F", **ADDRESS})


def test_register_dates_must_be_in_order() -> None:
    reg = RegisterData(key="s1", tenant_id="default", serial="s1", paired_on="2026-03-01")
    assert reg.updated({"purchased_on": "2026-02-01"}).first_use == "2026-03-01"
    with pytest.raises(FilingInvalid, match=r"Anschaffung .2026-04-01. liegt nach der Inbetrieb"):
        reg.updated({"purchased_on": "2026-04-01"})
    with pytest.raises(FilingInvalid, match=r"Außerbetriebnahme .2026-01-01. liegt vor"):
        reg.updated({"decommissioned_on": "2026-01-01"})
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    with pytest.raises(FilingInvalid, match="in der Zukunft"):
        reg.updated({"decommissioned_on": tomorrow})
    with pytest.raises(FilingInvalid, match="kein Datum"):
        reg.updated({"purchased_on": "1.2.2026"})
    with pytest.raises(FilingInvalid, match="Art der Kasse '9'"):
        reg.updated({"kind": "9"})


def test_missing_fields_are_listed() -> None:
    reg = RegisterData(key="s1", tenant_id="default", serial="s1", decommissioned_on="2026-01-02")
    assert reg.missing() == [
        "Betriebsstätte", "Hersteller", "Modell", "Software", "Anschaffungsdatum",
        "Inbetriebnahme", "Grund der Außerbetriebnahme",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tax_number": "12345"}, "filing.tax_number"),
        ({"land": "XY", "tax_number": "93815/08152"}, "filing.land"),
        ({"zip_code": "7017"}, "filing.zip_code"),
        ({"town": ""}, "filing.town"),
        ({"colour": "red"}, "filing.colour"),
    ],
)
def test_an_error_names_its_input_and_carries_its_german_text(
    change: dict[str, str], field: str
) -> None:
    data = {"name": "X GmbH", "tax_number": "2893081508152", **ADDRESS, **change}
    with pytest.raises(FilingInvalid) as caught:
        Taxpayer.parse("default", data)
    err = caught.value
    assert err.field == field  # the setup page marks this input
    german = error_text(err.code, "de", text_id=err.text_id, params=err.text_params,
                        field=err.field, message=err.message, hint=err.hint)  # fmt: skip
    assert german["message"] == err.message and german["hint"] == err.hint
    assert "Eine Angabe der Mitteilung" not in str(german["message"])  # not the code's generic


def test_a_register_error_names_the_date_it_is_about() -> None:
    reg = RegisterData(key="s1", tenant_id="default", serial="s1", paired_on="2026-03-01")
    with pytest.raises(FilingInvalid) as late:
        reg.updated({"purchased_on": "2026-04-01"})
    with pytest.raises(FilingInvalid) as bad:
        reg.updated({"first_use_on": "31.12.2026"})
    with pytest.raises(FilingInvalid) as kind:
        reg.updated({"kind": "9"})
    assert (late.value.field, bad.value.field, kind.value.field) == (
        "filing.purchased_on", "filing.first_use_on", "filing.kind",
    )  # fmt: skip
