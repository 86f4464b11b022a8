"""``tsectl archive copy|check|restore|copy-status`` against a real REST target."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from pathlib import Path

import pytest

from tests.fiskaly.simulator.conftest import Api, api, server, sim
from tests.support.offbox import RcloneRest, build_archive
from tsed.cli import tsectl
from tsed.config.offbox import CREDENTIAL_ENTRY, PASSWORD_ENTRY
from tsed.state.vault import Vault

__all__ = ["api", "server", "sim"]
PASSWORD = "repo-password-Cl1Tsectl9"


async def tsectl_run(state: Path, *args: str) -> tuple[int, str]:
    """tsectl as the installer runs it (in a thread: it runs its own event loop)."""
    out = io.StringIO()
    argv = ["--state-dir", str(state), *args[:2], "--config", str(state / "tsed.toml"), *args[2:]]
    if args[0] == "--json":
        argv = ["--json", *argv[:2], *args[1:3], "--config", str(state / "tsed.toml"), *args[3:]]
    code = await asyncio.to_thread(tsectl.main, argv, out=out)
    return code, out.getvalue()


async def test_copy_check_status_restore(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    manifest = await build_archive(api, state / "archive", exports=2)
    target = RcloneRest(tmp_path / "target")
    target.start()
    try:
        code, out = await tsectl_run(state, "archive", "copy-status")
        assert code == 0 and "not configured" in out
        (state / "tsed.toml").write_text(
            f'[offbox]\nrepository = "{target.url()}"\nuser = "{target.user}"\n'
        )
        code, out = await tsectl_run(state, "archive", "copy")
        assert code == 1 and "repository password" in capsys.readouterr().err
        Vault(state / "vault.json").update(
            {PASSWORD_ENTRY: PASSWORD, CREDENTIAL_ENTRY: target.password}
        )
        code, out = await tsectl_run(state, "archive", "copy")
        assert code == 0 and "Copied: snapshot" in out, out
        code, out = await tsectl_run(state, "--json", "archive", "check", "--subset", "100%")
        assert code == 0 and json.loads(out)["ok"] is True
        code, out = await tsectl_run(state, "archive", "copy-status")
        assert code == 0 and "Off-box copy: ok" in out and "no errors" in out
        shutil.rmtree(state / "archive")
        code, out = await tsectl_run(state, "archive", "restore", "--to", str(tmp_path / "back"))
        assert code == 0 and f"{len(manifest)} files" in out
        code, _ = await tsectl_run(state, "archive", "restore", "--to", str(tmp_path / "back"))
        assert code == 1 and "not an empty directory" in capsys.readouterr().err
        target.stop()
        code, _ = await tsectl_run(state, "archive", "copy")
        err = capsys.readouterr().err
        assert code == 1 and "cannot be reached" in err and "hint:" in err
        assert PASSWORD not in err and target.password not in err
    finally:
        target.stop()
