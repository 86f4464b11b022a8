"""The device identity (key, certificate, device id) on the disk."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import stat
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.support.unit import running_unit
from tsed.net.identity import (
    CertificateFollower,
    certificate_fingerprint,
    load_or_create_identity,
    server_ssl_context,
    spki_fingerprint,
)
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


# -- one fingerprint everyone can compare (issue 18) ------------------------------------------

FORM = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")


async def test_one_fingerprint_everywhere_is_the_presented_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """tsectl, the setup page, the pairing answer and the journal show exactly the SHA-256 of
    the certificate the TLS listener presents, in the browsers' colon form; the key hash
    registers pin is shown too, labelled as such, and stays when the certificate changes."""
    caplog.set_level(logging.INFO)
    async with running_unit(tmp_path / "state") as unit:
        presented = await asyncio.to_thread(unit.presented_fingerprint)
        assert FORM.match(presented)
        key_hash = unit.daemon.identity.fingerprint_sha256
        assert presented.replace(":", "").lower() != key_hash  # two values, never confused
        # tsectl status, text and JSON
        code, text = await unit.tsectl("status")
        assert code == 0 and f"Fingerprint:   {presented}\n" in text
        assert "as the browser shows it" in text and f"Key hash:      {key_hash}" in text
        code, out = await unit.tsectl("--json", "status")
        device = json.loads(out)["device"]
        assert (device["fingerprint"], device["key_sha256"]) == (presented, key_hash)
        # the pairing answer (tsectl pair, the page's pairing box)
        code, out = await unit.tsectl("--json", "pair")
        assert code == 0 and json.loads(out)["fingerprint"] == presented
        # the setup page's status and live routes
        monkeypatch.setattr("sys.stdin", io.StringIO("Kassen-Passwort-2026\n"))
        assert (await unit.tsectl("password"))[0] == 0
        async with httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context()) as web:
            login = await web.post("/setup/login", json={"password": "Kassen-Passwort-2026"})
            assert login.status_code == 200
            status = (await web.get("/setup/api/admin/v1/status")).json()
            live = (await web.get("/setup/live")).json()
        assert status["device"]["fingerprint"] == presented
        assert live["status"]["device"]["fingerprint"] == presented
        # the journal's identity line
        line = next(r for r in caplog.records if getattr(r, "TSED_EVENT", "") == "identity")
        assert presented == line.TSED_CERT_SHA256  # type: ignore[attr-defined]
        assert presented in line.getMessage() and key_hash in line.getMessage()


async def test_a_new_certificate_has_a_new_fingerprint_and_the_same_key_hash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    identity = load_or_create_identity(tmp_path, name="Kasse", addresses=["192.0.2.20"])
    before = identity.certificate_sha256
    assert before == certificate_fingerprint(identity.cert_path.read_bytes())
    follower = CertificateFollower(
        identity, server_ssl_context(identity), name="Kasse", addresses=["192.0.2.20"]
    )
    assert await follower.check(["192.0.2.20", "192.0.2.77"], hostname="kasse")
    after = identity.certificate_sha256  # read from the served file: it follows
    assert after != before and FORM.match(after)
    assert identity.fingerprint_sha256 == spki_fingerprint(
        x509.load_pem_x509_certificate(identity.cert_path.read_bytes())
    )  # registers' pin unchanged
    line = next(r for r in caplog.records if getattr(r, "TSED_EVENT", "") == "device_cert_reissued")
    assert after == line.TSED_CERT_SHA256 and after in line.getMessage()  # type: ignore[attr-defined]


def test_the_guide_shows_the_fingerprint_in_the_same_form() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "installation.md").read_text()
    shown = re.search(r"^Fingerprint: +([0-9A-F]{2}(?::[0-9A-F]{2}|:…)+)", guide, re.M)
    assert shown, "docs/installation.md shows no 'Fingerprint:' line in the colon form"
    assert "certificate SHA-256, as the browser shows it" in guide
    assert "Key hash" in guide  # the other value, labelled
