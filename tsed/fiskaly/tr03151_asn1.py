"""BSI TR-03151 log messages as asn1crypto structures: parse a TAR's ``.log`` files, encode
``systemOperationData``.

Every log message is one DER ``SEQUENCE`` (TR-03151 ``LogMessage``)::

    version                INTEGER (2)
    certifiedDataType      OBJECT IDENTIFIER   transaction / system / audit log
    certifiedData          the fields of the type, inline (below)
    serialNumber           OCTET STRING        SHA-256 of the TSS public key
    signatureAlgorithm     SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
    seAuditData            OCTET STRING        audit logs only
    signatureCounter       INTEGER
    logTime                CHOICE { UTCTime, GeneralizedTime, unixTime INTEGER }
    signatureValue         OCTET STRING        plain r‖s

The signature covers the DER encodings of every element but ``signatureValue``, concatenated
without the outer SEQUENCE header (reference §12.2, verified against real fiskaly logs).

Transaction logs carry ``[0] operationType [1] clientId [2] processData [3] processType
[4] additionalExternalData? [5] transactionNumber [6] additionalInternalData?``; system logs
``[0] operationType [1] systemOperationData [2] additionalInternalData?``. The content of
``systemOperationData`` is the DER of the operation's fields without a SEQUENCE header (as
fiskaly's and D-Trust's exports write it); :func:`parse_operation_data` reads it with the
structure of the operation (TR-03151 Appendix A): context tags ``[1]``, ``[2]``, ... in order.
The ENUMERATED values (``role`` admin = 1, ``logOutCause`` user = 0, ``unblockResult`` ok = 0)
are read from real exports of two vendors.
"""

from __future__ import annotations

from typing import Any, ClassVar

from asn1crypto import core, parser

OID_TRANSACTION_LOG = "0.4.0.127.0.7.3.7.1.1"
OID_SYSTEM_LOG = "0.4.0.127.0.7.3.7.1.2"
OID_AUDIT_LOG = "0.4.0.127.0.7.3.7.1.3"
OID_ECDSA_PLAIN_SHA256 = "0.4.0.127.0.7.1.1.4.1.3"
OID_ECDSA_PLAIN_SHA384 = "0.4.0.127.0.7.1.1.4.1.4"


class SignatureAlgorithm(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class LogTime(core.Choice):
    _alternatives: ClassVar[list[Any]] = [
        ("utc_time", core.UTCTime),
        ("generalized_time", core.GeneralizedTime),
        ("unix_time", core.Integer),
    ]


_TRAILER: list[Any] = [
    ("serial_number", core.OctetString),
    ("signature_algorithm", SignatureAlgorithm),
    ("signature_counter", core.Integer),
    ("log_time", LogTime),
    ("signature_value", core.OctetString),
]


class TransactionLogMessage(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("certified_data_type", core.ObjectIdentifier),
        ("operation_type", core.PrintableString, {"implicit": 0}),
        ("client_id", core.PrintableString, {"implicit": 1}),
        ("process_data", core.OctetString, {"implicit": 2}),
        ("process_type", core.PrintableString, {"implicit": 3}),
        ("additional_external_data", core.OctetString, {"implicit": 4, "optional": True}),
        ("transaction_number", core.Integer, {"implicit": 5}),
        ("additional_internal_data", core.OctetString, {"implicit": 6, "optional": True}),
        *_TRAILER,
    ]


class SystemLogMessage(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("certified_data_type", core.ObjectIdentifier),
        ("operation_type", core.PrintableString, {"implicit": 0}),
        ("system_operation_data", core.OctetString, {"implicit": 1}),
        ("additional_internal_data", core.OctetString, {"implicit": 2, "optional": True}),
        *_TRAILER,
    ]


class AuditLogMessage(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("certified_data_type", core.ObjectIdentifier),
        ("serial_number", core.OctetString),
        ("signature_algorithm", SignatureAlgorithm),
        ("se_audit_data", core.OctetString),
        ("signature_counter", core.Integer),
        ("log_time", LogTime),
        ("signature_value", core.OctetString),
    ]


MESSAGE_TYPES: dict[str, type[core.Sequence]] = {
    OID_TRANSACTION_LOG: TransactionLogMessage,
    OID_SYSTEM_LOG: SystemLogMessage,
    OID_AUDIT_LOG: AuditLogMessage,
}

# -- systemOperationData (TR-03151 Appendix A) ------------------------------------------------


class Role(core.Enumerated):
    _map: ClassVar[dict[int, str]] = {1: "admin", 2: "timeAdmin"}


class LogOutCause(core.Enumerated):
    _map: ClassVar[dict[int, str]] = {0: "user", 1: "timeout"}


class UnblockResult(core.Enumerated):
    _map: ClassVar[dict[int, str]] = {0: "ok", 1: "failed", 2: "unknownUserId", 3: "error"}


class InitializeData(core.Sequence):
    _fields: ClassVar[list[Any]] = [("description", core.PrintableString, {"implicit": 1})]


class UpdateTimeData(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("time_before_update", core.Integer, {"implicit": 1}),
        ("time_after_update", core.Integer, {"implicit": 2}),
    ]


class DisableSecureElementData(core.Sequence):
    _fields: ClassVar[list[Any]] = [("time_of_deactivation", core.Integer, {"implicit": 1})]


class AuthenticateUserData(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("user_id", core.PrintableString, {"implicit": 1}),
        ("role", Role, {"implicit": 2}),
        ("authentication_result", core.Boolean, {"implicit": 3}),
    ]


class LogOutData(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("user_id", core.PrintableString, {"implicit": 1}),
        ("log_out_cause", LogOutCause, {"implicit": 2}),
    ]


class UnblockUserData(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("user_id", core.PrintableString, {"implicit": 1}),
        ("unblock_result", UnblockResult, {"implicit": 2}),
    ]


class ClientData(core.Sequence):
    _fields: ClassVar[list[Any]] = [("client_id", core.PrintableString, {"implicit": 1})]


class EmptyData(core.Sequence):
    _fields: ClassVar[list[Any]] = []


OPERATION_DATA: dict[str, type[core.Sequence]] = {
    "initialize": InitializeData,
    "updateTime": UpdateTimeData,
    "disableSecureElement": DisableSecureElementData,
    "authenticateUser": AuthenticateUserData,
    "logOut": LogOutData,
    "unblockUser": UnblockUserData,
    "registerClient": ClientData,
    "deregisterClient": ClientData,
    "startAudit": EmptyData,
}


def _sequence_header(length: int) -> bytes:
    if length < 0x80:
        return bytes([0x30, length])
    size = (length.bit_length() + 7) // 8
    return bytes([0x30, 0x80 | size]) + length.to_bytes(size, "big")


def encode_operation_data(operation: str, **values: Any) -> bytes:
    """The ``systemOperationData`` content of ``operation`` (its fields' DER, no header)."""
    spec = OPERATION_DATA[operation]
    return bytes(spec(values).contents or b"")


def parse_operation_data(operation: str, data: bytes) -> dict[str, Any]:
    """The fields of ``systemOperationData``; ValueError if they do not fit ``operation``.

    An operation TR-03151 defines but this module does not know is returned as ``{}``
    untouched (the verifier reports only what it can check).
    """
    spec = OPERATION_DATA.get(operation)
    if spec is None:
        return {}
    parsed = spec.load(_sequence_header(len(data)) + data, strict=True)
    try:
        native: dict[str, Any] = dict(parsed.native)
    except (KeyError, TypeError) as exc:  # an enumeration value the TR does not define
        raise ValueError(f"systemOperationData of {operation} does not parse: {exc!r}") from exc
    return native


def load_elements(data: bytes) -> list[bytes]:
    """The DER of each top-level element of a log message; ValueError if it is not one
    SEQUENCE with nothing after it."""
    class_, _method, tag, _header, body, _trailer = parser.parse(data, strict=True)
    if (class_, tag) != (0, 16):
        raise ValueError("a log message is a DER SEQUENCE")
    elements = []
    pointer = 0
    while pointer < len(body):
        size = parser.peek(body[pointer:])
        elements.append(body[pointer : pointer + size])
        pointer += size
    return elements


def load_message(data: bytes) -> tuple[core.Sequence, bytes]:
    """The typed log message and the bytes its signature covers.

    Raises ValueError when the file is not a TR-03151 log message (wrong DER, unknown
    certifiedDataType, a field missing or of the wrong type).
    """
    elements = load_elements(data)
    if len(elements) < 2:
        raise ValueError("a log message has at least a version and a certifiedDataType")
    oid = core.ObjectIdentifier.load(elements[1], strict=True).dotted
    spec = MESSAGE_TYPES.get(oid)
    if spec is None:
        raise ValueError(f"unknown certifiedDataType {oid}")
    message = spec.load(data, strict=True)
    message.native  # noqa: B018 - decodes every field now, so a bad one raises here
    signed = b"".join(elements[:-1])
    return message, signed
