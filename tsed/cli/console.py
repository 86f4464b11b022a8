"""``tsed-console``: the installer's line console on the USB serial port.

A person types commands in any terminal program (picocom, PuTTY) on the USB gadget port
(``/dev/ttyGS0`` on the unit). The console edits lines itself (echo, backspace, Ctrl-C,
Ctrl-U), never echoes what is typed at a password prompt, caps a line at
:data:`MAX_LINE` bytes and ignores escape sequences and other garbage. Every command is an
admin API call over the daemon's admin socket (:class:`tsed.cli.adminclient.AdminClient`); the
console
has no logic of its own beyond the line protocol. When the port goes away (cable pulled, gadget
reset) it is reopened with backoff.

Commands (English names, bilingual help): ``help``, ``status``, ``network``, ``pair [MIN]``,
``password``, ``factory-reset``.

Port: ``--port`` flag, else the ``console_port`` key of the configuration, else
``/dev/ttyGS0``. Any pyserial URL works (``loop://``, ``socket://``, a pty path).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import serial

from tsed import __version__
from tsed.cli import common, console_commands
from tsed.cli.adminclient import AdminClient
from tsed.cli.common import add_config, add_log_level, add_socket, add_state_dir
from tsed.cli.console_commands import Commands
from tsed.cli.say import add_lang, choose_language
from tsed.errors import TsedError
from tsed.texts import Lang, text

_LOGGER = logging.getLogger(__name__)

MAX_LINE = 1024
BAUDRATE = 115200
READ_TIMEOUT = 0.2
WRITE_TIMEOUT = 2.0
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
PROMPT = "> "

_CTRL_C, _CTRL_U, _BS, _DEL, _ESC = 0x03, 0x15, 0x08, 0x7F, 0x1B


class SerialPort(Protocol):
    """The part of a pyserial port the console uses."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def close(self) -> None: ...


class PortClosed(Exception):
    """The console was asked to stop while waiting for input."""


class LineTooLong(Exception):
    """A line exceeded :data:`MAX_LINE` bytes; it was dropped."""


class LineIO:
    """Line editing on a raw serial port: echo on request, backspace, a length cap."""

    def __init__(
        self, port: SerialPort, stop: threading.Event, *, max_line: int = MAX_LINE
    ) -> None:
        self._port = port
        self._stop = stop
        self._max = max_line
        self._pending = bytearray()
        self._last_cr = False

    def write(self, text: str) -> None:
        data = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8", "replace")
        self._port.write(data)

    def _next_byte(self) -> int:
        while not self._pending:
            if self._stop.is_set():
                raise PortClosed
            chunk = self._port.read(max(1, self._port.in_waiting))
            self._pending.extend(chunk)
        byte = self._pending[0]
        del self._pending[0]
        return byte

    def read_line(self, *, echo: bool = True) -> str | None:
        """One line without its end; ``None`` when cancelled with Ctrl-C.

        With ``echo=False`` nothing typed is sent back (password prompts). Raises
        :class:`LineTooLong` after reading past an overlong line's end.
        """
        buffer = bytearray()
        overflow = False
        escape = 0  # 0: none, 1: after ESC, 2: inside ESC [ ... (CSI)
        while True:
            byte = self._next_byte()
            was_cr, self._last_cr = self._last_cr, byte == 0x0D
            if escape == 1:
                escape = 2 if byte in (0x5B, 0x4F) else 0  # ESC [ or ESC O
                continue
            if escape == 2:
                if 0x40 <= byte <= 0x7E:
                    escape = 0
                continue
            if byte == 0x0A and was_cr:
                continue  # the \n of \r\n
            if byte in (0x0D, 0x0A):
                self.write("\n")
                if overflow:
                    raise LineTooLong
                return buffer.decode("utf-8", "replace")
            if byte == _CTRL_C:
                self.write("^C\n")
                return None
            if byte == _ESC:
                escape = 1
            elif byte in (_BS, _DEL):
                if buffer and not overflow:
                    while buffer and buffer[-1] & 0xC0 == 0x80:  # UTF-8 continuation bytes
                        buffer.pop()
                    if buffer:
                        buffer.pop()
                    if echo:
                        self.write("\b \b")
            elif byte == _CTRL_U:
                if echo and not overflow:
                    self.write("\b \b" * len(buffer.decode("utf-8", "replace")))
                buffer.clear()
            elif byte < 0x20:
                continue  # other control characters: ignored
            elif overflow or len(buffer) >= self._max:
                overflow = True
            else:
                buffer.append(byte)
                if echo:
                    self._port.write(bytes([byte]))


class Console:
    """One session on an open port: prompt, read a line, run the command, repeat."""

    def __init__(self, io: LineIO, admin: AdminClient, lang: Lang = "en") -> None:
        self.io = io
        self.lang: Lang = lang
        self.commands = Commands(io, admin, lang)

    def run(self) -> None:
        self.io.write(text("console.banner", self.lang, version=__version__) + "\n")
        while True:
            self.io.write(PROMPT)
            try:
                line = self.io.read_line()
            except LineTooLong:
                self.io.write(text("console.too_long", self.lang, limit=MAX_LINE) + "\n")
                continue
            if line is None:
                continue
            self.commands.dispatch(line)


def serve(
    port_url: str,
    admin_factory: Callable[[], AdminClient],
    stop: threading.Event,
    *,
    opener: Callable[[str], SerialPort] | None = None,
    backoff_first: float = BACKOFF_FIRST,
    backoff_max: float = BACKOFF_MAX,
    lang: Lang | None = None,
) -> None:
    """Run the console on ``port_url`` until ``stop`` is set; reopen the port when it goes.

    ``lang``: the language of its lines; by default ``TSED_LANG``, else the setting
    ``language`` of the configuration (``TSED_CONFIG``), else German."""
    lang = lang or choose_language([], os.environ)
    open_port = opener or _open_port
    delay = backoff_first
    failing = False
    while not stop.is_set():
        try:
            port = open_port(port_url)
        except (serial.SerialException, OSError, ValueError) as err:
            if not failing:
                _LOGGER.warning(
                    "cannot open %s (%s); retrying with backoff",
                    port_url,
                    type(err).__name__,
                    extra={"TSED_EVENT": "console_port_missing", "TSED_PORT": port_url},
                )
                failing = True
            stop.wait(delay)
            delay = min(delay * 2, backoff_max)
            continue
        failing = False
        delay = backoff_first
        _LOGGER.info(
            "console on %s", port_url, extra={"TSED_EVENT": "console_open", "TSED_PORT": port_url}
        )
        admin = admin_factory()
        try:
            Console(LineIO(port, stop), admin, lang).run()
        except PortClosed:
            pass
        except (serial.SerialException, OSError) as err:
            _LOGGER.warning(
                "console port %s lost (%s); reopening",
                port_url,
                type(err).__name__,
                extra={"TSED_EVENT": "console_port_lost", "TSED_PORT": port_url},
            )
            stop.wait(backoff_first)
        finally:
            admin.close()
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()


def _open_port(url: str) -> SerialPort:
    port: SerialPort = serial.serial_for_url(
        url, baudrate=BAUDRATE, timeout=READ_TIMEOUT, write_timeout=WRITE_TIMEOUT
    )
    return port


def _configured_port(config_path: Path) -> str:
    from tsed.config.model import load_config  # noqa: PLC0415 - only when --port is not given

    try:
        return load_config(config_path).console_port or console_commands.DEFAULT_PORT
    except TsedError as err:
        _LOGGER.warning(
            "configuration unreadable (%s); using %s", err.message, console_commands.DEFAULT_PORT
        )
        return console_commands.DEFAULT_PORT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsed-console",
        description="The installer's serial console of the TSE-LAN unit (USB serial port).",
    )
    parser.add_argument("--version", action="version", version=f"tsed-console {__version__}")
    parser.add_argument(
        "--port",
        help="serial port or pyserial URL (default: console_port of the configuration, "
        f"else {console_commands.DEFAULT_PORT})",
    )
    add_config(parser)
    add_state_dir(parser)
    add_socket(parser)
    add_log_level(parser)
    add_lang(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tsed.logs import setup_logging  # noqa: PLC0415
    from tsed.systemd import JournalHandler, journal_available  # noqa: PLC0415

    handlers: list[logging.Handler] | None = [JournalHandler()] if journal_available() else None
    setup_logging(level=args.log_level, handlers=handlers)
    admin_socket = common.socket_path(args, os.environ)
    port_url = args.port or _configured_port(common.config_path(args, os.environ))
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    config = str(common.config_path(args, os.environ))
    lang = choose_language(sys.argv[1:] if argv is None else argv,
                           {**os.environ, "TSED_CONFIG": config})  # fmt: skip
    serve(port_url, lambda: AdminClient(admin_socket, timeout=60.0), stop, lang=lang)
    _LOGGER.info("console stopped", extra={"TSED_EVENT": "console_stopped"})
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
