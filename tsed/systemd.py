"""systemd integration: sd_notify (READY, STATUS, WATCHDOG, STOPPING) and the journal.

Uses systemd-python where installed, with a pure-Python fallback that writes the notify
protocol to ``$NOTIFY_SOCKET`` itself. Outside systemd every call is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

_LOGGER = logging.getLogger(__name__)


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - depends on the machine
        return None


_sd_daemon = _optional("systemd.daemon")
_sd_journal = _optional("systemd.journal")


def _fallback_notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.connect(address)
            sock.sendall(message.encode())
        except OSError as err:
            _LOGGER.debug("sd_notify failed: %s", err)
            return False
    return True


def _library_notify(message: str) -> bool:
    # A notify socket that went away must never fail the caller (a status update inside a
    # request handler would turn into a 500): the same contract as the fallback.
    assert _sd_daemon is not None
    try:
        return bool(_sd_daemon.notify(message))
    except OSError as err:
        _LOGGER.debug("sd_notify failed: %s", err)
        return False


class Notifier:
    """Tell systemd what the daemon is doing. ``use_library=False`` forces the fallback."""

    def __init__(self, *, use_library: bool = True) -> None:
        self._send: Callable[[str], bool]
        if use_library and _sd_daemon is not None:
            self._send = _library_notify
            self.backend = "systemd-python"
        else:
            self._send = _fallback_notify
            self.backend = "fallback"
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        return bool(os.environ.get("NOTIFY_SOCKET"))

    def notify(self, message: str) -> bool:
        if not self.active:
            return False
        return self._send(message)

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog_interval(self) -> float | None:
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return int(usec) / 2_000_000
        except ValueError:
            return None

    def start_watchdog(self) -> None:
        """Ping WATCHDOG=1 from the event loop: a stuck loop stops the pings."""
        interval = self.watchdog_interval()
        if interval is None or self._watchdog is not None:
            return
        self._watchdog = asyncio.create_task(self._ping(interval), name="tsed-watchdog")

    async def _ping(self, interval: float) -> None:
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def stop_watchdog(self) -> None:
        task, self._watchdog = self._watchdog, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def status_line(
    *,
    mode: str,
    tse_available: bool,
    failing_since: str | None,
    reason: str | None,
    registers: int,
    open_transactions: int,
) -> str:
    """The line a technician reads in ``systemctl status tsed``."""
    tse = "TSE reachable" if tse_available else f"TSE FAILING since {failing_since} ({reason})"
    return (
        f"{mode} mode · {tse} · {registers} register{'s' if registers != 1 else ''} · "
        f"{open_transactions} open transaction{'s' if open_transactions != 1 else ''}"
    )


class JournalHandler(logging.Handler):
    """Structured journald records: every ``TSED_*`` extra becomes a journal field."""

    def __init__(self) -> None:
        super().__init__()
        if _sd_journal is None:
            raise RuntimeError("systemd-python is not installed")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {
                key: str(value)
                for key, value in record.__dict__.items()
                if (key.startswith("TSED_") or key == "MESSAGE_ID") and value is not None
            }
            priority = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}
            message = self.format(record) if record.exc_text else record.getMessage()
            assert _sd_journal is not None
            _sd_journal.send(
                message,
                PRIORITY=str(priority.get(record.levelno, 2)),
                SYSLOG_IDENTIFIER="tsed",
                LOGGER=record.name,
                CODE_FILE=record.pathname,
                CODE_LINE=record.lineno,
                CODE_FUNC=record.funcName,
                **fields,
            )
        except Exception:
            self.handleError(record)


def journal_available() -> bool:
    return (
        _sd_journal is not None
        and os.path.exists("/run/systemd/journal/socket")
        and bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))
    )
