"""Register pairing and bearer tokens, with rate limits and lockout.

* A pairing window is opened only by the installer; it holds one **one-time code** of 80 bits
  (16 Crockford base32 characters, shown in groups of 4), valid for a few minutes.
* A redeemed code yields a per-register bearer token of 256 bits. Only its SHA-256 is stored:
  with that much entropy a fast hash is safe (no dictionary to try), and lookups stay cheap.
  Comparisons use ``hmac.compare_digest``.
* Failures (wrong codes, wrong tokens, wrong admin passwords) are counted per source address
  by :mod:`tsed.net.lockout`; the admin password's hash is :mod:`tsed.net.passwords`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tsed.errors import AuthError, ConflictError
from tsed.logs import register_secret
from tsed.state.rows import RegisterRow

_LOGGER = logging.getLogger(__name__)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 16  # 80 bits
TOKEN_PREFIX = "tsed_"  # noqa: S105 - a prefix, not a secret


def _normalize_code(text: str) -> str:
    cleaned = text.upper().replace("-", "").replace(" ", "")
    table: dict[str, str | int | None] = {"O": "0", "I": "1", "L": "1"}
    return cleaned.translate(str.maketrans(table))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token() -> tuple[str, str]:
    """A new bearer token (shown once) and its hash (stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    register_secret(token)
    return token, hash_token(token)


@dataclass(frozen=True, slots=True)
class PairingCode:
    code: str = field(repr=False)
    expires_at: float
    tenant: str | None = None  # the installer's choice; None: the workplace's or the default

    @property
    def grouped(self) -> str:
        return "-".join(self.code[i : i + 4] for i in range(0, len(self.code), 4))


class PairingManager:
    """The installer's pairing window and its one-time code."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._clock = clock
        self._code: PairingCode | None = None
        self._on_change = on_change

    @property
    def is_open(self) -> bool:
        return self._code is not None and self._code.expires_at > self._clock()

    @property
    def expires_at(self) -> float | None:
        return self._code.expires_at if self.is_open and self._code else None

    def open(self, minutes: float, *, tenant: str | None = None) -> PairingCode:
        code = "".join(secrets.choice(CROCKFORD) for _ in range(CODE_CHARS))
        self._code = PairingCode(code, self._clock() + minutes * 60, tenant)
        register_secret(self._code.grouped)
        register_secret(code)
        _LOGGER.info(
            "pairing window open for %.0f minutes",
            minutes,
            extra={"TSED_EVENT": "pairing_opened"},
        )
        if self._on_change:
            self._on_change(True)
        return self._code

    def close(self) -> None:
        was_open = self._code is not None
        self._code = None
        if was_open and self._on_change:
            self._on_change(False)

    def check(self, text: str) -> PairingCode:
        """The open window if ``text`` is its code (not consumed yet); raises AuthError (wrong)
        or ConflictError (no window)."""
        if self._code is None or self._code.expires_at <= self._clock():
            self.close()
            raise ConflictError(
                "no pairing window is open (or it expired)",
                hint="Ask the installer to open one: tsectl pair, the setup page or the console.",
            )
        if not hmac.compare_digest(_normalize_code(text), self._code.code):
            raise AuthError(
                "the pairing code is wrong",
                hint="Type the code exactly as shown by tsectl pair (dashes optional).",
            )
        return self._code

    def redeem(self, text: str) -> PairingCode:
        """Check and consume the code (see :meth:`check`)."""
        window = self.check(text)
        self.close()
        return window


# -- the admin API's views --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairingQr:
    """What a register app scans: how to reach the unit and the one-time code."""

    qr_text: str = field(repr=False)
    qr_image: str = field(repr=False)  # an SVG data URI


@dataclass(frozen=True, slots=True)
class PairingAnswer:
    """An opened pairing window, for the installer (the code is shown, once per window)."""

    code: str = field(repr=False)  # grouped: XXXX-XXXX-XXXX-XXXX
    tenant: str | None
    expires_at: float
    fingerprint: str  # the certificate's SHA-256, A8:C8:… (tsed.net.identity)
    qr_text: str = field(repr=False)
    qr_image: str = field(repr=False)
    key_sha256: str = ""  # the key hash registers pin (also FP= in the QR code)


@dataclass(frozen=True, slots=True)
class RegisterView:
    """A paired register as the admin API lists it (no token, no token hash)."""

    id: str
    serial: str
    label: str | None
    tenant_id: str
    created_at: float
    revoked_at: float | None
    last_seen_at: float | None

    @classmethod
    def from_row(cls, row: RegisterRow) -> RegisterView:
        return cls(row.id, row.serial, row.label, row.tenant_id, row.created_at,
                   row.revoked_at, row.last_seen_at)  # fmt: skip
