"""The unit's configuration and mode as they are now, shared by everything that reads them."""

from __future__ import annotations

from dataclasses import dataclass, field

from tsed.config.model import Config
from tsed.state.mode import Mode


@dataclass(slots=True)
class Settings:
    """The configuration and the mode of the running unit.

    One object for the whole unit: the backend, the registers and the operations read them from
    here on every use, and only the set-up operations replace them (a saved configuration, a
    switch of mode, a factory reset). Start fills them from the configuration file and the
    mode marker of the state directory.
    """

    config: Config = field(default_factory=Config)
    mode: Mode = "TEST"
