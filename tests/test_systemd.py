"""sd_notify through systemd-python and through the pure-Python fallback, on a real socket."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from tsed import systemd as sd


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


@pytest.mark.parametrize("use_library", [True, False])
def test_ready_status_stopping(notify_socket: socket.socket, use_library: bool) -> None:
    notifier = sd.Notifier(use_library=use_library)
    assert notifier.backend == ("systemd-python" if use_library else "fallback")
    assert notifier.ready("TEST mode · TSE reachable")
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=TEST mode \xc2\xb7 TSE reachable"
    notifier.status("x")
    assert notify_socket.recv(4096) == b"STATUS=x"
    notifier.stopping()
    assert notify_socket.recv(4096) == b"STOPPING=1"


@pytest.mark.parametrize("use_library", [True, False])
def test_a_vanished_notify_socket_never_fails_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_library: bool
) -> None:
    """A status update runs inside request handlers: it must not raise (it answered 500)."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    notifier = sd.Notifier(use_library=use_library)
    assert notifier.backend == ("systemd-python" if use_library else "fallback")
    assert notifier.status("x") is False
    assert notifier.stopping() is False


def test_abstract_socket_in_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"tsed-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    try:
        assert sd.Notifier(use_library=False).ready()
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


def test_no_op_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sd.Notifier().ready() is False


async def test_watchdog_pings_from_the_loop(notify_socket, monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = sd.Notifier(use_library=False)
    notifier.start_watchdog()
    notifier.start_watchdog()  # idempotent
    await asyncio.sleep(0.12)
    await notifier.stop_watchdog()
    notify_socket.settimeout(0)
    pings = []
    try:
        while True:
            pings.append(notify_socket.recv(100))
    except BlockingIOError:
        pass
    assert pings.count(b"WATCHDOG=1") >= 2


def test_watchdog_only_for_our_pid(monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert sd.Notifier().watchdog_interval() is None


def test_status_line() -> None:
    assert sd.status_line(mode="TEST", tse_available=True, failing_since=None, reason=None,
                          registers=1, open_transactions=0) == (
        "TEST mode · TSE reachable · 1 register · 0 open transactions"
    )  # fmt: skip
    line = sd.status_line(mode="LIVE", tse_available=False, failing_since="12:03:11",
                          reason="timeout", registers=3, open_transactions=2)  # fmt: skip
    assert "TSE FAILING since 12:03:11 (timeout)" in line and "3 registers" in line


def test_journal_handler_sends_tsed_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    journal = pytest.importorskip("systemd.journal")
    sent: list[tuple[str, ...]] = []
    monkeypatch.setattr(journal, "sendv", lambda *args: sent.append(args))
    handler = sd.JournalHandler()
    record = logging.LogRecord(
        "tsed.x", logging.WARNING, "/x.py", 7, "TSE failure %s", ("t1",), None
    )
    record.TSED_EVENT = "tse_failure"
    record.TSED_TX = "t1"
    handler.emit(record)
    fields = dict(item.split("=", 1) for item in sent[0])
    assert fields["MESSAGE"] == "TSE failure t1"
    assert fields["TSED_EVENT"] == "tse_failure" and fields["TSED_TX"] == "t1"
    assert fields["PRIORITY"] == "4" and fields["SYSLOG_IDENTIFIER"] == "tsed"
    assert fields["CODE_LINE"] == "7"
