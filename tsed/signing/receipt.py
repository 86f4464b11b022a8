"""Register-facing receipt bodies, parsed strictly at the edge, and what a register prints.

Field names follow fiskaly's ``standard_v1.receipt`` so register developers meet nothing new.
Amounts are decimal strings (``"11.90"``), never JSON numbers. Several lines with the same
VAT rate (or payment type and currency) are allowed and summed into processData.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import segno

from tsed.errors import InputError
from tsed.fiskaly.processdata import (
    PROCESS_TYPE_RECEIPT,
    RECEIPT_TYPE_TO_VORGANGSTYP,
    VAT_RATES,
    receipt_process_data,
)

AMOUNT_RE = re.compile(r"-?[0-9]{1,12}\.[0-9]{2}")  # ASCII digits only; use fullmatch
# fiskaly accepts up to 5 decimals and cuts processData to 2: a signature over 11.90 for a
# receipt printed as 11.91. The unit refuses what it would have to change (stricter on purpose).
DECIMALS_RE = re.compile(r"-?[0-9]{1,12}\.[0-9]{3,}")
CURRENCY_RE = re.compile(r"[A-Za-z]{3}")
PAYMENT_TYPES = ("CASH", "NON_CASH")
MAX_VAT_LINES = 20
MAX_PAYMENT_LINES = 50
TEST_NOTICE = "Die technische Sicherheitseinrichtung (fiskaly-TSE) ist im Test-Modus eingerichtet"


def _invalid(path: str, value: Any, rule: str) -> InputError:
    error = InputError(f"{path}: {value!r} is not valid: {rule}")
    error.details["field"] = path
    return error


def _object(value: Any, path: str, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _invalid(path, value, "must be a JSON object")
    missing = sorted(required - value.keys())
    if missing:
        raise _invalid(path, dict(value), f"is missing {', '.join(missing)}")
    unknown = sorted(value.keys() - required - optional)
    if unknown:
        raise _invalid(f"{path}.{unknown[0]}", value[unknown[0]], "unknown field")
    return value


def _amount(value: Any, path: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _invalid(path, value, 'amounts are decimal strings like "11.90", not numbers')
    if isinstance(value, str) and DECIMALS_RE.fullmatch(value):
        error = _invalid(
            path,
            value,
            "more than two decimals; the signature would cover a different amount than the one "
            "printed",
        )
        error.hint = (
            "Round to cents exactly as the receipt prints it and send that amount "
            '(e.g. "11.91"): the unit never cuts decimals off.'
        )
        raise error
    if not isinstance(value, str) or not AMOUNT_RE.fullmatch(value):
        raise _invalid(path, value, 'a decimal string with exactly two decimals, e.g. "11.90"')
    return value


@dataclass(frozen=True, slots=True)
class VatAmount:
    vat_rate: str
    amount: str


@dataclass(frozen=True, slots=True)
class PaymentAmount:
    payment_type: str
    amount: str
    currency_code: str = "EUR"


@dataclass(frozen=True, slots=True)
class Receipt:
    receipt_type: str
    amounts_per_vat_rate: tuple[VatAmount, ...]
    amounts_per_payment_type: tuple[PaymentAmount, ...]

    def to_standard_v1(self) -> dict[str, Any]:
        """Exactly what fiskaly receives as ``schema.standard_v1.receipt``."""
        return {
            "receipt_type": self.receipt_type,
            "amounts_per_vat_rate": [
                {"vat_rate": v.vat_rate, "amount": v.amount} for v in self.amounts_per_vat_rate
            ],
            "amounts_per_payment_type": [
                {
                    "payment_type": p.payment_type,
                    "amount": p.amount,
                    "currency_code": p.currency_code,
                }
                for p in self.amounts_per_payment_type
            ],
        }

    @property
    def process_type(self) -> str:
        return PROCESS_TYPE_RECEIPT

    @property
    def process_data(self) -> str:
        return receipt_process_data(self.to_standard_v1())


CANCELLATION = Receipt("CANCELLATION", (), ())
# Receipt types whose processData is AVBelegabbruch: the only ones a cancel may carry, so a
# cancelled transaction never carries the signature of a sale.
ABORT_TYPES = ("CANCELLATION", "ABORT")


def parse_receipt(body: Any, path: str = "receipt") -> Receipt:
    """Validate a receipt body into a :class:`Receipt`; errors name the field path."""
    data = _object(
        body, path, {"receipt_type", "amounts_per_vat_rate"}, {"amounts_per_payment_type"}
    )
    kind = data["receipt_type"]
    if not isinstance(kind, str) or kind not in RECEIPT_TYPE_TO_VORGANGSTYP:
        raise _invalid(
            f"{path}.receipt_type", kind, f"one of {', '.join(RECEIPT_TYPE_TO_VORGANGSTYP)}"
        )
    vat_lines = data["amounts_per_vat_rate"]
    if not isinstance(vat_lines, list) or len(vat_lines) > MAX_VAT_LINES:
        raise _invalid(
            f"{path}.amounts_per_vat_rate", vat_lines, f"a list of at most {MAX_VAT_LINES} lines"
        )
    vats = []
    for index, line in enumerate(vat_lines):
        where = f"{path}.amounts_per_vat_rate[{index}]"
        item = _object(line, where, {"vat_rate", "amount"}, set())
        if not isinstance(item["vat_rate"], str) or item["vat_rate"] not in VAT_RATES:
            raise _invalid(f"{where}.vat_rate", item["vat_rate"], f"one of {', '.join(VAT_RATES)}")
        vats.append(VatAmount(item["vat_rate"], _amount(item["amount"], f"{where}.amount")))
    pay_lines = data.get("amounts_per_payment_type", [])
    if not isinstance(pay_lines, list) or len(pay_lines) > MAX_PAYMENT_LINES:
        raise _invalid(
            f"{path}.amounts_per_payment_type",
            pay_lines,
            f"a list of at most {MAX_PAYMENT_LINES} lines",
        )
    payments = []
    for index, line in enumerate(pay_lines):
        where = f"{path}.amounts_per_payment_type[{index}]"
        item = _object(line, where, {"payment_type", "amount"}, {"currency_code"})
        if not isinstance(item["payment_type"], str) or item["payment_type"] not in PAYMENT_TYPES:
            raise _invalid(f"{where}.payment_type", item["payment_type"], "CASH or NON_CASH")
        currency = item.get("currency_code", "EUR")
        if not isinstance(currency, str) or not CURRENCY_RE.fullmatch(currency):
            raise _invalid(f"{where}.currency_code", currency, "an ISO 4217 code like EUR")
        payments.append(
            PaymentAmount(
                item["payment_type"], _amount(item["amount"], f"{where}.amount"), currency.upper()
            )
        )
    return Receipt(kind, tuple(vats), tuple(payments))


def iso_time(unix_seconds: int | float | None) -> str | None:
    if unix_seconds is None:
        return None
    return datetime.fromtimestamp(unix_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True, slots=True)
class SignedResult:
    """Everything a register must print (KassenSichV §6, AEAO §146a)."""

    transaction_number: int
    signature_counter: int
    time_start: str
    time_end: str
    signature: str
    public_key: str
    tss_serial_number: str
    signature_algorithm: str
    log_time_format: str
    client_serial_number: str
    process_type: str
    process_data: str
    qr_code_data: str

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


FAILURE_TEXT = {
    "TSE_TIMEOUT": "keine Antwort der TSE in der vorgegebenen Zeit",
    "TSE_UNREACHABLE": "TSE nicht erreichbar",
    "TSE_REJECTED": "TSE hat die Signatur abgelehnt",
    "TSE_NOT_READY": "TSE nicht betriebsbereit",
    "TSE_FAIL_FAST": "TSE-Ausfall besteht fort",
}


def failure_receipt_text(code: str, reason: str, when: float) -> str:
    """The lines a register prints on a receipt that could not be signed."""
    cause = FAILURE_TEXT.get(code, reason)
    stamp = datetime.fromtimestamp(when, tz=UTC).strftime("%d.%m.%Y %H:%M:%S UTC")
    return (
        f"TSE ausgefallen: {cause} ({stamp}). Der Vorgang wurde protokolliert und wird "
        "nachsigniert.\nTSE failure: the receipt could not be signed; the transaction is "
        "recorded and will be signed later."
    )


def qr_png(data: str, *, scale: int = 6) -> bytes:
    """PNG of the QR code (error correction high, as DSFinV-K recommends for receipts)."""
    code = segno.make(data, error="h", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
