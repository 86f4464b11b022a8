"""Vault: mode 0600 from the start, atomic, damaged files kept aside, values never shown."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tsed.errors import StorageError
from tsed.logs import redact
from tsed.state.vault import Vault


def test_values_persist_with_mode_0600(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "state" / "vault.json")
    vault.set("fiskaly.default.api_secret", "S3cretValue-123")
    mode = stat.S_IMODE((tmp_path / "state" / "vault.json").stat().st_mode)
    assert mode == 0o600
    again = Vault(tmp_path / "state" / "vault.json")
    assert again.get("fiskaly.default.api_secret") == "S3cretValue-123"
    assert "S3cretValue-123" not in repr(again)
    assert "fiskaly.default.api_secret" in repr(again)
    again.delete("fiskaly.default.api_secret")
    assert Vault(tmp_path / "state" / "vault.json").get("fiskaly.default.api_secret") is None


def test_values_are_registered_for_redaction(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault.json")
    vault.update({"tss.x.pin": "864213579", "tss.x.puk": "1122334455"})
    assert redact("pin is 864213579, puk 1122334455") == "pin is ***, puk ***"


def test_wide_permissions_are_repaired(tmp_path: Path) -> None:
    path = tmp_path / "vault.json"
    path.write_text(json.dumps({"a": "b"}))
    path.chmod(0o644)
    Vault(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_damaged_vault_is_kept_aside_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "vault.json"
    path.write_text("{not json")
    with pytest.raises(StorageError) as info:
        Vault(path)
    assert "damaged" in info.value.message and info.value.hint
    kept = list(tmp_path.glob("vault.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json"


def test_disk_full_is_a_storage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    vault = Vault(tmp_path / "vault.json")
    vault.set("kept", "value-1")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError, match="disk is full"):
        vault.set("new", "value-2")
    monkeypatch.undo()
    assert Vault(tmp_path / "vault.json").get("kept") == "value-1"
    assert not list(tmp_path.glob(".vault.json.*"))
