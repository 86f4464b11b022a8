"""Vendor activation documents: accepted when genuine, refused with a specific reason otherwise."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tsed.errors import ConfigError, ForbiddenError, ModeError
from tsed.provisioning.activation import (
    ActivationBadSignature,
    ActivationDocument,
    ActivationDowngrade,
    ActivationExpired,
    ActivationKeyMissing,
    ActivationMalformed,
    ActivationNotYetValid,
    ActivationOrganization,
    ActivationOtherDevice,
    ActivationReplayed,
    ManagementCredentials,
    accept_activation,
    generate_vendor_key,
    load_activation,
    load_private_key,
    management_credentials,
    sign_document,
)
from tsed.state.mode import read_mode
from tsed.state.vault import Vault

DEVICE = "3f2c9a1e-0000-4000-8000-00000000abcd"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SECRET = "MgmtSecret0123456789abcdefghijABCDEFGHIJ123"


def _document(**changes: object) -> ActivationDocument:
    fields: dict[str, object] = {
        "document_id": "doc-1",
        "device_id": DEVICE,
        "environment": "LIVE",
        "organization": ActivationOrganization("Optik Muster GmbH", "org-123"),
        "management": ManagementCredentials("mgmt_key_1", SECRET),
        "issued_at": NOW - timedelta(hours=1),
        "expires_on": date(2026, 12, 31),
    }
    fields.update(changes)
    return ActivationDocument(**fields)  # type: ignore[arg-type]


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Ed25519PrivateKey, Path]:
    private_pem, public_pem = generate_vendor_key()
    pub = tmp_path / "vendor.pub"
    pub.write_bytes(public_pem)
    return load_private_key(private_pem), pub


@pytest.fixture
def state(tmp_path: Path) -> tuple[Path, Vault]:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    return state_dir, Vault(state_dir / "vault.json")


def _accept(data: bytes, pub: Path, state: tuple[Path, Vault], now: datetime = NOW):
    state_dir, vault = state
    return accept_activation(
        data, public_key_path=pub, device_id=DEVICE, state_dir=state_dir, vault=vault, now=now
    )


def test_good_document_is_accepted_secrets_to_vault_record_without_secret(keys, state, caplog):
    private, pub = keys
    state_dir, vault = state
    assert read_mode(state_dir) == "TEST"
    caplog.set_level(logging.DEBUG)
    result = _accept(sign_document(private, _document()), pub, state)
    assert result.mode == "LIVE" and result.previous_mode == "TEST" and result.mode_changed
    assert read_mode(state_dir) == "LIVE"
    creds = management_credentials(vault)
    assert creds is not None and creds.api_key == "mgmt_key_1" and creds.api_secret == SECRET
    record = load_activation(state_dir)
    assert record is not None and record.environment == "LIVE"
    assert record.organization.name == "Optik Muster GmbH" and record.organization.id == "org-123"
    stored = (state_dir / "activation.json").read_text()
    assert SECRET not in stored and SECRET not in json.dumps(result.to_json())
    assert SECRET not in repr(result) and SECRET not in caplog.text
    assert any(getattr(r, "TSED_EVENT", None) == "activation_accepted" for r in caplog.records)


def test_test_document_keeps_test_mode_and_enables_anlegen(keys, state):
    private, pub = keys
    result = _accept(sign_document(private, _document(environment="TEST")), pub, state)
    assert result.mode == "TEST" and not result.mode_changed
    assert load_activation(state[0]) is not None


def test_accepting_the_same_document_twice_is_refused(keys, state):
    private, pub = keys
    data = sign_document(private, _document())
    _accept(data, pub, state)
    with pytest.raises(ActivationReplayed) as caught:
        _accept(data, pub, state)
    assert caught.value.code == "ACTIVATION_REPLAYED" and caught.value.status == 403
    assert read_mode(state[0]) == "LIVE"


def test_signature_of_another_vendor_key_is_refused(keys, state):
    _private, pub = keys
    other_private, _ = generate_vendor_key()
    data = sign_document(load_private_key(other_private), _document())
    with pytest.raises(ActivationBadSignature) as caught:
        _accept(data, pub, state)
    assert caught.value.code == "ACTIVATION_BAD_SIGNATURE" and caught.value.status == 403
    assert "another vendor key" in caught.value.message
    assert isinstance(caught.value, ForbiddenError)
    assert load_activation(state[0]) is None and read_mode(state[0]) == "TEST"
    assert management_credentials(state[1]) is None


def test_tampered_payload_is_refused(keys, state):
    private, pub = keys
    wrapper = json.loads(sign_document(private, _document(environment="TEST")))
    payload = json.loads(base64.b64decode(wrapper["payload"]))
    payload["environment"] = "LIVE"  # the customer tries to upgrade himself
    wrapper["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    with pytest.raises(ActivationBadSignature) as caught:
        _accept(json.dumps(wrapper).encode(), pub, state)
    assert "does not match" in caught.value.message
    assert read_mode(state[0]) == "TEST"


def test_document_for_another_device_is_refused(keys, state):
    private, pub = keys
    data = sign_document(private, _document(device_id="another-device"))
    with pytest.raises(ActivationOtherDevice) as caught:
        _accept(data, pub, state)
    assert caught.value.code == "ACTIVATION_OTHER_DEVICE"
    assert "another-device" in caught.value.message and DEVICE in caught.value.message


def test_expired_document_is_refused(keys, state):
    private, pub = keys
    data = sign_document(
        private, _document(issued_at=NOW - timedelta(days=30), expires_on=date(2026, 11, 23))
    )
    with pytest.raises(ActivationExpired) as caught:
        _accept(data, pub, state)
    assert caught.value.code == "ACTIVATION_EXPIRED" and "2026-11-23" in caught.value.message
    # the whole expiry day still counts (UTC)
    last_moment = datetime(2026, 11, 23, 23, 59, tzinfo=UTC)
    assert _accept(data, pub, state, now=last_moment).mode == "LIVE"


def test_not_yet_valid_document_is_refused(keys, state):
    private, pub = keys
    data = sign_document(private, _document(issued_at=NOW + timedelta(hours=2)))
    with pytest.raises(ActivationNotYetValid) as caught:
        _accept(data, pub, state)
    assert caught.value.code == "ACTIVATION_NOT_YET_VALID" and "clock" in caught.value.hint
    # a few minutes of clock drift are tolerated
    slightly = sign_document(private, _document(issued_at=NOW + timedelta(minutes=3)))
    assert _accept(slightly, pub, state).mode == "LIVE"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'{"format": "something-else", "payload": "", "signature": ""}',
        b'{"format": "tsed-activation/1", "payload": "!!!", "signature": "AAAA"}',
        b'{"format": "tsed-activation/1", "signature": "AAAA"}',
        b"\xff\xfe",
        b"{" + b" " * 70000 + b"}",
    ],
)
def test_malformed_files_are_refused(keys, state, data):
    _private, pub = keys
    with pytest.raises(ActivationMalformed) as caught:
        _accept(data, pub, state)
    assert caught.value.code == "ACTIVATION_MALFORMED" and isinstance(caught.value, ConfigError)


def test_signed_but_incomplete_payload_is_malformed(keys, state):
    private, pub = keys
    payload = json.dumps({"document_id": "x", "device_id": DEVICE}).encode()
    wrapper = {
        "format": "tsed-activation/1",
        "payload": base64.b64encode(payload).decode(),
        "signature": base64.b64encode(private.sign(payload)).decode(),
    }
    with pytest.raises(ActivationMalformed) as caught:
        _accept(json.dumps(wrapper).encode(), pub, state)
    assert "missing" in caught.value.message


def test_missing_or_wrong_vendor_key_file(keys, state, tmp_path):
    private, _pub = keys
    data = sign_document(private, _document())
    with pytest.raises(ActivationKeyMissing) as caught:
        _accept(data, tmp_path / "nope.pub", state)
    assert "nope" not in caught.value.message and "image" in caught.value.hint
    bad = tmp_path / "bad.pub"
    bad.write_text("garbage")
    with pytest.raises(ActivationKeyMissing):
        _accept(data, bad, state)


def test_live_unit_refuses_a_test_document(keys, state):
    private, pub = keys
    _accept(sign_document(private, _document()), pub, state)
    later = _document(environment="TEST", document_id="d2", issued_at=NOW - timedelta(minutes=5))
    with pytest.raises(ActivationDowngrade) as caught:
        _accept(sign_document(private, later), pub, state)
    assert isinstance(caught.value, ModeError) and read_mode(state[0]) == "LIVE"


def test_vendor_cannot_sign_an_invalid_document(keys):
    private, _pub = keys
    with pytest.raises(ActivationMalformed):
        sign_document(private, _document(device_id="has spaces"))
    with pytest.raises(ActivationMalformed):
        sign_document(private, _document(expires_on=date(2020, 1, 1)))


def test_damaged_record_gives_a_clear_error(state):
    state_dir, _vault = state
    (state_dir / "activation.json").write_text("{broken")
    with pytest.raises(ActivationMalformed) as caught:
        load_activation(state_dir)
    assert "tsectl activate" in caught.value.hint
