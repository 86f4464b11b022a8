"""The simulator (for real TAR exports) and the tools the off-box tests drive."""

from __future__ import annotations

from tests.fiskaly.simulator.conftest import api, server, sim

__all__ = ["api", "server", "sim"]
