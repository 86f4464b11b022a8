"""The register API contract (issue 15): cancellations sign what they say, amounts are never
cut, re-pairing keeps the window, one signed_late rule, a register lists its own
transactions."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.unit import RECEIPT, Unit, running_unit
from tsed.fiskaly.tr03151 import verify_qr_code

FAST = "register_deadline = 1.0\n"


def _with_amount(amount: str, where: str = "vat") -> dict[str, Any]:
    body = json.loads(json.dumps(RECEIPT))
    if where == "vat":
        body["amounts_per_vat_rate"][0]["amount"] = amount
    else:
        body["amounts_per_payment_type"][0]["amount"] = amount
    return body


async def _wait(predicate: Any, timeout: float = 15.0) -> None:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


# -- bug 2: a cancel is signed as a cancellation ---------------------------------------------


async def test_a_cancel_with_a_sale_body_is_refused_and_nothing_is_signed(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        tx = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        refused = await register.call("POST", f"/api/v1/transactions/{tx}/cancel", RECEIPT)
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["details"]["field"] == "receipt.receipt_type"
        assert "AVBelegabbruch" in error["message"] and "negated" in error["hint"]
        # The transaction is still open; a cancel that says what it is signs an abort.
        assert (await register.call("GET", f"/api/v1/transactions/{tx}")).json()["pending"]
        rung_up = {**RECEIPT, "receipt_type": "CANCELLATION"}
        cancelled = await register.call("POST", f"/api/v1/transactions/{tx}/cancel", rung_up)
        body = cancelled.json()
        assert cancelled.status_code == 200 and body["state"] == "cancelled", body
        assert body["result"]["process_data"].startswith("AVBelegabbruch^11.90")
        empty = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        bare = (await register.call("POST", f"/api/v1/transactions/{empty}/cancel")).json()
        assert bare["state"] == "cancelled"
        assert bare["result"]["process_data"].startswith("AVBelegabbruch^")


async def test_storno_is_a_new_receipt_with_negated_amounts(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        sale = await register.receipt()
        storno = await register.receipt(
            {
                "receipt_type": "RECEIPT",
                "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "-11.90"}],
                "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "-11.90"}],
            }
        )
        assert storno["result"]["process_data"] == "Beleg^-11.90_0.00_0.00_0.00_0.00^-11.90:Bar"
        assert storno["result"]["transaction_number"] == sale["result"]["transaction_number"] + 1
        assert verify_qr_code(storno["result"]["qr_code_data"]).valid


# -- bug 3: more than two decimals are refused -----------------------------------------------


@pytest.mark.parametrize(
    ("amount", "where", "field"),
    [
        ("11.906", "vat", "receipt.amounts_per_vat_rate[0].amount"),
        ("0.005", "vat", "receipt.amounts_per_vat_rate[0].amount"),
        ("11.90000", "pay", "receipt.amounts_per_payment_type[0].amount"),
    ],
)
async def test_more_than_two_decimals_are_refused_naming_the_field(
    tmp_path: Path, amount: str, where: str, field: str
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        body = _with_amount(amount, where)
        for path in ("/api/v1/receipts",):
            refused = await register.call("POST", path, body)
            assert refused.status_code == 400, refused.text
            error = refused.json()["error"]
            assert error["details"]["field"] == field and amount in error["message"]
            assert "round" in error["hint"].lower()
        tx = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        finish = await register.call("POST", f"/api/v1/transactions/{tx}/finish", body)
        assert finish.status_code == 400 and field in finish.text
        # Nothing was signed with a cut-off amount.
        assert not [t for t in _sim_txs(unit) if t.state == "FINISHED"]


def _sim_txs(unit: Unit) -> list[Any]:
    sim = unit.daemon.sim
    assert sim is not None
    return [tx for txs in sim.state.txs.values() for tx in txs.values()]


# -- bug 4: re-pairing a known serial keeps the window open ----------------------------------


async def test_repairing_a_known_serial_keeps_the_window_and_says_how_to_replace(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        old = await unit.pair("ERS kasse-1")
        _code, out = await unit.tsectl("--json", "pair")
        code = json.loads(out)["code"]
        again = await old.http.post(
            "/api/v1/pairings", json={"code": code, "register_serial": "ERS kasse-1"}
        )
        assert again.status_code == 409, again.text
        hint = again.json()["error"]["hint"]
        assert f"tsectl registers revoke {old.register_id}" in hint
        assert code not in again.text
        status = (await old.http.get("/api/v1/status")).json()
        assert status["pairing_open"] is True
        _rc, shown = await unit.tsectl("pair", "--serial", "ERS kasse-1")
        assert f"tsectl registers revoke {old.register_id}" in shown
        new_code = next(
            line.split()[-1] for line in shown.splitlines() if line.startswith("Pairing code:")
        )
        rc, _out = await unit.tsectl("registers", "revoke", old.register_id)
        assert rc == 0
        replaced = await old.http.post(
            "/api/v1/pairings", json={"code": new_code, "register_serial": "ERS kasse-1"}
        )
        assert replaced.status_code == 201, replaced.text
        token = replaced.json()["token"]
        signed = await old.http.post(
            "/api/v1/receipts", json=RECEIPT, headers={"Authorization": f"Bearer {token}"}
        )
        assert signed.status_code == 200 and signed.json()["result"]


async def test_tsectl_pair_for_a_new_serial_opens_the_window_without_a_warning(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        rc, shown = await unit.tsectl("pair", "--serial", "ERS kasse-9")
        assert rc == 0 and "Pairing code:" in shown and "already paired" not in shown


# -- bug 5: one signed_late rule on every failure path ---------------------------------------


async def _late_body(register: Any, tx_id: str) -> dict[str, Any]:
    async def signed() -> bool:
        body = (await register.call("GET", f"/api/v1/transactions/{tx_id}")).json()
        return body["result"] is not None

    await _wait(signed)
    body: dict[str, Any] = (await register.call("GET", f"/api/v1/transactions/{tx_id}")).json()
    return body


def _assert_late(body: dict[str, Any], code: str) -> None:
    assert body["tse_failure"] is True and body["failure"]["code"] == code, body
    assert body["signed_late"] is True, body
    assert body["state"] in ("finished", "cancelled")
    assert verify_qr_code(body["result"]["qr_code_data"]).valid


async def test_signed_late_when_the_signature_races_the_timeout_answer(tmp_path: Path) -> None:
    """The signature arrives while the TSE_TIMEOUT answer is being journaled: the register
    was told "TSE failure", so the signature is late (the bug showed signed_late false)."""
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        register = await unit.pair()
        sim = unit.daemon.sim
        assert sim is not None
        store = unit.daemon.store
        real_update = store.update_tx
        failure_written = asyncio.Event()
        signature_queued = asyncio.Event()

        async def interleaved(tx_id: str, expected: Any, **changes: Any) -> bool:
            if changes.get("state") == "failed":
                await signature_queued.wait()  # fiskaly answered: the signature is on its way
                try:
                    return await real_update(tx_id, expected, **changes)
                finally:
                    failure_written.set()
            if changes.get("state") in ("finished", "cancelled"):
                signature_queued.set()
                await failure_written.wait()  # committed right after the failure
            return await real_update(tx_id, expected, **changes)

        store.update_tx = interleaved  # type: ignore[method-assign]
        try:
            sim.faults.update({"latency_ms": 1500, "route": "tx"})
            answer = await register.receipt(key="race-1")
            assert answer["tse_failure"] is True and answer["failure"]["code"] == "TSE_TIMEOUT"
            _assert_late(await _late_body(register, answer["id"]), "TSE_TIMEOUT")
        finally:
            store.update_tx = real_update  # type: ignore[method-assign]
            sim.faults.reset()


async def test_signed_late_after_a_plain_timeout(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        register = await unit.pair()
        sim = unit.daemon.sim
        assert sim is not None
        sim.faults.update({"latency_ms": 1500, "route": "tx"})
        timeout = await register.receipt()
        assert timeout["failure"]["code"] == "TSE_TIMEOUT"
        sim.faults.reset()
        _assert_late(await _late_body(register, timeout["id"]), "TSE_TIMEOUT")


async def test_signed_late_after_unreachable_and_fail_fast(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        register = await unit.pair()
        await register.receipt()
        tx = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        await _wait(lambda: _state_is(register, tx, "active"))
        server = unit.daemon.sim_server
        assert server is not None
        await server.stop()
        answers = [await register.receipt() for _ in range(4)]
        codes = [a["failure"]["code"] for a in answers]
        assert codes[0] == "TSE_UNREACHABLE" and codes[-1] == "TSE_FAIL_FAST", codes
        cancel = (await register.call("POST", f"/api/v1/transactions/{tx}/cancel")).json()
        assert cancel["tse_failure"] is True and cancel["failure"]["code"] == "TSE_FAIL_FAST"
        await server.start()
        for answer in answers:
            _assert_late(await _late_body(register, answer["id"]), answer["failure"]["code"])
        cancelled = await _late_body(register, tx)
        _assert_late(cancelled, "TSE_FAIL_FAST")
        assert cancelled["state"] == "cancelled"


async def _state_is(register: Any, tx_id: str, state: str) -> bool:
    body = (await register.call("GET", f"/api/v1/transactions/{tx_id}")).json()
    return bool(body["state"] == state)


@pytest.mark.parametrize(
    ("switches", "code"),
    [
        ({"tss_locked": True}, "TSE_NOT_READY"),
        ({"error_rate": 1.0, "error_status": 400, "route": "tx"}, "TSE_REJECTED"),
    ],
)
async def test_signed_late_after_not_ready_and_rejected(
    tmp_path: Path, switches: dict[str, Any], code: str
) -> None:
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        register = await unit.pair()
        sim = unit.daemon.sim
        assert sim is not None
        await register.receipt()
        sim.faults.update(switches)
        answer = await register.receipt()
        assert answer["tse_failure"] is True and answer["failure"]["code"] == code
        sim.faults.reset()
        _assert_late(await _late_body(register, answer["id"]), code)


async def test_a_signature_within_the_deadline_is_never_late(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        answer = await register.receipt()
        assert answer["tse_failure"] is False and answer["signed_late"] is False
        got = (await register.call("GET", f"/api/v1/transactions/{answer['id']}")).json()
        assert got["signed_late"] is False and got["failure"] is None


# -- bug 6: a register lists its own transactions --------------------------------------------


async def test_a_register_lists_its_own_transactions_newest_first_with_paging(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair("ERS kasse-1")
        other = await unit.pair("ERS kasse-2")
        signed = [(await register.receipt())["id"] for _ in range(3)]
        open_ids = [
            (await register.call("POST", "/api/v1/transactions")).json()["id"] for _ in range(2)
        ]
        await other.call("POST", "/api/v1/transactions")
        listing = await register.call("GET", "/api/v1/transactions")
        assert listing.status_code == 200, listing.text
        ids = [t["id"] for t in listing.json()["transactions"]]
        assert ids == [*reversed(open_ids), *reversed(signed)]
        assert listing.json()["next"] is None
        pending = (
            await register.call("GET", "/api/v1/transactions", params={"state": "journaled,active"})
        ).json()
        assert {t["id"] for t in pending["transactions"]} == set(open_ids)
        assert all(t["pending"] for t in pending["transactions"])
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 2}
        for _ in range(5):
            page = (await register.call("GET", "/api/v1/transactions", params=params)).json()
            seen.extend(t["id"] for t in page["transactions"])
            if page["next"] is None:
                break
            params = {"limit": 2, "before": page["next"]}
        assert seen == ids
        # Recovery: cancel what the register started and never ended.
        for tx in pending["transactions"]:
            cancelled = await register.call("POST", f"/api/v1/transactions/{tx['id']}/cancel")
            assert cancelled.json()["state"] == "cancelled"
        left = (
            await register.call("GET", "/api/v1/transactions", params={"state": "journaled,active"})
        ).json()
        assert left["transactions"] == []


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"state": "open"}, "not a transaction state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"before": "x"}, "before"),
        ({"sort": "asc"}, "unknown query parameter"),
    ],
)
async def test_list_parameters_are_checked(
    tmp_path: Path, params: dict[str, str], fragment: str
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        response = await register.call("GET", "/api/v1/transactions", params=params)
        assert response.status_code == 400 and fragment in response.json()["error"]["message"]


async def test_the_list_never_shows_another_registers_transactions(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair("ERS kasse-1")
        other = await unit.pair("ERS kasse-2")
        theirs = (await other.receipt())["id"]
        mine = await register.call("GET", "/api/v1/transactions")
        assert mine.json()["transactions"] == []
        cursor = await register.call("GET", "/api/v1/transactions", params={"before": theirs})
        assert cursor.status_code == 404
        anonymous = await httpx.AsyncClient(
            base_url=unit.base_url, verify=unit.ssl_context()
        ).__aenter__()
        try:
            denied = await anonymous.get("/api/v1/transactions")
            assert denied.status_code == 401
        finally:
            await anonymous.aclose()
        assert str(uuid.UUID(theirs)) == theirs
