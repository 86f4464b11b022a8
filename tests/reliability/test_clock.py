"""Wall-clock jumps while the unit runs (NTP correction, a dead RTC battery, a technician).

The unit's wall clock is injected (``Daemon(clock=...)``); deadlines, backoff and the age of
open transactions use the monotonic clock, so a jump by hours neither cancels the open
transactions of every register at once nor keeps abandoned ones alive forever. Token expiry
follows the wall clock and costs one re-authentication, never a failed receipt.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.support.unit import RECEIPT, Register, Unit, running_unit
from tsed.fiskaly.tr03151 import verify_qr_code

HOURS = 3600.0


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _sim_states(unit: Unit) -> dict[str, str]:
    sim = unit.daemon.sim
    assert sim is not None
    return {tx.id: tx.state for txs in sim.state.txs.values() for tx in txs.values()}


async def _states(register: Register, ids: list[str]) -> list[str]:
    out = []
    for local_id in ids:
        body = (await register.call("GET", f"/api/v1/transactions/{local_id}")).json()
        out.append(body["state"])
    return out


async def _receipts(register: Register, count: int) -> list[dict]:
    answers = await asyncio.gather(*(register.receipt() for _ in range(count)))
    for answer in answers:
        assert answer["tse_failure"] is False, answer
        assert verify_qr_code(answer["result"]["qr_code_data"]).valid
    return answers


def _auths(unit: Unit) -> int:
    sim = unit.daemon.sim
    assert sim is not None
    return int(sim.stats["POST /api/v2/auth"])


async def test_clock_jumps_neither_mass_cancel_nor_immortalise_open_transactions(
    tmp_path: Path,
) -> None:
    clock = Clock()
    config = "abandon_minutes = 10\nregister_deadline = 2.0\n"
    async with running_unit(tmp_path / "s", config=config, clock=clock) as unit:
        signing = unit.daemon.signing
        register = await unit.pair()
        await _receipts(register, 2)
        open_ids = [
            (await register.call("POST", "/api/v1/transactions")).json()["id"] for _ in range(6)
        ]
        await asyncio.sleep(0.2)  # the background starts reach the simulator

        # Forward by a day: one re-authentication (the token looks expired), no failure, and
        # the housekeeping does not take the six open transactions for abandoned.
        auths = _auths(unit)
        clock.offset = 25 * HOURS
        await _receipts(register, 20)
        assert _auths(unit) - auths == 1
        await signing.completion.drain()  # what the housekeeping runs
        assert await _states(register, open_ids) == ["active"] * 6
        assert signing.breaker.available

        # Back by two days: the token looks fresh for longer, which costs nothing while fiskaly
        # accepts it; the transactions are still open and can be finished normally.
        clock.offset = -25 * HOURS
        await _receipts(register, 10)
        await signing.completion.drain()
        assert await _states(register, open_ids) == ["active"] * 6
        for local_id in open_ids[:3]:
            done = await register.call("POST", f"/api/v1/transactions/{local_id}/finish", RECEIPT)
            assert done.json()["state"] == "finished" and not done.json()["tse_failure"]

        # Abandonment still happens, on monotonic time, although every row's wall-clock age
        # is now negative.
        signing.completion.abandon_after = 0.3
        await asyncio.sleep(0.4)
        await signing.completion.drain()
        assert await _states(register, open_ids) == ["finished"] * 3 + ["cancelled"] * 3
        sim_states = _sim_states(unit)
        assert "ACTIVE" not in sim_states.values()
        assert sorted(sim_states.values()).count("CANCELLED") == 3
        assert signing.status()["failures"] == 0


async def test_rows_from_before_a_restart_keep_their_age(tmp_path: Path) -> None:
    """After a restart, a transaction's age is its wall-clock age at start-up, counted on
    from there monotonically; a later jump does not change it."""
    state = tmp_path / "s"
    async with running_unit(state, config="abandon_minutes = 10\n") as unit:
        register = await unit.pair()
        kept = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        await asyncio.sleep(0.2)
    clock = Clock()
    async with running_unit(state, clock=clock) as unit:
        signing = unit.daemon.signing
        clock.offset = 6 * HOURS
        await signing.completion.drain()
        row = await unit.daemon.store.get_tx(kept)
        assert row is not None and row.state == "active"
        signing.completion.abandon_after = 0.3
        await asyncio.sleep(0.4)
        await signing.completion.drain()
        row = await unit.daemon.store.get_tx(kept)
        assert row is not None and row.state == "cancelled"
