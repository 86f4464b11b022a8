"""The abandon sweep's result: abandoned transactions cancelled since the last sweep (by the
signing service's timer or the sweep itself), each counted once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.support.unit import running_unit
from tsed.signing.sweep import AbandonSweep


async def test_the_sweep_counts_abandoned_transactions_once(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config="abandon_minutes = 0.02\n") as unit:
        register = await unit.pair()
        sweep = AbandonSweep()
        first = await sweep.sweep(unit.daemon.signing)
        assert (first.cancelled, first.still_abandoned, first.abandon_minutes) == (0, 0, 0.02)
        ids = [(await register.call("POST", "/api/v1/transactions")).json()["id"] for _ in "abc"]
        counted = 0
        ends = time.monotonic() + 20
        while True:  # the timer and the sweep cancel the open ones after 1.2 s
            result = await sweep.sweep(unit.daemon.signing)
            counted += result.cancelled
            rows = [await unit.daemon.store.get_tx(i) for i in ids]
            if all(row is not None and row.state == "cancelled" for row in rows):
                break
            assert time.monotonic() < ends, rows
            await asyncio.sleep(0.2)
        counted += (await sweep.sweep(unit.daemon.signing)).cancelled
        assert counted == 3  # every one once, whoever cancelled it
        again = await sweep.sweep(unit.daemon.signing)
        assert (again.cancelled, again.open, again.ok) == (0, 0, True)
