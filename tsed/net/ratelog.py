"""Rate-limited warnings for what a LAN host can make the unit log as often as it likes.

:class:`RateLimitedLog` writes at most one record per kind and interval, the next one saying how
many were held back (``TSED_HELD_BACK``). :class:`MalformedRequestLog` routes aiohttp's own
"Error handling request" tracebacks (one per malformed request, with the attacker's bytes)
through it as one line with the source and the error's class.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)

LOG_INTERVAL = 10.0


class RateLimitedLog:
    """At most one record per ``interval`` and kind; the next one says how many were held back."""

    def __init__(self, interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic):
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def emit(self, kind: str, message: str, *args: object) -> None:
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self._interval:
            self._held[kind] = self._held.get(kind, 0) + 1
            return
        held = self._held.pop(kind, 0)
        self._last[kind] = now
        suffix = f" ({held} more like it in the last {self._interval:.0f} s)" if held else ""
        _LOGGER.warning(
            "%s%s", message % args, suffix, extra={"TSED_EVENT": kind, "TSED_HELD_BACK": held}
        )


class MalformedRequestLog(logging.Filter):
    """Filter for ``aiohttp.server``: its per-request error tracebacks become rate-limited lines."""

    def __init__(self, log: RateLimitedLog | None = None) -> None:
        super().__init__()
        self._log = log or RateLimitedLog()

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Error handling request"):
            return True
        error = record.exc_info[1] if record.exc_info else None
        source = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        self._log.emit(
            "malformed_request",
            "a request from %s could not be handled (%s); the connection was closed",
            source,
            type(error).__name__ if error is not None else "unknown error",
        )
        return False

    @classmethod
    def install(cls) -> None:
        """Once per process, on the ``aiohttp.server`` logger."""
        logger = logging.getLogger("aiohttp.server")
        if not any(isinstance(f, cls) for f in logger.filters):
            logger.addFilter(cls())
