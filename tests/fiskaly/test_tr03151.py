"""TR-03151 log encoding and the independent QR verifier, on real fiskaly vectors."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tsed.fiskaly.processdata import build_qr_code_data
from tsed.fiskaly.tr03151 import (
    der_integer,
    der_oid,
    parse_qr_code,
    public_key_bytes,
    sign_log,
    transaction_log_data,
    verify_log,
    verify_qr_code,
)

# Reference §12.2, source S4: a real fiskaly receipt (Finish log, counter 31).
S4_QR = (
    "V0;ERS 8cb8e2de-4052-481b-945b-118022951944;Kassenbeleg-V1;"
    "Beleg^21.42_0.00_0.00_0.00_0.00^21.42:Unbar;1;31;2021-08-23T14:36:27.000Z;"
    "2021-08-23T14:36:33.000Z;ecdsa-plain-SHA256;unixTime;"
    "TGnWiq3ZW7gi4Vs+DxLGsJZj9v271dHmhQAcb057F3oWkdKJ61UW2LLVTZQhW673yLa53Mm6oPeMU1Ns3ZOH7w==;"
    "BGFKQP7EENf3s5hTDXvlh+xyJ1Q9BNIa9LyYbYK+pTAKAGQ2fmI40p5QOrpHpvb+UuOrNQJdhzggHNfyyyDyf/g="
)


def test_real_fiskaly_vector_verifies() -> None:
    result = verify_qr_code(S4_QR)
    assert result.valid, result.reason
    assert result.fields is not None
    assert result.fields.tx_number == 1
    assert result.fields.signature_counter == 31
    assert len(result.fields.tss_serial_number) == 64


@pytest.mark.parametrize("index", [1, 2, 3, 4, 5, 7, 10])
def test_any_changed_field_breaks_the_signature(index: int) -> None:
    parts = S4_QR.split(";")
    original = parts[index]
    if index in (4, 5):
        parts[index] = str(int(original) + 1)
    elif index == 7:
        parts[index] = "2021-08-23T14:36:34.000Z"
    elif index == 10:
        raw = bytearray(base64.b64decode(original))
        raw[5] ^= 0x01
        parts[index] = base64.b64encode(bytes(raw)).decode()
    else:
        parts[index] = original + "x"
    result = verify_qr_code(";".join(parts))
    assert not result.valid


@pytest.mark.parametrize(
    "qr",
    ["", "V0;a;b", S4_QR.replace("ecdsa-plain-SHA256", "ecdsa-plain-SHA384"), "V1" + S4_QR[2:]],
)
def test_malformed_codes_are_refused_with_a_reason(qr: str) -> None:
    result = verify_qr_code(qr)
    assert not result.valid
    assert result.reason


def test_der_primitives() -> None:
    assert der_integer(2) == b"\x02\x01\x02"
    assert der_integer(128) == b"\x02\x02\x00\x80"
    assert der_integer(0) == b"\x02\x01\x00"
    assert der_oid("0.4.0.127.0.7.1.1.4.1.3") == bytes.fromhex(
        "06 0a 04 00 7f 00 07 01 01 04 01 03"
    )


@settings(max_examples=25, deadline=None)
@given(
    serial=st.text(alphabet="ABCDEFGHIJ0123456789 -", min_size=1, max_size=40),
    data=st.text(max_size=200),
    number=st.integers(min_value=1, max_value=2**40),
    counter=st.integers(min_value=1, max_value=2**40),
    time_start=st.integers(min_value=0, max_value=2**32),
    duration=st.integers(min_value=0, max_value=86400),
)
def test_signed_finish_logs_verify_from_the_qr_code_alone(
    serial: str, data: str, number: int, counter: int, time_start: int, duration: int
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = public_key_bytes(key)
    time_end = time_start + duration
    log = transaction_log_data(
        operation="FinishTransaction",
        client_serial=serial,
        process_type="Kassenbeleg-V1",
        process_data=data.encode(),
        tx_number=number,
        public_key=public,
        signature_counter=counter,
        log_time=time_end,
    )
    signature = sign_log(key, log)
    assert len(signature) == 64
    assert verify_log(public, log, signature)
    qr = build_qr_code_data(
        client_serial=serial,
        process_type="Kassenbeleg-V1",
        process_data=data,
        tx_number=number,
        signature_counter=counter,
        time_start=time_start,
        time_end=time_end,
        signature=base64.b64encode(signature).decode(),
        public_key=base64.b64encode(public).decode(),
    )
    if ";" not in serial:
        fields = parse_qr_code(qr)
        assert fields.process_data == data
        assert verify_qr_code(qr).valid


def test_verify_log_rejects_garbage_keys_and_signatures() -> None:
    assert not verify_log(b"\x04" + b"\x00" * 64, b"data", b"\x00" * 64)
    key = ec.generate_private_key(ec.SECP256R1())
    assert not verify_log(public_key_bytes(key), b"data", b"\x00" * 63)
