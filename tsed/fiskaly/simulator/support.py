"""Small building blocks of the simulator: credentials, token info, limits, keys, certificates."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tsed.fiskaly.simulator.model import (
    MAX_ACTIVE_TX,
    MAX_CLIENTS,
    MAX_EXPORT_RECORDS,
    MAX_TEST_TSS,
    MAX_TSS_PER_DAY,
    Env,
)

_ALNUM_LOWER = string.ascii_lowercase + string.digits
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class SimCredentials:
    """An API key of the simulator (the secret is never shown in a repr)."""

    api_key: str
    api_secret: str = field(repr=False)
    env: Env
    organization_id: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    jti: str
    organization_id: str
    env: Env
    issued_at: float
    expires_at: float
    kind: str  # "access" | "refresh"
    api: str  # "v2" | "v0"


@dataclass(slots=True)
class Limits:
    """Limits of the real service; tests may lower them to reach them quickly."""

    max_clients: int = MAX_CLIENTS
    max_active_tx: int = MAX_ACTIVE_TX
    max_test_tss: int = MAX_TEST_TSS
    max_tss_per_day: int = MAX_TSS_PER_DAY
    max_export_records: int = MAX_EXPORT_RECORDS  # signatures in one export
    retention_seconds: float | None = None  # None: data stays (the embedded default)


def random_key(name: str = "sim") -> str:
    body = "".join(secrets.choice(_ALNUM_LOWER) for _ in range(25))
    return f"test_{body}_{name}"


def random_secret() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(43))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_token(secret: bytes, token: str) -> dict[str, Any] | None:
    """The claims of a token signed with ``secret`` (HS256), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    mac = hmac.new(secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256)
    try:
        if not hmac.compare_digest(b64url(mac.digest()), parts[2]):
            return None
        claims: dict[str, Any] = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


@dataclass(frozen=True, slots=True)
class SimCa:
    """The simulator's certificate authority: it issues every TSS certificate, and its own
    self-signed certificate goes into each TAR export so the chain can be verified."""

    key: ec.EllipticCurvePrivateKey = field(repr=False)
    certificate: bytes  # DER

    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @classmethod
    def restore(cls, key_pem: str, certificate_b64: str) -> SimCa:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the simulator CA key is not an EC key")
        return cls(key, base64.b64decode(certificate_b64))


_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COMMON_NAME, "tsed simulator TSE Test CA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tsed simulator"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
    ]
)


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def make_ca(now: float) -> SimCa:
    """A new self-signed CA (P-256, valid 20 years)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.fromtimestamp(now, tz=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_CA_NAME)
        .issuer_name(_CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - timedelta(minutes=5))
        .not_valid_after(start + timedelta(days=20 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .sign(key, hashes.SHA256())
    )
    return SimCa(key, cert.public_bytes(serialization.Encoding.DER))


def make_certificate(
    key: ec.EllipticCurvePrivateKey, serial_hex: str, now: float, ca: SimCa,
    valid_days: float = 365.0,
) -> str:  # fmt: skip
    """The TSS certificate issued by ``ca`` (base64 DER); the subject's serialNumber is the
    TSS serial (SHA-256 of the public key), as in fiskaly's certificates. Valid for one year
    from ``now`` (fiskaly's TEST certificates), or ``valid_days``."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "fiskaly Test TSE (tsed simulator)"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tsed simulator"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_hex),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
        ]
    )
    issuer = x509.load_der_x509_certificate(ca.certificate)
    start = datetime.fromtimestamp(now, tz=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(int(serial_hex[:38], 16) or 1)
        .not_valid_before(start - timedelta(minutes=5))
        .not_valid_after(start + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
