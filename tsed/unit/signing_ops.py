"""The register API's view of the signing service, which a reload of the backend may replace."""

from __future__ import annotations

from typing import Any, Protocol

from tsed.signing.outcome import RegisterRef, TxOutcome
from tsed.signing.receipt import Receipt
from tsed.signing.service import SigningService


class CurrentSigning(Protocol):
    """Where the current signing service is (the backend: a reload replaces the service)."""

    @property
    def signing(self) -> SigningService: ...


class SigningProxy:
    """The register API's view of the signing service, which a reload may replace."""

    def __init__(self, backend: CurrentSigning) -> None:
        self._d = backend

    async def start_transaction(
        self, reg: RegisterRef, *, idempotency_key: str | None = None
    ) -> TxOutcome:
        return await self._d.signing.start_transaction(reg, idempotency_key=idempotency_key)

    async def update_transaction(
        self,
        reg: RegisterRef,
        local_id: str,
        receipt: Receipt,
        *,
        idempotency_key: str | None = None,
    ) -> TxOutcome:
        return await self._d.signing.update_transaction(
            reg, local_id, receipt, idempotency_key=idempotency_key
        )

    async def finish_transaction(
        self,
        reg: RegisterRef,
        local_id: str,
        receipt: Receipt,
        *,
        idempotency_key: str | None = None,
    ) -> TxOutcome:
        return await self._d.signing.finish_transaction(
            reg, local_id, receipt, idempotency_key=idempotency_key
        )

    async def cancel_transaction(
        self,
        reg: RegisterRef,
        local_id: str,
        receipt: Receipt | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> TxOutcome:
        return await self._d.signing.cancel_transaction(
            reg, local_id, receipt, idempotency_key=idempotency_key
        )

    async def sign_receipt(
        self, reg: RegisterRef, receipt: Receipt, *, idempotency_key: str | None = None
    ) -> TxOutcome:
        return await self._d.signing.sign_receipt(reg, receipt, idempotency_key=idempotency_key)

    async def get_transaction(self, reg: RegisterRef, local_id: str) -> TxOutcome:
        return await self._d.signing.get_transaction(reg, local_id)

    async def list_transactions(
        self, reg: RegisterRef, states: tuple[str, ...] | None, limit: int, before: str | None
    ) -> list[TxOutcome]:
        return await self._d.signing.list_transactions(reg, states, limit, before)

    def status(self) -> dict[str, Any]:
        return self._d.signing.status()
