"""Driving transactions to their signed end at fiskaly, in the foreground and behind it.

What the signing service (:mod:`tsed.signing.service`) hands a transaction to once it is
journaled: completing it (idempotently, resuming from fiskaly's state), recording TSE failures
in the outage journal, signing late with backoff, the housekeeping that cancels abandoned
transactions, and the drain that runs when fiskaly answers again after an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tsed.errors import TsedError
from tsed.fiskaly import errors as ferr
from tsed.signing.breaker import Breaker
from tsed.signing.idempotency import Answer, answer_json
from tsed.signing.inflight import InFlight
from tsed.signing.metrics import Metrics
from tsed.signing.outcome import Failure, signed_result
from tsed.signing.receipt import CANCELLATION, failure_receipt_text
from tsed.signing.tasks import Background
from tsed.state.rows import TxRow
from tsed.state.store import Store
from tsed.tss.registry import ClientInMaking, UpstreamRegistry

_LOGGER = logging.getLogger(__name__)
BACKGROUND_DEADLINE = 30.0
RETRY_AFTER_CAP = 300.0  # the longest fiskaly's Retry-After keeps a transaction waiting


def failure_code(err: BaseException) -> tuple[str, str]:
    """The register-facing failure code and reason for an error on the way to fiskaly."""
    if isinstance(err, ferr.FiskalyTimeout | TimeoutError):
        return "TSE_TIMEOUT", "fiskaly did not answer within the register deadline"
    if isinstance(err, ferr.TssNotReady):
        return "TSE_NOT_READY", getattr(err, "message", str(err))
    if isinstance(err, ferr.FiskalyUnavailable):
        return "TSE_UNREACHABLE", getattr(err, "message", str(err))
    if isinstance(err, TsedError):
        return "TSE_REJECTED", err.message
    return "TSE_UNREACHABLE", type(err).__name__


class Completion:
    """Everything behind the register's call: the signing service holds one and hands it the
    transactions it journaled; recovery, late signing and housekeeping run here alone."""

    def __init__(
        self,
        *,
        store: Store,
        upstreams: UpstreamRegistry,
        mode: str,
        breaker: Breaker,
        metrics: Metrics,
        background: Background,
        inflight: InFlight,
        clock: Callable[[], float],
        abandon_after: float,
    ) -> None:
        self._store = store
        self._upstreams = upstreams
        self._mode = mode
        self._breaker = breaker
        self._metrics = metrics
        self._background = background
        self._inflight = inflight
        self._clock = clock
        self.abandon_after = abandon_after  # seconds an open transaction waits for its register
        self.abandoned = 0  # abandoned transactions cancelled so far (tsed.signing.sweep)
        self.receipts_signed = 0
        self.failures = 0
        self._working: dict[str, int] = {}  # transaction → completions of it on their way
        self._not_before: dict[str, float] = {}  # transaction → monotonic end of Retry-After
        self._outage_id: int | None = None
        self._drain_lock = asyncio.Lock()
        self._outage_lock = asyncio.Lock()
        self._housekeeper: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, *, recover: bool) -> None:
        """Pick up the open outage and start the housekeeping; ``recover``: drain the journal
        now (a run before this one left transactions open)."""
        for outage in await self._store.outages():
            if outage.ended_at is None:
                self._outage_id = outage.id
        self._housekeeper = asyncio.create_task(self._housekeeping(), name="tsed-housekeeping")
        if recover:
            self._background.spawn(self.drain(), "tsed-recovery")

    async def stop(self) -> None:
        housekeeper, self._housekeeper = self._housekeeper, None
        if housekeeper is not None:
            housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeper

    # -- completing -------------------------------------------------------------------------

    def after_background(self, task: asyncio.Task[TxRow], local_id: str) -> None:
        if task.cancelled() or self._background.stopping:
            return
        if task.exception() is None:  # signed late by the work the register stopped waiting for
            if self._outage_id is not None:
                self._background.spawn(self._close_outage_if_done(), "tsed-outage-close")
            return
        if not self._breaker.open:
            self._background.spawn(self._retry_later(local_id), "tsed-retry")

    def _busy(self, local_id: str) -> bool:
        """Whether the transaction is left alone for now: a completion of it is on its way
        (the register's own work may be waiting out a ``Retry-After``), or fiskaly's last
        answer for it asked to wait and that time has not passed."""
        if self._working.get(local_id):
            return True
        not_before = self._not_before.get(local_id)
        if not_before is None:
            return False
        if time.monotonic() >= not_before:
            del self._not_before[local_id]
            return False
        return True

    async def _retry_later(self, local_id: str, attempts: int = 8) -> None:
        """Sign a failed transaction late with backoff (the drain takes over after outages)."""
        delay = 1.0
        for _ in range(attempts):
            wait = self._not_before.get(local_id, 0.0) - time.monotonic()
            await asyncio.sleep(max(delay, wait))
            delay = min(delay * 2, 30.0)
            if self._breaker.open:
                return
            if self._busy(local_id):  # another flow has it (the drain): not a second call
                continue
            row = await self._store.get_tx(local_id)
            if row is None or row.state != "failed":
                return
            try:
                await self.complete(
                    row, None, time.monotonic() + BACKGROUND_DEADLINE, self._late_metadata(row)
                )
            except ferr.FiskalyError as err:
                _LOGGER.info("late signing of %s failed: %s", local_id, err.message)
                continue
            await self._close_outage_if_done()
            return

    @staticmethod
    def _late_metadata(row: TxRow) -> dict[str, str] | None:
        if not row.failure:
            return None
        reason = str(json.loads(row.failure)["reason"])[:480]
        return {"tsed_signed_late": "true", "tsed_outage_reason": reason}

    async def complete(
        self,
        row: TxRow,
        start_task: asyncio.Task[None] | None,
        deadline: float | None,
        metadata: dict[str, str] | None = None,
        answer: Answer | None = None,
    ) -> TxRow:
        """Drive the transaction to its signed end at fiskaly (idempotent; resumable).

        While it runs the transaction counts as busy: the drain and late signing leave it
        alone, so one transaction never has two flows at fiskaly (a second one would ask
        again before the ``Retry-After`` the first is waiting out). A ``429`` that ends it
        keeps the transaction busy until its ``Retry-After`` has passed.
        """
        self._working[row.id] = self._working.get(row.id, 0) + 1
        try:
            return await self._complete_once(row, start_task, deadline, metadata, answer)
        except ferr.FiskalyRateLimited as err:
            wait = err.retry_after if err.retry_after is not None else 1.0
            self._not_before[row.id] = time.monotonic() + min(wait, RETRY_AFTER_CAP)
            raise
        finally:
            left = self._working.pop(row.id) - 1
            if left:
                self._working[row.id] = left

    async def _complete_once(
        self,
        row: TxRow,
        start_task: asyncio.Task[None] | None,
        deadline: float | None,
        metadata: dict[str, str] | None,
        answer: Answer | None,
    ) -> TxRow:
        client = self._upstreams.client(row.tenant_id)
        if start_task is not None:
            with contextlib.suppress(Exception):
                await start_task
            row = self._inflight.rows.get(row.id, row)
        revision = row.revision
        if revision == 0:
            try:
                await client.start_transaction(
                    row.tss_id, row.tx_id, row.client_id, deadline=deadline
                )
                revision = 1
            except ferr.RevisionConflict:
                current = await client.get_transaction(row.tss_id, row.tx_id, deadline=deadline)
                if current.ended:
                    return await self._signed(row, current, answer)
                revision = current.latest_revision
        receipt = json.loads(row.receipt or "null") or CANCELLATION.to_standard_v1()
        try:
            if row.state in ("cancelling",) or (row.state == "failed" and row.kind == "cancel"):
                tx = await client.cancel_transaction(
                    row.tss_id,
                    row.tx_id,
                    revision + 1,
                    row.client_id,
                    receipt,
                    metadata=metadata,
                    deadline=deadline,
                )
            else:
                tx = await client.finish_transaction(
                    row.tss_id,
                    row.tx_id,
                    revision + 1,
                    row.client_id,
                    receipt,
                    metadata=metadata,
                    deadline=deadline,
                )
        except ferr.RevisionConflict:
            tx = await client.get_transaction(row.tss_id, row.tx_id, deadline=deadline)
            if not tx.ended:
                raise
        self._breaker.success()
        return await self._signed(row, tx, answer)

    async def _signed(self, row: TxRow, tx: Any, answer: Answer | None = None) -> TxRow:
        result = json.dumps(signed_result(tx).to_json())
        final = "cancelled" if tx.state == "CANCELLED" else "finished"
        live = self._inflight.rows.get(row.id)
        late = 1 if row.failure or (live is not None and live.failure) else 0
        signed = replace(row, state=final, result=result, signed_late=late, revision=tx.revision)
        keep = None
        if answer is not None and answer.open:  # decided now, before the write is queued
            keep = (answer.register_id, answer.key, answer_json(signed))
            answer.written = True
        # One rule on every path: once a register was answered with a TSE failure, the
        # signature is late. The journal decides at the commit (the failure may be written
        # by the register's call while this signature is on its way).
        await self._store.update_tx(
            row.id,
            None,
            answer=keep,
            late_if_failed=True,
            state=final,
            result=result,
            signed_late=late,
            revision=tx.revision,
            updated_at=self._clock(),
        )
        self._inflight.rows.pop(row.id, None)
        self._inflight.ended(row.id)
        self._not_before.pop(row.id, None)
        self.receipts_signed += 1
        if late:
            self._metrics.signed_late.inc()
        if late:
            _LOGGER.info(
                "transaction %s signed late (TSE number %s)",
                row.id,
                tx.number,
                extra={
                    "TSED_EVENT": "signed_late",
                    "TSED_TX": row.id,
                    "TSED_REGISTER": row.register_id,
                },
            )
        return signed

    async def fail(
        self, row: TxRow, code: str, reason: str, start_task: asyncio.Task[None] | None
    ) -> TxRow:
        now = self._clock()
        if self._outage_id is None:
            async with self._outage_lock:  # concurrent failures open one outage, not several
                if self._outage_id is None:
                    self._outage_id = await self._store.open_outage(reason, now)
                    _LOGGER.warning(
                        "outage opened: %s", reason, extra={"TSED_EVENT": "outage_opened"}
                    )
        failure = Failure(code, reason, failure_receipt_text(code, reason, now), now)
        data = json.dumps(
            {"code": code, "reason": reason, "receipt_text": failure.receipt_text, "at": now}
        )
        kind = "cancel" if row.state == "cancelling" else row.kind
        failed_now = await self._store.update_tx(
            row.id,
            ["journaled", "active", "finishing", "cancelling"],
            state="failed",
            failure=data,
            kind=kind,
            outage_id=self._outage_id,
            updated_at=now,
        )
        if not failed_now:  # signed meanwhile: the register gets the signature after all
            stored = await self._store.get_tx(row.id)
            if stored is not None:
                return stored
        self.failures += 1
        self._metrics.failures.labels(code).inc()
        _LOGGER.warning(
            "TSE failure for transaction %s: %s",
            row.id,
            reason,
            extra={
                "TSED_EVENT": "tse_failure",
                "TSED_TX": row.id,
                "TSED_REGISTER": row.register_id,
                "TSED_TSS": row.tss_id,
                "TSED_MODE": self._mode,
                "TSED_CODE": code,
            },
        )
        failed = replace(row, state="failed", failure=data, kind=kind, outage_id=self._outage_id)
        self._inflight.rows[row.id] = failed
        return failed

    def in_making(self, row: TxRow) -> ClientInMaking | None:
        making = self._upstreams.client_in_making(row.register_id, row.tenant_id)
        return making if making is not None and making.client_id == row.client_id else None

    async def fail_while_made(self, row: TxRow, making: ClientInMaking) -> TxRow:
        """The register's client is still being created (a new TSS): a TSE failure now,
        signed late once the client exists."""
        failed = await self.fail(
            row, "TSE_NOT_READY", "the unit is setting up this register's client on the TSS", None
        )
        self._background.spawn(self._sign_once_made(row.id, making.done), "tsed-retry")
        return failed

    async def _sign_once_made(self, local_id: str, done: asyncio.Event) -> None:
        await done.wait()
        await self._retry_later(local_id)

    # -- background: recovery, late signing, housekeeping ------------------------------------

    async def _housekeeping(self) -> None:
        """Now and then: cancel abandoned transactions, sign what is still open."""
        interval = max(0.5, min(30.0, self.abandon_after / 2))
        while True:
            await asyncio.sleep(interval)
            if self._breaker.open or self._drain_lock.locked():
                continue
            try:
                await self.drain()
            except TsedError as err:
                _LOGGER.warning("housekeeping failed: %s", err.message)

    async def recreate(self, tenant_id: str) -> None:
        try:
            await self._upstreams.recreate_after_deletion(tenant_id)
        except TsedError as err:
            _LOGGER.error("re-creating the TSS failed: %s", err.message)

    async def reregister(self, row: TxRow) -> None:
        try:
            await self._upstreams.reregister(row.register_id, row.tenant_id, row.tss_id)
        except TsedError as err:
            _LOGGER.error(
                "registering the fiskaly client of register %s again failed: %s",
                row.register_id, err.message,
                extra={"TSED_EVENT": "client_reregister_failed", "TSED_REGISTER": row.register_id},
            )  # fmt: skip
        else:
            self._background.spawn(self.drain(), "tsed-drain-after-reregister")

    async def drain(self) -> None:
        """Finish, cancel or late-sign every open row in the journal (oldest first)."""
        async with self._drain_lock:
            await self.journal_activated()
            rows = await self._store.txs_in_states(
                ["journaled", "active", "finishing", "cancelling", "failed"]
            )
            done = 0
            for row in rows:
                if self._breaker.open:
                    return
                if self._busy(row.id):  # its own flow is still on it, or fiskaly said wait
                    continue
                if row.state in ("journaled", "active"):
                    if self._inflight.age(row) < self.abandon_after:
                        continue  # a register may still finish it
                    row = replace(
                        row, state="cancelling", receipt=json.dumps(CANCELLATION.to_standard_v1())
                    )
                    # Abandoned: only if no register call moved it on meanwhile.
                    if not await self._store.update_tx(
                        row.id, ["journaled", "active"], state="cancelling", receipt=row.receipt
                    ):
                        continue
                    self.abandoned += 1
                    start = self._inflight.starts.pop(row.id, None)
                    if start is not None:
                        with contextlib.suppress(Exception):
                            await start
                        row = replace(row, revision=self._inflight.rows.get(row.id, row).revision)
                    self._inflight.rows[row.id] = row
                metadata = self._late_metadata(row)
                try:
                    await self.complete(row, None, time.monotonic() + BACKGROUND_DEADLINE, metadata)
                    done += 1
                except ferr.FiskalyError as err:
                    _LOGGER.warning("background completion of %s failed: %s", row.id, err.message)
                    if isinstance(err, ferr.FiskalyUnavailable):
                        self._breaker.failure(err.message)
                        return
            await self._close_outage_if_done()
            if done:
                _LOGGER.info(
                    "%d transaction(s) completed in the background",
                    done,
                    extra={"TSED_EVENT": "tx_recovered"},
                )

    async def journal_activated(self) -> None:
        """Journal the transactions started at fiskaly since the last time as ``active`` (one
        commit for all of them; those that moved on meanwhile keep their state)."""
        if self._inflight.activated:
            ids, self._inflight.activated = self._inflight.activated, set()
            await self._store.activate(ids, self._clock())

    async def _close_outage_if_done(self) -> None:
        async with self._outage_lock:
            outage_id = self._outage_id
            if outage_id is None or await self._store.txs_in_states(["failed"]):
                return
            await self._store.close_outage(outage_id, self._clock())
            self._outage_id = None
        _LOGGER.info("outage %s closed", outage_id, extra={"TSED_EVENT": "outage_closed"})
