"""Property tests for what an installer (or line noise) can type on the serial console: the
line editor and the command dispatcher take any bytes without failing or echoing garbage."""

from __future__ import annotations

import threading
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tsed.cli.adminclient import CommandFailed
from tsed.cli.console import MAX_LINE, LineIO, LineTooLong, PortClosed
from tsed.cli.console_commands import Commands


class BytesPort:
    """A serial port that yields the given bytes, then reports that the console stops."""

    def __init__(self, data: bytes, stop: threading.Event) -> None:
        self.data = bytearray(data)
        self.stop = stop
        self.sent = bytearray()

    @property
    def in_waiting(self) -> int:
        return len(self.data)

    def read(self, size: int = 1) -> bytes:
        if not self.data:
            self.stop.set()
            return b""
        chunk = bytes(self.data[:size])
        del self.data[:size]
        return chunk

    def write(self, data: bytes) -> int:
        self.sent.extend(data)
        return len(data)

    def close(self) -> None:
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3 * MAX_LINE), st.booleans())
def test_any_bytes_give_lines_without_control_characters(data: bytes, echo: bool) -> None:
    stop = threading.Event()
    port = BytesPort(data, stop)
    io = LineIO(port, stop)
    lines = 0
    while True:
        try:
            line = io.read_line(echo=echo)
        except LineTooLong:
            continue
        except PortClosed:
            break
        lines += 1
        assert lines <= len(data)
        if line is None:  # Ctrl-C
            continue
        assert len(line.encode("utf-8", "replace")) <= MAX_LINE * 3  # replacement chars
        assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in line)
    if not echo:  # a password prompt sends back nothing typed, only line ends
        assert set(port.sent) <= set(b"\r\n^C\b ")


class ScriptedAdmin:
    """Answers every admin call with the same thing (an error or an odd document)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def call(self, method: str, path: str, body: Any = None) -> Any:
        if isinstance(self.answer, CommandFailed):
            raise self.answer
        return self.answer


class Screen:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def read_line(self, *, echo: bool = True) -> str | None:
        return None  # every prompt cancelled


answers = st.one_of(
    st.builds(CommandFailed, st.text(max_size=80), st.sampled_from(["x", "NOT_RUNNING"])),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(
        st.sampled_from(["mode", "device", "tse", "addresses", "interfaces", "code"]),
        st.one_of(st.none(), st.text(max_size=20), st.integers(), st.lists(st.text(max_size=5))),
        max_size=6,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), answers)
def test_any_line_is_a_command_or_one_clear_error(line: str, answer: Any) -> None:
    screen = Screen()
    Commands(screen, ScriptedAdmin(answer)).dispatch(line)  # type: ignore[arg-type]
    if not line.split():
        assert screen.text == ""
        return
    assert screen.text  # something is said about every non-empty line
    assert "Traceback" not in screen.text
    first = line.split(maxsplit=1)[0]
    if any(not ch.isprintable() for ch in first):
        assert first not in screen.text  # unknown garbage is not echoed raw
