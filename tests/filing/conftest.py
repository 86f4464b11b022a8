"""The simulator fixtures (a simulator on loopback, an API key) for the filing driver's tests."""

from tests.fiskaly.simulator.conftest import api, server, sim

__all__ = ["api", "server", "sim"]
