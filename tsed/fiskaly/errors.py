"""Errors of tsed, rooted in :class:`TsedError`.

The root lives here, in the lowest layer, because ``tsed.fiskaly`` imports nothing else of
tsed; :mod:`tsed.errors` re-exports it together with the service-level leaves. Every error
carries:

* ``status``: the HTTP status a local API answers with when the error reaches it;
* ``code``: a stable machine code (``UPPER_SNAKE``), part of the register API contract;
* ``message``: what went wrong, for a person, naming the thing that is wrong;
* ``hint``: what the person who has to act should do about it.

Messages and hints never contain secrets.

Tree (fiskaly part; the service part is drawn in :mod:`tsed.errors`)::

    TsedError
    └── FiskalyError                 anything on the way to or from fiskaly
        ├── FiskalyUnavailable       no usable answer (network, DNS, TLS, proxy, timeout, 5xx)
        │   ├── FiskalyTimeout
        │   ├── ProxyError
        │   ├── DnsError
        │   └── TlsError
        │   ├── FiskalyRateLimited   429, carries retry_after
        │   └── FiskalyBusy          499, 444 E_MIDDLEWARE_PENDING_REQUEST, a pending answer
        └── FiskalyRejected          a 4xx answer from fiskaly, carries fiskaly's status/code
            ├── BadCredentials       401: key/secret or the access token refused
            ├── AdminPinRejected     401 on the admin login: the admin PIN is wrong
            ├── AdminPinBlocked      423 E_ADMIN_PIN_BLOCKED
            ├── AccessDenied         403 E_ACCESS_DENIED (not this organization's resource)
            │   └── EnvironmentMismatch   a TEST resource used with a LIVE token or back
            ├── ClientDeregistered   E_CLIENT_DEREGISTERED (400 or 401)
            ├── TssNotReady → TssLocked, TssUnusable
            ├── LimitReached → ClientLimitReached, TransactionLimitReached
            ├── RevisionConflict
            └── FiskalyNotFound

fiskaly's answers are mapped by their ``code`` first, by the HTTP status second, and never
by the wording of the message (:func:`tsed.fiskaly.transport.error_from_response`).
"""

from __future__ import annotations

from typing import Any, ClassVar


class TsedError(Exception):
    """Root of every error tsed raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL"
    default_hint: ClassVar[str] = "Check the journal of the tsed service (journalctl -u tsed)."

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


class FiskalyError(TsedError):
    """Anything on the way to or from fiskaly."""

    status: ClassVar[int] = 502
    code: ClassVar[str] = "FISKALY_ERROR"
    default_hint: ClassVar[str] = "Run the connection test (tsectl test) and check the journal."


class FiskalyUnavailable(FiskalyError):
    """No usable answer: network, DNS, TLS, proxy, timeout or a 5xx from fiskaly."""

    status: ClassVar[int] = 503
    code: ClassVar[str] = "FISKALY_UNAVAILABLE"
    default_hint: ClassVar[str] = (
        "fiskaly cannot be reached right now; the unit retries by itself. If it lasts, check the "
        "shop's internet connection and proxy, then run tsectl test."
    )


class FiskalyTimeout(FiskalyUnavailable):
    status: ClassVar[int] = 504
    code: ClassVar[str] = "FISKALY_TIMEOUT"
    default_hint: ClassVar[str] = (
        "fiskaly did not answer in time; the unit retries by itself. If it lasts, check the "
        "internet connection and the proxy."
    )


class ProxyError(FiskalyUnavailable):
    code: ClassVar[str] = "PROXY_FAILED"
    default_hint: ClassVar[str] = (
        "Check proxy host and port in the configuration (tsectl config show) and that the "
        "proxy is running and lets the unit through to fiskaly."
    )


class ProxyAuthRequired(ProxyError):
    code: ClassVar[str] = "PROXY_AUTH_REQUIRED"
    default_hint: ClassVar[str] = (
        "The proxy wants credentials (HTTP 407): set proxy.username and the proxy password, "
        "or ask the network administrator for them."
    )


class DnsError(FiskalyUnavailable):
    code: ClassVar[str] = "DNS_FAILED"
    default_hint: ClassVar[str] = (
        "The name of the fiskaly server cannot be resolved: check the unit's DNS server (DHCP) "
        "or configure the shop's proxy."
    )


class TlsError(FiskalyUnavailable):
    code: ClassVar[str] = "TLS_FAILED"
    default_hint: ClassVar[str] = (
        "The TLS connection to fiskaly failed: check the unit's clock and whether a proxy "
        "intercepts TLS (it must let the unit through unmodified)."
    )


class FiskalyRateLimited(FiskalyUnavailable):
    status: ClassVar[int] = 503
    code: ClassVar[str] = "FISKALY_RATE_LIMITED"
    default_hint: ClassVar[str] = "fiskaly asks to slow down; the unit waits and retries."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class FiskalyBusy(FiskalyUnavailable):
    """fiskaly asks to try again: 499 ("can, and should, be retried"), 444
    ``E_MIDDLEWARE_PENDING_REQUEST`` (a request for the same resource is still running) or a
    transaction still pending after polling it."""

    code: ClassVar[str] = "FISKALY_BUSY"
    default_hint: ClassVar[str] = (
        "fiskaly is still working on an earlier request; the unit retries by itself."
    )


class FiskalyRejected(FiskalyError):
    """fiskaly answered with an error: its status, code and message are kept."""

    status: ClassVar[int] = 502
    code: ClassVar[str] = "FISKALY_REJECTED"

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


class BadCredentials(FiskalyRejected):
    code: ClassVar[str] = "FISKALY_BAD_CREDENTIALS"
    default_hint: ClassVar[str] = (
        "fiskaly refused the API key and secret: create new credentials (Anlegen) or enter "
        "the right ones (tsectl credentials set)."
    )


class AdminPinRejected(FiskalyRejected):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "ADMIN_PIN_REJECTED"
    default_hint: ClassVar[str] = (
        "fiskaly refused the TSS admin PIN the unit keeps for this TSS. The unit does not try "
        "again on its own: five wrong PINs block it. Set a new PIN with the PUK "
        "(tsectl tss setup), or set up a new TSS."
    )


class AdminPinBlocked(FiskalyRejected):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "ADMIN_PIN_BLOCKED"
    default_hint: ClassVar[str] = (
        "The TSS admin PIN is blocked (five wrong PINs, or a new TSS): set it again with the "
        "admin PUK (tsectl tss setup)."
    )


class AccessDenied(FiskalyRejected):
    status: ClassVar[int] = 403
    code: ClassVar[str] = "FISKALY_ACCESS_DENIED"
    default_hint: ClassVar[str] = (
        "fiskaly says these credentials may not use this TSS: it belongs to another fiskaly "
        "organization or environment. Check the tenant's credentials (tsectl credentials)."
    )


class ClientDeregistered(FiskalyRejected):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "CLIENT_DEREGISTERED"
    default_hint: ClassVar[str] = (
        "The register's fiskaly client is deregistered; the unit registers it again. If it "
        "lasts, pair the register again."
    )


class EnvironmentMismatch(AccessDenied):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "TEST_LIVE_MISMATCH"
    default_hint: ClassVar[str] = (
        "A register or TSS set up in TEST is used with LIVE credentials, or the other way "
        "round (fiskaly answers 403 E_ACCESS_DENIED). Reset the register (tsectl reset "
        "--register ID, or --all) and re-initialize it."
    )


class TssNotReady(FiskalyRejected):
    """The TSS is not INITIALIZED, disabled, defective, deleted, evicted or locked."""

    status: ClassVar[int] = 503
    code: ClassVar[str] = "TSS_NOT_READY"
    default_hint: ClassVar[str] = (
        "The TSS cannot sign in its current state; run tsectl tss status and tsectl tss setup."
    )


class TssLocked(TssNotReady):
    code: ClassVar[str] = "TSS_LOCKED"
    default_hint: ClassVar[str] = "fiskaly maintains this TSS; the unit retries by itself."


class TssUnusable(TssNotReady):
    """DEFECTIVE, DELETED, EVICTED or certificate expired: a new TSS is needed."""

    code: ClassVar[str] = "TSS_UNUSABLE"
    default_hint: ClassVar[str] = (
        "This TSS can no longer sign: set up a new TSS (tsectl tss setup) and reset the "
        "registers (tsectl reset --all)."
    )


class LimitReached(FiskalyRejected):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "FISKALY_LIMIT_REACHED"
    default_hint: ClassVar[str] = "A fiskaly limit was reached; see the message."


class ClientLimitReached(LimitReached):
    code: ClassVar[str] = "CLIENT_LIMIT_REACHED"
    default_hint: ClassVar[str] = (
        "A TSS serves at most 199 registers: revoke unused registers (tsectl registers revoke) "
        "or set up another tenant/TSS."
    )


class TransactionLimitReached(LimitReached):
    code: ClassVar[str] = "OPEN_TRANSACTION_LIMIT_REACHED"
    default_hint: ClassVar[str] = (
        "2000 transactions are open on this TSS: registers must finish or cancel them; the "
        "unit cancels abandoned ones during recovery."
    )


class RevisionConflict(FiskalyRejected):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "TX_REVISION_CONFLICT"
    default_hint: ClassVar[str] = "The transaction changed meanwhile; read it and retry."


class FiskalyNotFound(FiskalyRejected):
    status: ClassVar[int] = 404
    code: ClassVar[str] = "FISKALY_NOT_FOUND"
    default_hint: ClassVar[str] = "The TSS, client or transaction does not exist at fiskaly."


class UnsupportedApiVersion(TsedError):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "FISKALY_V1_NOT_SUPPORTED"
    default_hint: ClassVar[str] = (
        "Only fiskaly SIGN DE API V2 is supported; fiskaly V1 is no longer supported. Remove "
        "the V1 URL or setting."
    )
