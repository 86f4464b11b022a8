"""The fixtures of the filing driver's and the submissions' tests: the simulator (on loopback,
with an API key), a filing service with premises ``f1`` and its paired register, that
register's SIGN DE client and a SUBMIT DE client maker (:mod:`tests.support.filing`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.fiskaly.simulator.conftest import Api, api, server, sim
from tests.support.filing import filled_service
from tsed.filing.service import FilingService
from tsed.fiskaly import SubmitClient
from tsed.fiskaly.simulator import SimulatorServer

__all__ = ["api", "client_for", "links", "server", "service", "sim"]


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[FilingService]:
    """The filing service with premises ``f1`` ready to be submitted (``test_service.py``
    has its own, empty one)."""
    service = await filled_service(tmp_path / "filing.sqlite")
    yield service
    await service.store.close()


@pytest.fixture
async def links(api: Api) -> dict[str, tuple[str, str]]:
    """Register ``r-1`` → its TSS and SIGN DE client in the simulator."""
    return {"r-1": await api.setup_tss()}


@pytest.fixture
def client_for(server: SimulatorServer, api: Api) -> Callable[[], SubmitClient]:
    def make() -> SubmitClient:
        return SubmitClient(api_key=api.creds.api_key, api_secret=api.creds.api_secret,
                            base_url=server.base_url)  # fmt: skip

    return make
