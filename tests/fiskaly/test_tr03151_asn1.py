"""The asn1crypto TR-03151 structures on log files of a real fiskaly TAR export.

The vectors are four log files of a public sample export of fiskaly sign cloud-TSE v1.0.5
(TSS serial 1cc1edbc…b7d1ba, P-256): they pin the message layout, the signed bytes, the
system log operation data and the enumeration values the verifier relies on.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from asn1crypto import core
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.tar import build
from tsed.fiskaly.tarverify import verify_tar
from tsed.fiskaly.tr03151 import verify_log
from tsed.fiskaly.tr03151_asn1 import (
    AuditLogMessage,
    SystemLogMessage,
    TransactionLogMessage,
    encode_operation_data,
    load_message,
    parse_operation_data,
)

PUBLIC_KEY = base64.b64decode(
    "BEhusBRRZJgVT/JazvkUWKs5GV8OvnoEGsraKA+QGadVCqUy/Y1ibHTT9lpPC059a/E3iVBTQTEXfmC1fMP30Gk="
)
SERIAL = "1cc1edbc670d3c4b37e1d45ea639f267ef685740bda9355aa5faf0c765b7d1ba"
ALG = "300c060a04007f0007010104010302"  # SEQUENCE { ecdsa-plain-SHA256 } + INTEGER tag
AUTHENTICATE_USER = bytes.fromhex(  # Unixt_1631610044_Sig-53_Log-Sys_authenticateUser.log
    "3081ad020102060904007f000703070102801061757468656e746963617465557365728110810874722d61"
    "646d696e8201018301ff0420" + SERIAL + ALG + "01350204614064bc04402f73c1f3d75bd296d8e6ed"
    "084b48fc4c68f27d8cbd34d13845cf2efed78a4bd7ce29db3f04226f575277c2850193cffcf7ecc6a87b72"
    "a881ea9923383776f78f"
)
# Unixt_1631610068_Sig-56_Log-Tra_No-1_Start_Client-10999900.1215566690.V2.log
START = bytes.fromhex(
    "3081bb020102060904007f000703070101801053746172745472616e73616374696f6e8116313039393939"
    "30302e313231353536363639302e56328200830120850101" + "0420" + SERIAL + ALG + "01380204"
    "614064d40440b6b50840fb76d4baebe507018fa6892cd6f92c432643c13a48d413e64b0ac442aa06d0911d"
    "d6fd68516330d326237b1931755eb87fe66147c1b69eb7efc023c4"
)
AUDIT = bytes.fromhex(  # Unixt_1630606974_Sig-33_Log-Aud.log
    "308199020102060904007f0007030701030420" + SERIAL + "300c060a04007f00070101040103040e30"
    "0c80046131167c81010382010102012102046131167e04404ea16112cfa89755b473f9d2c73a0546fb6eb8"
    "eac270f45dc9bcee08c4634b03334ab630295f45dca8e0c697a54a0c81b1862d1b8525c3fedd15074f282b"
    "3043"
)
UPDATE_TIME = bytes.fromhex(  # Unixt_1630592536_Sig-32_Log-Sys_updateTime.log
    "3081a3020102060904007f000703070102800a75706461746554696d65810c81046130de1682046130de17"
    "0420" + SERIAL + ALG + "01200204" + "6130de180440273b951e50018125e6e73df4bbf2bbd56e2202"
    "207eeef219d55384a68c1a68862eed4a025588bcc45862eac781953da85f1d47caf689a41ac2d7dacbf6b5"
    "0ed8"
)


def test_the_key_is_the_serial_number() -> None:
    assert hashlib.sha256(PUBLIC_KEY).hexdigest() == SERIAL


@pytest.mark.parametrize(
    ("raw", "kind", "counter", "log_time"),
    [
        (AUTHENTICATE_USER, SystemLogMessage, 53, 1631610044),
        (START, TransactionLogMessage, 56, 1631610068),
        (AUDIT, AuditLogMessage, 33, 1630606974),
        (UPDATE_TIME, SystemLogMessage, 32, 1630592536),
    ],
)
def test_real_logs_parse_and_their_signatures_verify(
    raw: bytes, kind: type, counter: int, log_time: int
) -> None:
    message, signed = load_message(raw)
    assert isinstance(message, kind)
    native = message.native
    assert native["version"] == 2 and native["serial_number"].hex() == SERIAL
    assert native["signature_counter"] == counter and native["log_time"] == log_time
    assert verify_log(PUBLIC_KEY, signed, native["signature_value"])
    assert not verify_log(PUBLIC_KEY, signed[:-1] + bytes([signed[-1] ^ 1]),
                          native["signature_value"])  # fmt: skip


def test_real_start_log_fields() -> None:
    native = load_message(START)[0].native
    assert native["operation_type"] == "StartTransaction"
    assert native["client_id"] == "10999900.1215566690.V2"
    assert native["transaction_number"] == 1
    assert native["process_data"] == b"" and native["process_type"] == " "  # as fiskaly signs


def test_real_system_operation_data_and_the_encoder_agree() -> None:
    auth = load_message(AUTHENTICATE_USER)[0].native
    assert auth["operation_type"] == "authenticateUser"
    fields = {"user_id": "tr-admin", "role": "admin", "authentication_result": True}
    assert parse_operation_data("authenticateUser", auth["system_operation_data"]) == fields
    assert encode_operation_data("authenticateUser", **fields) == auth["system_operation_data"]
    update = load_message(UPDATE_TIME)[0].native
    times = parse_operation_data("updateTime", update["system_operation_data"])
    assert times == {"time_before_update": 1630592534, "time_after_update": 1630592535}
    assert encode_operation_data("updateTime", **times) == update["system_operation_data"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x30\x03\x02\x01\x02",  # a version and nothing else
        AUTHENTICATE_USER[:-5],  # truncated
        AUTHENTICATE_USER + b"\x00",  # trailing bytes
        AUTHENTICATE_USER.replace(
            bytes.fromhex("060904007f000703070102"), bytes.fromhex("060904007f000703070109")
        ),  # unknown type
        b"\x04\x02ab",  # not a SEQUENCE
    ],
)
def test_what_is_not_a_log_message_raises_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):
        load_message(raw)


def test_operation_data_of_the_wrong_shape_raises_value_error() -> None:
    with pytest.raises(ValueError):
        parse_operation_data("authenticateUser", bytes.fromhex("81057365747570"))  # no role
    with pytest.raises(ValueError):
        parse_operation_data("registerClient", core.Integer(5).dump())
    assert parse_operation_data("selfTest", b"\x81\x06SMAERS") == {}  # not checked: unknown


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([AUTHENTICATE_USER, START, AUDIT, UPDATE_TIME]),
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=1, max_value=255),
    st.integers(min_value=0, max_value=200),
)
def test_damaged_logs_never_crash_the_parser_or_the_verifier(
    raw: bytes, index: int, flip: int, cut: int
) -> None:
    data = bytearray(raw[: len(raw) - cut % len(raw)])
    if data:
        data[index % len(data)] ^= flip
    try:
        message, _ = load_message(bytes(data))
        native = message.native
        if "system_operation_data" in native:
            parse_operation_data(native["operation_type"], native["system_operation_data"])
    except ValueError:
        pass
    tar = build({"info.csv": b'"description:","","manufacturer:","m","version:","v"\n',
                 "Unixt_1_Sig-1_Log-Aud.log": bytes(data)})  # fmt: skip
    report = verify_tar(tar)
    assert not report.ok  # never a traceback; at least the missing certificate or the damage
