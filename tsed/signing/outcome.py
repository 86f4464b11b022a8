"""What the signing service answers a register: :class:`TxOutcome` and friends."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tsed.fiskaly.models import Transaction
from tsed.signing.receipt import TEST_NOTICE, SignedResult, iso_time
from tsed.state.rows import TxRow


@dataclass(frozen=True, slots=True)
class RegisterRef:
    register_id: str
    serial: str
    tenant_id: str


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    reason: str
    receipt_text: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "reason": self.reason,
            "receipt_text": self.receipt_text,
            "at": iso_time(self.at),
        }


def signed_result(tx: Transaction) -> SignedResult:
    return SignedResult(
        transaction_number=tx.number,
        signature_counter=tx.signature_counter,
        time_start=iso_time(tx.time_start) or "",
        time_end=iso_time(tx.time_end or tx.log_timestamp) or "",
        signature=tx.signature_value,
        public_key=tx.public_key,
        tss_serial_number=tx.tss_serial_number,
        signature_algorithm=tx.signature_algorithm,
        log_time_format=tx.log_timestamp_format,
        client_serial_number=tx.client_serial_number,
        process_type=tx.process_type or "",
        process_data=tx.process_data or "",
        qr_code_data=tx.qr_code_data or "",
    )


@dataclass(frozen=True, slots=True)
class TxOutcome:
    local_id: str
    state: str
    mode: str
    pending: bool = False
    failure: Failure | None = None
    result: SignedResult | None = None
    signed_late: bool = False
    created_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.local_id,
            "state": self.state,
            "pending": self.pending,
            "mode": self.mode,
            "tse_failure": self.failure is not None,
            "signed_late": self.signed_late,
            "created_at": iso_time(self.created_at),
        }
        if self.mode == "TEST":
            body["notice"] = TEST_NOTICE
        body["failure"] = self.failure.to_json() if self.failure else None
        body["result"] = self.result.to_json() if self.result else None
        return body


def outcome_from_row(row: TxRow, mode: str) -> TxOutcome:
    failure = None
    if row.failure:
        data = json.loads(row.failure)
        failure = Failure(data["code"], data["reason"], data["receipt_text"], data["at"])
    result = None
    if row.result:
        result = SignedResult(**json.loads(row.result))
    return TxOutcome(
        local_id=row.id,
        state=row.state,
        mode=mode,
        pending=row.state in ("journaled", "active") and result is None,
        failure=failure,
        result=result,
        signed_late=bool(row.signed_late),
        created_at=row.created_at,
    )
