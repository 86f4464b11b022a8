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


def make_certificate(key: ec.EllipticCurvePrivateKey, serial_hex: str, now: float) -> str:
    """A self-signed certificate for the TSS key (base64 DER); serial = leading TSS serial."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "fiskaly Test TSE (tsed simulator)"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tsed simulator"),
        ]
    )
    start = datetime.fromtimestamp(now, tz=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int(serial_hex[:38], 16) or 1)
        .not_valid_before(start - timedelta(minutes=5))
        .not_valid_after(start + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
