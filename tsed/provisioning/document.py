"""Activation documents: the file format, vendor keys, signing and verification (pure).

Vendor staff sign an activation document with the vendor's Ed25519 key (``tsed-vendor sign``);
the unit verifies it against the vendor public key installed with the image at the fixed,
root-owned path ``/usr/share/tsed/vendor.pub`` (:data:`tsed.unit.options.VENDOR_KEY_PATH`;
:mod:`tsed.provisioning.activation` accepts it). The key is not a
setting: no configuration key, admin route or environment variable of the running unit can
point the unit at another one. Each refusal has its own error code.

The key file is parsed strictly (:func:`parse_public_key`): exactly one ``PUBLIC KEY`` PEM block
and nothing else (surrounding whitespace aside), Ed25519 only, so a key embedded in some other
text file is never accepted.

File format (JSON, UTF-8)::

    {"format": "tsed-activation/1",
     "key_id": "<first 16 hex of SHA-256 over the raw 32-byte vendor public key>",
     "payload": "<base64 of the payload JSON>",
     "signature": "<base64 of the Ed25519 signature over the payload bytes>"}

The signature covers the exact payload bytes, so no JSON canonicalization is involved. The
payload::

    {"document_id": "<uuid>", "device_id": "<the unit's device id>",
     "environment": "TEST" | "LIVE",
     "organization": {"name": ..., "id": <fiskaly organization id or null>,
                      "address_line1"?: ..., "zip"?: ..., "town"?: ..., "country_code"?: "DEU"},
     "management": {"api_key": ..., "api_secret": ...},
     "issued_at": "YYYY-MM-DDThh:mm:ssZ", "expires_on": "YYYY-MM-DD"}

Validity: from ``issued_at`` (minus :data:`CLOCK_TOLERANCE` for units whose clock runs a bit
behind) through the whole UTC day ``expires_on``. The document carries management credentials:
keep the file like a password (``tsed-vendor`` writes it with mode 0600).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tsed.errors import ConfigError, ForbiddenError
from tsed.state.mode import Mode

FORMAT = "tsed-activation/1"
CLOCK_TOLERANCE = timedelta(minutes=10)
MAX_DOCUMENT_BYTES = 64 * 1024
MAX_KEY_BYTES = 4096
_PEM_RE = re.compile(
    rb"-----BEGIN PUBLIC KEY-----\r?\n((?:[A-Za-z0-9+/=]{1,76}\r?\n){1,20})-----END PUBLIC KEY-----"
)
_DEVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

# -- errors -----------------------------------------------------------------------------------


class ActivationMalformed(ConfigError, code="ACTIVATION_MALFORMED"):
    default_hint = (
        "The file is not a tsed activation document (or was damaged on the way): ask the vendor "
        "for the file again and import it unchanged."
    )


class ActivationKeyMissing(ConfigError, code="ACTIVATION_NO_VENDOR_KEY"):
    default_hint = (
        "The vendor public key installed with the image is missing or damaged: it is not a "
        "setting; reinstall the unit's image (or ask the vendor for a fixed one)."
    )


class ActivationReplayed(ForbiddenError, code="ACTIVATION_REPLAYED"):
    default_hint = (
        "An activation document is accepted once, and only one issued after the document in "
        "force: ask the vendor for a new document."
    )


class ActivationBadSignature(ForbiddenError, code="ACTIVATION_BAD_SIGNATURE"):
    default_hint = (
        "The document was not signed by the vendor key this unit trusts (or was changed after "
        "signing): ask the vendor for a new document."
    )


class ActivationOtherDevice(ForbiddenError, code="ACTIVATION_OTHER_DEVICE"):
    default_hint = (
        "The document was issued for another unit: give the vendor this unit's device id "
        "(tsectl status) and ask for a document for it."
    )


class ActivationExpired(ForbiddenError, code="ACTIVATION_EXPIRED"):
    default_hint = (
        "The document's validity has ended: ask the vendor for a new one (and check the "
        "unit's clock if this is unexpected)."
    )


class ActivationNotYetValid(ForbiddenError, code="ACTIVATION_NOT_YET_VALID"):
    default_hint = (
        "The document is dated in the future: check the unit's clock (enable NTP) or ask the "
        "vendor for a document that is valid now."
    )


# -- model ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManagementCredentials:
    """fiskaly Management API credentials for "Anlegen" (from the activation)."""

    api_key: str
    api_secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ActivationOrganization:
    name: str
    id: str | None = None
    address_line1: str | None = None
    zip: str | None = None
    town: str | None = None
    country_code: str = "DEU"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "id": self.id}
        for key in ("address_line1", "zip", "town"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        data["country_code"] = self.country_code
        return data


@dataclass(frozen=True, slots=True)
class ActivationDocument:
    document_id: str
    device_id: str
    environment: Mode
    organization: ActivationOrganization
    management: ManagementCredentials
    issued_at: datetime
    expires_on: date

    def to_payload(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "device_id": self.device_id,
            "environment": self.environment,
            "organization": self.organization.to_json(),
            "management": {
                "api_key": self.management.api_key,
                "api_secret": self.management.api_secret,
            },
            "issued_at": self.issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expires_on": self.expires_on.isoformat(),
        }

    def valid_until(self) -> datetime:
        """The first instant the document is no longer accepted (end of ``expires_on``, UTC)."""
        return datetime.combine(self.expires_on + timedelta(days=1), datetime.min.time(), UTC)


# -- keys -------------------------------------------------------------------------------------


def generate_vendor_key() -> tuple[bytes, bytes]:
    """A new vendor key pair as (private PEM, PKCS#8 unencrypted; public PEM)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as err:
        raise ActivationKeyMissing(
            f"the vendor private key cannot be read ({err})",
            hint="Use the vendor.key written by tsed-vendor keygen.",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ActivationKeyMissing("the vendor private key is not an Ed25519 key")
    return key


_KEY_UNUSABLE = "the vendor public key of this unit cannot be used (missing or not Ed25519)"


def parse_public_key(pem: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key in ``pem``: exactly one PEM block, nothing else around it.

    Raises :class:`ActivationKeyMissing` with one message for every defect, so the answer
    says nothing about the file's content.
    """
    text = pem.strip()
    match = _PEM_RE.fullmatch(text) if len(pem) <= MAX_KEY_BYTES else None
    try:
        if match is None:
            raise ValueError("not exactly one PEM block")
        der = base64.b64decode(b"".join(match.group(1).split()), validate=True)
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, binascii.Error):
        raise ActivationKeyMissing(_KEY_UNUSABLE) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ActivationKeyMissing(_KEY_UNUSABLE)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The vendor public key in the file ``path`` (strict PEM, Ed25519).

    Whether the file is missing, unreadable or of the wrong content gives the same message.
    """
    try:
        with path.open("rb") as handle:
            pem = handle.read(MAX_KEY_BYTES + 1)
    except (OSError, ValueError):
        raise ActivationKeyMissing(_KEY_UNUSABLE) from None
    return parse_public_key(pem)


# -- sign / verify ----------------------------------------------------------------------------


def sign_document(private_key: Ed25519PrivateKey, document: ActivationDocument) -> bytes:
    """The signed activation file for ``document``."""
    parse_payload(document.to_payload())  # the vendor cannot sign what the unit would refuse
    payload = json.dumps(document.to_payload(), sort_keys=True, ensure_ascii=False).encode()
    wrapper = {
        "format": FORMAT,
        "key_id": key_id(private_key.public_key()),
        "payload": base64.b64encode(payload).decode(),
        "signature": base64.b64encode(private_key.sign(payload)).decode(),
    }
    return (json.dumps(wrapper, indent=1) + "\n").encode()


def _text(data: Mapping[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise ActivationMalformed(f"activation document: {key} must be non-empty text")
    return value


def mode_from_json(value: Any, key: str) -> Mode:
    if value == "TEST":
        return "TEST"
    if value == "LIVE":
        return "LIVE"
    raise ActivationMalformed(f"activation document: {key} must be TEST or LIVE, not {value!r}")


def organization_from_json(value: Any) -> ActivationOrganization:
    if not isinstance(value, Mapping):
        raise ActivationMalformed("activation document: organization must be an object")
    allowed = {"name", "id", "address_line1", "zip", "town", "country_code"}
    unknown = set(value) - allowed
    if unknown:
        raise ActivationMalformed(f"activation document: unknown organization.{sorted(unknown)[0]}")
    country = _text(value, "country_code", optional=True) or "DEU"
    if not re.fullmatch(r"[A-Z]{3}", country):
        raise ActivationMalformed("activation document: organization.country_code is ISO alpha-3")
    return ActivationOrganization(
        name=str(_text(value, "name")),
        id=_text(value, "id", optional=True),
        address_line1=_text(value, "address_line1", optional=True),
        zip=_text(value, "zip", optional=True),
        town=_text(value, "town", optional=True),
        country_code=country,
    )


def parse_payload(data: Any) -> ActivationDocument:
    """Validate a decoded payload into an :class:`ActivationDocument` (no signature check)."""
    if not isinstance(data, Mapping):
        raise ActivationMalformed("activation document: the payload is not a JSON object")
    expected = {
        "document_id",
        "device_id",
        "environment",
        "organization",
        "management",
        "issued_at",
        "expires_on",
    }
    missing = expected - set(data)
    if missing:
        raise ActivationMalformed(f"activation document: {sorted(missing)[0]} is missing")
    if set(data) - expected:
        raise ActivationMalformed(
            f"activation document: unknown field {sorted(set(data) - expected)[0]}"
        )
    device_id = str(_text(data, "device_id"))
    if not _DEVICE_RE.fullmatch(device_id):
        raise ActivationMalformed(f"activation document: device_id {device_id!r} is not an id")
    management = data["management"]
    if not isinstance(management, Mapping) or set(management) != {"api_key", "api_secret"}:
        raise ActivationMalformed(
            "activation document: management must hold exactly api_key and api_secret"
        )
    try:
        issued = datetime.fromisoformat(str(data["issued_at"]).replace("Z", "+00:00"))
        expires = date.fromisoformat(str(data["expires_on"]))
    except ValueError:
        raise ActivationMalformed(
            "activation document: issued_at must be an ISO time and expires_on YYYY-MM-DD"
        ) from None
    if issued.tzinfo is None:
        raise ActivationMalformed("activation document: issued_at needs a time zone (Z)")
    if expires < issued.astimezone(UTC).date():
        raise ActivationMalformed("activation document: expires_on lies before issued_at")
    return ActivationDocument(
        document_id=str(_text(data, "document_id")),
        device_id=device_id,
        environment=mode_from_json(data["environment"], "environment"),
        organization=organization_from_json(data["organization"]),
        management=ManagementCredentials(
            str(_text(management, "api_key")), str(_text(management, "api_secret"))
        ),
        issued_at=issued.astimezone(UTC),
        expires_on=expires,
    )


def _wrapper(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ActivationMalformed(
            f"the activation file is {len(data)} bytes; documents are at most "
            f"{MAX_DOCUMENT_BYTES} bytes"
        )
    try:
        wrapper = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ActivationMalformed("the activation file is not JSON") from None
    if not isinstance(wrapper, dict) or wrapper.get("format") != FORMAT:
        raise ActivationMalformed(f"the activation file is not in the format {FORMAT!r}")
    for name in ("payload", "signature"):
        if not isinstance(wrapper.get(name), str):
            raise ActivationMalformed(f"the activation file has no {name}")
    return wrapper


def verify_document(
    data: bytes,
    public_key: Ed25519PublicKey,
    *,
    device_id: str | None,
    now: datetime | None = None,
) -> ActivationDocument:
    """Check signature, device and dates; returns the document or raises a specific error.

    ``device_id=None`` skips the device check (the vendor's ``verify`` command).
    """
    wrapper = _wrapper(data)
    try:
        payload = base64.b64decode(wrapper["payload"], validate=True)
        signature = base64.b64decode(wrapper["signature"], validate=True)
    except (binascii.Error, ValueError):
        raise ActivationMalformed(
            "the activation file's payload or signature is not base64"
        ) from None
    trusted = key_id(public_key)
    try:
        public_key.verify(signature, payload)
    except InvalidSignature:
        other = wrapper.get("key_id")
        reason = (
            f"it was signed with another vendor key ({other}, this unit trusts {trusted})"
            if isinstance(other, str) and other != trusted
            else "the signature does not match its content"
        )
        raise ActivationBadSignature(f"activation document refused: {reason}") from None
    try:
        decoded = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ActivationMalformed("the signed payload is not JSON") from None
    document = parse_payload(decoded)
    if device_id is not None and document.device_id != device_id:
        raise ActivationOtherDevice(
            f"activation document {document.document_id} is for device {document.device_id}, "
            f"this unit is {device_id}"
        )
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    if moment >= document.valid_until():
        raise ActivationExpired(
            f"activation document {document.document_id} expired on "
            f"{document.expires_on.isoformat()}"
        )
    if moment < document.issued_at - CLOCK_TOLERANCE:
        raise ActivationNotYetValid(
            f"activation document {document.document_id} is valid from "
            f"{document.issued_at.strftime('%Y-%m-%d %H:%M')} UTC; the unit's clock says "
            f"{moment.strftime('%Y-%m-%d %H:%M')} UTC"
        )
    return document
