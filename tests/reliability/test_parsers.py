"""Property tests for the parsers at the edges: receipt bodies and amounts, configuration
values, mDNS TXT records.

Each parser either returns its typed value or raises its one documented error (with a message
and a hint); valid input survives a round trip unchanged.
"""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from tsed.config.check import validate_vat_id
from tsed.config.edit import set_value
from tsed.config.model import Config, config_from_dict, config_to_dict
from tsed.errors import ConfigError, InputError
from tsed.fiskaly.processdata import (
    DEPRECATED_VAT_RATES,
    RECEIPT_TYPE_TO_VORGANGSTYP,
    VAT_RATES,
    format_amount,
)
from tsed.net.api import SERIAL_RE
from tsed.net.mdns import MAX_LABEL, TXT_KEYS, build_txt, instance_label, parse_txt
from tsed.signing.receipt import AMOUNT_RE, Receipt, parse_receipt

# -- receipts and amounts ---------------------------------------------------------------------

amounts = st.builds(
    lambda sign, units, decimals: f"{sign}{units}.{decimals}",
    st.sampled_from(["", "-"]),
    st.integers(min_value=0, max_value=10**12 - 1),
    st.text(alphabet="0123456789", min_size=2, max_size=2),
)
vat_lines = st.fixed_dictionaries(
    {"vat_rate": st.sampled_from(VAT_RATES), "amount": amounts},
)
pay_lines = st.fixed_dictionaries(
    {"payment_type": st.sampled_from(["CASH", "NON_CASH"]), "amount": amounts},
    optional={"currency_code": st.sampled_from(["EUR", "USD", "chf"])},
)
valid_receipts = st.fixed_dictionaries(
    {
        "receipt_type": st.sampled_from(sorted(RECEIPT_TYPE_TO_VORGANGSTYP)),
        "amounts_per_vat_rate": st.lists(vat_lines, max_size=20),
    },
    optional={"amounts_per_payment_type": st.lists(pay_lines, max_size=8)},
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=16)
    | st.sampled_from(["NORMAL", "CASH", "RECEIPT", "1.00", "19", "EUR"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(valid_receipts)
def test_valid_receipts_round_trip_exactly(body: dict[str, Any]) -> None:
    receipt = parse_receipt(body)
    standard = receipt.to_standard_v1()
    assert parse_receipt(standard) == receipt  # stable: what fiskaly gets parses the same
    # Amount strings are passed on character for character, never through a float.
    sent = [line["amount"] for line in standard["amounts_per_vat_rate"]]
    assert sent == [line["amount"] for line in body["amounts_per_vat_rate"]]
    # processData sums per VAT rate (truncated to cents), in the fixed DSFinV-K order.
    kind, vat_part, _payments = receipt.process_data.split("^")
    assert kind == RECEIPT_TYPE_TO_VORGANGSTYP[body["receipt_type"]]
    sums = dict.fromkeys(VAT_RATES, Decimal(0))
    for line in body["amounts_per_vat_rate"]:
        sums[line["vat_rate"]] += Decimal(line["amount"])
    assert vat_part.split("_") == [format_amount(sums[rate]) for rate in VAT_RATES]


def _mutate(body: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A valid body with one part replaced by arbitrary JSON (finds the near misses)."""
    keys = ["receipt_type", "amounts_per_vat_rate", "amounts_per_payment_type", "extra"]

    def replace(key: str, value: Any) -> dict[str, Any]:
        copy = json.loads(json.dumps(body))
        copy[key] = value
        return copy

    def replace_line(value: Any, field: str) -> dict[str, Any]:
        copy = json.loads(json.dumps(body))
        copy["amounts_per_vat_rate"] = [
            *copy["amounts_per_vat_rate"],
            {"vat_rate": "NORMAL", "amount": "1.00", field: value},
        ]
        return copy

    return st.one_of(
        st.builds(replace, st.sampled_from(keys), json_values),
        st.builds(replace_line, json_values, st.sampled_from(["vat_rate", "amount", "x"])),
    )


@settings(max_examples=400, deadline=None)
@given(st.one_of(json_values, valid_receipts.flatmap(_mutate)))
def test_any_json_is_a_receipt_or_an_input_error_naming_the_field(body: Any) -> None:
    try:
        receipt = parse_receipt(body)
    except InputError as err:
        assert err.status == 400 and err.code == "INVALID_REQUEST" and err.hint
        assert err.message.startswith("receipt")
        assert str(err.details.get("field", "receipt")).startswith("receipt")
        json.dumps(err.to_dict())  # the error answer is always serialisable
        return
    assert isinstance(receipt, Receipt)
    assert receipt.process_data  # what parses can always be signed


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=24),
        amounts,
        st.from_regex(r"-?\d{1,14}\.\d{0,7}"),
        st.from_regex(r"-?\d{1,3}\.\d{3,5}", fullmatch=True),  # refused: more than two
        amounts.map(lambda a: a + "\n"),
        st.sampled_from(["0.0\u0ce6", "1.00\n", "\u0661.00", " 1.00", "1.00 ", "+1.00"]),
    )
)
def test_amounts_are_decimal_strings_with_exactly_two_decimals(text: str) -> None:
    body = {
        "receipt_type": "RECEIPT",
        "amounts_per_vat_rate": [{"vat_rate": "NULL", "amount": text}],
    }
    units, dot, decimals = text.lstrip("-").partition(".")
    expected = (
        bool(dot)
        and units.isascii()
        and units.isdigit()
        and 1 <= len(units) <= 12
        and decimals.isascii()
        and decimals.isdigit()
        and len(decimals) == 2  # more are refused, never cut (issue 15)
        and text.count("-") <= (1 if text.startswith("-") else 0)
        and text == text.strip()
    )
    try:
        parse_receipt(body)
    except InputError as err:
        assert not expected, (text, err.message)
        assert "amount" in err.message
        return
    assert expected, text
    assert AMOUNT_RE.fullmatch(text)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.decimals(allow_nan=False)))
def test_numbers_are_never_taken_as_amounts(number: Any) -> None:
    value = float(number) if isinstance(number, Decimal) else number
    body = {
        "receipt_type": "RECEIPT",
        "amounts_per_vat_rate": [{"vat_rate": "NULL", "amount": value}],
    }
    try:
        parse_receipt(body)
    except InputError as err:
        assert "decimal string" in err.message
    else:
        raise AssertionError(f"{value!r} was accepted as an amount")


def test_deprecated_vat_percentages_are_refused_at_the_edge() -> None:
    # fiskaly still knows "19" etc.; the register API takes only the V2 names.
    for old in DEPRECATED_VAT_RATES:
        body = {
            "receipt_type": "RECEIPT",
            "amounts_per_vat_rate": [{"vat_rate": old, "amount": "1.00"}],
        }
        try:
            parse_receipt(body)
        except InputError as err:
            assert "vat_rate" in err.message
        else:
            raise AssertionError(old)


SERIAL_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-.:=?")


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.text(alphabet=sorted(SERIAL_CHARS), max_size=72),
        st.text(alphabet=sorted(SERIAL_CHARS), min_size=1, max_size=8).map(lambda s: s + "\n"),
    )
)
def test_register_serials_are_printable_ascii_without_line_breaks(serial: str) -> None:
    expected = (
        1 <= len(serial) <= 70
        and set(serial) <= SERIAL_CHARS
        and not serial[0].isspace()
        and not serial[-1].isspace()
    )
    assert bool(SERIAL_RE.fullmatch(serial)) == expected, repr(serial)


@pytest.mark.parametrize(
    "vat", ["DE\u0661\u0662\u0663456789", "DE12345678\u0669", "DE\uff11\uff12\uff13456789"]
)
def test_vat_ids_take_ascii_digits_only(vat: str) -> None:
    with pytest.raises(ConfigError):
        validate_vat_id(vat, "tenants.a.vat_id")


# -- configuration values ---------------------------------------------------------------------

NUMERIC_KEYS = ["register_deadline", "abandon_minutes", "pairing_minutes", "proxy.port"]


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(
        [*NUMERIC_KEYS, "name", "extended_logging", "multi_tenant", "proxy.host",
         "proxy.username", "console_port", "workplaces.kasse-1.register_deadline",
         "workplaces.kasse-1.extended_logging", "tenants.default.vat_id", "created_at",
         "url", "api_secret", "tenants.x.y.z"]
    ),
    raw=st.one_of(
        st.text(max_size=40),
        st.sampled_from(["1", "2,5", "1e308", "-1", "nan", "inf", "0x10", "ja", "", " 3 "]),
    ),
)  # fmt: skip
def test_config_values_are_set_and_saved_or_refused_with_the_key(key: str, raw: str) -> None:
    try:
        config = set_value(Config(), key, raw)
    except ConfigError as err:
        assert err.status == 400 and err.hint
        assert (
            key.split(".", maxsplit=1)[0] in err.message
            or "unknown" in err.message
            or key in err.message
        )
        return
    # Whatever was accepted survives the file format: TOML out, TOML in, same config.
    text = tomli_w.dumps(config_to_dict(config))
    again = config_from_dict(tomllib.loads(text))
    assert again == config


@settings(max_examples=200, deadline=None)
@given(
    deadline=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    port=st.integers(min_value=-10, max_value=70000),
)
def test_numeric_limits_are_enforced_not_wrapped(deadline: float, port: int) -> None:
    for key, raw in (("register_deadline", repr(deadline)), ("proxy.port", str(port))):
        config = Config() if key != "proxy.port" else set_value(Config(), "proxy.host", "proxy.lan")
        try:
            new = set_value(config, key, raw)
        except ConfigError:
            continue
        if key == "proxy.port":
            assert new.proxy is not None and 1 <= new.proxy.port <= 65535
            assert new.proxy.port == port
        else:
            assert new.register_deadline == deadline
            assert 0 < new.register_deadline < 1e6


# -- mDNS TXT ---------------------------------------------------------------------------------


def _wire(txt: dict[str, str]) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in txt.items()}


@settings(max_examples=300, deadline=None)
@given(
    short_id=st.text(alphabet="0123456789abcdef", min_size=4, max_size=12),
    mode=st.sampled_from(["TEST", "LIVE"]),
    pairing=st.booleans(),
    fingerprint=st.text(alphabet="0123456789abcdef", min_size=16, max_size=64),
)
def test_txt_records_fit_the_wire_and_parse_back(
    short_id: str, mode: str, pairing: bool, fingerprint: str
) -> None:
    txt = build_txt(short_id=short_id, mode=mode, pairing=pairing, fingerprint=fingerprint)
    assert tuple(txt) == TXT_KEYS  # the documented keys, nothing else (no secrets fit in)
    for key, value in txt.items():
        assert len(f"{key}={value}".encode()) <= 255  # one TXT string
    assert parse_txt(_wire(txt)) == txt
    assert txt["mode"] == mode.lower() and txt["pair"] == ("1" if pairing else "0")
    assert fingerprint.startswith(txt["fp"]) and len(txt["fp"]) == 16


@settings(max_examples=300, deadline=None)
@given(
    properties=st.dictionaries(
        st.one_of(st.binary(max_size=12), st.sampled_from([k.encode() for k in TXT_KEYS])),
        st.one_of(st.none(), st.binary(max_size=40)),
        max_size=10,
    )
)
def test_txt_parsing_never_fails_on_what_the_network_sends(
    properties: dict[bytes, bytes | None],
) -> None:
    parsed = parse_txt(properties)
    assert set(parsed) <= set(TXT_KEYS)
    assert all(isinstance(v, str) for v in parsed.values())


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(max_size=120),
    short_id=st.text(alphabet="0123456789abcdef", min_size=6, max_size=8),
)
def test_instance_labels_fit_one_dns_label(name: str, short_id: str) -> None:
    label = instance_label(name, short_id)
    assert len(label.encode()) <= MAX_LABEL
    assert label.endswith(f" ({short_id})")
    label.encode().decode()  # never a cut multi-byte character
