"""The unit's mode file: TEST unless it says LIVE, written atomically, errors that say why."""

from __future__ import annotations

import stat
import typing
from pathlib import Path

import pytest

from tsed.errors import ConfigError
from tsed.state.mode import Mode, read_mode, write_mode
from tsed.state.paths import StatePaths


def test_the_mode_type_is_test_or_live() -> None:
    assert typing.get_args(Mode) == ("TEST", "LIVE")


def test_without_a_file_the_unit_is_in_test(tmp_path: Path) -> None:
    assert read_mode(tmp_path) == "TEST"
    assert not StatePaths(tmp_path).mode.exists()  # reading creates nothing


def test_written_mode_is_read_back(tmp_path: Path) -> None:
    write_mode(tmp_path, "LIVE")
    path = StatePaths(tmp_path).mode
    assert path.read_text(encoding="utf-8") == "LIVE\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert read_mode(tmp_path) == "LIVE"
    write_mode(tmp_path, "TEST")
    assert read_mode(tmp_path) == "TEST"
    assert [p.name for p in tmp_path.iterdir()] == ["mode"]  # no temp file left behind


@pytest.mark.parametrize("text", ["", "live", "PROD", "LIVE LIVE", "\x00"])
def test_anything_but_live_is_test(tmp_path: Path, text: str) -> None:
    StatePaths(tmp_path).mode.write_text(text, encoding="utf-8")
    assert read_mode(tmp_path) == "TEST"


def test_surrounding_whitespace_is_ignored(tmp_path: Path) -> None:
    StatePaths(tmp_path).mode.write_text("  LIVE \r\n", encoding="utf-8")
    assert read_mode(tmp_path) == "LIVE"


def test_an_unreadable_mode_file_is_a_config_error(tmp_path: Path) -> None:
    StatePaths(tmp_path).mode.mkdir()  # a directory where the file belongs
    with pytest.raises(ConfigError) as caught:
        read_mode(tmp_path)
    assert "cannot read" in caught.value.message and "mode" in caught.value.message
