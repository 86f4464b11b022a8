"""The archive's off-box copy end to end: real TAR exports from the simulator, copied with
restic to a real REST target (TLS, behind the shop's proxy) and a real SFTP target, checked,
the local archive deleted, restored, compared byte for byte with the manifest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fiskaly.simulator.conftest import Api
from tests.support.offbox import MANIFEST, PrivateSshd, RcloneRest, build_archive, command_lines
from tests.support.proxyserver import ProxyServer
from tests.support.unit import running_unit
from tsed.archive.offbox import OffboxCopy, offbox_status
from tsed.config.model import Config, config_from_dict
from tsed.config.offbox import CREDENTIAL_ENTRY, PASSWORD_ENTRY
from tsed.errors import (
    ConfigError,
    ConflictError,
    OffboxAuthFailed,
    OffboxProxyFailed,
    OffboxUnreachable,
)
from tsed.state.vault import Vault
from tsed.tss.access import PROXY_PASSWORD

PASSWORD = "repo-password-Kd83mQz1Xc"
PROXY_SECRET = "proxy-password-Uu71bNw2"


@pytest.fixture
def rest_tls(tmp_path: Path) -> Iterator[RcloneRest]:
    target = RcloneRest(tmp_path / "target", tls=True, host_name="backup.invalid")
    target.start()
    yield target
    target.stop()


def setup(
    state: Path, offbox: dict[str, object], *, credential: str | None, proxy: int | None = None
) -> tuple[Config, Vault]:
    data: dict[str, object] = {"offbox": offbox}
    vault = Vault(state / "vault.json")
    vault.set(PASSWORD_ENTRY, PASSWORD)
    if credential is not None:
        vault.set(CREDENTIAL_ENTRY, credential)
    if proxy is not None:
        data["proxy"] = {"host": "127.0.0.1", "port": proxy, "username": "shop"}
        vault.set(PROXY_PASSWORD, PROXY_SECRET)
    return config_from_dict(data), vault


def manifest_of(root: Path) -> dict[str, str]:
    """The archive's own manifest (sha256sum format) plus the manifest file itself."""
    import hashlib

    lines = (root / MANIFEST).read_text().splitlines()
    found = {name: digest for digest, name in (line.split("  ", 1) for line in lines)}
    found[MANIFEST] = hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest()
    return found


async def test_rest_tls_through_the_proxy_round_trip(
    api: Api, rest_tls: RcloneRest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    archive = tmp_path / "state" / "archive"
    manifest = await build_archive(api, archive, exports=4)
    # backup.invalid resolves nowhere: restic reaches the target only through the proxy
    proxy = ProxyServer(username="shop", password=PROXY_SECRET,
                        hosts={"backup.invalid": "127.0.0.1"})  # fmt: skip
    await proxy.start()
    try:
        config, vault = setup(
            tmp_path / "state",
            {"repository": rest_tls.url(host="backup.invalid"), "user": rest_tls.user,
             "ca_file": str(rest_tls.ca_file), "check_subset": "100%"},
            credential=rest_tls.password, proxy=proxy.port,
        )  # fmt: skip
        copy = OffboxCopy.from_config(config, vault, tmp_path / "state")
        assert copy is not None
        assert offbox_status(tmp_path / "state", config).state == "never"
        first = await copy.copy(archive)
        assert first.created_repository and first.summary.files_new == len(manifest)
        assert proxy.connections[f"backup.invalid:{rest_tls.port}"] >= 1
        status = copy.status(config)
        assert status.state == "ok" and status.last_snapshot == first.snapshot_id
        assert status.age_seconds is not None and status.age_seconds < 60
        assert status.repository_bytes == first.repository_bytes > 0
        check = await copy.check()
        assert check.ok and copy.status(config).last_check_ok is True
        latest = await copy.latest()
        assert latest is not None and latest.id.startswith(first.snapshot_id)
        assert abs(latest.time.timestamp() - time.time()) < 120

        # a new export arrives: only it travels
        extra = archive / "late" / "0000000001-0000000009.tar"
        extra.parent.mkdir()
        extra.write_bytes(b"a later export" * 100)
        second = await copy.copy(archive)
        assert second.summary.files_new == 1 and not second.created_repository

        shutil.rmtree(archive)  # the box lost its archive
        with pytest.raises(ConflictError):
            await copy.restore(tmp_path / "state")  # never over a directory with files
        restored = await copy.restore(tmp_path / "restored")
        assert restored.snapshot_id.startswith(second.snapshot_id)
        expected = {**manifest, "late/0000000001-0000000009.tar": restored.sha256.get(
            "late/0000000001-0000000009.tar", "missing")}  # fmt: skip
        assert restored.sha256 == expected
        assert manifest_of(tmp_path / "restored") == manifest
    finally:
        await proxy.stop()
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for secret in (PASSWORD, rest_tls.password, PROXY_SECRET):
        assert secret not in logged
        assert secret not in (tmp_path / "state" / "offbox" / "status.json").read_text()
        assert secret not in str(status)


async def test_sftp_round_trip(api: Api, tmp_path: Path) -> None:
    archive = tmp_path / "state" / "archive"
    manifest = await build_archive(api, archive, exports=3)
    sshd = PrivateSshd(tmp_path / "sshd")
    await asyncio.to_thread(sshd.start)
    try:
        repo = f"sftp://{sshd.user}@127.0.0.1:{sshd.port}{tmp_path}/sftp-repo"
        config, vault = setup(tmp_path / "state", {"repository": repo, "host_key": sshd.host_key},
                              credential=sshd.client_key)  # fmt: skip
        copy = OffboxCopy.from_config(config, vault, tmp_path / "state")
        assert copy is not None
        result = await copy.copy(archive)
        assert result.summary.files_new == len(manifest)
        assert (await copy.check("100%")).ok
        shutil.rmtree(archive)
        restored = await copy.restore(tmp_path / "restored")
        assert restored.sha256 == manifest

        # no pinned key: the first one seen is remembered, a changed one refused
        first_use, _ = setup(tmp_path / "state", {"repository": repo},
                             credential=sshd.client_key)  # fmt: skip
        trusting = OffboxCopy.from_config(first_use, vault, tmp_path / "state")
        assert trusting is not None and await trusting.latest() is not None
        known = tmp_path / "state" / "offbox" / "known_hosts"
        assert sshd.host_key.split()[1] in known.read_text()
        await asyncio.to_thread(sshd.stop)
        swapped = PrivateSshd(tmp_path / "sshd-swapped", port=sshd.port)
        await asyncio.to_thread(swapped.start)
        try:
            with pytest.raises(OffboxAuthFailed, match="host key"):
                await trusting.latest()
        finally:
            await asyncio.to_thread(swapped.stop)
        await asyncio.to_thread(sshd.start)

        # another host key than the pinned one: refused, never silently accepted
        other = PrivateSshd(tmp_path / "sshd2")
        await asyncio.to_thread(other.start)
        try:
            moved, _ = setup(tmp_path / "state", {
                "repository": f"sftp://{sshd.user}@127.0.0.1:{other.port}/x",
                "host_key": sshd.host_key}, credential=sshd.client_key)  # fmt: skip
            impostor = OffboxCopy.from_config(moved, vault, tmp_path / "state")
            assert impostor is not None
            with pytest.raises(OffboxAuthFailed) as caught:
                await impostor.copy(tmp_path / "restored")
            assert "host key" in caught.value.message
        finally:
            await asyncio.to_thread(other.stop)
    finally:
        await asyncio.to_thread(sshd.stop)


async def test_target_goes_away_mid_upload_and_comes_back(api: Api, tmp_path: Path) -> None:
    archive = tmp_path / "state" / "archive"
    manifest = await build_archive(api, archive, exports=2)
    bulk = archive / "bulk" / "0000000001-0001000000.tar"  # a year's export of a busy shop
    bulk.parent.mkdir()
    bulk.write_bytes(os.urandom(6 * 1024 * 1024))
    slow = RcloneRest(tmp_path / "target", bwlimit="2M")
    slow.start()
    try:
        config, vault = setup(tmp_path / "state", {"repository": slow.url(), "user": slow.user},
                              credential=slow.password)  # fmt: skip
        copy = OffboxCopy.from_config(config, vault, tmp_path / "state")
        assert copy is not None
        running = asyncio.create_task(copy.copy(archive))
        packs = slow.data / "shop7" / "data"
        for _ in range(250):  # until the first data reached the target
            if packs.exists() and any(packs.glob("*/*")):
                break
            await asyncio.sleep(0.02)
        assert not running.done()
        await slow.astop()
        await asyncio.sleep(1.0)
        await slow.astart()
        try:
            await running
            outcome = "survived"
        except OffboxUnreachable:
            outcome = "failed"
            assert copy.status(config).state == "failing"
            await copy.copy(archive)  # the next run completes the copy
        assert outcome in ("survived", "failed")
        assert copy.status(config).state == "ok"
        assert (await copy.check("100%")).ok
        shutil.rmtree(archive)
        restored = await copy.restore(tmp_path / "restored")
        assert {k: v for k, v in restored.sha256.items() if not k.startswith("bulk/")} == manifest
    finally:
        slow.stop()


async def test_a_dead_target_never_affects_signing(api: Api, tmp_path: Path) -> None:
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    blackhole = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = blackhole.sockets[0].getsockname()[1]
    try:
        async with running_unit(tmp_path / "unit") as unit:
            register = await unit.pair()
            archive = unit.state_dir / "archive"
            await build_archive(api, archive, exports=1)
            proxy = ProxyServer(username="shop", password=PROXY_SECRET,
                                hosts={"backup.invalid": "127.0.0.1"})  # fmt: skip
            await proxy.start()
            config, vault = setup(
                tmp_path / "offbox-state",
                {"repository": f"rest:https://backup.invalid:{port}/shop7", "user": "shop7"},
                credential="rest-credential-never-shown", proxy=proxy.port,
            )  # fmt: skip
            copy = OffboxCopy.from_config(config, vault, tmp_path / "offbox-state")
            assert copy is not None
            copy.restic.timeout = 4.0
            assert await copy.copy_or_report(tmp_path / "no-such-dir") is None
            running = asyncio.create_task(copy.copy(archive))
            # Receipts while restic hangs on the dead target: each is signed within the
            # register's deadline (a blocked unit would answer tse_failure), and they keep
            # coming while the copy is still under way (bounded in count, not in time).
            signed, seen, environ = 0, "", ""
            while not running.done() and signed < 200:
                result = await register.receipt()
                assert result["tse_failure"] is False
                signed += 1
                if signed % 10 == 1:
                    lines, env = await asyncio.to_thread(command_lines)
                    seen, environ = seen + lines, environ + env
            with pytest.raises(OffboxUnreachable) as caught:
                await running
            await proxy.stop()
            assert signed >= 5, signed  # signing went on beside the hanging copy
            assert "restic" in seen and "RESTIC_PASSWORD_FILE" in environ  # restic ran
            for secret in (PASSWORD, "rest-credential-never-shown", PROXY_SECRET):
                assert secret not in seen  # no command line
                assert secret not in str(caught.value.to_dict())
            # the repository password and the REST credential are files, not environment;
            # the proxy's password is in restic's own environment (HTTPS_PROXY), which only
            # its user and root can read, like the vault
            assert PASSWORD not in environ and "rest-credential-never-shown" not in environ
            assert copy.status(config).state == "failing"
            assert copy.status(config).last_error_code == "OFFBOX_UNREACHABLE"
    finally:
        for writer in held:
            writer.close()
        blackhole.close()
        with contextlib.suppress(Exception):
            await blackhole.wait_closed()


def test_not_configured_and_no_password(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault.json")
    assert OffboxCopy.from_config(Config(), vault, tmp_path) is None
    assert offbox_status(tmp_path, Config()).state == "off"
    config = config_from_dict({"offbox": {"repository": "sftp:tsed@nas.example:/srv/tsed"}})
    with pytest.raises(ConfigError, match="repository password"):
        OffboxCopy.from_config(config, vault, tmp_path)


def test_status_states(tmp_path: Path) -> None:
    from tsed.archive.offbox import _Record, _status_path

    config = config_from_dict({"offbox": {"repository": "sftp:tsed@nas.example:/srv/tsed"}})
    display = config.offbox.repository.display if config.offbox else ""
    path = _status_path(tmp_path)
    path.parent.mkdir()

    def state(**values: object) -> str:
        import json
        from dataclasses import asdict

        path.write_text(json.dumps(asdict(_Record(repository=display, **values))))  # type: ignore[arg-type]
        return offbox_status(tmp_path, config, now=1_000_000.0).state

    assert state() == "never"
    assert state(last_copy_at=999_000.0) == "ok"
    assert state(last_copy_at=1.0) == "stale"
    assert state(last_copy_at=999_000.0, last_error="X", last_error_at=999_500.0) == "failing"
    assert state(last_copy_at=999_000.0, last_check_ok=False) == "failing"
    moved = config_from_dict({"offbox": {"repository": "sftp:tsed@other.example:/srv/tsed"}})
    assert offbox_status(tmp_path, moved, now=1_000_000.0).state == "never"


async def test_sftp_through_the_shops_proxy(api: Api, tmp_path: Path) -> None:
    archive = tmp_path / "state" / "archive"
    manifest = await build_archive(api, archive, exports=1)
    sshd = PrivateSshd(tmp_path / "sshd")
    await asyncio.to_thread(sshd.start)
    # nas.invalid resolves nowhere: ssh reaches the target only through the proxy's CONNECT
    proxy = ProxyServer(username="shop", password=PROXY_SECRET, hosts={"nas.invalid": "127.0.0.1"})
    await proxy.start()
    try:
        repo = f"sftp://{sshd.user}@nas.invalid:{sshd.port}{tmp_path}/sftp-repo"
        config, vault = setup(tmp_path / "state", {"repository": repo, "host_key": sshd.host_key},
                              credential=sshd.client_key, proxy=proxy.port)  # fmt: skip
        copy = OffboxCopy.from_config(config, vault, tmp_path / "state")
        assert copy is not None
        assert (await copy.copy(archive)).summary.files_new == len(manifest)
        assert proxy.connections[f"nas.invalid:{sshd.port}"] >= 1
        shutil.rmtree(archive)
        assert (await copy.restore(tmp_path / "restored")).sha256 == manifest

        vault.set(PROXY_PASSWORD, "not-the-proxy-password")
        refused = OffboxCopy.from_config(config, vault, tmp_path / "state")
        assert refused is not None
        with pytest.raises(OffboxProxyFailed) as caught:
            await refused.latest()
        assert "407" in caught.value.message
        assert "not-the-proxy-password" not in str(caught.value.to_dict())
    finally:
        await proxy.stop()
        await asyncio.to_thread(sshd.stop)


async def test_a_replaced_repository_is_reported_and_filled_again(
    api: Api, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive = tmp_path / "state" / "archive"
    manifest = await build_archive(api, archive, exports=1)
    target = RcloneRest(tmp_path / "target")
    target.start()
    try:
        config, vault = setup(tmp_path / "state", {"repository": target.url(),
                              "user": target.user}, credential=target.password)  # fmt: skip
        first = OffboxCopy.from_config(config, vault, tmp_path / "state")
        assert first is not None
        assert (await first.copy(archive)).created_repository
        before = first.status(config).repository_id
        target.stop()  # the target's disk was replaced
        shutil.rmtree(target.data / "shop7")
        target.start()
        again = OffboxCopy.from_config(config, vault, tmp_path / "state")
        assert again is not None
        result = await again.copy(archive)
        assert result.created_repository and result.summary.files_new == len(manifest)
        assert again.status(config).repository_id not in (None, before)
        replaced = [r for r in caplog.records
                    if getattr(r, "TSED_EVENT", "") == "offbox_repository_replaced"]  # fmt: skip
        assert len(replaced) == 1 and replaced[0].levelno == logging.ERROR
    finally:
        target.stop()
