"""Issue 13, item 1: nobody but the vendor switches a unit from TEST to LIVE.

The attack that worked: put an attacker's PEM into a free-text setting, point the setting
``vendor_public_key`` at ``tsed.toml`` and import an activation signed with the attacker's key.
Then: the key is not a setting any more (fixed in the image; tests inject theirs through
``DaemonOptions``, which no admin route reaches), the PEM parser takes exactly one block and
nothing else, and an accepted document cannot be replayed.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.unit import Unit, running_unit
from tsed.config.model import load_config
from tsed.provisioning.activation import (
    ActivationDocument,
    ActivationKeyMissing,
    ActivationOrganization,
    ActivationReplayed,
    ManagementCredentials,
    accept_activation,
    load_activation,
    management_credentials,
)
from tsed.provisioning.document import (
    generate_vendor_key,
    load_private_key,
    load_public_key,
    parse_public_key,
    sign_document,
)
from tsed.state.mode import read_mode
from tsed.state.vault import Vault
from tsed.unit.options import VENDOR_KEY_PATH, DaemonOptions

DEVICE = "tsed-0123456789ab"


def _document(device: str, doc_id: str, issued: datetime, mgmt: str) -> ActivationDocument:
    return ActivationDocument(
        document_id=doc_id,
        device_id=device,
        environment="LIVE",
        organization=ActivationOrganization("Optik Muster GmbH", "org-1"),
        management=ManagementCredentials(mgmt, "S" * 43),
        issued_at=issued,
        expires_on=date.today() + timedelta(days=30),
    )


def _keys(tmp_path: Path, name: str) -> tuple[object, Path, bytes]:
    private_pem, public_pem = generate_vendor_key()
    pub = tmp_path / f"{name}.pub"
    pub.write_bytes(public_pem)
    return load_private_key(private_pem), pub, public_pem


async def _admin(unit: Unit, method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://tsed") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


# -- the attack of the issue, against a running unit ------------------------------------------


async def test_the_vendor_key_is_no_setting_an_admin_route_can_change(tmp_path: Path) -> None:
    vendor, vendor_pub, _ = _keys(tmp_path, "vendor")
    attacker, _attacker_pub, attacker_pem = _keys(tmp_path, "attacker")
    async with running_unit(tmp_path / "state", vendor_key=vendor_pub) as unit:
        config_file = unit.daemon.options.config_path
        # 1. the setting the attacker pointed at tsed.toml is gone from every admin route
        code, _out = await unit.tsectl("config", "set", "vendor_public_key", str(config_file))
        assert code == 1
        answer = await _admin(
            unit, "PUT", "/admin/v1/config/vendor_public_key", json={"value": str(config_file)}
        )
        assert answer.status_code == 400 and "not a setting" in answer.json()["error"]["message"]
        answer = await _admin(
            unit, "PUT", "/admin/v1/config", json={"values": {"vendor_public_key": "/x"}}
        )
        assert answer.status_code == 400 and "not a setting" in answer.json()["error"]["message"]
        shown = await _admin(unit, "GET", "/admin/v1/config")
        assert "vendor_public_key" not in shown.json()
        assert not config_file.exists() or "vendor_public_key" not in config_file.read_text()
        # 2. the attacker's PEM sits in a file the unit reads: it stays just text
        legacy = tmp_path / "tsed-with-pem.toml"
        legacy.write_text(f'# {attacker_pem.decode()}\nvendor_public_key = "{legacy}"\n')
        with pytest.raises(ActivationKeyMissing):
            load_public_key(legacy)
        # 3. an activation signed with the attacker's key is refused; the unit stays TEST
        forged = tmp_path / "forged.activation"
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        device = unit.daemon.identity.device_id
        forged.write_bytes(sign_document(attacker, _document(device, "x-1", now, "attacker")))  # type: ignore[arg-type]
        code, _out = await unit.tsectl("activate", str(forged))
        assert code == 1
        answer = await _admin(unit, "POST", "/admin/v1/activation", content=forged.read_bytes())
        assert answer.json()["error"]["code"] == "ACTIVATION_BAD_SIGNATURE"
        assert read_mode(unit.state_dir) == "TEST"
        assert management_credentials(unit.daemon.vault) is None
        # 4. the vendor's document (the injected key) is accepted
        genuine = tmp_path / "genuine.activation"
        genuine.write_bytes(sign_document(vendor, _document(device, "v-1", now, "vendor_mgmt")))  # type: ignore[arg-type]
        code, out = await unit.tsectl("--json", "activate", str(genuine))
        assert code == 0 and json.loads(out)["mode"] == "LIVE", out


async def test_a_legacy_config_with_vendor_public_key_loads_with_a_warning_and_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _vendor, vendor_pub, _ = _keys(tmp_path, "vendor")
    attacker, attacker_pub, _ = _keys(tmp_path, "attacker")
    caplog.set_level(logging.WARNING)
    config = f'name = "Filiale 7"\nvendor_public_key = "{attacker_pub}"\n'
    async with running_unit(tmp_path / "state", config=config, vendor_key=vendor_pub) as unit:
        assert any(getattr(r, "TSED_EVENT", None) == "config_legacy_key" for r in caplog.records), (
            caplog.text
        )
        assert unit.daemon.config.name == "Filiale 7"
        device = unit.daemon.identity.device_id
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        forged = tmp_path / "forged.activation"
        forged.write_bytes(sign_document(attacker, _document(device, "x-1", now, "a")))  # type: ignore[arg-type]
        answer = await _admin(unit, "POST", "/admin/v1/activation", content=forged.read_bytes())
        assert answer.json()["error"]["code"] == "ACTIVATION_BAD_SIGNATURE"
        assert read_mode(unit.state_dir) == "TEST"
        # the next save drops the line
        code, out = await unit.tsectl("config", "set", "name", "Filiale 8")
        assert code == 0, out
        assert "vendor_public_key" not in unit.daemon.options.config_path.read_text()
        assert load_config(unit.daemon.options.config_path).name == "Filiale 8"


def test_production_options_always_use_the_image_key() -> None:
    from tsed.cli.tsed import build_parser
    from tsed.unit.options import resolve_options

    environ = {"TSED_VENDOR_KEY": "/tmp/x.pub", "TSED_VENDOR_PUBKEY": "/tmp/x.pub"}
    options = resolve_options(build_parser().parse_args(["serve"]), environ)
    assert options.vendor_key == VENDOR_KEY_PATH == Path("/usr/share/tsed/vendor.pub")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--vendor-key", "/tmp/x.pub"])
    assert DaemonOptions.__dataclass_fields__["vendor_key"].default == VENDOR_KEY_PATH


# -- strict PEM -------------------------------------------------------------------------------


def _p256_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    "case",
    [
        "embedded_in_toml",
        "text_before",
        "text_after",
        "two_blocks",
        "p256_key",
        "private_key",
        "certificate_label",
        "bad_base64",
        "oversized",
        "empty",
    ],
)
def test_the_vendor_key_parser_takes_one_ed25519_block_and_nothing_else(case: str) -> None:
    private_pem, pem = generate_vendor_key()
    other = generate_vendor_key()[1]
    data = {
        "embedded_in_toml": b'console_port = """\n' + pem + b'"""\n',
        "text_before": b"hello\n" + pem,
        "text_after": pem + b"# comment\n",
        "two_blocks": pem + other,
        "p256_key": _p256_pem(),
        "private_key": private_pem,
        "certificate_label": pem.replace(b"PUBLIC KEY", b"CERTIFICATE"),
        "bad_base64": pem.replace(b"MCow", b"MC*w"),
        "oversized": pem + b"\n" * 5000,
        "empty": b"",
    }[case]
    with pytest.raises(ActivationKeyMissing) as caught:
        parse_public_key(data)
    assert caught.value.message == (
        "the vendor public key of this unit cannot be used (missing or not Ed25519)"
    )


def test_the_vendor_key_parser_accepts_the_keygen_output_and_crlf() -> None:
    _private, pem = generate_vendor_key()
    assert parse_public_key(pem) is not None
    assert parse_public_key(pem.replace(b"\n", b"\r\n")) is not None
    assert parse_public_key(b"\n  " + pem + b"\n\n") is not None


def test_key_errors_do_not_tell_whether_a_path_exists(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pub"
    garbage.write_text("not a key")
    unreadable = tmp_path / "dir.pub"
    unreadable.mkdir()
    answers = set()
    for path in (tmp_path / "missing.pub", garbage, unreadable, Path("/etc/shadow")):
        with pytest.raises(ActivationKeyMissing) as caught:
            load_public_key(path)
        assert str(path) not in caught.value.message and str(path) not in caught.value.hint
        answers.add((caught.value.message, caught.value.hint, caught.value.status))
    assert len(answers) == 1


async def test_a_unit_without_a_usable_key_refuses_alike_for_missing_and_damaged(
    tmp_path: Path,
) -> None:
    vendor, _vendor_pub, _ = _keys(tmp_path, "vendor")
    bodies = []
    for name, content in (("missing", None), ("damaged", b"junk\n")):
        key = tmp_path / f"{name}-key.pub"
        if content is not None:
            key.write_bytes(content)
        async with running_unit(tmp_path / name, vendor_key=key) as unit:
            now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
            doc = sign_document(vendor, _document(unit.daemon.identity.device_id, "d", now, "m"))  # type: ignore[arg-type]
            answer = await _admin(unit, "POST", "/admin/v1/activation", content=doc)
            assert answer.status_code == 400, answer.text
            assert str(key) not in answer.text
            bodies.append(answer.json()["error"])
    assert bodies[0] == bodies[1]


# -- replay -----------------------------------------------------------------------------------


def test_an_accepted_document_is_not_accepted_again_nor_an_older_one(tmp_path: Path) -> None:
    vendor, pub, _ = _keys(tmp_path, "vendor")
    state = tmp_path / "state"
    state.mkdir()
    vault = Vault(state / "vault.json")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    older = sign_document(vendor, _document(DEVICE, "doc-old", t0, "mgmt_old"))  # type: ignore[arg-type]
    current = sign_document(
        vendor,  # type: ignore[arg-type]
        _document(DEVICE, "doc-cur", t0 + timedelta(hours=1), "mgmt_cur"),
    )
    newer = sign_document(
        vendor,  # type: ignore[arg-type]
        _document(DEVICE, "doc-new", t0 + timedelta(hours=2), "mgmt_new"),
    )

    def accept(data: bytes) -> object:
        return accept_activation(
            data, public_key_path=pub, device_id=DEVICE, state_dir=state, vault=Vault(vault.path)
        )

    accept(current)
    for replay, why in ((current, "accepted already"), (older, "not after")):
        with pytest.raises(ActivationReplayed) as caught:
            accept(replay)
        assert why in caught.value.message and caught.value.status == 403
        creds = management_credentials(Vault(vault.path))
        assert creds is not None and creds.api_key == "mgmt_cur"  # not rolled back
    # the same issued_at under another id is not newer either
    same_time = sign_document(
        vendor,  # type: ignore[arg-type]
        _document(DEVICE, "doc-same", t0 + timedelta(hours=1), "mgmt_same"),
    )
    with pytest.raises(ActivationReplayed):
        accept(same_time)
    accept(newer)
    record = load_activation(state)
    assert record is not None and record.document_id == "doc-new"
    creds = management_credentials(Vault(vault.path))
    assert creds is not None and creds.api_key == "mgmt_new"
    with pytest.raises(ActivationReplayed):
        accept(current)


async def test_replay_against_a_running_unit_survives_a_restart(tmp_path: Path) -> None:
    vendor, vendor_pub, _ = _keys(tmp_path, "vendor")
    state = tmp_path / "state"
    document = tmp_path / "live.activation"
    async with running_unit(state, vendor_key=vendor_pub) as unit:
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        device = unit.daemon.identity.device_id
        document.write_bytes(sign_document(vendor, _document(device, "d-1", now, "mgmt_1")))  # type: ignore[arg-type]
        code, out = await unit.tsectl("activate", str(document))
        assert code == 0, out
    async with running_unit(state, vendor_key=vendor_pub) as unit:
        code, _out = await unit.tsectl("activate", str(document))
        assert code == 1
        answer = await _admin(unit, "POST", "/admin/v1/activation", content=document.read_bytes())
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "ACTIVATION_REPLAYED"
        assert "S" * 43 not in answer.text
        creds = management_credentials(unit.daemon.vault)
        assert creds is not None and creds.api_key == "mgmt_1"
