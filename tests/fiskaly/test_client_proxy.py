"""With a proxy configured, every request goes through it; proxy failures are named."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import pytest

from tests.support.proxyserver import ProxyServer
from tsed.fiskaly import errors as err
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.transport import ProxySettings, RetryPolicy

# A name that does not resolve: only the proxy (which maps it to loopback) can reach it.
UNRESOLVABLE = "fiskaly-upstream.invalid"


@pytest.fixture
async def sim_server() -> AsyncIterator[tuple[Simulator, SimulatorServer]]:
    sim = Simulator()
    server = SimulatorServer(sim)
    await server.start()
    yield sim, server
    await server.stop()
    sim.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_every_request_goes_through_the_proxy(sim_server) -> None:
    sim, server = sim_server
    creds = sim.add_api_key("TEST")
    proxy = ProxyServer(hosts={UNRESOLVABLE: "127.0.0.1"})
    await proxy.start()
    try:
        client = FiskalyClient(
            api_key=creds.api_key, api_secret=creds.api_secret,
            base_url=f"http://{UNRESOLVABLE}:{server.port}",
            proxy=ProxySettings("127.0.0.1", proxy.port),
        )  # fmt: skip
        async with client:
            await client.authenticate()
            assert await client.list_tss() == []
        assert proxy.connections[f"{UNRESOLVABLE}:{server.port}"] >= 1
        assert sim.stats["POST /api/v2/auth"] == 1 and sim.stats["GET /api/v2/tss"] == 1
    finally:
        await proxy.stop()


async def test_the_environment_cannot_redirect_or_bypass(sim_server, monkeypatch) -> None:
    sim, server = sim_server
    creds = sim.add_api_key("TEST")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("NO_PROXY", "*")
    async with FiskalyClient(
        api_key=creds.api_key, api_secret=creds.api_secret, base_url=server.base_url
    ) as client:
        await client.authenticate()  # not sent to the (dead) environment proxy


async def test_proxy_credentials(sim_server, caplog) -> None:
    sim, server = sim_server
    creds = sim.add_api_key("TEST")
    proxy = ProxyServer(username="shop", password="pr0xy-s3cret", hosts={UNRESOLVABLE: "127.0.0.1"})
    await proxy.start()
    base = f"http://{UNRESOLVABLE}:{server.port}"
    try:
        caplog.set_level(logging.DEBUG)
        no_creds = FiskalyClient(
            api_key=creds.api_key, api_secret=creds.api_secret, base_url=base,
            proxy=ProxySettings("127.0.0.1", proxy.port),
        )  # fmt: skip
        async with no_creds:
            with pytest.raises(err.ProxyAuthRequired) as info:
                await no_creds.authenticate()
        assert "407" in info.value.message
        wrong = FiskalyClient(
            api_key=creds.api_key, api_secret=creds.api_secret, base_url=base,
            proxy=ProxySettings("127.0.0.1", proxy.port, "shop", "wrong-password"),
        )  # fmt: skip
        async with wrong:
            with pytest.raises(err.ProxyAuthRequired) as info:
                await wrong.authenticate()
        assert "wrong-password" not in str(info.value) + info.value.hint
        right = FiskalyClient(
            api_key=creds.api_key, api_secret=creds.api_secret, base_url=base,
            proxy=ProxySettings("127.0.0.1", proxy.port, "shop", "pr0xy-s3cret"),
        )  # fmt: skip
        async with right:
            await right.authenticate()
            assert "pr0xy-s3cret" not in repr(right.proxy)
        assert proxy.refused == 2
    finally:
        await proxy.stop()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "pr0xy-s3cret" not in logged and creds.api_secret not in logged


async def test_dead_proxy_is_named() -> None:
    port = _free_port()
    client = FiskalyClient(
        api_key="k", api_secret="s", base_url="https://kassensichv-middleware.fiskaly.com",
        proxy=ProxySettings("127.0.0.1", port), retry=RetryPolicy(attempts=1),
    )  # fmt: skip
    async with client:
        with pytest.raises(err.ProxyError) as info:
            await client.authenticate()
    assert f"127.0.0.1:{port}" in info.value.message
    assert info.value.code == "PROXY_FAILED"
    assert "proxy" in info.value.hint.lower()
