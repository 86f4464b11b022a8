"""fiskaly misbehaving under load: a full outage (the simulator process stopped and started
again on the same port), a 429 storm, tokens expiring, the shop's proxy going away, a locked
or defective TSS.

The properties, for every scenario: every register call is answered (signed, or
``tse_failure`` with the text to print), never an error and never a hang; the outage journal
is complete; every unsigned receipt is signed late once fiskaly answers again; nothing is
signed twice; an Idempotency-Key always gets the same answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from tests.support.proxyserver import ProxyServer
from tests.support.reliability import (
    OPEN_STATES,
    Recorder,
    seed_state,
    sim_faults,
    sim_states,
    start_sim_process,
    stop,
    wait_for,
)
from tests.support.unit import RECEIPT, Register, Unit, free_port, running_unit
from tsed.fiskaly.tr03151 import verify_qr_code

Answers = dict[str, dict[str, Any]]
OWNER: dict[str, Register] = {}  # idempotency key → the register that sent it


async def _load(
    register: Register, prefix: str, answers: Answers, stop_event: asyncio.Event, limit: int
) -> None:
    """Receipts one after the other (a till), each with its own Idempotency-Key."""
    for i in range(limit):
        if stop_event.is_set():
            return
        key = f"{prefix}-{i}"
        response = await register.call("POST", "/api/v1/receipts", RECEIPT, key)
        assert response.status_code == 200, response.text  # signed or tse_failure, no error
        answers[key] = response.json()
        OWNER[key] = register


async def _run_load(
    registers: list[Register], answers: Answers, seconds: float, limit: int = 400
) -> None:
    stop_event = asyncio.Event()
    tasks = [
        asyncio.create_task(_load(r, f"{r.register_id[:8]}-{time.monotonic_ns()}", answers,
                                  stop_event, limit))
        for r in registers
    ]  # fmt: skip
    await asyncio.sleep(seconds)
    stop_event.set()
    await asyncio.gather(*tasks)


def _check_answer(answer: dict[str, Any]) -> None:
    if answer["tse_failure"]:
        failure = answer["failure"]
        assert answer["result"] is None
        assert failure["code"].startswith("TSE_") and failure["reason"]
        assert "TSE ausgefallen" in failure["receipt_text"]
    else:
        assert verify_qr_code(answer["result"]["qr_code_data"]).valid


async def _settled(unit: Unit, timeout: float = 60) -> None:
    async def nothing_open() -> bool:
        return not await unit.daemon.store.txs_in_states(OPEN_STATES)

    await wait_for(nothing_open, timeout, "every transaction signed or cancelled")


async def _check_after_recovery(unit: Unit, answers: Answers, sim_state: Path) -> None:
    """Late signing done, outage journal complete, replays identical, nothing signed twice."""
    await _settled(unit)
    failed = {k: a for k, a in answers.items() if a["tse_failure"]}
    for key, answer in answers.items():
        _check_answer(answer)
        got = (await OWNER[key].call("GET", f"/api/v1/transactions/{answer['id']}")).json()
        assert got["state"] == "finished" and got["result"], got
        assert verify_qr_code(got["result"]["qr_code_data"]).valid
        assert got["signed_late"] == answer["tse_failure"]
        if not answer["tse_failure"]:
            assert got["result"] == answer["result"]
    for key, first in list(answers.items())[:: max(1, len(answers) // 50)]:
        again = await OWNER[key].call("POST", "/api/v1/receipts", RECEIPT, key)
        assert again.json() == first, key
    outages = await unit.daemon.store.outages()
    if failed:
        assert outages and all(o.ended_at is not None for o in outages), outages
        assert all(o.ended_at is not None and o.ended_at >= o.started_at for o in outages)
        assert sum(o.count for o in outages) == len(failed)
    finished = await unit.daemon.store.txs_in_states(["finished"])
    states = sim_states(sim_state)
    assert "ACTIVE" not in states
    assert states.count("FINISHED") == len(finished)  # one upstream signature per receipt
    numbers = [json_result["transaction_number"] for json_result in _results(finished)]
    assert len(numbers) == len(set(numbers))


def _results(rows: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(row.result) for row in rows if row.result]


async def test_outage_mid_load_simulator_stopped_and_started_again(tmp_path: Path) -> None:
    sim_state, state = tmp_path / "sim", tmp_path / "unit"
    sim_port = free_port()
    seed_state(state)
    sim = start_sim_process(sim_state, sim_port)
    answers: Answers = {}
    try:
        async with running_unit(
            state,
            config="register_deadline = 1.0\n",
            environ={"TSED_FISKALY_BASE_URL": f"http://127.0.0.1:{sim_port}"},
        ) as unit:
            registers = [await unit.pair(f"ERS outage-{i}") for i in range(3)]
            load = asyncio.create_task(_run_load(registers, answers, 3.0))
            await asyncio.sleep(0.6)
            stop(sim)  # fiskaly is gone: connections are refused
            await asyncio.sleep(1.2)
            sim = start_sim_process(sim_state, sim_port)  # back, same port, same TSS
            await load
            failed = [a for a in answers.values() if a["tse_failure"]]
            assert failed, "the outage produced no TSE failure"
            assert any(not a["tse_failure"] for a in answers.values())
            await _check_after_recovery(unit, answers, sim_state)
            outages = await unit.daemon.store.outages()
            assert len(outages) == 1 and outages[0].reason
    finally:
        stop(sim)


async def test_429_storm_honours_retry_after(tmp_path: Path) -> None:
    sim_state, state = tmp_path / "sim", tmp_path / "unit"
    sim_port = free_port()
    seed_state(state)
    sim = start_sim_process(sim_state, sim_port)
    recorder = Recorder(f"http://127.0.0.1:{sim_port}")
    await recorder.start()
    answers: Answers = {}
    try:
        async with running_unit(
            state,
            config="register_deadline = 1.5\nabandon_minutes = 0.1\n",
            environ={"TSED_FISKALY_BASE_URL": recorder.base_url},
        ) as unit:
            registers = [await unit.pair(f"ERS storm-{i}") for i in range(3)]
            await _run_load(registers, answers, 0.3)
            first_call = len(recorder.calls)
            await sim_faults(sim_port, {"rate_limit_burst": 8, "retry_after": 1})
            await _run_load(registers, answers, 3.0)
            await _check_after_recovery(unit, answers, sim_state)
            storm = recorder.calls[first_call:]
    finally:
        await recorder.stop()
        stop(sim)
    limited = [c for c in storm if c[3] == 429]
    assert len(limited) == 8
    # After a 429 the same resource is asked again only once Retry-After has passed.
    last_429: dict[str, float] = {}
    for at, _method, path, status in storm:
        if path in last_429:
            assert at - last_429[path] >= 0.95, (path, at - last_429[path])
            del last_429[path]
        if status == 429:
            last_429[path] = at
    # The storm does not multiply upstream calls: a receipt costs a few calls, not dozens.
    per_path: dict[str, int] = {}
    for _at, _method, path, _status in storm:
        if "/tx/" in path:  # transactions (the TSS itself is read by the availability probe)
            per_path[path] = per_path.get(path, 0) + 1
    assert max(per_path.values()) <= 8, max(per_path.values())


async def test_no_second_flow_while_the_register_work_waits_out_retry_after(
    tmp_path: Path,
) -> None:
    """fiskaly answers a receipt's signature with 429 and Retry-After beyond the register's
    deadline. The register gets its TSE failure, the breaker opens, its probe finds fiskaly
    answering and the recovery drain (then the housekeeping) runs while the receipt's own
    work still waits: they leave that transaction alone. One flow per transaction: fiskaly
    is asked again once, after Retry-After, and the receipt is signed late."""
    retry_after = 5
    sim_state, state = tmp_path / "sim", tmp_path / "unit"
    sim_port = free_port()
    seed_state(state)
    sim = start_sim_process(sim_state, sim_port)
    recorder = Recorder(f"http://127.0.0.1:{sim_port}")
    await recorder.start()
    try:
        async with running_unit(
            state,
            config="register_deadline = 0.5\nabandon_minutes = 0.01\n",
            environ={"TSED_FISKALY_BASE_URL": recorder.base_url},
        ) as unit:
            register = await unit.pair("ERS wait")
            await register.receipt()  # token and connection are warm
            signing = unit.daemon.signing
            faults = {"rate_limit_burst": 1, "retry_after": retry_after, "route": "/tx/"}
            await sim_faults(sim_port, faults)
            seen = len(recorder.calls)
            answer = await register.receipt(key="wait-1")
            assert answer["tse_failure"] and answer["failure"]["code"] == "TSE_TIMEOUT", answer
            row = await unit.daemon.store.get_tx(answer["id"])
            assert row is not None and row.state == "failed"
            path = f"/api/v2/tss/{row.tss_id}/tx/{row.tx_id}"

            async def breaker_closed() -> bool:
                return not signing.breaker.open

            await wait_for(breaker_closed, 30, "the probe finds fiskaly answering")
            await signing.completion.drain()  # once more, as the housekeeping does
            await _settled(unit)
            got = (await register.call("GET", f"/api/v1/transactions/{answer['id']}")).json()
            assert got["state"] == "finished" and got["signed_late"] is True, got
    finally:
        await recorder.stop()
        stop(sim)
    calls = [(at, method, status) for at, method, p, status in recorder.calls[seen:] if p == path]
    # The start (429, then once more after Retry-After), the finish: one flow, nothing twice.
    assert [(method, status) for _at, method, status in calls] == [("PUT", 429)] + [
        ("PUT", 200)
    ] * 2
    assert calls[1][0] - calls[0][0] >= retry_after - 0.05, calls  # never sooner


async def test_tokens_expire_mid_load_one_reauthentication_each(tmp_path: Path) -> None:
    sim_state, state = tmp_path / "sim", tmp_path / "unit"
    sim_port = free_port()
    seed_state(state)
    sim = start_sim_process(sim_state, sim_port, "--token-ttl", "2", "--refresh-ttl", "60")
    recorder = Recorder(f"http://127.0.0.1:{sim_port}")
    await recorder.start()
    answers: Answers = {}
    try:
        async with running_unit(
            state,
            config="register_deadline = 2.0\n",
            environ={"TSED_FISKALY_BASE_URL": recorder.base_url},
        ) as unit:
            registers = [await unit.pair(f"ERS token-{i}") for i in range(4)]
            auths = recorder.count("POST", "/api/v2/auth")
            began = time.monotonic()
            await _run_load(registers, answers, 2.5)
            elapsed = time.monotonic() - began
            periodic = recorder.count("POST", "/api/v2/auth") - auths
            # Refreshed ahead of expiry (90 % of 2 s), by one caller for all of them.
            assert 1 <= periodic <= elapsed / 1.8 + 1, (periodic, elapsed)
            # Every token revoked at once while registers sign: exactly one re-authentication
            # with the API key, for every caller rejected. (When the token's refresh falls
            # due in this window, the refresh token is refused too: that 401 is one of the
            # rejections, and a later refresh of the new token is no re-authentication.)
            before = len(recorder.auths)
            seen = len(recorder.calls)
            await sim_faults(sim_port, {"expire_tokens": True})
            await _run_load(registers, answers, 0.5)
            rejected = [c for c in recorder.calls[seen:] if c[3] == 401]
            reauth = [a for a in recorder.auths[before:] if a[0] == "key"]
            assert rejected and reauth == [("key", 200)], (rejected, recorder.auths[before:])
            assert all(not a["tse_failure"] for a in answers.values())
            await _check_after_recovery(unit, answers, sim_state)
    finally:
        await recorder.stop()
        stop(sim)


async def test_proxy_going_away_and_coming_back(tmp_path: Path) -> None:
    sim_state, state = tmp_path / "sim", tmp_path / "unit"
    sim_port = free_port()
    seed_state(state)
    sim = start_sim_process(sim_state, sim_port)
    proxy = ProxyServer()
    await proxy.start()
    config = f'register_deadline = 1.0\n[proxy]\nhost = "127.0.0.1"\nport = {proxy.port}\n'
    answers: Answers = {}
    try:
        async with running_unit(
            state, config=config, environ={"TSED_FISKALY_BASE_URL": f"http://127.0.0.1:{sim_port}"}
        ) as unit:
            registers = [await unit.pair(f"ERS proxy-{i}") for i in range(2)]
            await _run_load(registers, answers, 0.5)
            assert all(not a["tse_failure"] for a in answers.values())
            await proxy.stop()  # the proxy is gone (and its open tunnels with it)
            during: Answers = {}
            await _run_load(registers, during, 1.5)
            assert during and all(a["tse_failure"] for a in during.values())
            reasons = {a["failure"]["reason"] for a in during.values()}
            assert any("proxy" in r.lower() for r in reasons), reasons
            proxy = ProxyServer(port=proxy.port)
            await proxy.start()
            answers.update(during)
            await _check_after_recovery(unit, answers, sim_state)
            after: Answers = {}
            await _run_load(registers, after, 0.5)
            assert after and all(not a["tse_failure"] for a in after.values())
            assert proxy.total >= 1
    finally:
        await proxy.stop()
        stop(sim)


async def test_tss_locked_then_defective(tmp_path: Path) -> None:
    sim_state, state = tmp_path / "sim", tmp_path / "unit"
    sim_port = free_port()
    seed_state(state)
    sim = start_sim_process(sim_state, sim_port)
    answers: Answers = {}
    try:
        async with running_unit(
            state,
            config="register_deadline = 1.0\n",
            environ={"TSED_FISKALY_BASE_URL": f"http://127.0.0.1:{sim_port}"},
        ) as unit:
            register = await unit.pair("ERS locked")
            await sim_faults(sim_port, {"tss_locked": True})
            await _run_load([register], answers, 1.5)
            locked = [a for a in answers.values() if a["tse_failure"]]
            codes = {a["failure"]["code"] for a in locked}
            assert locked and codes <= {"TSE_NOT_READY", "TSE_FAIL_FAST", "TSE_TIMEOUT"}, codes
            assert any("locked" in a["failure"]["reason"].lower() for a in locked)
            await sim_faults(sim_port, None)
            await _check_after_recovery(unit, answers, sim_state)

            tss_id = unit.daemon.upstreams.binding("default").tss_id  # type: ignore[union-attr]
            await sim_faults(sim_port, {"tss_state": {tss_id: "DEFECTIVE"}})
            broken: Answers = {}
            await _run_load([register], broken, 1.0, limit=10)
            assert broken and all(a["tse_failure"] for a in broken.values())
            reason = next(iter(broken.values()))["failure"]["reason"]
            assert "DEFECTIVE" in reason.upper(), reason
            status = await register.http.get("/api/v1/status")
            assert status.status_code == 200
            code, out = await unit.tsectl("--json", "status")
            assert code == 0, out
            assert unit.daemon.signing.status()["failures"] >= len(broken)
    finally:
        stop(sim)
