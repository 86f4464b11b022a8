"""An open transaction's age runs on the monotonic clock; rows of an earlier run start from
their wall-clock age, never a negative one."""

from __future__ import annotations

import time

from tsed.signing.inflight import InFlight
from tsed.state.rows import TxRow


def _row(local_id: str, created_at: float) -> TxRow:
    return TxRow(
        id=local_id, register_id="r", tenant_id="t", env="TEST", tss_id="s", client_id="c",
        tx_id="x", state="active", revision=1, kind="transaction", receipt=None, result=None,
        failure=None, created_at=created_at, updated_at=created_at,
    )  # fmt: skip


def test_age_counts_from_start_up_and_ignores_wall_clock_jumps() -> None:
    wall = [1_000_000.0]
    inflight = InFlight(lambda: wall[0])
    old = _row("old", created_at=wall[0] - 600)  # journaled ten minutes before this run
    future = _row("future", created_at=wall[0] + 86_400)  # a clock that was a day ahead
    inflight.note_born(old)
    inflight.note_born(future)
    wall[0] += 7 * 86_400  # the wall clock jumps a week
    assert 600 <= inflight.age(old) < 610
    assert 0 <= inflight.age(future) < 10


def test_a_new_transaction_is_born_now_and_forgotten_when_it_ends() -> None:
    inflight = InFlight(time.time)
    row = _row("new", created_at=time.time() - 3600)
    inflight.born_now(row.id)
    assert inflight.age(row) < 1  # not its wall-clock age: this run journaled it
    inflight.ended(row.id)
    assert 3599 < inflight.age(row) < 3610  # unseen again: counted from its row
