"""Idempotency keys: the answer of the first request, never a second transaction.

A register may repeat any mutating call with the same ``Idempotency-Key``; it gets the stored
answer of the first request. The key is journaled with the request's own change (one commit)
and looked up in that same write, not before it (a taken key writes nothing and its row comes
back for the replay); its answer is kept once there is one; a finish or cancel recorded but
cut off by a crash is carried out when the register repeats it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass

from tsed.errors import ConflictError, TsedError
from tsed.signing.outcome import RegisterRef, TxOutcome, outcome_from_row
from tsed.signing.receipt import Receipt
from tsed.state.rows import IdemRow, TxRow
from tsed.state.store import Store


def request_fingerprint(operation: str, local_id: str | None, receipt: Receipt | None) -> str:
    """What a key's request was: a repeat must be the same request."""
    payload = json.dumps([operation, local_id, receipt.to_standard_v1() if receipt else None])
    return hashlib.sha256(payload.encode()).hexdigest()


def answer_json(row: TxRow) -> str:
    """The row an Idempotency-Key answers with (replayed by ``outcome_from_row``)."""
    return json.dumps({f: getattr(row, f) for f in TxRow.__slots__})


@dataclass(slots=True)
class Answer:
    """The register call waiting for a transaction: while ``open``, the signed row is kept as
    the answer of its Idempotency-Key in the same commit as the signature (one fsync less).
    The caller closes it before answering anything else (a TSE failure after its deadline)."""

    register_id: str
    key: str
    open: bool = True
    written: bool = False


class Resume(Exception):
    """An idempotent finish/cancel was recorded but never carried out."""


class Idempotency:
    """The answers kept per register and key, in the journal."""

    def __init__(self, store: Store, mode: str) -> None:
        self._store = store
        self._mode = mode

    async def replay(
        self, reg: RegisterRef, key: str | None, fingerprint: str, *, resumable: bool = False
    ) -> TxOutcome | None:
        """The answer already given for ``key`` (None: a new request).

        Raises :class:`Resume` when an earlier finish/cancel with this key was recorded but
        never took effect (the unit died in between): the caller carries it out now.
        """
        if key is None:
            return None
        row = await self._store.get_idem(reg.register_id, key)
        if row is None:
            return None
        return await self.replay_row(reg, key, fingerprint, row, resumable=resumable)

    async def replay_row(
        self, reg: RegisterRef, key: str, fingerprint: str, row: IdemRow, *, resumable: bool = False
    ) -> TxOutcome:
        """:meth:`replay` for the key's row at hand (a journal write found the key taken)."""
        if row.fingerprint != fingerprint:
            raise ConflictError(
                f"Idempotency-Key {key!r} was used for a different request",
                hint="Use a new key for a new request; repeat a request with its own key.",
            )
        if row.response is not None:
            data = json.loads(row.response)
            return outcome_from_row(TxRow(**data), self._mode)
        if row.local_id is not None:  # the first request is still in flight, or was cut off
            for _ in range(100):
                tx = await self._store.get_tx(row.local_id)
                if tx is not None and resumable and tx.state in ("journaled", "active"):
                    raise Resume
                if tx is not None and tx.state not in ("finishing", "cancelling"):
                    await self.remember(reg, key, tx)  # from now on always this answer
                    return outcome_from_row(tx, self._mode)
                await asyncio.sleep(0.05)
        raise ConflictError(
            f"the request with Idempotency-Key {key!r} is still running", hint="Retry in a moment."
        )

    async def replay_or(
        self,
        reg: RegisterRef,
        key: str | None,
        fingerprint: str,
        error: TsedError,
        *,
        resumable: bool = False,
    ) -> TxOutcome:
        """The answer kept for ``key``, else ``error``: a request refused before its key was
        looked at (the transaction has ended meanwhile, say) still gets the first answer."""
        if key is None:
            raise error
        try:
            replay = await self.replay(reg, key, fingerprint, resumable=resumable)
        except Resume:
            raise error from None
        if replay is None:
            raise error
        return replay

    async def remember(self, reg: RegisterRef, key: str | None, row: TxRow) -> None:
        if key is not None:
            await self._store.set_idem_response(reg.register_id, key, answer_json(row))
