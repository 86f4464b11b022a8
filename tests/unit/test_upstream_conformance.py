"""The unit end to end against what fiskaly really answers: 499/444 retried within the
register's deadline, pending transactions, deregistered clients (real simulator, real unit)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tests.support.unit import running_unit
from tsed.fiskaly.tr03151 import verify_qr_code

TX_ROUTE = r"^PUT .*/tx/"


async def _until(predicate, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_499_and_444_within_the_deadline_still_sign(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config="register_deadline = 3.0\n") as unit:
        register = await unit.pair()
        await register.receipt()  # TSS and client set up
        faults = unit.daemon.sim.faults
        for status, code in ((499, None), (444, "E_MIDDLEWARE_PENDING_REQUEST")):
            faults.update(
                {"route": TX_ROUTE, "error_burst": 1, "error_status": status, "error_code": code}
            )
            answer = await register.receipt()
            assert answer["tse_failure"] is False, answer
            assert verify_qr_code(answer["result"]["qr_code_data"]).valid
            assert faults.error_burst == 0


async def test_499_past_the_deadline_goes_the_tse_failure_way(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config="register_deadline = 1.0\n") as unit:
        register = await unit.pair()
        await register.receipt()
        sim = unit.daemon.sim
        sim.faults.update(
            {"route": TX_ROUTE, "error_rate": 1.0, "error_status": 499, "error_code": None}
        )
        failed = await register.receipt()
        assert failed["tse_failure"] is True
        assert "TSE ausgefallen" in failed["failure"]["receipt_text"]
        # an outage (fiskaly asked for a retry), not a rejection of the receipt
        assert failed["failure"]["code"] in ("TSE_UNREACHABLE", "TSE_TIMEOUT"), failed
        sim.faults.reset()

        async def signed_late() -> bool:
            return not await unit.daemon.store.txs_in_states(["failed", "finishing"])

        await _until(signed_late, 30, "the failed receipt is signed late")


async def test_a_pending_transaction_is_signed_through_the_unit(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config="register_deadline = 3.0\n") as unit:
        register = await unit.pair()
        await register.receipt()
        sim = unit.daemon.sim
        sim.faults.update({"pending_tx": 3})
        answer = await register.receipt()
        assert answer["tse_failure"] is False, answer
        result = answer["result"]
        assert result["signature"] and verify_qr_code(result["qr_code_data"]).valid
        assert sim.faults.pending_tx == 0


async def test_a_register_paired_again_with_a_revoked_serial_gets_its_client_back(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        first = await unit.pair("ERS kasse-1")
        before = (await first.receipt())["result"]
        code, out = await unit.tsectl("registers", "revoke", first.register_id)
        assert code == 0, out
        sim = unit.daemon.sim
        clients = [c for c in sim.state.clients.values() if c.serial_number == "ERS kasse-1"]
        assert [c.state for c in clients] == ["DEREGISTERED"]
        again = await unit.pair("ERS kasse-1")  # the same till, paired again
        after = await again.receipt()
        assert after["tse_failure"] is False, after
        assert after["result"]["client_serial_number"] == before["client_serial_number"]
        clients = [c for c in sim.state.clients.values() if c.serial_number == "ERS kasse-1"]
        assert [c.state for c in clients] == ["REGISTERED"]  # one client, registered again
        binding = unit.daemon.upstreams.binding("default")
        row = unit.daemon.upstreams.register_client(again.register_id, binding.tss_id)
        assert row is not None and row.client_id == clients[0].id and row.state == "REGISTERED"


async def test_a_client_deregistered_at_fiskaly_is_registered_again(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config="register_deadline = 2.0\n") as unit:
        register = await unit.pair()
        await register.receipt()
        sim = unit.daemon.sim
        (client,) = sim.state.clients.values()
        client.state = "DEREGISTERED"  # e.g. in fiskaly's dashboard
        failed = await register.receipt()
        assert failed["tse_failure"] is True

        async def registered_and_signed() -> bool:
            open_rows = await unit.daemon.store.txs_in_states(["failed", "finishing"])
            return client.state == "REGISTERED" and not open_rows

        await _until(registered_and_signed, 30, "client registered again, receipt signed late")
        answer = await register.receipt()
        assert answer["tse_failure"] is False, answer


async def test_a_wrong_stored_admin_pin_costs_one_attempt_and_says_so(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        await unit.pair("ERS kasse-1")
        upstreams = unit.daemon.upstreams
        tss_id = upstreams.binding("default").tss_id
        upstreams.vault.set(f"tss.{tss_id}.pin", "999999")  # e.g. a vault restored from a backup
        code, out = await unit.tsectl("--json", "pair")
        assert code == 0, out
        response = await unit.registers[0].http.post(
            "/api/v1/pairings",
            json={"code": json.loads(out)["code"], "register_serial": "ERS kasse-2"},
        )
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "ADMIN_PIN_REJECTED"
        assert "PIN" in error["hint"] and "API" not in error["hint"]
        assert "999999" not in response.text
        assert unit.daemon.sim.state.tss[tss_id].failed_logins == 1  # one attempt, not two
