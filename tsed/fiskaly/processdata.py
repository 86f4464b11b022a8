"""processData and QR code data, as fiskaly derives them (pure functions, no I/O).

``standard_v1.receipt`` → ``Kassenbeleg-V1`` processData (DSFinV-K)::

    <Vorgangstyp>^<B1>_<B2>_<B3>_<B4>_<B5>^<payments>

B1..B5 are the gross sums for NORMAL, REDUCED_1, SPECIAL_RATE_1, SPECIAL_RATE_2 and NULL with
exactly two decimals; payments are ``_``-joined ``<amount>:<Bar|Unbar>[:<currency>]``.

Choices where the reference leaves questions open (reference §15, items 5 and 6):

* several lines with the same VAT rate are summed; several payment lines with the same
  (payment type, currency) are summed, in order of first appearance (DSFinV-K wants amounts per
  payment type accumulated);
* inputs with 3 to 5 decimals are **truncated** to 2 decimals after summing (DSFinV-K: "cut
  off"), towards zero;
* the currency suffix is written only for currencies other than EUR, cash and non-cash alike;
* the deprecated numeric VAT rates ``"19"``, ``"7"``, ``"10.7"``, ``"5.5"``, ``"0"`` map to
  NORMAL, REDUCED_1, SPECIAL_RATE_1, SPECIAL_RATE_2 and NULL;
* ``Bestellung-V1`` (orders): one line per item ``<quantity>;"<text>";<price_per_unit>``
  joined by CR, the format third-party TSE integrations use.

The QR code data follows DSFinV-K Anhang I (reference §11.1): 12 fields joined by ``;``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from tsed.fiskaly.errors import TsedError

PROCESS_TYPE_RECEIPT = "Kassenbeleg-V1"
PROCESS_TYPE_ORDER = "Bestellung-V1"
PROCESS_TYPE_OTHER = "SonstigerVorgang"
QR_VERSION = "V0"
SIGNATURE_ALGORITHM = "ecdsa-plain-SHA256"
LOG_TIME_FORMAT = "unixTime"

RECEIPT_TYPE_TO_VORGANGSTYP: Mapping[str, str] = {
    "RECEIPT": "Beleg",
    "TRAINING": "AVTraining",
    "TRANSFER": "AVTransfer",
    "ORDER": "AVBestellung",
    "CANCELLATION": "AVBelegabbruch",
    "ABORT": "AVBelegabbruch",
    "BENEFIT_IN_KIND": "AVSachbezug",
    "INVOICE": "AVRechnung",
    "OTHER": "AVSonstige",
    "ANNULATION": "AVBelegstorno",
}

VAT_RATES: tuple[str, ...] = ("NORMAL", "REDUCED_1", "SPECIAL_RATE_1", "SPECIAL_RATE_2", "NULL")
DEPRECATED_VAT_RATES: Mapping[str, str] = {
    "19": "NORMAL",
    "7": "REDUCED_1",
    "10.7": "SPECIAL_RATE_1",
    "5.5": "SPECIAL_RATE_2",
    "0": "NULL",
}
PAYMENT_TYPES: Mapping[str, str] = {"CASH": "Bar", "NON_CASH": "Unbar"}
BASE_CURRENCY = "EUR"
_CENT = Decimal("0.01")


class ProcessDataError(TsedError, ValueError, status=400, code="PROCESS_DATA_INVALID"):
    """The receipt cannot be turned into processData; the message names the field.

    Also a :class:`ValueError`: callers that validate with ``except ValueError`` keep working.
    """

    default_hint = "Correct the receipt field the message names."


def _decimal(value: Any, field: str) -> Decimal:
    if not isinstance(value, str):
        raise ProcessDataError(f"{field}: amount must be a decimal string, got {value!r}")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ProcessDataError(f"{field}: {value!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise ProcessDataError(f"{field}: {value!r} is not a finite amount")
    return amount


def format_amount(amount: Decimal) -> str:
    """Two decimals, ``.`` separator, truncated towards zero; ``-0.00`` becomes ``0.00``."""
    cut = amount.quantize(_CENT, rounding=ROUND_DOWN)
    if cut == 0:
        cut = Decimal("0.00")
    return f"{cut:.2f}"


def normalize_vat_rate(rate: Any, field: str = "vat_rate") -> str:
    if isinstance(rate, str):
        if rate in VAT_RATES:
            return rate
        if rate in DEPRECATED_VAT_RATES:
            return DEPRECATED_VAT_RATES[rate]
    raise ProcessDataError(f"{field}: {rate!r} is not one of {', '.join(VAT_RATES)}")


def receipt_process_data(receipt: Mapping[str, Any]) -> str:
    """processData (``Kassenbeleg-V1``) of a ``standard_v1.receipt`` object."""
    receipt_type = receipt.get("receipt_type")
    if receipt_type not in RECEIPT_TYPE_TO_VORGANGSTYP:
        raise ProcessDataError(f"receipt_type: {receipt_type!r} is not a known receipt type")
    vorgangstyp = RECEIPT_TYPE_TO_VORGANGSTYP[str(receipt_type)]

    sums = dict.fromkeys(VAT_RATES, Decimal(0))
    vat_lines = receipt.get("amounts_per_vat_rate", [])
    if not isinstance(vat_lines, Sequence) or isinstance(vat_lines, str | bytes):
        raise ProcessDataError("amounts_per_vat_rate: must be a list")
    for index, line in enumerate(vat_lines):
        where = f"amounts_per_vat_rate[{index}]"
        if not isinstance(line, Mapping):
            raise ProcessDataError(f"{where}: must be an object")
        rate = normalize_vat_rate(line.get("vat_rate"), f"{where}.vat_rate")
        sums[rate] += _decimal(line.get("amount"), f"{where}.amount")

    payments: dict[tuple[str, str], Decimal] = {}
    payment_lines = receipt.get("amounts_per_payment_type", [])
    if not isinstance(payment_lines, Sequence) or isinstance(payment_lines, str | bytes):
        raise ProcessDataError("amounts_per_payment_type: must be a list")
    for index, line in enumerate(payment_lines):
        where = f"amounts_per_payment_type[{index}]"
        if not isinstance(line, Mapping):
            raise ProcessDataError(f"{where}: must be an object")
        kind = line.get("payment_type")
        if kind not in PAYMENT_TYPES:
            raise ProcessDataError(f"{where}.payment_type: {kind!r} is not CASH or NON_CASH")
        currency = str(line.get("currency_code") or BASE_CURRENCY).upper()
        key = (PAYMENT_TYPES[str(kind)], currency)
        payments[key] = payments.get(key, Decimal(0)) + _decimal(
            line.get("amount"), f"{where}.amount"
        )

    vat_part = "_".join(format_amount(sums[rate]) for rate in VAT_RATES)
    payment_part = "_".join(
        f"{format_amount(amount)}:{kind}" + ("" if currency == BASE_CURRENCY else f":{currency}")
        for (kind, currency), amount in payments.items()
    )
    return f"{vorgangstyp}^{vat_part}^{payment_part}"


def order_process_data(order: Mapping[str, Any]) -> str:
    """processData (``Bestellung-V1``) of a ``standard_v1.order`` object."""
    items = order.get("line_items")
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise ProcessDataError("line_items: must be a list")
    lines = []
    for index, item in enumerate(items):
        where = f"line_items[{index}]"
        if not isinstance(item, Mapping):
            raise ProcessDataError(f"{where}: must be an object")
        quantity = item.get("quantity")
        text = item.get("text")
        price = item.get("price_per_unit")
        if not isinstance(quantity, str) or not isinstance(text, str):
            raise ProcessDataError(f"{where}: quantity and text must be strings")
        _decimal(quantity, f"{where}.quantity")
        price_value = _decimal(price, f"{where}.price_per_unit")
        escaped = text.replace('"', '""')
        lines.append(f'{quantity};"{escaped}";{format_amount(price_value)}')
    return "\r".join(lines)


def format_qr_time(unix_seconds: int) -> str:
    """``YYYY-MM-DDThh:mm:ss.000Z`` in UTC, as in fiskaly's QR codes."""
    moment = datetime.fromtimestamp(int(unix_seconds), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_qr_time(text: str) -> int:
    """Inverse of :func:`format_qr_time` (accepts any fraction of seconds)."""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.timestamp())


def build_qr_code_data(
    *,
    client_serial: str,
    process_type: str,
    process_data: str,
    tx_number: int,
    signature_counter: int,
    time_start: int,
    time_end: int,
    signature: str,
    public_key: str,
) -> str:
    """The DSFinV-K QR code content (12 fields joined by ``;``)."""
    return ";".join(
        [
            QR_VERSION,
            client_serial,
            process_type,
            process_data,
            str(tx_number),
            str(signature_counter),
            format_qr_time(time_start),
            format_qr_time(time_end),
            SIGNATURE_ALGORITHM,
            LOG_TIME_FORMAT,
            signature,
            public_key,
        ]
    )
