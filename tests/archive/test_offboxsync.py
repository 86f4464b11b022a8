"""The off-box copy in the running unit: after every good archive run the unit copies the
archive to a real REST target (``rclone serve restic`` on loopback) in the background; the
target goes away mid-upload and comes back, the next run completes the copy, the local
archive is never changed and signing goes on; the auditor export restores what the box lost.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.offbox import Plug, RcloneRest
from tests.support.unit import Unit, running_unit
from tsed.archive.offbox import tree_digests
from tsed.archive.offboxsync import OffboxSync
from tsed.config.model import config_from_dict
from tsed.config.offbox import CREDENTIAL_ENTRY, PASSWORD_ENTRY
from tsed.state.vault import Vault

REPOSITORY_PASSWORD = "Sicherung-Passwort-9Kq2LmXw"


def offbox_config(target: RcloneRest, port: int | None = None) -> str:
    """The [offbox] section for ``target`` (reached on ``port``: a :class:`Plug` in front)."""
    return f'[offbox]\nrepository = "{target.url(port=port)}"\nuser = "{target.user}"\n'


async def set_password(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> str:
    """``tsectl archive offbox-password`` with the password on standard input (a script)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(REPOSITORY_PASSWORD + "\n"))
    code, out = await unit.tsectl("--json", "archive", "offbox-password")
    assert code == 0, out
    return out


async def archive_run(unit: Unit) -> dict[str, object]:
    code, out = await unit.tsectl("--json", "archive", "run")
    assert code == 0, out
    return dict(json.loads(out))


async def status(unit: Unit) -> dict[str, object]:
    code, out = await unit.tsectl("--json", "archive", "status")
    assert code == 0, out
    return dict(json.loads(out)["offbox"])


def local_archive(unit: Unit) -> dict[str, str]:
    """The archived files and the manifest (what the copy must never change)."""
    root = unit.state_dir / "archive"
    found = {k: v for k, v in tree_digests(root).items() if k.startswith(("tss/", "rejected/"))}
    found["MANIFEST.sha256"] = tree_digests(root)["MANIFEST.sha256"]
    return found


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[RcloneRest]:
    rest = RcloneRest(tmp_path / "target")
    await rest.astart()
    yield rest
    await rest.astop()


@pytest.mark.timeout(240)
async def test_copied_after_every_run_and_the_target_going_away_mid_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    slow = RcloneRest(tmp_path / "target")
    await slow.astart()
    plug = Plug(slow.port)  # the unit's way to the target, cut at the pack upload below
    await plug.plug_in()
    try:
        async with running_unit(tmp_path / "state", config=offbox_config(slow, plug.port)) as unit:
            unit.daemon.archive.archiver.poll_interval = 0.1
            sync = unit.daemon.archive.offbox
            assert sync is not None
            unit.daemon.vault.set(CREDENTIAL_ENTRY, slow.password)
            out = await set_password(unit, monkeypatch)
            assert REPOSITORY_PASSWORD not in out and "stored" in out
            assert unit.daemon.vault.get(PASSWORD_ENTRY) == REPOSITORY_PASSWORD
            register = await unit.pair()
            for _ in range(10):
                await register.receipt()
            await archive_run(unit)
            await asyncio.wait_for(sync.wait(), 120)
            first = await status(unit)
            assert first["state"] == "ok" and sync.copies == 1, first
            assert first["last_check_ok"] is True  # the first check is due at once
            for _ in range(40):  # a bigger second export: the upload takes seconds
                await register.receipt()
            sync.timeout = 4.0  # restic's bound per command: it gives up while the target is away
            plug.pull_at(b"POST /shop7/data/")  # gone as the second copy uploads its first pack
            await archive_run(unit)
            before = local_archive(unit)  # the run is done; its copy is under way
            await asyncio.wait_for(plug.pulled.wait(), 60)
            assert sync.running
            await slow.astop()  # and the target itself down
            signed = 0
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:  # signing goes on while the target is away
                answer = await register.receipt()
                assert answer["tse_failure"] is False
                signed += 1
            await slow.astart()
            await plug.plug_in()
            await asyncio.wait_for(sync.wait(), 180)
            middle = await status(unit)  # restic gave up: recorded, in German too
            assert middle["state"] == "failing", middle
            assert middle["last_error_code"] == "OFFBOX_UNREACHABLE", middle
            assert middle["last_error_de"] == "Das Sicherungsziel ist nicht erreichbar."
            code, text = await unit.tsectl("--lang", "de", "archive", "status")
            assert "letzter Fehler: Das Sicherungsziel ist nicht erreichbar." in text
            code, out = await unit.tsectl("--json", "status")
            assert any("off-box copy is failing" in n for n in json.loads(out)["notices"])
            sync.timeout = None
            copied = sync.copies
            assert local_archive(unit) == before  # the copy only reads the archive
            await archive_run(unit)  # the next run completes the copy
            await asyncio.wait_for(sync.wait(), 180)
            after = await status(unit)
            assert after["state"] == "ok" and after["last_error"] is None, after
            assert sync.copies == copied + 1 and signed >= 20
            assert (after["age_seconds"] or 0) < 60
            kept = local_archive(unit)
            assert all(kept[name] == digest for name, digest in before.items()
                       if name.startswith("tss/"))  # fmt: skip
            code, text = await unit.tsectl("archive", "status")
            assert code == 0 and f"Off-box copy: ok  {slow.url(port=plug.port)}/" in text
            transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
            async with httpx.AsyncClient(transport=transport, base_url="http://tsed") as admin:
                metrics = (await admin.get("/admin/metrics")).text
            (age,) = [m for m in metrics.splitlines() if m.startswith("tsed_offbox_copy_age")]
            assert 0 <= float(age.split()[-1]) < 60
            assert "tsed_offbox_copy_failing 0.0" in metrics
            journal = (unit.state_dir / "offbox" / "status.json").read_text()
            assert REPOSITORY_PASSWORD not in journal and slow.password not in journal
            assert "archive copied off the box" in caplog.text  # logged, never with a secret
            logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
            assert REPOSITORY_PASSWORD not in logged and slow.password not in logged
    finally:
        await plug.aclose()
        await slow.astop()


@pytest.mark.timeout(240)
async def test_the_auditor_export_restores_what_the_box_lost(
    target: RcloneRest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_unit(tmp_path / "state", config=offbox_config(target)) as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        sync = unit.daemon.archive.offbox
        assert sync is not None
        unit.daemon.vault.set(CREDENTIAL_ENTRY, target.password)
        await set_password(unit, monkeypatch)
        register = await unit.pair()
        for _ in range(3):
            for _ in range(4):
                await register.receipt()
            await archive_run(unit)
            await asyncio.wait_for(sync.wait(), 120)
        assert (await status(unit))["state"] == "ok"
        archive = unit.state_dir / "archive"
        files = sorted(p.relative_to(archive).as_posix() for p in (archive / "tss").rglob("*.tar"))
        assert len(files) >= 3
        today = datetime.now(UTC).date().isoformat()

        async def export() -> dict[str, object]:
            code, out = await unit.tsectl("--json", "archive", "export", "--from", today,
                                          "--to", today)  # fmt: skip
            assert code == 0, out
            return dict(json.loads(out))

        lost = archive / files[1]
        lost.parent.chmod(0o750)
        lost.unlink()  # one file lost
        report = await export()
        sources = {Path(f["file"]).name: f["source"] for f in report["files"]}  # type: ignore[attr-defined]
        assert report["ok"] and report["complete"], report
        assert sources[lost.name].startswith("off-box copy, snapshot ")
        assert all(v == "local archive" for k, v in sources.items() if k != lost.name)
        shutil.rmtree(archive)  # the whole archive is gone
        report = await export()
        assert report["ok"] and report["complete"] and report["source"] == "off-box copy"
        folder = Path(str(report["directory"]))
        names = {p.name for p in folder.iterdir()}
        assert {Path(f).name for f in files} <= names
        sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, check=False,
                              capture_output=True, text=True)  # fmt: skip
        assert sums.returncode == 0, sums.stdout
        text = (folder / "report.txt").read_text()
        assert ": OK (" in text and "[off-box copy, snapshot " in text
        leftovers = [p for p in (unit.state_dir / "auditor").iterdir() if p.name.startswith(".")]
        assert leftovers == []  # the private restore folder is gone
        answer = await register.receipt()  # signing never noticed
        assert answer["tse_failure"] is False


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.mark.timeout(180)
async def test_the_check_runs_weekly_and_a_missing_password_is_shown(
    target: RcloneRest, tmp_path: Path
) -> None:
    source = tmp_path / "archive"
    (source / "tss").mkdir(parents=True)
    (source / "tss" / "a.tar").write_bytes(b"x" * 4096)
    config = config_from_dict({"offbox": {"repository": target.url(), "user": target.user}})
    vault = Vault(tmp_path / "state" / "vault.json")
    clock = Clock()
    sync = OffboxSync(source=source, state_dir=tmp_path / "state", config=lambda: config,
                      vault=vault, clock=clock)  # fmt: skip
    assert sync.status().state == "never"
    assert sync.trigger("test")  # no password yet: recorded, never raised
    await sync.wait()
    missing = sync.status()
    assert missing.state == "failing" and missing.last_error_code == "CONFIG_INVALID"
    assert (
        missing.last_error_de
        == "Das Passwort des Sicherungs-Repositorys fehlt (Einrichtungsseite)."
    )
    vault.set(PASSWORD_ENTRY, REPOSITORY_PASSWORD)
    vault.set(CREDENTIAL_ENTRY, target.password)
    await sync.sync("first")
    first = sync.status()
    assert first.state == "ok" and first.last_check_ok and sync.copies == 1
    clock.now += 86400  # a day later: copied, not checked again
    await sync.sync("nightly")
    assert sync.status().last_check_at == first.last_check_at and sync.copies == 2
    clock.now += 7 * 86400  # a week later: checked again
    await sync.sync("nightly")
    assert (sync.status().last_check_at or 0) > (first.last_check_at or 0)
    sync.trigger("one")
    assert sync.trigger("two") and sync.trigger("three")  # asked during a copy: once more
    await sync.wait()
    assert sync.copies == 5
    (source / "MANIFEST.sha256").write_text("0" * 64 + "  tss/a.tar\n" + "1" * 64 + "  tss/b.tar\n")
    await sync.sync("two files")
    assert sync.copies == 6 and sync.status().last_copy_files == 2
    shutil.rmtree(source)  # the box lost its archive (a new disk): never a copy without it
    source.mkdir()  # and archived anew since, as many files as before, but not those
    (source / "MANIFEST.sha256").write_text("2" * 64 + "  tss/c.tar\n" + "3" * 64 + "  tss/d.tar\n")
    await sync.sync("nightly")
    lost = sync.status()
    assert sync.copies == 6 and lost.state == "failing", lost
    assert lost.last_error_code == "ARCHIVE_SHRANK" and "2 file(s)" in (lost.last_error or "")
    assert (lost.last_error_de or "").startswith("Im Archiv fehlen Dateien")
    off = OffboxSync(source=source, state_dir=tmp_path / "off", config=lambda: config_from_dict({}),
                     vault=vault)  # fmt: skip
    assert not off.trigger("test") and off.status().state == "off"
