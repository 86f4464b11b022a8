"""The signing service: what a register's call does, and why the till never blocks.

* Start answers as soon as the start is journaled (``pending: true``); the upstream start runs
  in the background and update/finish wait for it.
* Finish (and the one-call receipt) are journaled before they go upstream. If fiskaly cannot
  sign within the register's deadline, the answer says ``tse_failure`` with the text to print,
  the transaction joins the outage journal and is signed late once fiskaly answers again.
* After repeated failures the unit fails fast and probes in the background (:mod:`.breaker`).
* An ``Idempotency-Key`` returns the stored answer of the first request: never a second
  transaction, never a different answer (:mod:`.idempotency`).

What happens at fiskaly after journaling (completion, late signing, recovery, housekeeping) is
:mod:`.completion`; the service holds one :class:`~tsed.signing.completion.Completion` and
shares with it, explicitly, the store, the upstreams, the breaker, the metrics, the background
tasks and the in-flight rows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tsed.errors import ConflictError, InputError, ModeMismatch, NotFoundError, TsedError
from tsed.fiskaly import errors as ferr
from tsed.signing.breaker import Breaker
from tsed.signing.completion import BACKGROUND_DEADLINE, Completion, failure_code
from tsed.signing.idempotency import Answer, Idempotency, Resume, answer_json, request_fingerprint
from tsed.signing.inflight import InFlight
from tsed.signing.metrics import Metrics
from tsed.signing.opencap import OpenCap
from tsed.signing.operations import SigningOperations
from tsed.signing.outcome import RegisterRef, TxOutcome, outcome_from_row
from tsed.signing.receipt import ABORT_TYPES, CANCELLATION, Receipt
from tsed.signing.status import SigningStatus, TseStatus
from tsed.signing.tasks import Background
from tsed.state.journal import Claim
from tsed.state.rows import IdemRow, TxRow
from tsed.state.store import Store
from tsed.tss.registry import UpstreamRegistry

_LOGGER = logging.getLogger(__name__)
OPEN_STATES = ["journaled", "active", "finishing", "cancelling", "failed"]


class SigningService:
    """The register's calls (:class:`~tsed.signing.operations.SigningOperations`)."""

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
        max_open: Callable[[], int] | int = 100,
    ) -> None:
        self.open_cap = OpenCap(max_open)
        self.store = store
        self.upstreams = upstreams
        self.mode = mode
        self.backend = backend
        self._deadline = deadline
        self._clock = clock
        self.breaker = Breaker(
            probe=self._probe,
            on_recover=self._recovered,
            probe_interval=probe_interval,
            clock=clock,
        )
        self.metrics = Metrics()
        self.metrics.mode.labels(mode, backend).set(1)
        self.background = Background()
        self.inflight = InFlight(clock)
        self.idempotency = Idempotency(store, mode)
        self.completion = Completion(
            store=store,
            upstreams=upstreams,
            mode=mode,
            breaker=self.breaker,
            metrics=self.metrics,
            background=self.background,
            inflight=self.inflight,
            clock=clock,
            abandon_after=abandon_after,
        )
        self.open_transactions = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Crash recovery: everything left open is finished, cancelled or signed late."""
        open_rows = await self.store.txs_in_states(OPEN_STATES)
        self.open_transactions = sum(1 for r in open_rows if r.state in ("journaled", "active"))
        for row in open_rows:
            if row.state in ("journaled", "active"):
                self.inflight.note_born(row)
        if open_rows:
            _LOGGER.info(
                "recovering %d open transaction(s) from the journal",
                len(open_rows),
                extra={"TSED_EVENT": "recovery_started"},
            )
        await self.completion.start(recover=bool(open_rows))

    async def stop(self, grace: float = 5.0) -> None:
        await self.completion.stop()
        await self.breaker.stop()
        # Late signing waiting out a backoff is cancelled at once: the journal keeps it.
        await self.background.stop(grace, cancel="tsed-retry", also=self.inflight.starts.values)
        self.inflight.starts.clear()
        try:
            await self.completion.journal_activated()
        except TsedError as err:  # recovery reads the revision from fiskaly instead
            _LOGGER.warning("marking started transactions active failed: %s", err.message)

    async def _probe(self) -> None:
        for tenant_id, binding in self.upstreams.all_bindings().items():
            await self.upstreams.client(tenant_id).get_tss(binding.tss_id)
            return

    async def _recovered(self) -> None:
        self.background.spawn(self.completion.drain(), "tsed-late-signing")

    def deadline_for(self, reg: RegisterRef) -> float:
        return self._deadline(reg) if callable(self._deadline) else self._deadline

    def status(self) -> dict[str, Any]:
        return self.status_view().to_json()

    def status_view(self) -> SigningStatus:
        tse = TseStatus(self.breaker.available, self.breaker.failing_since, self.breaker.reason)
        return SigningStatus(
            mode=self.mode,
            backend=self.backend,
            tse=tse,
            open_transactions=self.open_transactions,
            receipts_signed=self.completion.receipts_signed,
            failures=self.completion.failures,
            notices=tuple(self.upstreams.notices),
        )

    # -- register calls ---------------------------------------------------------------------

    def _route(self, reg: RegisterRef) -> tuple[str, str]:
        binding = self.upstreams.binding(reg.tenant_id)
        making = self.upstreams.client_in_making(reg.register_id, reg.tenant_id)
        if making is not None:  # a TSE failure, signed late once the client exists
            return making.tss_id, making.client_id
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
    ) -> tuple[TxRow, Claim]:
        """Journal a new transaction; nothing is written if ``key`` is taken (the claim has
        its row) or, for a start, the register is at its cap (the claim has the count)."""
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
        # A start's answer is its journaled row: kept with the key in the same commit.
        answer = answer_json(row) if state == "journaled" else None
        idem = IdemRow(reg.register_id, key, fingerprint, row.id, answer, now) if key else None
        cap = self.open_cap.limit if state == "journaled" else None
        claim = await self.store.insert_tx(row, idem, max_open=cap)
        if not claim.written:
            return row, claim
        self.inflight.rows[row.id] = row
        if state == "journaled":
            self.inflight.born_now(row.id)
        return row, claim

    async def _journal_keyed(
        self, reg: RegisterRef, state: str, receipt: Receipt | None, key: str | None, fp: str
    ) -> TxRow | TxOutcome:
        """The journaled row, or the answer kept for ``key`` (one store request either way:
        the key is looked up in the write, not before it)."""
        kind = "transaction" if state == "journaled" else "receipt"
        try:
            row, claim = await self._journal(reg, state, kind, receipt, key, fp)
        except TsedError as err:  # refused before the key was looked at
            return await self.idempotency.replay_or(reg, key, fp, err)
        if claim.taken is not None and key is not None:
            return await self.idempotency.replay_row(reg, key, fp, claim.taken)
        if claim.open_now is not None:
            raise self.open_cap.refused(claim.open_now)
        return row

    async def start_transaction(
        self, reg: RegisterRef, *, idempotency_key: str | None = None
    ) -> TxOutcome:
        fingerprint = request_fingerprint("start", None, None) if idempotency_key else ""
        row = await self._journal_keyed(reg, "journaled", None, idempotency_key, fingerprint)
        if isinstance(row, TxOutcome):
            return row
        self.open_transactions += 1
        self.inflight.starts[row.id] = asyncio.create_task(
            self._upstream_start(row), name="tsed-start"
        )
        return outcome_from_row(row, self.mode)

    async def _upstream_start(self, row: TxRow) -> None:
        if self.breaker.open or self.completion.in_making(row) is not None:
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
            self.breaker.failure(failure_code(err)[1])
            return
        self.breaker.success()
        # The register may have sent its finish (or an update) while the start was upstream:
        # the live row then carries the receipt and a newer state, which must survive. (The
        # start's own row, written back whole, once sent the receipt as a cancellation.)
        current = self.inflight.rows.get(row.id)
        if current is not None:
            state = "active" if current.state == "journaled" else current.state
            self.inflight.rows[row.id] = replace(current, state=state, revision=1)
        # Not a journal write of its own: the finish journals the revision with its own
        # update, and a transaction left open is marked active by the next drain or at stop
        # (recovery reads the revision from fiskaly when the journal lacks it).
        self.inflight.activated.add(row.id)

    async def _owned(self, reg: RegisterRef, local_id: str) -> TxRow:
        row = self.inflight.rows.get(local_id) or await self.store.get_tx(local_id)
        if row is None or row.register_id != reg.register_id:
            raise NotFoundError(f"transaction {local_id} does not exist for this register")
        if row.env != self.mode and row.state in ("journaled", "active"):
            raise ModeMismatch(
                f"transaction {local_id} was started in {row.env} mode, but the unit is now "
                f"in {self.mode} mode (fiskaly would answer 403 'You may not access this TSS')"
            )
        return row

    async def get_transaction(self, reg: RegisterRef, local_id: str) -> TxOutcome:
        row = await self._owned(reg, local_id)
        stored = await self.store.get_tx(local_id) or row
        if stored.state == "journaled" and row.state == "active":  # not journaled yet
            stored = replace(stored, state="active", revision=row.revision)
        return outcome_from_row(stored, self.mode)

    async def list_transactions(
        self,
        reg: RegisterRef,
        states: tuple[str, ...] | None,
        limit: int,
        before: str | None,
    ) -> list[TxOutcome]:
        """The calling register's transactions, newest first (recovery after a crash)."""
        if before is not None:  # an unknown cursor is a 404, not an empty page
            cursor = await self.store.get_tx(before)
            if cursor is None or cursor.register_id != reg.register_id:
                raise NotFoundError(f"transaction {before} does not exist for this register")
        rows = await self.store.txs_of_register(reg.register_id, states, limit, before)
        return [outcome_from_row(row, self.mode) for row in rows]

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
        body = json.dumps(receipt.to_standard_v1())
        await self.store.update_tx(
            local_id, ["journaled", "active"], receipt=body, updated_at=self._clock()
        )
        # The upstream start may have landed during the write: its revision and state are in
        # the live row now, and must survive (the row read above is older).
        current = self.inflight.rows.get(local_id, row)
        self.inflight.rows[local_id] = replace(current, receipt=body)
        return outcome_from_row(self.inflight.rows[local_id], self.mode)

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
        if receipt is not None and receipt.receipt_type not in ABORT_TYPES:
            await self._owned(reg, local_id)  # another register's id stays a 404
            error = InputError(
                f"receipt.receipt_type: {receipt.receipt_type!r} cannot be cancelled; a cancel is "
                "always signed as an abort (AVBelegabbruch)",
                hint="Send no body, or receipt_type CANCELLATION with the amounts rung up so "
                "far. To void a finished sale, sign a new RECEIPT with the amounts negated.",
            )
            error.details["field"] = "receipt.receipt_type"
            raise error
        return await self._end(
            reg, local_id, receipt or CANCELLATION, "cancelling", idempotency_key
        )

    async def _end(
        self, reg: RegisterRef, local_id: str, receipt: Receipt, state: str, key: str | None
    ) -> TxOutcome:
        fingerprint = request_fingerprint(state, local_id, receipt) if key else ""
        started = time.monotonic()
        try:
            row = await self._owned(reg, local_id)
            if row.state not in ("journaled", "active"):
                raise ConflictError(
                    f"transaction {local_id} is already {row.state}",
                    hint="Read it with GET /api/v1/transactions/{id}; start a new one for a new "
                    "sale.",
                )
        except TsedError as err:  # a repeat of an ended one: the key's answer, if any
            return await self.idempotency.replay_or(reg, key, fingerprint, err, resumable=True)
        # The key is recorded with the new state in one commit, and looked up in it.
        idem = None
        if key is not None:
            idem = IdemRow(reg.register_id, key, fingerprint, local_id, None, self._clock())
        body = json.dumps(receipt.to_standard_v1())
        changes: dict[str, Any] = {"state": state, "receipt": body, "revision": row.revision}
        claim = await self.store.update_keyed(
            local_id, ["journaled", "active"], idem=idem, updated_at=self._clock(), **changes
        )
        if claim.taken is not None and key is not None:
            try:
                return await self.idempotency.replay_row(
                    reg, key, fingerprint, claim.taken, resumable=True
                )
            except Resume:  # recorded, cut off before it took effect: carried out now
                claim = await self.store.update_keyed(
                    local_id, ["journaled", "active"], updated_at=self._clock(), **changes
                )
        if not claim.written:
            raise ConflictError(f"transaction {local_id} changed meanwhile; read it again")
        self.inflight.activated.discard(local_id)
        self.open_transactions = max(0, self.open_transactions - 1)
        self.inflight.ended(local_id)
        row = replace(self.inflight.rows.get(local_id, row), state=state, receipt=body)
        self.inflight.rows[local_id] = row
        start_task = self.inflight.starts.pop(local_id, None)
        row = await self._sign_within_deadline(reg, row, started, start_task, key)
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
        fingerprint = request_fingerprint("receipt", None, receipt) if idempotency_key else ""
        started = time.monotonic()
        row = await self._journal_keyed(reg, "finishing", receipt, idempotency_key, fingerprint)
        if isinstance(row, TxOutcome):
            return row
        row = await self._sign_within_deadline(reg, row, started, None, idempotency_key)
        self._observe(row, started)
        return outcome_from_row(row, self.mode)

    # -- signing ----------------------------------------------------------------------------

    async def _sign_within_deadline(
        self,
        reg: RegisterRef,
        row: TxRow,
        started: float,
        start_task: asyncio.Task[None] | None,
        key: str | None,
    ) -> TxRow:
        """The signed row, or a TSE failure once the register's deadline has passed; either
        is kept as the answer for ``key``."""
        deadline = started + self.deadline_for(reg)
        making = self.completion.in_making(row)
        if making is not None:
            failed = await self.completion.fail_while_made(row, making)
            await self.idempotency.remember(reg, key, failed)
            return failed
        if self.breaker.open:
            failed = await self.completion.fail(
                row, "TSE_FAIL_FAST", self.breaker.reason or "TSE unavailable", start_task
            )
            await self.idempotency.remember(reg, key, failed)
            return failed
        # The upstream work is not bound by the register's deadline: when the register's
        # answer has to go out first, the same work goes on and signs the transaction late.
        background = time.monotonic() + BACKGROUND_DEADLINE
        answer = Answer(reg.register_id, key) if key is not None else None
        work = asyncio.ensure_future(
            self.completion.complete(row, start_task, background, answer=answer)
        )
        try:
            signed = await asyncio.wait_for(
                asyncio.shield(work), max(0.0, deadline - time.monotonic())
            )
        except TimeoutError:
            if answer is not None:
                answer.open = False  # a late signature is not this key's answer
            code, reason = "TSE_TIMEOUT", "fiskaly did not answer within the register deadline"
            last = self.upstreams.client(row.tenant_id).last_failure
            if isinstance(last, ferr.TssNotReady):  # fiskaly did answer: say what it said
                code, reason = failure_code(last)
            self.breaker.failure(reason, decisive=True)
        except ferr.FiskalyError as err:
            if answer is not None:
                answer.open = False
            code, reason = failure_code(err)
            if not isinstance(err, ferr.TssUnusable | ferr.EnvironmentMismatch):
                unreachable = isinstance(err, ferr.FiskalyUnavailable | ferr.FiskalyTimeout)
                self.breaker.failure(reason, decisive=unreachable)
            if isinstance(err, ferr.TssUnusable) and err.fiskaly_code == "E_TSS_DELETED":
                self.background.spawn(self.completion.recreate(row.tenant_id), "tsed-tss-recreate")
            if isinstance(err, ferr.ClientDeregistered):
                self.background.spawn(self.completion.reregister(row), "tsed-client-reregister")
        else:
            if answer is None or not answer.written:
                await self.idempotency.remember(reg, key, signed)
            return signed
        self.background.adopt(work)
        work.add_done_callback(lambda t: self.completion.after_background(t, row.id))
        # If the signature was journaled meanwhile, fail returns it: the answer is what was
        # stored, and the key keeps exactly that.
        failed = await self.completion.fail(row, code, reason, None)
        await self.idempotency.remember(reg, key, failed)
        return failed


_: type[SigningOperations] = SigningService  # mypy: the service does every operation
