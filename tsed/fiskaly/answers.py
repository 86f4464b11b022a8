"""What fiskaly's answers say beyond their status: a TSS's environment, a pending signature.

fiskaly answers a TEST TSS used with a LIVE token (or the other way round) with 403
``E_ACCESS_DENIED``; its message differs between the published contract ("You may not access
this resource") and what units in the field saw ("You may not access this TSS"). The client
therefore never reads the message: it remembers the ``_env`` of every TSS it has seen (or was
told by the unit's stored binding) and compares it with the token's environment.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tsed.fiskaly import errors as err
from tsed.fiskaly.models import Transaction

_LOGGER = logging.getLogger(__name__)
PENDING_POLL = (0.05, 0.5)  # first and longest pause between reads of a pending transaction

_TSS_PATH = re.compile(r"/tss/([0-9a-fA-F-]{36})")
_ENVS = ("TEST", "LIVE")


class TssEnvironments:
    """TSS id → ``_env``, learnt from fiskaly's answers and from the caller."""

    def __init__(self) -> None:
        self._env: dict[str, str] = {}

    def get(self, tss_id: str) -> str | None:
        return self._env.get(tss_id.lower())

    def note(self, tss_id: str, env: str) -> None:
        if env in _ENVS:
            self._env[tss_id.lower()] = env

    def learn(self, path: str, data: Any) -> None:
        """Remember the environment of the TSS behind an answer (a TSS, a list of them, or a
        client/transaction/export naming its ``tss_id``)."""
        rows = data.get("data") if isinstance(data, dict) and path == "/tss" else [data]
        for row in rows if isinstance(rows, list) else []:
            if not isinstance(row, dict) or row.get("_env") not in _ENVS:
                continue
            if row.get("_type") == "TSS" and isinstance(row.get("_id"), str):
                self.note(row["_id"], row["_env"])
            elif isinstance(row.get("tss_id"), str):
                self.note(row["tss_id"], row["_env"])

    def access_denied(
        self, failure: err.AccessDenied, path: str, token_env: str | None
    ) -> err.AccessDenied:
        """``failure`` as :class:`EnvironmentMismatch` when the token's environment differs
        from the environment of the TSS in ``path``; otherwise unchanged."""
        match = _TSS_PATH.match(path)
        tss_env = self.get(match.group(1)) if match else None
        if tss_env is None or token_env is None or tss_env == token_env:
            return failure
        return err.EnvironmentMismatch(
            f"{failure.message} (the TSS is a {tss_env} TSS, the credentials are {token_env})",
            fiskaly_status=failure.fiskaly_status,
            fiskaly_code=failure.fiskaly_code,
            fiskaly_message=failure.fiskaly_message,
            details={**failure.details, "tss_env": tss_env, "token_env": token_env},
        )


async def until_signed(
    tx: Transaction,
    read: Callable[[Transaction], Awaitable[Transaction]],
    give_up: float,
) -> Transaction:
    """Read a pending transaction (the contract's ``MiddlewarePendingTxResponse``: no
    signature, no ``log.timestamp``) again with growing pauses until fiskaly has signed it.
    Past ``give_up`` (a ``time.monotonic()`` instant) it raises :class:`FiskalyBusy`, which
    the unit treats like any other outage (the receipt goes the TSE-failure way)."""
    pause, longest = PENDING_POLL
    while tx.pending:
        if time.monotonic() + pause >= give_up:
            raise err.FiskalyBusy(
                f"transaction {tx.id} revision {tx.revision}: fiskaly has not signed it yet"
            )
        _LOGGER.debug(
            "transaction %s pending at fiskaly; reading it again in %.2f s", tx.id, pause,
            extra={"TSED_EVENT": "fiskaly_tx_pending", "TSED_TX": tx.id},
        )  # fmt: skip
        await asyncio.sleep(pause)
        pause = min(longest, pause * 2)
        tx = await read(tx)
    return tx
