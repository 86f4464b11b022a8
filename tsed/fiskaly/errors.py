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
        ├── FiskalyRateLimited       429, carries retry_after
        └── FiskalyRejected          a 4xx answer from fiskaly, carries fiskaly's status/code
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
