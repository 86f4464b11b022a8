"""The root of tsed's errors, :class:`TsedError`, and the errors on the way to fiskaly.

The root lives here, in the lowest layer, because ``tsed.fiskaly`` imports nothing else of
tsed. The whole tree, with every class, its module, HTTP status and code, is drawn in
:mod:`tsed.errors` (``tests/test_errors.py`` keeps the drawing and the classes in step).

fiskaly's answers are mapped by their ``code`` first, by the HTTP status second, and never
by the wording of the message (:func:`tsed.fiskaly.transport.error_from_response`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Self

_CODE_RE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


class TsedError(Exception):
    """Root of every error tsed raises on purpose; on its own, the generic 500 of a bug.

    Every error carries:

    * ``status``: the HTTP status a local API answers with when the error reaches it;
    * ``code``: a stable machine code (``UPPER_SNAKE``), part of the API contracts;
    * ``message``: what went wrong, for a person, naming the thing that is wrong;
    * ``hint``: what the person who has to act should do about it.

    A subclass states its status and code in its header, once, and its hint in its body::

        class StorageFull(StorageError, code="STORAGE_FULL"):
            default_hint = "Free space ..."

    ``status`` is inherited when left out; ``code`` never is: every class has its own.
    Messages and hints never contain secrets.

    An error may also name the setting it is about (``field``, a dotted configuration path)
    and a text id of the message catalogue with its values (:meth:`localized`): the admin API
    then answers the German and English text of that line (:mod:`tsed.texts`).
    """

    status: int = 500
    code: str = "INTERNAL"
    default_hint: ClassVar[str] = "Check the journal of the tsed service (journalctl -u tsed)."
    field: str | None = None
    text_id: str | None = None
    text_params: Mapping[str, Any] = {}

    def __init_subclass__(cls, *, code: str, status: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not _CODE_RE.fullmatch(code):
            raise TypeError(f"{cls.__qualname__}: code {code!r} is not UPPER_SNAKE")
        if status is not None:
            if not 400 <= status <= 599:
                raise TypeError(f"{cls.__qualname__}: status {status} is not an error status")
            cls.status = status
        cls.code = code

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.details: dict[str, Any] = dict(details or {})

    def localized(self, text_id: str, *, field: str | None = None, **params: Any) -> Self:
        """Name the catalogue line of this error (and the setting it is about); returns it."""
        self.text_id = text_id
        if field is not None:
            self.field = field
        self.text_params = {key: "" if value is None else value for key, value in params.items()}
        return self

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body of the local APIs."""
        body: dict[str, Any] = {
            "error": {
                "status": self.status,
                "code": self.code,
                "message": self.message,
                "hint": self.hint,
            }
        }
        if self.details:
            body["error"]["details"] = self.details
        return body

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# -- fiskaly --------------------------------------------------------------------------------


class FiskalyError(TsedError, status=502, code="FISKALY_ERROR"):
    """Anything on the way to or from fiskaly."""

    default_hint = "Run the connection test (tsectl test) and check the journal."


class FiskalyUnavailable(FiskalyError, status=503, code="FISKALY_UNAVAILABLE"):
    """No usable answer: network, DNS, TLS, proxy, timeout or a 5xx from fiskaly."""

    default_hint = (
        "fiskaly cannot be reached right now; the unit retries by itself. If it lasts, check the "
        "shop's internet connection and proxy, then run tsectl test."
    )


class FiskalyTimeout(FiskalyUnavailable, status=504, code="FISKALY_TIMEOUT"):
    default_hint = (
        "fiskaly did not answer in time; the unit retries by itself. If it lasts, check the "
        "internet connection and the proxy."
    )


class ProxyError(FiskalyUnavailable, code="PROXY_FAILED"):
    default_hint = (
        "Check proxy host and port in the configuration (tsectl config show) and that the "
        "proxy is running and lets the unit through to fiskaly."
    )


class ProxyAuthRequired(ProxyError, code="PROXY_AUTH_REQUIRED"):
    default_hint = (
        "The proxy wants credentials (HTTP 407): set proxy.username and the proxy password, "
        "or ask the network administrator for them."
    )


class DnsError(FiskalyUnavailable, code="DNS_FAILED"):
    default_hint = (
        "The name of the fiskaly server cannot be resolved: check the unit's DNS server (DHCP) "
        "or configure the shop's proxy."
    )


class TlsError(FiskalyUnavailable, code="TLS_FAILED"):
    default_hint = (
        "The TLS connection to fiskaly failed: check the unit's clock and whether a proxy "
        "intercepts TLS (it must let the unit through unmodified)."
    )


class FiskalyRateLimited(FiskalyUnavailable, code="FISKALY_RATE_LIMITED"):
    """fiskaly's 429: slow down; carries ``retry_after``."""

    default_hint = "fiskaly asks to slow down; the unit waits and retries."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class FiskalyBusy(FiskalyUnavailable, code="FISKALY_BUSY"):
    """fiskaly asks to try again: 499 ("can, and should, be retried"), 444
    ``E_MIDDLEWARE_PENDING_REQUEST`` (a request for the same resource is still running) or a
    transaction still pending after polling it."""

    default_hint = "fiskaly is still working on an earlier request; the unit retries by itself."


class FiskalyRejected(FiskalyError, code="FISKALY_REJECTED"):
    """fiskaly answered with an error (a 4xx): its status, code and message are kept."""

    def __init__(
        self,
        message: str,
        *,
        fiskaly_status: int = 0,
        fiskaly_code: str | None = None,
        fiskaly_message: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.fiskaly_status = fiskaly_status
        self.fiskaly_code = fiskaly_code
        self.fiskaly_message = fiskaly_message


class BadCredentials(FiskalyRejected, code="FISKALY_BAD_CREDENTIALS"):
    """fiskaly's 401: it refused the API key and secret, or the access token."""

    default_hint = (
        "fiskaly refused the API key and secret: create new credentials (Anlegen) or enter "
        "the right ones (tsectl credentials set)."
    )


class AdminPinRejected(FiskalyRejected, status=409, code="ADMIN_PIN_REJECTED"):
    """fiskaly's 401 on the admin login: the TSS admin PIN is wrong."""

    default_hint = (
        "fiskaly refused the TSS admin PIN the unit keeps for this TSS. The unit does not try "
        "again on its own: five wrong PINs block it. Set a new PIN with the PUK "
        "(tsectl tss setup), or set up a new TSS."
    )


class AdminPinBlocked(FiskalyRejected, status=409, code="ADMIN_PIN_BLOCKED"):
    """fiskaly's 423 ``E_ADMIN_PIN_BLOCKED``."""

    default_hint = (
        "The TSS admin PIN is blocked (five wrong PINs, or a new TSS): set it again with the "
        "admin PUK (tsectl tss setup)."
    )


class AccessDenied(FiskalyRejected, status=403, code="FISKALY_ACCESS_DENIED"):
    """fiskaly's 403 ``E_ACCESS_DENIED``: not this organization's resource."""

    default_hint = (
        "fiskaly says these credentials may not use this TSS: it belongs to another fiskaly "
        "organization or environment. Check the tenant's credentials (tsectl credentials)."
    )


class ClientDeregistered(FiskalyRejected, status=409, code="CLIENT_DEREGISTERED"):
    """fiskaly's ``E_CLIENT_DEREGISTERED`` (with 400 or 401)."""

    default_hint = (
        "The register's fiskaly client is deregistered; the unit registers it again. If it "
        "lasts, pair the register again."
    )


class EnvironmentMismatch(AccessDenied, status=409, code="TEST_LIVE_MISMATCH"):
    """A TEST resource used with a LIVE token, or the other way round."""

    default_hint = (
        "A register or TSS set up in TEST is used with LIVE credentials, or the other way "
        "round (fiskaly answers 403 E_ACCESS_DENIED). Reset the register (tsectl reset "
        "--register ID, or --all) and re-initialize it."
    )


class TssNotReady(FiskalyRejected, status=503, code="TSS_NOT_READY"):
    """The TSS is not INITIALIZED, disabled, defective, deleted, evicted or locked."""

    default_hint = (
        "The TSS cannot sign in its current state; run tsectl tss status and tsectl tss setup."
    )


class TssLocked(TssNotReady, code="TSS_LOCKED"):
    default_hint = "fiskaly maintains this TSS; the unit retries by itself."


class TssUnusable(TssNotReady, code="TSS_UNUSABLE"):
    """DEFECTIVE, DELETED, EVICTED or certificate expired: a new TSS is needed."""

    default_hint = (
        "This TSS can no longer sign: set up a new TSS (tsectl tss setup) and reset the "
        "registers (tsectl reset --all)."
    )


class LimitReached(FiskalyRejected, status=409, code="FISKALY_LIMIT_REACHED"):
    default_hint = "A fiskaly limit was reached; see the message."


class ClientLimitReached(LimitReached, code="CLIENT_LIMIT_REACHED"):
    default_hint = (
        "A TSS serves at most 199 registers: revoke unused registers (tsectl registers revoke) "
        "or set up another tenant/TSS."
    )


class TransactionLimitReached(LimitReached, code="OPEN_TRANSACTION_LIMIT_REACHED"):
    default_hint = (
        "2000 transactions are open on this TSS: registers must finish or cancel them; the "
        "unit cancels abandoned ones during recovery."
    )


class RevisionConflict(FiskalyRejected, status=409, code="TX_REVISION_CONFLICT"):
    default_hint = "The transaction changed meanwhile; read it and retry."


class FiskalyNotFound(FiskalyRejected, status=404, code="FISKALY_NOT_FOUND"):
    default_hint = "The TSS, client or transaction does not exist at fiskaly."


class UnsupportedApiVersion(TsedError, status=400, code="FISKALY_V1_NOT_SUPPORTED"):
    default_hint = (
        "Only fiskaly SIGN DE API V2 is supported; fiskaly V1 is no longer supported. Remove "
        "the V1 URL or setting."
    )
