"""The unit's mode, TEST or LIVE: the one :data:`Mode` type and the mode file.

The file (:attr:`tsed.state.paths.StatePaths.mode`) says LIVE once the vendor activated the
unit for LIVE; without it, or with anything else in it, the unit is in TEST.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from tsed.errors import ConfigError
from tsed.state.files import atomic_write
from tsed.state.paths import StatePaths

__all__ = ["Mode", "read_mode", "write_mode"]

Mode = Literal["TEST", "LIVE"]


def read_mode(state_dir: Path) -> Mode:
    """The unit's mode: TEST unless the vendor activated LIVE."""
    path = StatePaths(state_dir).mode
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return "TEST"
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    return "LIVE" if text == "LIVE" else "TEST"


def write_mode(state_dir: Path, mode: Mode) -> None:
    atomic_write(StatePaths(state_dir).mode, f"{mode}\n".encode(), mode=0o644)
