"""processData and QR code data (reference §6.5, §11.1)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsed.fiskaly.processdata import (
    ProcessDataError,
    build_qr_code_data,
    format_amount,
    format_qr_time,
    order_process_data,
    parse_qr_time,
    receipt_process_data,
)


def _receipt(vat, pay=None, receipt_type="RECEIPT"):
    body = {
        "receipt_type": receipt_type,
        "amounts_per_vat_rate": [{"vat_rate": r, "amount": a} for r, a in vat],
    }
    if pay is not None:
        body["amounts_per_payment_type"] = [
            {"payment_type": p, "amount": a, **({"currency_code": c} if c else {})}
            for p, a, c in pay
        ]
    return body


def test_fiskaly_observed_example() -> None:
    receipt = _receipt([("NORMAL", "21.42")], [("NON_CASH", "21.42", None)])
    assert receipt_process_data(receipt) == "Beleg^21.42_0.00_0.00_0.00_0.00^21.42:Unbar"


def test_multi_payment_example_from_fiskaly_docs() -> None:
    receipt = _receipt(
        [("NORMAL", "123.45"), ("REDUCED_1", "67.89")],
        [("CASH", "111.11", None), ("NON_CASH", "80.23", None)],
    )
    assert (
        receipt_process_data(receipt) == "Beleg^123.45_67.89_0.00_0.00_0.00^111.11:Bar_80.23:Unbar"
    )


def test_dsfinvk_foreign_currency_example() -> None:
    receipt = _receipt(
        [("NORMAL", "75.33"), ("REDUCED_1", "7.99")],
        [
            ("CASH", "10.00", None),
            ("CASH", "5.00", "CHF"),
            ("CASH", "5.00", "usd"),
            ("NON_CASH", "64.30", "EUR"),
        ],
    )
    assert (
        receipt_process_data(receipt)
        == "Beleg^75.33_7.99_0.00_0.00_0.00^10.00:Bar_5.00:Bar:CHF_5.00:Bar:USD_64.30:Unbar"
    )


def test_types_deprecated_rates_sums_and_truncation() -> None:
    receipt = _receipt(
        [("19", "1.005"), ("NORMAL", "2.00"), ("0", "-3.50"), ("SPECIAL_RATE_2", "0.009")],
        [("CASH", "1.00", None), ("CASH", "2.999", None)],
        receipt_type="TRAINING",
    )
    assert receipt_process_data(receipt) == "AVTraining^3.00_0.00_0.00_0.00_-3.50^3.99:Bar"


def test_empty_payment_part_allowed() -> None:
    assert receipt_process_data(_receipt([])) == "Beleg^0.00_0.00_0.00_0.00_0.00^"


@pytest.mark.parametrize(
    ("receipt", "field"),
    [
        ({"receipt_type": "BOGUS", "amounts_per_vat_rate": []}, "receipt_type"),
        (_receipt([("19.5", "1.00")]), "amounts_per_vat_rate[0].vat_rate"),
        (_receipt([("NORMAL", 1.0)]), "amounts_per_vat_rate[0].amount"),
        (_receipt([("NORMAL", "abc")]), "amounts_per_vat_rate[0].amount"),
        (_receipt([], [("GOLD", "1.00", None)]), "amounts_per_payment_type[0].payment_type"),
    ],
)
def test_errors_name_the_field(receipt, field) -> None:
    with pytest.raises(ProcessDataError) as info:
        receipt_process_data(receipt)
    assert field in str(info.value)


def test_order_lines() -> None:
    order = {
        "line_items": [
            {"quantity": "2", "text": 'Kaffee "groß"', "price_per_unit": "2.50"},
            {"quantity": "1.5", "text": "Kuchen", "price_per_unit": "3.10"},
        ]
    }
    assert order_process_data(order) == '2;"Kaffee ""groß""";2.50\r1.5;"Kuchen";3.10'


def test_qr_time_and_code() -> None:
    assert format_qr_time(1629729393) == "2021-08-23T14:36:33.000Z"
    assert parse_qr_time("2021-08-23T14:36:33.000Z") == 1629729393
    qr = build_qr_code_data(
        client_serial="ERS 1",
        process_type="Kassenbeleg-V1",
        process_data="Beleg^11.90_0.00_0.00_0.00_0.00^11.90:Bar",
        tx_number=7,
        signature_counter=58,
        time_start=1700000000,
        time_end=1700000045,
        signature="SIG",
        public_key="KEY",
    )
    assert qr == (
        "V0;ERS 1;Kassenbeleg-V1;Beleg^11.90_0.00_0.00_0.00_0.00^11.90:Bar;7;58;"
        "2023-11-14T22:13:20.000Z;2023-11-14T22:14:05.000Z;ecdsa-plain-SHA256;unixTime;SIG;KEY"
    )


amounts = st.decimals(min_value=-(10**6), max_value=10**6, places=5, allow_nan=False)


@given(st.lists(st.tuples(st.sampled_from(["NORMAL", "REDUCED_1", "NULL"]), amounts), max_size=8))
def test_vat_sums_are_exact(lines) -> None:
    receipt = _receipt([(rate, f"{amount:.5f}") for rate, amount in lines])
    text = receipt_process_data(receipt)
    vat = text.split("^")[1].split("_")
    for index, rate in enumerate(
        ["NORMAL", "REDUCED_1", "SPECIAL_RATE_1", "SPECIAL_RATE_2", "NULL"]
    ):
        total = sum((Decimal(f"{a:.5f}") for r, a in lines if r == rate), Decimal(0))
        assert vat[index] == format_amount(total)
        assert len(vat[index].split(".")[1]) == 2
