"""The signing service: what a register's call does, and why the till never blocks.

* Start answers as soon as the start is journaled (``pending: true``); the upstream start runs
  in the background and update/finish wait for it.
* Finish (and the one-call receipt) are journaled before they go upstream. If fiskaly cannot
  sign within the register's deadline, the answer says ``tse_failure`` with the text to print,
  the transaction joins the outage journal and is signed late once fiskaly answers again.
* After repeated failures the unit fails fast and probes in the background (:mod:`.breaker`).
* An ``Idempotency-Key`` returns the stored answer of the first request: never a second
  transaction, never a different answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from tsed.breaker import Breaker
from tsed.errors import ConflictError, InputError, NotFoundError, TsedError
from tsed.fiskaly import errors as ferr
from tsed.metrics import Metrics
from tsed.outcome import Failure, RegisterRef, TxOutcome, outcome_from_row, signed_result
from tsed.receipt import CANCELLATION, Receipt, failure_receipt_text
from tsed.store import IdemRow, Store, TxRow
from tsed.upstream import UpstreamRegistry

_LOGGER = logging.getLogger(__name__)
BACKGROUND_DEADLINE = 30.0


def _fingerprint(operation: str, local_id: str | None, receipt: Receipt | None) -> str:
    payload = json.dumps([operation, local_id, receipt.to_standard_v1() if receipt else None])
    return hashlib.sha256(payload.encode()).hexdigest()


def _failure_code(err: BaseException) -> tuple[str, str]:
    if isinstance(err, ferr.FiskalyTimeout | TimeoutError):
        return "TSE_TIMEOUT", "fiskaly did not answer within the register deadline"
    if isinstance(err, ferr.TssNotReady):
        return "TSE_NOT_READY", getattr(err, "message", str(err))
    if isinstance(err, ferr.FiskalyUnavailable):
        return "TSE_UNREACHABLE", getattr(err, "message", str(err))
    if isinstance(err, TsedError):
        return "TSE_REJECTED", err.message
    return "TSE_UNREACHABLE", type(err).__name__


class SigningService:
    def __init__(
        self,
        *,
        store: Store,
        upstreams: UpstreamRegistry,
        mode: str,
        backend: str,
        deadline: Callable[[RegisterRef], float] | float = 3.0,
        clock: Callable[[], float] = time.time,
        probe_interval: float = 2.0,
        abandon_after: float = 3600.0,
    ) -> None:
        self.store = store
        self.upstreams = upstreams
        self.mode = mode
        self.backend = backend
        self._deadline = deadline
        self._clock = clock
        self.abandon_after = abandon_after
        self.breaker = Breaker(
            probe=self._probe, on_recover=self._recover, probe_interval=probe_interval, clock=clock
        )
        self._starts: dict[str, asyncio.Task[None]] = {}
        self._rows: dict[str, TxRow] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._outage_id: int | None = None
        self._drain_lock = asyncio.Lock()
        self._housekeeper: asyncio.Task[None] | None = None
        self.metrics = Metrics()
        self.metrics.mode.labels(mode, backend).set(1)
        self.receipts_signed = 0
        self.failures = 0
        self.open_transactions = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Crash recovery: everything left open is finished, cancelled or signed late."""
        open_rows = await self.store.txs_in_states(
            ["journaled", "active", "finishing", "cancelling", "failed"]
        )
        self.open_transactions = sum(1 for r in open_rows if r.state in ("journaled", "active"))
        for outage in await self.store.outages():
            if outage.ended_at is None:
                self._outage_id = outage.id
        self._housekeeper = asyncio.create_task(self._housekeeping(), name="tsed-housekeeping")
        if open_rows:
            _LOGGER.info(
                "recovering %d open transaction(s) from the journal",
                len(open_rows),
                extra={"TSED_EVENT": "recovery_started"},
            )
            self._spawn(self._drain(), "tsed-recovery")

    async def stop(self, grace: float = 5.0) -> None:
        housekeeper, self._housekeeper = self._housekeeper, None
        if housekeeper is not None:
            housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeper
        await self.breaker.stop()
        tasks = list(self._background) + list(self._starts.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._background.clear()
        self._starts.clear()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def deadline_for(self, reg: RegisterRef) -> float:
        return self._deadline(reg) if callable(self._deadline) else self._deadline

    # -- idempotency ------------------------------------------------------------------------

    async def _replay(
        self, reg: RegisterRef, key: str | None, fingerprint: str
    ) -> TxOutcome | None:
        if key is None:
            return None
        row = await self.store.get_idem(reg.register_id, key)
        if row is None:
            return None
        if row.fingerprint != fingerprint:
            raise ConflictError(
                f"Idempotency-Key {key!r} was used for a different request",
                hint="Use a new key for a new request; repeat a request with its own key.",
            )
        if row.response is not None:
            data = json.loads(row.response)
            return outcome_from_row(TxRow(**data), self.mode)
        if row.local_id is not None:  # the first request is still in flight
            for _ in range(100):
                tx = await self.store.get_tx(row.local_id)
                if tx is not None and tx.state not in ("finishing", "cancelling"):
                    return outcome_from_row(tx, self.mode)
                await asyncio.sleep(0.05)
        raise ConflictError(
            f"the request with Idempotency-Key {key!r} is still running", hint="Retry in a moment."
        )

    async def _remember(self, reg: RegisterRef, key: str | None, row: TxRow) -> None:
        if key is not None:
            data = {f: getattr(row, f) for f in TxRow.__slots__}
            await self.store.set_idem_response(reg.register_id, key, json.dumps(data))

    # -- register calls ---------------------------------------------------------------------

    def _route(self, reg: RegisterRef) -> tuple[str, str]:
        binding = self.upstreams.binding(reg.tenant_id)
        if binding is None or binding.state != "INITIALIZED":
            raise ConflictError(
                f"the TSS of tenant {reg.tenant_id} is not set up",
                hint="Run the TSS set-up (tsectl tss setup) or the connection test.",
            )
        client = self.upstreams.register_client(reg.register_id, binding.tss_id)
        if client is None or client.state != "REGISTERED":
            raise ConflictError(
                "this register has no client on the current TSS",
                hint="Reset the register (tsectl reset --register ID) and pair it again.",
            )
        return binding.tss_id, client.client_id

    async def _journal(
        self,
        reg: RegisterRef,
        state: str,
        kind: str,
        receipt: Receipt | None,
        key: str | None,
        fingerprint: str,
    ) -> TxRow:
        tss_id, client_id = self._route(reg)
        now = self._clock()
        row = TxRow(
            id=str(uuid.uuid4()),
            register_id=reg.register_id,
            tenant_id=reg.tenant_id,
            env=self.mode,
            tss_id=tss_id,
            client_id=client_id,
            tx_id=str(uuid.uuid4()),
            state=state,
            revision=0,
            kind=kind,
            receipt=json.dumps(receipt.to_standard_v1()) if receipt else None,
            result=None,
            failure=None,
            created_at=now,
            updated_at=now,
        )
        idem = IdemRow(reg.register_id, key, fingerprint, row.id, None, now) if key else None
        await self.store.insert_tx(row, idem)
        self._rows[row.id] = row
        return row

    async def start_transaction(
        self, reg: RegisterRef, *, idempotency_key: str | None = None
    ) -> TxOutcome:
        fingerprint = _fingerprint("start", None, None)
        replay = await self._replay(reg, idempotency_key, fingerprint)
        if replay is not None:
            return replay
        row = await self._journal(
            reg, "journaled", "transaction", None, idempotency_key, fingerprint
        )
        self.open_transactions += 1
        self._starts[row.id] = asyncio.create_task(self._upstream_start(row), name="tsed-start")
        outcome = outcome_from_row(row, self.mode)
        await self._remember(reg, idempotency_key, row)
        return outcome

    async def _upstream_start(self, row: TxRow) -> None:
        if self.breaker.open:
            return  # handled at finish or by late signing
        client = self.upstreams.client(row.tenant_id)
        try:
            await client.start_transaction(
                row.tss_id,
                row.tx_id,
                row.client_id,
                deadline=time.monotonic() + BACKGROUND_DEADLINE,
            )
        except ferr.FiskalyError as err:
            self.breaker.failure(_failure_code(err)[1])
            return
        self.breaker.success()
        self._rows[row.id] = row = self._replace(row, state="active", revision=1)
        await self.store.update_tx(
            row.id, ["journaled"], state="active", revision=1, updated_at=self._clock()
        )

    def _replace(self, row: TxRow, **changes: Any) -> TxRow:
        data = {f: getattr(row, f) for f in TxRow.__slots__}
        data.update(changes)
        return TxRow(**data)

    async def _owned(self, reg: RegisterRef, local_id: str) -> TxRow:
        row = self._rows.get(local_id) or await self.store.get_tx(local_id)
        if row is None or row.register_id != reg.register_id:
            raise NotFoundError(f"transaction {local_id} does not exist for this register")
        return row

    async def get_transaction(self, reg: RegisterRef, local_id: str) -> TxOutcome:
        row = await self._owned(reg, local_id)
        stored = await self.store.get_tx(local_id) or row
        return outcome_from_row(stored, self.mode)

    async def update_transaction(
        self,
        reg: RegisterRef,
        local_id: str,
        receipt: Receipt,
        *,
        idempotency_key: str | None = None,
    ) -> TxOutcome:
        row = await self._owned(reg, local_id)
        if row.state not in ("journaled", "active"):
            raise ConflictError(f"transaction {local_id} is {row.state}; it cannot change now")
        await self.store.update_tx(
            local_id,
            ["journaled", "active"],
            receipt=json.dumps(receipt.to_standard_v1()),
            updated_at=self._clock(),
        )
        self._rows[local_id] = self._replace(row, receipt=json.dumps(receipt.to_standard_v1()))
        return outcome_from_row(self._rows[local_id], self.mode)

    async def finish_transaction(
        self,
        reg: RegisterRef,
        local_id: str,
        receipt: Receipt,
        *,
        idempotency_key: str | None = None,
    ) -> TxOutcome:
        return await self._end(reg, local_id, receipt, "finishing", idempotency_key)

    async def cancel_transaction(
        self,
        reg: RegisterRef,
        local_id: str,
        receipt: Receipt | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> TxOutcome:
        return await self._end(
            reg, local_id, receipt or CANCELLATION, "cancelling", idempotency_key
        )

    async def _end(
        self, reg: RegisterRef, local_id: str, receipt: Receipt, state: str, key: str | None
    ) -> TxOutcome:
        fingerprint = _fingerprint(state, local_id, receipt)
        replay = await self._replay(reg, key, fingerprint)
        if replay is not None:
            return replay
        started = time.monotonic()
        row = await self._owned(reg, local_id)
        if row.state not in ("journaled", "active"):
            raise ConflictError(
                f"transaction {local_id} is already {row.state}",
                hint="Read it with GET /api/v1/transactions/{id}; start a new one for a new sale.",
            )
        if key is not None:
            await self.store.put_idem(
                IdemRow(reg.register_id, key, fingerprint, local_id, None, self._clock())
            )
        body = json.dumps(receipt.to_standard_v1())
        if not await self.store.update_tx(
            local_id, ["journaled", "active"], state=state, receipt=body, updated_at=self._clock()
        ):
            raise ConflictError(f"transaction {local_id} changed meanwhile; read it again")
        self.open_transactions = max(0, self.open_transactions - 1)
        row = self._replace(self._rows.get(local_id, row), state=state, receipt=body)
        self._rows[local_id] = row
        start_task = self._starts.pop(local_id, None)
        row = await self._sign_within_deadline(reg, row, started, start_task)
        await self._remember(reg, key, row)
        self._observe(row, started)
        return outcome_from_row(row, self.mode)

    def _observe(self, row: TxRow, started: float) -> None:
        self.metrics.latency.observe(time.monotonic() - started)
        self.metrics.receipts.labels("failed" if row.state == "failed" else "signed").inc()
        self.metrics.open_transactions.set(self.open_transactions)
        self.metrics.tse_available.set(1 if self.breaker.available else 0)

    async def sign_receipt(
        self, reg: RegisterRef, receipt: Receipt, *, idempotency_key: str | None = None
    ) -> TxOutcome:
        fingerprint = _fingerprint("receipt", None, receipt)
        replay = await self._replay(reg, idempotency_key, fingerprint)
        if replay is not None:
            return replay
        started = time.monotonic()
        row = await self._journal(
            reg, "finishing", "receipt", receipt, idempotency_key, fingerprint
        )
        row = await self._sign_within_deadline(reg, row, started, None)
        await self._remember(reg, idempotency_key, row)
        self._observe(row, started)
        return outcome_from_row(row, self.mode)

    # -- signing ----------------------------------------------------------------------------

    async def _sign_within_deadline(
        self, reg: RegisterRef, row: TxRow, started: float, start_task: asyncio.Task[None] | None
    ) -> TxRow:
        deadline = started + self.deadline_for(reg)
        if self.breaker.open:
            return await self._fail(
                row, "TSE_FAIL_FAST", self.breaker.reason or "TSE unavailable", start_task
            )
        # The upstream work is not bound by the register's deadline: when the register's
        # answer has to go out first, the same work goes on and signs the transaction late.
        background = time.monotonic() + BACKGROUND_DEADLINE
        work = asyncio.ensure_future(self._complete(row, start_task, background))
        try:
            return await asyncio.wait_for(
                asyncio.shield(work), max(0.0, deadline - time.monotonic())
            )
        except TimeoutError:
            code, reason = "TSE_TIMEOUT", "fiskaly did not answer within the register deadline"
            self.breaker.failure(reason)
        except ferr.FiskalyError as err:
            code, reason = _failure_code(err)
            if not isinstance(err, ferr.TssUnusable | ferr.EnvironmentMismatch):
                self.breaker.failure(reason)
            if isinstance(err, ferr.TssUnusable) and err.fiskaly_code == "E_TSS_DELETED":
                self._spawn(self._recreate(row.tenant_id), "tsed-tss-recreate")
        self._background.add(work)
        work.add_done_callback(self._background.discard)
        work.add_done_callback(lambda t: self._after_background(t, row.id))
        return await self._fail(row, code, reason, None)

    def _after_background(self, task: asyncio.Task[TxRow], local_id: str) -> None:
        if task.cancelled() or task.exception() is None:
            return
        if not self.breaker.open:
            self._spawn(self._retry_later(local_id), "tsed-retry")

    async def _retry_later(self, local_id: str, attempts: int = 8) -> None:
        """Sign a failed transaction late with backoff (the drain takes over after outages)."""
        delay = 1.0
        for _ in range(attempts):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            if self.breaker.open:
                return
            row = await self.store.get_tx(local_id)
            if row is None or row.state != "failed":
                return
            try:
                await self._complete(
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

    async def _complete(
        self,
        row: TxRow,
        start_task: asyncio.Task[None] | None,
        deadline: float | None,
        metadata: dict[str, str] | None = None,
    ) -> TxRow:
        """Drive the transaction to its signed end at fiskaly (idempotent; resumable)."""
        client = self.upstreams.client(row.tenant_id)
        if start_task is not None:
            with contextlib.suppress(Exception):
                await start_task
            row = self._rows.get(row.id, row)
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
                    return await self._signed(row, current)
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
        self.breaker.success()
        return await self._signed(row, tx)

    async def _signed(self, row: TxRow, tx: Any) -> TxRow:
        result = json.dumps(signed_result(tx).to_json())
        final = "cancelled" if tx.state == "CANCELLED" else "finished"
        live = self._rows.get(row.id)
        late = 1 if row.failure or (live is not None and live.failure) else 0
        await self.store.update_tx(
            row.id,
            None,
            state=final,
            result=result,
            signed_late=late,
            revision=tx.revision,
            updated_at=self._clock(),
        )
        self._rows.pop(row.id, None)
        self.receipts_signed += 1
        if late:
            self.metrics.signed_late.inc()
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
        return self._replace(
            row, state=final, result=result, signed_late=late, revision=tx.revision
        )

    async def _fail(
        self, row: TxRow, code: str, reason: str, start_task: asyncio.Task[None] | None
    ) -> TxRow:
        now = self._clock()
        if self._outage_id is None:
            self._outage_id = await self.store.open_outage(reason, now)
            _LOGGER.warning("outage opened: %s", reason, extra={"TSED_EVENT": "outage_opened"})
        failure = Failure(code, reason, failure_receipt_text(code, reason, now), now)
        data = json.dumps(
            {"code": code, "reason": reason, "receipt_text": failure.receipt_text, "at": now}
        )
        kind = "cancel" if row.state == "cancelling" else row.kind
        failed_now = await self.store.update_tx(
            row.id,
            ["journaled", "active", "finishing", "cancelling"],
            state="failed",
            failure=data,
            kind=kind,
            outage_id=self._outage_id,
            updated_at=now,
        )
        if not failed_now:  # signed meanwhile: the register gets the signature after all
            stored = await self.store.get_tx(row.id)
            if stored is not None:
                return stored
        self.failures += 1
        self.metrics.failures.labels(code).inc()
        _LOGGER.warning(
            "TSE failure for transaction %s: %s",
            row.id,
            reason,
            extra={
                "TSED_EVENT": "tse_failure",
                "TSED_TX": row.id,
                "TSED_REGISTER": row.register_id,
                "TSED_TSS": row.tss_id,
                "TSED_MODE": self.mode,
                "TSED_CODE": code,
            },
        )
        failed = self._replace(
            row, state="failed", failure=data, kind=kind, outage_id=self._outage_id
        )
        self._rows[row.id] = failed
        return failed

    # -- background: probe, recovery, late signing ------------------------------------------

    async def _probe(self) -> None:
        for tenant_id, binding in self.upstreams.all_bindings().items():
            await self.upstreams.client(tenant_id).get_tss(binding.tss_id)
            return

    async def _housekeeping(self) -> None:
        """Now and then: cancel abandoned transactions, sign what is still open."""
        interval = max(0.5, min(30.0, self.abandon_after / 2))
        while True:
            await asyncio.sleep(interval)
            if self.breaker.open or self._drain_lock.locked():
                continue
            try:
                await self._drain()
            except TsedError as err:
                _LOGGER.warning("housekeeping failed: %s", err.message)

    async def _recover(self) -> None:
        self._spawn(self._drain(), "tsed-late-signing")

    async def _recreate(self, tenant_id: str) -> None:
        try:
            await self.upstreams.recreate_after_deletion(tenant_id)
        except TsedError as err:
            _LOGGER.error("re-creating the TSS failed: %s", err.message)

    async def _drain(self) -> None:
        """Finish, cancel or late-sign every open row in the journal (oldest first)."""
        async with self._drain_lock:
            rows = await self.store.txs_in_states(
                ["journaled", "active", "finishing", "cancelling", "failed"]
            )
            done = 0
            for row in rows:
                if self.breaker.open:
                    return
                if row.state in ("journaled", "active") and row.id in self._starts:
                    continue  # a register is still working on it
                if row.state in ("journaled", "active"):
                    if self._clock() - row.created_at < self.abandon_after:
                        continue
                    row = self._replace(
                        row, state="cancelling", receipt=json.dumps(CANCELLATION.to_standard_v1())
                    )
                    await self.store.update_tx(
                        row.id, None, state="cancelling", receipt=row.receipt
                    )
                metadata = self._late_metadata(row)
                try:
                    await self._complete(
                        row, None, time.monotonic() + BACKGROUND_DEADLINE, metadata
                    )
                    done += 1
                except ferr.FiskalyError as err:
                    _LOGGER.warning("background completion of %s failed: %s", row.id, err.message)
                    if isinstance(err, ferr.FiskalyUnavailable):
                        self.breaker.failure(err.message)
                        return
            await self._close_outage_if_done()
            if done:
                _LOGGER.info(
                    "%d transaction(s) completed in the background",
                    done,
                    extra={"TSED_EVENT": "tx_recovered"},
                )

    async def _close_outage_if_done(self) -> None:
        if self._outage_id is None or await self.store.txs_in_states(["failed"]):
            return
        await self.store.close_outage(self._outage_id, self._clock())
        _LOGGER.info("outage %s closed", self._outage_id, extra={"TSED_EVENT": "outage_closed"})
        self._outage_id = None

    def status(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "backend": self.backend,
            "tse": {
                "available": self.breaker.available,
                "since": self.breaker.failing_since,
                "reason": self.breaker.reason,
            },
            "open_transactions": self.open_transactions,
            "receipts_signed": self.receipts_signed,
            "failures": self.failures,
            "notices": list(self.upstreams.notices),
        }


__all__ = ["InputError", "RegisterRef", "SigningService", "TxOutcome"]
