"""The device identity (key, certificate, device id) on the disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tsed.net.identity import load_or_create_identity
from tsed.state.paths import DEVICE_CERT_FILE as CERT_FILE
from tsed.state.paths import DEVICE_ID_FILE as ID_FILE
from tsed.state.paths import DEVICE_KEY_FILE as KEY_FILE


def test_the_identity_is_on_the_disk_before_a_register_can_pin_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut after the first start must not take away the key registers pinned."""
    flushed: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    identity = load_or_create_identity(tmp_path, name="Kasse", addresses=["192.0.2.20"])
    for name in (KEY_FILE, CERT_FILE, ID_FILE):
        assert any(Path(p).name.startswith(f".{name}.") for p in flushed), (name, flushed)
    assert str(tmp_path) in flushed  # the renames too
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    monkeypatch.undo()
    again = load_or_create_identity(tmp_path, name="Kasse", addresses=["192.0.2.20"])
    assert (again.device_id, again.fingerprint_sha256) == (
        identity.device_id,
        identity.fingerprint_sha256,
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
