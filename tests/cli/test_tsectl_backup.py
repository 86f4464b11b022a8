"""A replacement unit from an encrypted backup, end to end: unit A (a real daemon on loopback
with the built-in simulator) signs, archives and backs up, and is destroyed; unit B, a new box
with an identity of its own, restores while stopped; the same register, with the same token and
the same pinned key, continues the same TSS counters; the archive continues without a gap and
the auditor's export across the swap verifies."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support.offbox import RcloneRest
from tests.support.unit import RECEIPT, running_unit
from tsed.config.offbox import CREDENTIAL_ENTRY
from tsed.config.offbox import PASSWORD_ENTRY as REPOSITORY_PASSWORD
from tsed.unit.backup_ops import PASSWORD_ENTRY, BackupAdminOps

PASSWORD = "Filiale-7-Backup-Kw2026"
TIMEOUT = 120


def presented_key_hash(port: int) -> str:
    """SHA-256 of the public key the TLS listener presents (what registers pin), computed
    from a real handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der
    public = x509.load_der_x509_certificate(der).public_key()
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def tsectl(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """tsectl as its own process, as on the unit."""
    return subprocess.run(
        [sys.executable, "-m", "tsed.cli.tsectl", *args], input=stdin, capture_output=True,
        text=True, timeout=TIMEOUT, check=False, env={**os.environ, "TSED_MDNS": "off"},
    )  # fmt: skip


@pytest.mark.timeout(300)
async def test_replacement_unit_continues_the_same_tss_counters(tmp_path: Path) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    copy = tmp_path / "usb" / "unit.tsedbackup"
    copy.parent.mkdir()
    today = datetime.now(UTC).date().isoformat()

    target = RcloneRest(tmp_path / "offbox-target")  # the archive's off-box copy (restic)
    await target.astart()
    offbox = f'[offbox]\nrepository = "{target.url()}"\nuser = "{target.user}"\n'
    try:
        await _replace_a_unit(a_dir, b_dir, offbox, target, password_file, copy, today)
    finally:
        await target.astop()


async def _replace_a_unit(a_dir: Path, b_dir: Path, offbox: str, target: RcloneRest,
                          password_file: Path, copy: Path, today: str) -> None:  # fmt: skip
    async with running_unit(a_dir, config=offbox) as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        unit.daemon.vault.update({REPOSITORY_PASSWORD: "repo-password-Lq02mVb7Ks",
                                  CREDENTIAL_ENTRY: target.password})  # fmt: skip
        register = await unit.pair()
        for _ in range(3):
            await register.receipt()
        code, out = await unit.tsectl("--json", "archive", "run")
        assert code == 0 and json.loads(out)["files"] == 1, out
        sync = unit.daemon.archive.offbox  # the unit copies after every run: let it finish,
        assert sync is not None  # so that the copy below does not race its first restic init
        await asyncio.wait_for(sync.wait(), 120)
        last_a = (await register.receipt())["result"]  # after the archive run: store only
        token, key_hash = register.token, unit.daemon.identity.fingerprint_sha256
        assert await asyncio.to_thread(presented_key_hash, unit.port) == key_hash
        code, out = await unit.tsectl(
            "--json", "backup", "create", "--password-file", str(password_file), "-o", str(copy)
        )
        assert code == 0, out
        made = json.loads(out)
        assert made["transactions"] == 4 and made["registers"] == 1, made
        assert made["archive_entries"] == 1 and made["format"] == 1
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == made["sha256"]
        assert PASSWORD.encode() not in copy.read_bytes()
        code, out = await unit.tsectl("--json", "--state-dir", str(a_dir), "archive", "copy",
                                      "--config", str(a_dir / "tsed.toml"))  # fmt: skip
        assert code == 0, out  # the archive's files, off the box
    shutil.rmtree(a_dir)  # unit A is gone; its off-box copy is not

    async with running_unit(b_dir) as fresh:  # a new box: first boot, an identity of its own
        assert fresh.daemon.identity.fingerprint_sha256 != key_hash
    restored = tsectl(
        "--json", "--state-dir", str(b_dir), "backup", "restore", str(copy),
        "--password-file", str(password_file), "--config", str(b_dir / "tsed.toml"),
        "--archive-from-offbox",
    )  # fmt: skip
    assert restored.returncode == 0, restored.stdout + restored.stderr
    info = json.loads(restored.stdout)
    assert info["transactions"] == 4 and info["archive_files"] == 1 and not info["archive_missing"]
    assert info["replaced"] is not None  # B's own first-boot identity, kept aside
    assert PASSWORD not in restored.stdout + restored.stderr

    async with running_unit(b_dir) as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        assert unit.daemon.identity.fingerprint_sha256 == key_hash
        # the register's pin still matches
        assert await asyncio.to_thread(presented_key_hash, unit.port) == key_hash
        context = ssl.create_default_context(cafile=str(unit.daemon.identity.cert_path))
        async with httpx.AsyncClient(base_url=unit.base_url, verify=context, timeout=20) as http:
            response = await http.post(
                "/api/v1/receipts", json=RECEIPT, headers={"Authorization": f"Bearer {token}"}
            )
        assert response.status_code == 200, response.text  # no new pairing
        first_b = response.json()["result"]
        assert first_b["tss_serial_number"] == last_a["tss_serial_number"]
        assert first_b["client_serial_number"] == last_a["client_serial_number"]
        assert first_b["transaction_number"] == last_a["transaction_number"] + 1
        assert first_b["signature_counter"] == last_a["signature_counter"] + 2  # start, finish
        code, out = await unit.tsectl("--json", "archive", "run")
        assert code == 0, out
        code, out = await unit.tsectl("--json", "archive", "status")
        status = json.loads(out)
        ((tss, item),) = status["tss"].items()
        assert not item["gaps"] and item["findings"] == [], item
        code, out = await unit.tsectl("--json", "archive", "verify")
        assert code == 0 and json.loads(out)["ok"], out
        code, out = await unit.tsectl("--json", "archive", "export", "--from", today, "--to",
                                      today)  # fmt: skip
        assert code == 0, out
        report = json.loads(out)
        assert report["ok"] and len(report["files"]) == 2, report  # A's file and B's
        folder = Path(report["directory"])
        sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, check=False,
                              capture_output=True, text=True)  # fmt: skip
        assert sums.returncode == 0, sums.stdout
        del tss


@pytest.mark.timeout(240)
async def test_the_backup_password_never_leaks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    weak = "kurz-geheim"
    async with running_unit(tmp_path / "a") as unit:
        register = await unit.pair()
        await register.receipt()
        transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://tsed", timeout=TIMEOUT
        ) as admin:
            short = await admin.post("/admin/v1/backup", json={"password": weak})
            assert short.status_code == 400, short.text
            assert short.json()["error"]["code"] == "BACKUP_PASSWORD_TOO_WEAK"
            for body in ({"password": 5}, {}, {"password": PASSWORD, "extra": 1},
                         {"password": PASSWORD, "remember": "ja"}):  # fmt: skip
                refused = await admin.post("/admin/v1/backup", json=body)
                assert refused.status_code == 400 and PASSWORD not in refused.text, refused.text
            made = await admin.post(
                "/admin/v1/backup", json={"password": PASSWORD, "remember": True}
            )
            assert made.status_code == 201, made.text
        answers = short.text + made.text
        assert weak not in answers and PASSWORD not in answers
        assert unit.daemon.vault.get(PASSWORD_ENTRY) == PASSWORD  # for the nightly backup
        code, text = await unit.tsectl("backup", "create", "--password-file", str(password_file))
        assert code == 0 and "Backup geschrieben" in text and "Installationsblatt" in text, text
        assert PASSWORD not in text
        nightly = await BackupAdminOps(unit.daemon.running.ops).nightly()
        assert nightly.backup is not None and nightly.offbox_snapshot is None  # no target
        backup_file = nightly.backup.file
        stored = b"".join(p.read_bytes() for p in unit.state_dir.glob("tsed.sqlite*"))
        assert PASSWORD.encode() not in stored  # the audit names the file, not the password
    # tsectl reads the password from the file, then waits for the typed confirmation: its
    # command line and environment (what ps and /proc show) never hold it
    before = {p: p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsed.cli.tsectl", "--json", "--state-dir", str(tmp_path / "a"),
         "backup", "restore", str(backup_file), "--password-file", str(password_file),
         "--replace", "--config", str(tmp_path / "a" / "tsed.toml")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        shown = b""
        for _ in range(20):
            with contextlib.suppress(OSError):
                shown += Path(f"/proc/{proc.pid}/cmdline").read_bytes()
                shown += Path(f"/proc/{proc.pid}/environ").read_bytes()
            await asyncio.sleep(0.05)
        out, err = proc.communicate("nein\n", timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert shown and PASSWORD.encode() not in shown
    assert proc.returncode == 1 and json.loads(out)["error"]["code"] == "ABORTED", out + err
    assert PASSWORD not in out + err
    wrong = tmp_path / "wrong"
    wrong.write_text("Falsches-Passwort-123\n")
    failed = tsectl("--state-dir", str(tmp_path / "a"), "backup", "restore", str(backup_file),
                    "--password-file", str(wrong), "--replace", stdin="ERSETZEN\n")  # fmt: skip
    assert failed.returncode == 1 and "password does not open" in failed.stderr
    assert "Falsches-Passwort" not in failed.stdout + failed.stderr
    after = {p: p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    assert after == before  # refused twice: nothing changed
    replaced = tsectl("--state-dir", str(tmp_path / "a"), "backup", "restore",
                      str(backup_file), "--password-file", str(password_file), "--replace",
                      stdin="ERSETZEN\n")  # fmt: skip
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert "wiederhergestellt: 1 Transaktionen" in replaced.stdout, replaced.stdout
    (kept,) = (tmp_path / "a").glob(".replaced-*")
    assert f"aufbewahrt in {kept}" in replaced.stdout and (kept / "tsed.sqlite").is_file()
    assert PASSWORD not in replaced.stdout + replaced.stderr
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.__dict__!r}"
        assert PASSWORD not in text and weak not in text, record.getMessage()
