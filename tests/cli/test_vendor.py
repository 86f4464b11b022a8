"""The vendor tool: keygen → sign → verify → the unit accepts the document."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tsed.cli.vendor import main
from tsed.provisioning.activation import accept_activation, management_credentials
from tsed.state.mode import read_mode
from tsed.state.vault import Vault

DEVICE = "a1b2c3d4-1111-4222-8333-444455556666"
SECRET = "VendorMgmtSecret0123456789abcdefghijKLMNOPQ"


def _run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def _expires(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def _sign(keydir: Path, target: Path, *extra: str, secret: str = SECRET) -> tuple[int, str, str]:
    return _run(
        "sign", "--key", str(keydir / "vendor.key"), "--device-id", DEVICE, "--env", "LIVE",
        "--organization", "Optik Muster GmbH", "--organization-id", "org-9",
        "--address", "Hauptstr. 1", "--zip", "10115", "--town", "Berlin",
        "--mgmt-key", "mgmt_key_7", "--mgmt-secret", secret, "--expires", _expires(),
        "-o", str(target), *extra, stdin=SECRET + "\n",
    )  # fmt: skip


def test_round_trip_keygen_sign_verify_accept(tmp_path: Path) -> None:
    keydir = tmp_path / "keys"
    code, out, _ = _run("keygen", "-o", str(keydir))
    assert code == 0 and "key id" in out
    assert stat.S_IMODE((keydir / "vendor.key").stat().st_mode) == 0o600
    assert b"PUBLIC KEY" in (keydir / "vendor.pub").read_bytes()

    doc = tmp_path / "activation.json"
    code, out, err = _sign(keydir, doc, secret="-")  # secret from stdin
    assert code == 0, err
    assert stat.S_IMODE(doc.stat().st_mode) == 0o600
    assert SECRET not in out

    code, out, err = _run("verify", "--pub", str(keydir / "vendor.pub"), "--device-id", DEVICE,
                          str(doc))  # fmt: skip
    assert code == 0, err
    assert "LIVE" in out and "Optik Muster GmbH" in out and SECRET not in out

    state_dir = tmp_path / "state"
    vault = Vault(state_dir / "vault.json")
    result = accept_activation(
        doc.read_bytes(), public_key_path=keydir / "vendor.pub", device_id=DEVICE,
        state_dir=state_dir, vault=vault,
    )  # fmt: skip
    assert result.mode == "LIVE" and read_mode(state_dir) == "LIVE"
    assert result.record.organization.town == "Berlin"
    creds = management_credentials(vault)
    assert creds is not None and creds.api_secret == SECRET


def test_verify_reports_refusals_with_reason_and_exit_1(tmp_path: Path) -> None:
    keys_a, keys_b = tmp_path / "a", tmp_path / "b"
    assert _run("keygen", "-o", str(keys_a))[0] == 0
    assert _run("keygen", "-o", str(keys_b))[0] == 0
    doc = tmp_path / "doc.json"
    assert _sign(keys_a, doc)[0] == 0
    code, _out, err = _run("verify", "--pub", str(keys_b / "vendor.pub"), str(doc))
    assert code == 1 and "ACTIVATION_BAD_SIGNATURE" in err and "what to do" in err
    code, _out, err = _run(
        "verify", "--pub", str(keys_a / "vendor.pub"), "--device-id", "other", str(doc)
    )
    assert code == 1 and "ACTIVATION_OTHER_DEVICE" in err


def test_keygen_and_sign_refuse_to_overwrite(tmp_path: Path) -> None:
    keydir = tmp_path / "keys"
    assert _run("keygen", "-o", str(keydir))[0] == 0
    before = (keydir / "vendor.key").read_bytes()
    code, _out, err = _run("keygen", "-o", str(keydir))
    assert code == 1 and "exists" in err and "--force" in err
    assert (keydir / "vendor.key").read_bytes() == before
    doc = tmp_path / "doc.json"
    assert _sign(keydir, doc)[0] == 0
    assert _sign(keydir, doc)[0] == 1
    assert _sign(keydir, doc, "--force")[0] == 0


def test_sign_refuses_bad_input(tmp_path: Path) -> None:
    keydir = tmp_path / "keys"
    assert _run("keygen", "-o", str(keydir))[0] == 0
    code, _out, err = _run(
        "sign", "--key", str(keydir / "vendor.key"), "--device-id", DEVICE, "--env", "LIVE",
        "--organization", "X", "--mgmt-key", "k", "--mgmt-secret", "s", "--expires", "31.12.2026",
        "-o", str(tmp_path / "x.json"),
    )  # fmt: skip
    assert code == 1 and "YYYY-MM-DD" in err
    code, _out, err = _run(
        "sign", "--key", str(tmp_path / "missing.key"), "--device-id", DEVICE, "--env", "LIVE",
        "--organization", "X", "--mgmt-key", "k", "--mgmt-secret", "s", "--expires", _expires(),
        "-o", str(tmp_path / "x.json"),
    )  # fmt: skip
    assert code == 1 and "cannot read" in err
    with pytest.raises(SystemExit) as exited:
        _run("sign", "--env", "PROD")
    assert exited.value.code == 2


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tsed.cli.vendor", "keygen", "-o", str(tmp_path / "k")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "k" / "vendor.pub").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "tsed.cli.vendor", "--help"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and "activation" in proc.stdout
