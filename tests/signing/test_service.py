"""The till never blocks: deadlines, TSE failures, outage journal, fail-fast, late signing,
recovery after a crash."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from tests.support.unit import RECEIPT, running_unit
from tsed.fiskaly.tr03151 import verify_qr_code

FAST = "register_deadline = 1.0\n"


def _sim_txs(unit):
    sim = unit.daemon.sim
    return [tx for txs in sim.state.txs.values() for tx in txs.values()]


async def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_slow_fiskaly_gives_tse_failure_within_the_deadline_then_late_signing(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        register = await unit.pair()
        unit.daemon.sim.faults.update({"latency_ms": 1500, "route": "tx"})
        started = time.monotonic()
        answer = await register.receipt(key="slow-1")
        elapsed = time.monotonic() - started
        assert answer["tse_failure"] is True and answer["result"] is None
        failure = answer["failure"]
        assert failure["code"] == "TSE_TIMEOUT"
        assert failure["receipt_text"].startswith("TSE ausgefallen")
        assert elapsed < 1.5  # answered at the deadline, not after fiskaly
        unit.daemon.sim.faults.reset()

        async def late() -> bool:
            body = (await register.call("GET", f"/api/v1/transactions/{answer['id']}")).json()
            return body["result"] is not None

        await _wait(late)
        body = (await register.call("GET", f"/api/v1/transactions/{answer['id']}")).json()
        assert body["signed_late"] is True and body["tse_failure"] is True
        assert verify_qr_code(body["result"]["qr_code_data"]).valid
        # The printed answer never changes for an idempotent retry.
        again = await register.receipt(key="slow-1")
        assert again["failure"] == failure and again["result"] is None
        # Nothing left ACTIVE, nothing signed twice.
        txs = _sim_txs(unit)
        assert [tx.state for tx in txs] == ["FINISHED"]


async def test_outage_fail_fast_outage_journal_and_recovery(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        register = await unit.pair()
        await register.receipt()
        server = unit.daemon.sim_server
        await server.stop()
        answers = []
        timings = []
        for index in range(6):
            started = time.monotonic()
            answers.append(await register.receipt(key=f"down-{index}"))
            timings.append(time.monotonic() - started)
        assert all(a["tse_failure"] for a in answers)
        assert max(timings) < 1.5
        assert timings[-1] < 0.1  # failing fast after repeated failures
        assert answers[-1]["failure"]["code"] == "TSE_FAIL_FAST"
        status = (await register.http.get("/api/v1/status")).json()
        assert status["tse"]["available"] is False and status["tse"]["since"]
        outages = await unit.daemon.store.outages()
        assert len(outages) == 1 and outages[0].ended_at is None and outages[0].count == 6
        await server.start()

        async def all_signed() -> bool:
            rows = await unit.daemon.store.txs_in_states(["failed"])
            return not rows

        await _wait(all_signed, 15)
        for answer in answers:
            body = (await register.call("GET", f"/api/v1/transactions/{answer['id']}")).json()
            assert (
                body["signed_late"] is True and verify_qr_code(body["result"]["qr_code_data"]).valid
            )
        txs = _sim_txs(unit)
        assert len(txs) == 7 and all(tx.state == "FINISHED" for tx in txs)
        late = [tx for tx in txs if tx.metadata.get("tsed_signed_late") == "true"]
        assert len(late) == 6 and all(tx.metadata["tsed_outage_reason"] for tx in late)

        async def outage_closed() -> bool:
            rows = await unit.daemon.store.outages()
            return rows[0].ended_at is not None

        await _wait(outage_closed)
        assert (await unit.daemon.store.outages())[0].count == 6
        assert (await register.http.get("/api/v1/status")).json()["tse"]["available"] is True


async def test_after_one_register_waited_its_deadline_the_next_fails_fast(
    tmp_path: Path,
) -> None:
    """fiskaly silent: the first receipt takes the deadline, the next ones do not wait."""
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        register = await unit.pair()
        await register.receipt()
        unit.daemon.sim.faults.update({"hang_rate": 1.0, "hang_seconds": 30.0, "route": "tx"})
        codes = [(await register.receipt())["failure"]["code"] for _ in range(3)]
        assert codes == ["TSE_TIMEOUT", "TSE_FAIL_FAST", "TSE_FAIL_FAST"]
        unit.daemon.sim.faults.reset()
        unit.daemon.sim.fault_engine.release_hangs()


async def test_start_does_not_wait_for_the_wan(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config="register_deadline = 3.0\n") as unit:
        register = await unit.pair()
        unit.daemon.sim.faults.update({"latency_ms": 400})
        started = time.monotonic()
        response = await register.call("POST", "/api/v1/transactions")
        assert time.monotonic() - started < 0.3  # the 400 ms upstream start runs behind
        assert response.json()["pending"] is True
        tx = response.json()["id"]
        finished = await register.call("POST", f"/api/v1/transactions/{tx}/finish", RECEIPT)
        assert finished.json()["result"]["transaction_number"] >= 1


async def test_a_finish_sent_while_the_start_is_upstream_signs_the_receipt(
    tmp_path: Path,
) -> None:
    """The usual till: finish right after the start answered, long before fiskaly's answer to
    the start. The signed transaction is the sale, not a cancellation."""
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        unit.daemon.sim.faults.update({"latency_ms": 150})
        answers = []
        for _ in range(3):
            tx = (await register.call("POST", "/api/v1/transactions")).json()["id"]
            answers.append(
                (await register.call("POST", f"/api/v1/transactions/{tx}/finish", RECEIPT)).json()
            )
        for answer in answers:
            assert answer["tse_failure"] is False, answer
            assert answer["result"]["process_data"] == "Beleg^11.90_0.00_0.00_0.00_0.00^11.90:Bar"
        assert [tx.state for tx in _sim_txs(unit)] == ["FINISHED"] * 3
        assert not unit.daemon.signing.inflight.rows  # nothing left behind in memory


async def test_a_crash_leaves_nothing_active_after_recovery(tmp_path: Path) -> None:
    state = tmp_path / "s"
    async with running_unit(state, config=FAST) as unit:
        register = await unit.pair()
        token = register.token
        for _ in range(3):
            await register.call("POST", "/api/v1/transactions")
        # A finish whose answer is lost: fiskaly is slow, the unit "crashes" meanwhile.
        unit.daemon.sim.faults.update({"latency_ms": 5000, "route": "PUT .*tx"})
        tx = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        finish = asyncio.create_task(
            register.call("POST", f"/api/v1/transactions/{tx}/finish", RECEIPT)
        )
        await asyncio.sleep(0.3)
        unit.daemon.sim.faults.reset()
        finished_answer = await finish
        assert finished_answer.status_code == 200
        unit.daemon.signing.completion.abandon_after = 0.0
    # Restart on the same state: recovery finishes or cancels every open transaction.
    async with running_unit(state, config=FAST) as unit:
        unit.daemon.signing.completion.abandon_after = 0.0
        await unit.daemon.signing.completion.drain()

        async def settled() -> bool:
            return not await unit.daemon.store.txs_in_states(
                ["journaled", "active", "finishing", "cancelling", "failed"]
            )

        await _wait(settled, 15)
        states = [tx.state for tx in _sim_txs(unit)]
        assert "ACTIVE" not in states and states.count("FINISHED") == 1
        assert await unit.daemon.store.integrity_check() == "ok"
        import httpx

        async with httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context()) as http:
            got = await http.get(
                f"/api/v1/transactions/{tx}", headers={"Authorization": f"Bearer {token}"}
            )
        assert (
            got.json()["result"] is not None
            and verify_qr_code(got.json()["result"]["qr_code_data"]).valid
        )


async def test_registers_only_see_their_own_transactions(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        first = await unit.pair("ERS kasse-1")
        second = await unit.pair("ERS kasse-2")
        answer = await first.receipt()
        stranger = await second.call("GET", f"/api/v1/transactions/{answer['id']}")
        assert stranger.status_code == 404
        assert json.loads(stranger.text)["error"]["code"] == "NOT_FOUND"


async def test_abandoned_transactions_are_cancelled_in_the_running_unit(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config="abandon_minutes = 0.02\n") as unit:
        register = await unit.pair()
        tx = (await register.call("POST", "/api/v1/transactions")).json()["id"]

        async def cancelled() -> bool:
            body = (await register.call("GET", f"/api/v1/transactions/{tx}")).json()
            return body["state"] == "cancelled"

        await _wait(cancelled, 10)
        assert [t.state for t in _sim_txs(unit)] == ["CANCELLED"]
        late = await register.call("POST", f"/api/v1/transactions/{tx}/finish", RECEIPT)
        assert late.status_code == 409


async def test_a_signed_answer_is_kept_for_its_key_in_the_signature_commit(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        store = unit.daemon.store
        separate: list[str] = []
        original = store.set_idem_response

        async def spy(register_id: str, key: str, response: str) -> None:
            separate.append(key)
            await original(register_id, key, response)

        store.set_idem_response = spy  # type: ignore[method-assign]
        answer = await register.receipt(key="one-call")
        started = await register.call("POST", "/api/v1/transactions", key="start")
        local_id = started.json()["id"]
        finished = await register.call(
            "POST", f"/api/v1/transactions/{local_id}/finish", RECEIPT, key="finish"
        )
        assert finished.status_code == 200 and finished.json()["tse_failure"] is False
        assert separate == []  # no second commit for the answers
        for key, first in (("one-call", answer), ("finish", finished.json())):
            stored = await store.get_idem(register.register_id, key)
            assert stored is not None and stored.response is not None
            if key == "one-call":
                again = await register.receipt(key=key)
            else:
                again = (
                    await register.call(
                        "POST", f"/api/v1/transactions/{local_id}/finish", RECEIPT, key=key
                    )
                ).json()
            assert again == first


async def test_a_keyed_receipt_makes_one_store_request_per_journal_write(tmp_path: Path) -> None:
    """Start + finish: three store requests (the start with its key and the register's cap,
    the finish with its key, the signature with the key's answer), a one-call receipt two; no
    read of the key before a write, no write of its own for the start's revision."""
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        await register.receipt()  # connections and token warm
        store = unit.daemon.store
        calls: list[str] = []
        original = store._submit

        async def spy(fn: Any) -> Any:
            calls.append(fn.__qualname__.split(".<locals>")[0])
            return await original(fn)

        store._submit = spy  # type: ignore[method-assign]

        def journal_requests() -> list[str]:
            taken = [c for c in calls if c != "Store.touch_registers"]  # the daemon's own
            calls.clear()
            return taken

        started = await register.call("POST", "/api/v1/transactions", key="start-1")
        local_id = started.json()["id"]
        signing = unit.daemon.signing
        await _wait(lambda: _true(local_id in signing.inflight.activated))
        assert journal_requests() == ["Store.insert_tx"]
        path = f"/api/v1/transactions/{local_id}/finish"
        finished = await register.call("POST", path, RECEIPT, key="finish-1")
        assert finished.json()["tse_failure"] is False
        assert journal_requests() == ["Store.update_keyed", "Store.update_keyed"]
        assert local_id not in signing.inflight.activated  # the finish journaled it
        answer = await register.receipt(key="one-call-1")
        assert journal_requests() == ["Store.insert_tx", "Store.update_keyed"]
        # Repeats cost the one write that finds the key taken (and writes nothing).
        again = await register.call("POST", "/api/v1/transactions", key="start-1")
        assert again.json() == started.json()
        assert await register.receipt(key="one-call-1") == answer
        assert journal_requests() == ["Store.insert_tx", "Store.insert_tx"]
        again = await register.call("POST", path, RECEIPT, key="finish-1")
        assert again.json() == finished.json()
        row = await store.get_tx(local_id)
        assert row is not None and (row.state, row.revision) == ("finished", 2)


async def test_a_started_transaction_is_journaled_active_by_the_drain(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        local_id = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        signing = unit.daemon.signing
        await _wait(lambda: _true(local_id in signing.inflight.activated))
        row = await unit.daemon.store.get_tx(local_id)
        assert row is not None and row.state == "journaled"  # no write of its own
        got = (await register.call("GET", f"/api/v1/transactions/{local_id}")).json()
        assert got["state"] == "active"  # what fiskaly knows
        await signing.completion.drain()
        row = await unit.daemon.store.get_tx(local_id)
        assert row is not None and (row.state, row.revision) == ("active", 1)
        assert not signing.inflight.activated


async def _true(value: bool) -> bool:
    return value


async def test_an_update_racing_the_upstream_start_keeps_the_start_revision(
    tmp_path: Path,
) -> None:
    """The upstream start lands while an update's journal write is under way: the update
    must not write back the row it read before (revision 0), or the finish starts the
    transaction at fiskaly a second time."""
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        signing = unit.daemon.signing
        unit.daemon.sim.faults.update({"latency_ms": 200, "route": "tx"})
        local_id = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        store = unit.daemon.store
        original = store.update_tx

        async def update_after_the_start(*args: Any, **kwargs: Any) -> Any:
            await _wait(lambda: _true(local_id in signing.inflight.activated))
            return await original(*args, **kwargs)

        store.update_tx = update_after_the_start  # type: ignore[method-assign]
        updated = await register.call("PUT", f"/api/v1/transactions/{local_id}", RECEIPT)
        store.update_tx = original  # type: ignore[method-assign]
        assert updated.status_code == 200, updated.text
        row = signing.inflight.rows[local_id]
        assert (row.state, row.revision) == ("active", 1)
        kept = json.loads(row.receipt or "{}")  # the update's receipt, normalized
        assert kept["amounts_per_payment_type"][0]["amount"] == "11.90"
        unit.daemon.sim.faults.reset()
        client = signing.upstreams.client(row.tenant_id)
        starts: list[str] = []
        original_start = client.start_transaction

        async def counting_start(*args: Any, **kwargs: Any) -> Any:
            starts.append(args[1])
            return await original_start(*args, **kwargs)

        client.start_transaction = counting_start  # type: ignore[method-assign]
        path = f"/api/v1/transactions/{local_id}/finish"
        finished = (await register.call("POST", path, RECEIPT)).json()
        assert finished["tse_failure"] is False, finished
        assert starts == []  # no second start at fiskaly
