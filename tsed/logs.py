"""Logging set-up with secret redaction on every handler.

:class:`SecretRedactor` replaces every registered secret (vault values, tokens, pairing codes)
and every secret-looking pattern (bearer tokens, ``api_secret`` fields, PINs/PUKs, passwords,
proxy URLs with credentials) by ``***`` in the message, its arguments, exception text and every
``TSED_*`` extra field. It sits on the handlers, so records of every library are filtered.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_SECRET_LENGTH = 4
NOISY_LOGGERS = ("httpx", "httpcore", "aiohttp.access", "aiohttp.server", "zeroconf", "asyncio")

_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + MASK),
    (
        re.compile(
            r"""(?i)(["']?(?:api_secret|secret|admin_pin|new_admin_pin|admin_puk|password|"""
            r"""refresh_token|access_token|token|code|pin|puk)["']?\s*[:=]\s*["']?)"""
            r"""([^"'\s,&}]+)"""
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"(?i)(\w+://[^:/@\s]+:)[^@\s]+(@)"), r"\1" + MASK + r"\2"),
    (re.compile(r"\btsed_[A-Za-z0-9_-]{20,}"), "tsed_" + MASK),
]

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_sorted_cache: list[str] = []


def register_secret(value: str | None) -> None:
    """Never log ``value`` (API secrets, PINs, PUKs, tokens, pairing codes, passwords)."""
    global _sorted_cache  # noqa: PLW0603 - one process-wide registry
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # Variants a secret takes when shown to people: grouped pairing codes without dashes.
        if "-" in value:
            _secrets.add(value.replace("-", ""))
        _sorted_cache = sorted(_secrets, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every known secret and secret-looking pattern masked."""
    for secret in _sorted_cache:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class SecretRedactor(logging.Filter):
    """Masks secrets in a record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key.startswith("TSED_") or key == "MESSAGE_ID":
                setattr(record, key, _redact_value(value))
        return True


class TsedFormatter(logging.Formatter):
    """Human format for stderr; shows the TSED_* fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = [
            f"{key}={value}"
            for key, value in sorted(record.__dict__.items())
            if key.startswith("TSED_") and value is not None
        ]
        return f"{text} [{' '.join(fields)}]" if fields else text


_extended = False


def set_extended(on: bool) -> None:
    """Extended logging: request metadata, timings and fiskaly error bodies (still redacted)."""
    global _extended  # noqa: PLW0603
    _extended = on
    logging.getLogger("tsed.fiskaly").setLevel(logging.DEBUG if on else logging.INFO)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(
            logging.INFO if on and name == "httpx" else logging.WARNING
        )


def extended() -> bool:
    return _extended


def setup_logging(
    *,
    level: str | int = "INFO",
    extended: bool = False,
    handlers: Iterable[logging.Handler] | None = None,
) -> list[logging.Handler]:
    """Install ``handlers`` (default: stderr) on the root logger, each with the redactor."""
    chosen: list[logging.Handler] = (
        list(handlers) if handlers is not None else [logging.StreamHandler(sys.stderr)]
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_tsed", False):
            root.removeHandler(old)
    for handler in chosen:
        if not any(isinstance(f, SecretRedactor) for f in handler.filters):
            handler.addFilter(SecretRedactor())
        if handler.formatter is None:
            handler.setFormatter(TsedFormatter())
        handler._tsed = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    set_extended(extended)
    return chosen
