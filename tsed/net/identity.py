"""The unit's device identity: id, P-256 key and self-signed certificate for the register API.

Two hashes, each for its own reader:

* the **certificate fingerprint** (:func:`certificate_fingerprint`): SHA-256 over the DER
  certificate in the colon-separated upper-case hex browsers show (``A8:C8:8A:…``). It is the
  one value people compare: the setup page, ``tsectl status``, the serial console, the
  journal's identity line and the installation guide all show exactly this form. It changes
  when the certificate is re-issued (new addresses), so it is always read from the served file.
* the **key hash** (:func:`spki_fingerprint`): SHA-256 over the DER SubjectPublicKeyInfo in
  lower-case hex, what registers pin (``fp`` in mDNS, ``FP`` in the pairing QR code). It is
  shown labelled as the key hash, never as "the fingerprint".

The key is made once and kept; the certificate is re-issued (same key, so the same key hash)
when the unit's names or addresses change. Validity is 10 years: the unit may sit in a shop
without updates, and trust comes from the pinned key, not from a CA or the expiry date.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import hashlib
import ipaddress
import json
import logging
import socket
import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tsed.state.files import atomic_write
from tsed.state.paths import StatePaths

_LOGGER = logging.getLogger(__name__)
VALIDITY = timedelta(days=3650)


def short_id_of(device_id: str) -> str:
    """The six characters that name the unit on the LAN (mDNS ``tsed-<short id>.local``)."""
    return device_id.replace("-", "")[-6:]


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    device_id: str
    cert_path: Path
    key_path: Path
    fingerprint_sha256: str

    @property
    def short_id(self) -> str:
        return short_id_of(self.device_id)

    @property
    def fingerprint_short(self) -> str:
        return self.fingerprint_sha256[:16]

    @property
    def certificate_sha256(self) -> str:
        """The served certificate's fingerprint as browsers show it (read from the file: the
        certificate follows the addresses, so this value does too)."""
        return certificate_fingerprint(self.cert_path.read_bytes())

    @property
    def fingerprint_display(self) -> str:
        """The fingerprint people compare: the same as :attr:`certificate_sha256`."""
        return self.certificate_sha256


def certificate_fingerprint(cert: bytes | x509.Certificate) -> str:
    """SHA-256 of the DER certificate, colon-separated upper-case hex (``A8:C8:…``): the form a
    browser's certificate viewer shows. ``cert`` is PEM or DER bytes, or a certificate."""
    if isinstance(cert, bytes):
        if cert.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(cert)
        else:
            cert = x509.load_der_x509_certificate(cert)
    digest = cert.fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)


def spki_fingerprint(cert_or_key: x509.Certificate | ec.EllipticCurvePublicKey) -> str:
    public = cert_or_key.public_key() if isinstance(cert_or_key, x509.Certificate) else cert_or_key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _names(hostname: str, addresses: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for host in {hostname, f"{hostname}.local"}:
        if host and host != "localhost":
            names.append(x509.DNSName(host))
    for address in sorted(set(addresses) | {"127.0.0.1"}):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            continue
    return names


def _issue(
    key: ec.EllipticCurvePrivateKey, common_name: str, names: list[x509.GeneralName]
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TSE-LAN unit"),
        ]
    )
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def load_or_create_identity(
    state_dir: Path, *, name: str, addresses: list[str] | None = None, hostname: str | None = None
) -> DeviceIdentity:
    """The identity in ``state_dir``; created on first start, certificate kept up to date."""
    state_dir.mkdir(parents=True, exist_ok=True)
    paths = StatePaths(state_dir)
    key_path, cert_path, id_path = paths.device_key, paths.device_cert, paths.device_id
    if id_path.exists():
        device_id = str(json.loads(id_path.read_text())["device_id"])
    else:
        device_id = str(uuid.uuid4())
        atomic_write(id_path, json.dumps({"device_id": device_id}).encode(), mode=0o644)
    if key_path.exists():
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path} is not a P-256 key")
        key = loaded
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # On the disk before a register can pin it: a power cut must not take the key away.
        atomic_write(key_path, pem, mode=0o600)
        _LOGGER.info("device key created", extra={"TSED_EVENT": "device_key_created"})
    names = _names(hostname or socket.gethostname(), addresses or [])
    short = short_id_of(device_id)
    current = None
    if cert_path.exists():
        current = x509.load_pem_x509_certificate(cert_path.read_bytes())
        try:
            san = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            if set(san) != set(names) or spki_fingerprint(current) != spki_fingerprint(
                key.public_key()
            ):
                current = None
        except x509.ExtensionNotFound:
            current = None
    if current is None:
        current = _issue(key, f"{name} ({short})", names)
        atomic_write(cert_path, current.public_bytes(serialization.Encoding.PEM), mode=0o644)
        _LOGGER.info("device certificate issued", extra={"TSED_EVENT": "device_cert_issued"})
    return DeviceIdentity(device_id, cert_path, key_path, spki_fingerprint(key.public_key()))


class CertificateFollower:
    """Keeps the served certificate's names on the unit's current addresses.

    When an address appears or goes, the certificate is issued again with the **same key**
    (the pinned fingerprint stays) and loaded into the live server context: new connections
    get it, open ones keep theirs.
    """

    def __init__(
        self, identity: DeviceIdentity, context: ssl.SSLContext, *, name: str, addresses: list[str]
    ) -> None:
        self._identity = identity
        self._context = context
        self._name = name
        self._names = (sorted(set(addresses)), socket.gethostname())

    async def check(self, addresses: list[str], hostname: str | None = None) -> bool:
        """Re-issue if the addresses or the host name changed; True when it did."""
        wanted = sorted(set(addresses))
        hostname = hostname or socket.gethostname()
        if (wanted, hostname) == self._names:
            return False
        identity = self._identity
        try:
            before = identity.cert_path.read_bytes()
            await asyncio.to_thread(
                load_or_create_identity,
                identity.cert_path.parent,
                name=self._name,
                addresses=wanted,
                hostname=hostname,
            )
            self._names = (wanted, hostname)
            if identity.cert_path.read_bytes() == before:
                return False
            self._context.load_cert_chain(identity.cert_path, identity.key_path)
        except (OSError, ValueError, ssl.SSLError) as err:  # the old certificate keeps serving
            self._names = (wanted, hostname)  # once per change, not every status tick
            _LOGGER.warning(
                "re-issuing the device certificate failed (the old one keeps serving; tried "
                "again at the next address change or restart): %s",
                err,
                extra={"TSED_EVENT": "device_cert_failed"},
            )
            return False
        certificate = identity.certificate_sha256
        _LOGGER.info(
            "device certificate follows the addresses: %s; certificate fingerprint (SHA-256) %s",
            ", ".join(wanted) or "-",
            certificate,
            extra={
                "TSED_EVENT": "device_cert_reissued",
                "TSED_ADDRESSES": ",".join(wanted),
                "TSED_CERT_SHA256": certificate,
            },
        )
        return True


TLS_READ_BUFFER = 32 * 1024


def limit_tls_buffers(size: int = TLS_READ_BUFFER) -> None:
    """Give each TLS connection a read buffer of ``size`` instead of asyncio's 256 KiB.

    asyncio allocates (and zero-fills) that buffer for every TLS connection, server and client
    side: 50 registers plus the pool to fiskaly held over 20 MB of RSS for buffers that never
    see more than a few KiB per read (a TLS record carries at most 16 KiB). A smaller buffer
    only means more reads for large bodies, and register bodies are small (64 KiB at most).
    """
    asyncio.sslproto.SSLProtocol.max_size = size


# TLS 1.2: ECDHE key exchange with an AEAD cipher only (the device key is P-256, so in practice
# the ECDSA variants); no CBC, no static RSA, no DHE, no SHA-1 MACs. TLS 1.3 suites are all
# AEAD and stay at OpenSSL's defaults.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!PSK:!SRP:!DSS"


def server_ssl_context(identity: DeviceIdentity) -> ssl.SSLContext:
    """The register API's TLS: 1.2 with ECDHE-AEAD suites or 1.3; no compression, no renego."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(identity.cert_path, identity.key_path)
    return context


def fingerprint_of_peer(der_cert: bytes) -> str:
    """SPKI SHA-256 of a peer certificate (what a register compares with the pinned ``fp``)."""
    return spki_fingerprint(x509.load_der_x509_certificate(der_cert))
