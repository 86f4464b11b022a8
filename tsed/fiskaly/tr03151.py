"""BSI TR-03151 transaction logs: what a TSE signs, and an independent QR code verifier.

A transaction log message is the concatenation (no outer SEQUENCE) of these DER elements
(reference §12.2, verified against real fiskaly signatures)::

    INTEGER version = 2
    OID     0.4.0.127.0.7.3.7.1.1                 certifiedDataType: transaction log
    [0] IMPLICIT OCTET STRING operationType       Start-/Update-/FinishTransaction
    [1] IMPLICIT OCTET STRING clientId            client serial number (UTF-8)
    [2] IMPLICIT OCTET STRING processData
    [3] IMPLICIT OCTET STRING processType
    [5] IMPLICIT INTEGER      transactionNumber
    OCTET STRING serialNumber = SHA-256(public key)
    SEQUENCE { OID signatureAlgorithm }           0.4.0.127.0.7.1.1.4.1.3 (ecdsa-plain-SHA256)
    INTEGER signatureCounter
    INTEGER logTime (unix seconds)

The signature is ECDSA P-256 over SHA-256 of that message, encoded "plain" (raw r‖s, 64 bytes).

Start logs carry empty processType and processData (DSFinV-K: type and data are empty at start;
fiskaly's own Start encoding could not be verified, reference §15.4). System logs (state
changes, admin login, client registration, ...) use certifiedDataType ``0.4.0.127.0.7.3.7.1.2``
with ``[0] operationType`` (TR-03151 names: ``initialize``, ``authenticateUser``, ...) and
``[1] systemOperationData`` (structured per TR-03151 Appendix A, see :mod:`.tr03151_asn1`);
audit logs ``0.4.0.127.0.7.3.7.1.3`` carry ``seAuditData`` after the algorithm. The parser of
all three is :mod:`.tr03151_asn1` (asn1crypto).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from tsed.fiskaly.processdata import LOG_TIME_FORMAT, SIGNATURE_ALGORITHM, parse_qr_time

OID_TRANSACTION_LOG = "0.4.0.127.0.7.3.7.1.1"
OID_SYSTEM_LOG = "0.4.0.127.0.7.3.7.1.2"
OID_AUDIT_LOG = "0.4.0.127.0.7.3.7.1.3"
OID_ECDSA_PLAIN_SHA256 = "0.4.0.127.0.7.1.1.4.1.3"
LOG_VERSION = 2

OPERATION_NAMES = {
    "Start": "StartTransaction",
    "Update": "UpdateTransaction",
    "Finish": "FinishTransaction",
}


def _tlv(tag: int, value: bytes) -> bytes:
    length = len(value)
    if length < 0x80:
        encoded = bytes([length])
    else:
        size = (length.bit_length() + 7) // 8
        encoded = bytes([0x80 | size]) + length.to_bytes(size, "big")
    return bytes([tag]) + encoded + value


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)


def der_integer(value: int) -> bytes:
    return _tlv(0x02, _int_bytes(value))


@functools.lru_cache(maxsize=16)
def der_oid(dotted: str) -> bytes:
    parts = [int(part) for part in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        rest = part >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, body)


def transaction_log_data(
    *,
    operation: str,
    client_serial: str,
    process_type: str,
    process_data: bytes,
    tx_number: int,
    public_key: bytes,
    signature_counter: int,
    log_time: int,
) -> bytes:
    """The signed part of a transaction log message (reference §12.2).

    ``operation`` is ``StartTransaction``, ``UpdateTransaction`` or ``FinishTransaction``
    (fiskaly's ``Start``/``Update``/``Finish`` are accepted too).
    """
    op_name = OPERATION_NAMES.get(operation, operation)
    return (
        der_integer(LOG_VERSION)
        + der_oid(OID_TRANSACTION_LOG)
        + _tlv(0x80, op_name.encode())
        + _tlv(0x81, client_serial.encode())
        + _tlv(0x82, process_data)
        + _tlv(0x83, process_type.encode())
        + _tlv(0x85, _int_bytes(tx_number))
        + _tlv(0x04, _key_hash(public_key))
        + _tlv(0x30, der_oid(OID_ECDSA_PLAIN_SHA256))
        + der_integer(signature_counter)
        + der_integer(log_time)
    )


def system_log_data(
    *,
    operation: str,
    event_data: bytes,
    public_key: bytes,
    signature_counter: int,
    log_time: int,
) -> bytes:
    """The signed part of a system log message; ``event_data`` is the content of
    ``systemOperationData`` (:func:`.tr03151_asn1.encode_operation_data`)."""
    return (
        der_integer(LOG_VERSION)
        + der_oid(OID_SYSTEM_LOG)
        + _tlv(0x80, operation.encode())
        + _tlv(0x81, event_data)
        + _tlv(0x04, _key_hash(public_key))
        + _tlv(0x30, der_oid(OID_ECDSA_PLAIN_SHA256))
        + der_integer(signature_counter)
        + der_integer(log_time)
    )


def audit_log_data(
    *, audit_data: bytes, public_key: bytes, signature_counter: int, log_time: int
) -> bytes:
    """The signed part of an audit log message (``seAuditData`` after the algorithm)."""
    return (
        der_integer(LOG_VERSION)
        + der_oid(OID_AUDIT_LOG)
        + _tlv(0x04, _key_hash(public_key))
        + _tlv(0x30, der_oid(OID_ECDSA_PLAIN_SHA256))
        + _tlv(0x04, audit_data)
        + der_integer(signature_counter)
        + der_integer(log_time)
    )


def public_key_bytes(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """The uncompressed SEC1 point (65 bytes, starts with 0x04)."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    return private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@functools.lru_cache(maxsize=64)
def _key_hash(public_key: bytes) -> bytes:
    """SHA-256 of a TSS public key (the same few keys sign every log message)."""
    return hashlib.sha256(public_key).digest()


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def sign_log(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256/SHA-256 signature in plain format (r‖s, 64 bytes)."""
    der = private_key.sign(data, _ECDSA_SHA256)
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_log(public_key: bytes, data: bytes, signature: bytes) -> bool:
    """True if ``signature`` (plain r‖s) is valid for ``data`` under ``public_key``."""
    if len(signature) != 64:
        return False
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    except ValueError:
        return False
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        key.verify(der, data, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, slots=True)
class QrFields:
    """The 12 fields of a DSFinV-K QR code."""

    version: str
    client_serial: str
    process_type: str
    process_data: str
    tx_number: int
    signature_counter: int
    time_start: str
    time_end: str
    signature_algorithm: str
    log_time_format: str
    signature: str
    public_key: str

    @property
    def tss_serial_number(self) -> str:
        """SHA-256 of the public key, the TSE serial number (hex)."""
        return hashlib.sha256(base64.b64decode(self.public_key)).hexdigest()


@dataclass(frozen=True, slots=True)
class QrVerification:
    valid: bool
    reason: str
    fields: QrFields | None = field(default=None)


def parse_qr_code(qr: str) -> QrFields:
    """Split a QR code string into its fields. Process data may itself contain ``;``."""
    parts = qr.split(";")
    if len(parts) < 12:
        raise ValueError(f"a DSFinV-K QR code has 12 fields, this one has {len(parts)}")
    head, tail = parts[:3], parts[-8:]
    process_data = ";".join(parts[3:-8])
    try:
        tx_number, counter = int(tail[0]), int(tail[1])
    except ValueError:
        raise ValueError("transaction number and signature counter must be integers") from None
    return QrFields(
        head[0],
        head[1],
        head[2],
        process_data,
        tx_number,
        counter,
        tail[2],
        tail[3],
        tail[4],
        tail[5],
        tail[6],
        tail[7],
    )


def verify_qr_code(qr: str) -> QrVerification:
    """Verify a receipt's QR code knowing nothing but the QR string.

    Rebuilds the Finish log from the fields (client serial, process type and data,
    transaction number, signature counter, log time = end time, serial = SHA-256 of the key)
    and checks the ECDSA signature.
    """
    try:
        fields = parse_qr_code(qr)
    except ValueError as err:
        return QrVerification(False, str(err))
    if fields.version != "V0":
        return QrVerification(False, f"unknown QR code version {fields.version!r}", fields)
    if fields.signature_algorithm != SIGNATURE_ALGORITHM:
        return QrVerification(
            False, f"unsupported algorithm {fields.signature_algorithm!r}", fields
        )
    if fields.log_time_format != LOG_TIME_FORMAT:
        return QrVerification(False, f"unsupported time format {fields.log_time_format}", fields)
    try:
        public_key = base64.b64decode(fields.public_key, validate=True)
        signature = base64.b64decode(fields.signature, validate=True)
        log_time = parse_qr_time(fields.time_end)
    except (binascii.Error, ValueError) as err:
        return QrVerification(False, f"malformed field: {err}", fields)
    data = transaction_log_data(
        operation="FinishTransaction",
        client_serial=fields.client_serial,
        process_type=fields.process_type,
        process_data=fields.process_data.encode(),
        tx_number=fields.tx_number,
        public_key=public_key,
        signature_counter=fields.signature_counter,
        log_time=log_time,
    )
    if not verify_log(public_key, data, signature):
        return QrVerification(False, "the signature does not match the receipt data", fields)
    return QrVerification(True, "signature valid", fields)
