"""One restic run per unit at a time: the daemon's copy and one by hand (tsectl) never create
or write the repository together (two concurrent first copies once left it unreadable)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.archive.test_offbox import setup
from tests.fiskaly.simulator.conftest import Api
from tests.support.offbox import RcloneRest, build_archive
from tsed.archive.offbox import OffboxCopy
from tsed.archive.offboxlock import repository_lock
from tsed.errors import OffboxError


async def test_two_first_copies_at_once_leave_one_readable_repository(
    api: Api, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    archive = state / "archive"
    await build_archive(api, archive, exports=2)
    target = RcloneRest(tmp_path / "target")
    target.start()
    try:
        config, vault = setup(state, {"repository": target.url(), "user": target.user},
                              credential=target.password)  # fmt: skip
        daemon = OffboxCopy.from_config(config, vault, state)  # the unit's own copy
        by_hand = OffboxCopy.from_config(config, vault, state)  # tsectl archive copy
        assert daemon is not None and by_hand is not None
        first, second = await asyncio.gather(daemon.copy(archive), by_hand.copy(archive))
        assert [first.created_repository, second.created_repository].count(True) == 1
        later = OffboxCopy.from_config(config, vault, state)
        assert later is not None
        assert (await later.check()).ok
        snapshot = await later.latest()
        assert snapshot is not None
    finally:
        target.stop()


async def test_a_run_waits_for_the_other_and_gives_up_with_the_reason(tmp_path: Path) -> None:
    order: list[str] = []

    async def hold() -> None:
        async with repository_lock(tmp_path, 10):
            order.append("first in")
            await asyncio.sleep(0.5)
            order.append("first out")

    async def follow() -> None:
        await asyncio.sleep(0.1)
        async with repository_lock(tmp_path, 10):
            order.append("second in")

    await asyncio.gather(hold(), follow())
    assert order == ["first in", "first out", "second in"]
    async with repository_lock(tmp_path, 10):
        with pytest.raises(OffboxError, match="another copy of the archive"):
            async with repository_lock(tmp_path, 0.3):
                pass
