"""Background tasks of the signing service: stopping waits for the work, follow-ups included,
cancels what the journal can redo at once and what outlives the grace period at its end."""

from __future__ import annotations

import asyncio
import time

from tsed.signing.tasks import Background


async def test_stop_waits_for_work_and_its_follow_ups() -> None:
    background = Background()
    done: list[str] = []

    async def follow_up() -> None:
        await asyncio.sleep(0.05)
        done.append("follow-up")

    async def work() -> None:
        await asyncio.sleep(0.05)
        assert background.stopping
        background.spawn(follow_up(), "tsed-follow-up")  # spawned while stopping
        done.append("work")

    background.spawn(work(), "tsed-work")
    await background.stop(5.0, cancel="tsed-retry")
    assert done == ["work", "follow-up"]
    assert not background.stopping


async def test_stop_cancels_retries_at_once_and_the_rest_after_the_grace() -> None:
    background = Background()
    retry = background.spawn(asyncio.sleep(30), "tsed-retry")
    stuck = background.spawn(asyncio.sleep(30), "tsed-stuck")
    outside = asyncio.create_task(asyncio.sleep(30), name="tsed-start")
    adopted = asyncio.ensure_future(asyncio.sleep(30))
    background.adopt(adopted)
    started = time.monotonic()
    await background.stop(0.2, cancel="tsed-retry", also=lambda: [outside])
    assert 0.15 < time.monotonic() - started < 2.0
    assert retry.cancelled() and stuck.cancelled() and adopted.cancelled()
    assert outside.cancelled()  # the tasks of ``also`` are held to the same grace


async def test_a_finished_task_is_let_go() -> None:
    background = Background()
    task = background.spawn(asyncio.sleep(0), "tsed-quick")
    await task
    await asyncio.sleep(0)  # the done callback runs
    started = time.monotonic()
    await background.stop(5.0, cancel="tsed-retry")
    assert time.monotonic() - started < 0.5
