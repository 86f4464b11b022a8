"""The signing operations, declared once: what the register API calls.

:class:`tsed.signing.service.SigningService` does them; the unit's holder
(:class:`tsed.unit.signing_ops.SigningProxy`) forwards them to whichever service is current
(a reload of the backend replaces it). The register API (:mod:`tsed.net.api`) knows only
this Protocol.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from tsed.signing.outcome import RegisterRef, TxOutcome
from tsed.signing.receipt import Receipt


@runtime_checkable
class SigningOperations(Protocol):
    """The seven operations of a register on its transactions, and the unit's status."""

    async def start_transaction(
        self, reg: RegisterRef, *, idempotency_key: str | None = None
    ) -> TxOutcome:
        """Journal a new transaction and answer at once (``pending``); fiskaly follows."""
        ...

    async def update_transaction(
        self,
        reg: RegisterRef,
        local_id: str,
        receipt: Receipt,
        *,
        idempotency_key: str | None = None,
    ) -> TxOutcome:
        """Replace the receipt of an open transaction."""
        ...

    async def finish_transaction(
        self,
        reg: RegisterRef,
        local_id: str,
        receipt: Receipt,
        *,
        idempotency_key: str | None = None,
    ) -> TxOutcome:
        """Sign the transaction with ``receipt``, or answer a TSE failure by the deadline."""
        ...

    async def cancel_transaction(
        self,
        reg: RegisterRef,
        local_id: str,
        receipt: Receipt | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> TxOutcome:
        """Sign the transaction as an abort (AVBelegabbruch)."""
        ...

    async def sign_receipt(
        self, reg: RegisterRef, receipt: Receipt, *, idempotency_key: str | None = None
    ) -> TxOutcome:
        """Start and finish in one call."""
        ...

    async def get_transaction(self, reg: RegisterRef, local_id: str) -> TxOutcome:
        """One transaction of the calling register."""
        ...

    async def list_transactions(
        self, reg: RegisterRef, states: tuple[str, ...] | None, limit: int, before: str | None
    ) -> list[TxOutcome]:
        """The calling register's transactions, newest first."""
        ...

    def status(self) -> dict[str, Any]:
        """Mode, backend, TSE availability and counters."""
        ...
