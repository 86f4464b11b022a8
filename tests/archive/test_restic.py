"""The restic wrapper against real targets on loopback: one clear error per failure."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.offbox import RcloneRest
from tests.support.proxyserver import ProxyServer
from tests.support.unit import free_port
from tsed.archive.restic import Restic, Target
from tsed.config.offbox import parse_repository
from tsed.errors import (
    OffboxAuthFailed,
    OffboxMissing,
    OffboxProxyFailed,
    OffboxUnreachable,
    OffboxWrongPassword,
    ResticMissing,
)
from tsed.fiskaly.transport import ProxySettings

PASSWORD = "repo-password-7Hq2xVb9Lw"


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[RcloneRest]:
    target = RcloneRest(tmp_path / "target")
    target.start()
    yield target
    target.stop()


def restic_for(
    url: str, tmp_path: Path, *, login: str | None = None, credential: str | None = None,
    password: str = PASSWORD, **kwargs: object,
) -> Restic:  # fmt: skip
    target = Target(
        parse_repository(url), password, login, credential, cache_dir=tmp_path / "cache",
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    return Restic(target, timeout=60.0, runtime_dir=tmp_path / "run")


@pytest.fixture
async def blackhole() -> AsyncIterator[int]:
    """A TCP port that accepts and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_init_is_idempotent_and_backup_snapshots_stats(
    rest: RcloneRest, tmp_path: Path
) -> None:
    restic = restic_for(rest.url(), tmp_path, login=rest.user, credential=rest.password)
    assert await restic.init() is True
    assert await restic.init() is False
    source = tmp_path / "src"
    (source / "t1").mkdir(parents=True)
    (source / "t1" / "a.tar").write_bytes(b"x" * 5000)
    first = await restic.backup(source)
    assert first.files_new == 1 and first.data_added > 0
    second = await restic.backup(source)
    assert second.files_unmodified == 1 and second.files_new == 0
    snapshots = await restic.snapshots()
    assert [s.id[:8] for s in snapshots] == [first.snapshot_id, second.snapshot_id]
    assert snapshots[-1].tags == ("tsed-archive",) and snapshots[-1].hostname == "tsed"
    stats = await restic.stats()
    assert stats.snapshots == 2 and stats.total_size > 0
    assert (await restic.check("100%")).ok
    assert not list((tmp_path / "run").iterdir())  # the private files are gone


async def test_missing_repository(rest: RcloneRest, tmp_path: Path) -> None:
    restic = restic_for(rest.url("nothing-here"), tmp_path, login=rest.user,
                        credential=rest.password)  # fmt: skip
    with pytest.raises(OffboxMissing) as caught:
        await restic.snapshots()
    assert "rest:http://127.0.0.1" in caught.value.message


async def test_wrong_password(rest: RcloneRest, tmp_path: Path) -> None:
    good = restic_for(rest.url(), tmp_path, login=rest.user, credential=rest.password)
    await good.init()
    bad = restic_for(rest.url(), tmp_path, login=rest.user, credential=rest.password,
                     password="not-the-password-0000")  # fmt: skip
    with pytest.raises(OffboxWrongPassword) as caught:
        await bad.snapshots()
    assert "not-the-password-0000" not in str(caught.value.to_dict())


async def test_wrong_credential(rest: RcloneRest, tmp_path: Path) -> None:
    restic = restic_for(rest.url(), tmp_path, login=rest.user, credential="wrong-credential-x1")
    with pytest.raises(OffboxAuthFailed) as caught:
        await restic.init()
    assert "wrong-credential-x1" not in str(caught.value.to_dict())


async def test_unreachable_target(tmp_path: Path) -> None:
    restic = restic_for(f"rest:http://127.0.0.1:{free_port()}/x", tmp_path)
    with pytest.raises(OffboxUnreachable):
        await restic.snapshots()


async def test_untrusted_tls_certificate(tmp_path: Path) -> None:
    target = RcloneRest(tmp_path / "target", tls=True)
    target.start()
    try:
        restic = restic_for(target.url(), tmp_path, login=target.user, credential=target.password)
        with pytest.raises(OffboxUnreachable) as caught:
            await restic.snapshots()
        assert "ca_file" in caught.value.message
        trusted = restic_for(target.url(), tmp_path, login=target.user,
                             credential=target.password, ca_file=str(target.ca_file))  # fmt: skip
        assert await trusted.init() is True
    finally:
        target.stop()


async def test_broken_proxy(tmp_path: Path) -> None:
    dead = ProxySettings("127.0.0.1", free_port(), None, None)
    restic = restic_for("rest:https://backup.invalid:8000/shop7", tmp_path, proxy=dead)
    with pytest.raises(OffboxProxyFailed):
        await restic.snapshots()


async def test_proxy_refusing_the_password(tmp_path: Path) -> None:
    proxy = ProxyServer(username="shop", password="right-proxy-password")
    await proxy.start()
    try:
        wrong = ProxySettings("127.0.0.1", proxy.port, "shop", "wrong-proxy-password")
        restic = restic_for("rest:https://backup.invalid:8000/shop7", tmp_path, proxy=wrong)
        with pytest.raises(OffboxProxyFailed) as caught:
            await restic.snapshots()
        assert proxy.refused >= 1
        assert "wrong-proxy-password" not in str(caught.value.to_dict())
    finally:
        await proxy.stop()


async def test_restic_missing(tmp_path: Path) -> None:
    target = Target(parse_repository("rest:http://127.0.0.1:1/x"), PASSWORD)
    restic = Restic(target, binary=str(tmp_path / "no-restic"), runtime_dir=tmp_path / "run")
    with pytest.raises(ResticMissing):
        await restic.snapshots()


async def test_a_target_that_never_answers_is_cut_at_the_bound(
    blackhole: int, tmp_path: Path
) -> None:
    restic = restic_for(f"rest:http://127.0.0.1:{blackhole}/x", tmp_path)
    restic.timeout = 1.5
    started = asyncio.get_running_loop().time()
    with pytest.raises(OffboxUnreachable) as caught:
        await restic.backup(tmp_path)
    assert asyncio.get_running_loop().time() - started < 10
    assert "did not finish within" in caught.value.message


async def test_a_killed_runs_secret_files_are_removed_by_the_next_run(tmp_path: Path) -> None:
    """A run the unit could not clean up (SIGKILL, power cut) leaves the password file: the
    next session removes it once it is older than any run may last, and keeps a live one."""
    restic = restic_for(f"rest:http://127.0.0.1:{free_port()}/x", tmp_path)
    run = tmp_path / "run"
    stale, live = run / "tsed-restic-stale", run / "tsed-restic-live"
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "password").write_text(PASSWORD)
    old = time.time() - restic.timeout - 120
    os.utime(stale, (old, old))
    with pytest.raises(OffboxUnreachable):
        await restic.snapshots()
    assert not stale.exists()
    assert (live / "password").read_text() == PASSWORD
    assert sorted(p.name for p in run.iterdir()) == ["tsed-restic-live"]  # its own is gone too
