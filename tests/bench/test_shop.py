"""The shop-load mode of the benchmark: its open-loop schedule, its figures, its WAN proxy."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from tests.bench.harness import free_port, https_session, start_wan_proxy
from tests.bench.report import table
from tests.bench.shop import Samples, arrivals, open_loop, register_source, shop_figures


def test_arrivals_are_a_fixed_rate_with_a_random_phase_per_register() -> None:
    schedule = arrivals(50, 1.0, 10.0, random.Random(1))
    assert len(schedule) == 500  # every phase is below one period: 10 per register
    assert schedule == sorted(schedule)
    assert all(0.0 <= offset < 10.0 for offset, _ in schedule)
    phases = {}
    for register in range(50):
        times = [offset for offset, r in schedule if r == register]
        assert len(times) == 10
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(math.isclose(gap, 1.0) for gap in gaps), gaps
        phases[register] = times[0]
    assert all(0.0 <= phase < 1.0 for phase in phases.values())
    assert len({round(p, 9) for p in phases.values()}) == 50  # not synchronized
    fast = arrivals(3, 4.0, 2.0, random.Random(2))
    assert len(fast) == 24
    assert arrivals(5, 1.0, 0.0, random.Random(3)) == []


async def test_open_loop_does_not_wait_for_answers() -> None:
    # every receipt waits until the last one was sent: a closed loop could never finish
    schedule = [(i * 0.01, i % 3) for i in range(12)]
    fired: list[int] = []
    everyone = asyncio.Event()

    async def fire(register: int) -> None:
        fired.append(register)
        if len(fired) == len(schedule):
            everyone.set()
        await everyone.wait()

    lags = await asyncio.wait_for(open_loop(schedule, fire), 20)
    assert sorted(fired) == sorted(r for _, r in schedule)
    assert len(lags) == len(schedule) and all(lag >= 0.0 for lag in lags)


async def test_a_failed_receipt_fails_the_round() -> None:
    async def fire(register: int) -> None:
        if register == 1:
            raise AssertionError("status 500")

    with pytest.raises(RuntimeError, match="a receipt failed"):
        await open_loop([(0.0, 0), (0.01, 1)], fire)


def test_figures_compare_percentiles_of_one_run() -> None:
    s = Samples(
        direct=[0.200 + i / 10000 for i in range(100)],  # 200..209.9 ms
        unit=[0.210 + i / 5000 for i in range(100)],  # 210..229.8 ms
        start=[0.002 + i / 100000 for i in range(100)],
        forwarder=[0.201 + i / 10000 for i in range(100)],  # 201..210.9 ms
        lag=[0.0] * 99 + [0.004],
        offered=100,
        failures=1,
    )
    s.alone = {
        "direct": [0.2] * 5,
        "unit": [0.25] * 5,
        "start": [0.003] * 5,
        "onecall": [0.205] * 5,
        "nowan_direct": [0.002] * 5,
        "nowan_onecall": [0.013] * 5,
        "nowan_forwarder": [0.004] * 5,
    }
    s.add_cpu("unit", 0.5, 100)
    s.add_cpu("unit", 0.25, 50)
    s.add_cpu("proxy", 0.0, 0)
    s.idle_cpu_s_per_s = 0.002
    f = shop_figures(s)
    assert f["shop_direct_ms_p50"] == pytest.approx(205.0)
    assert f["shop_unit_ms_p50"] == pytest.approx(220.0)
    assert f["shop_added_ms_p50"] == pytest.approx(15.0)
    assert f["shop_added_ms_p99"] == pytest.approx(229.8 - 209.9)
    assert f["shop_start_ms_p99"] == pytest.approx(2.99)
    assert f["shop_forwarder_added_ms_p50"] == pytest.approx(1.0)
    assert f["shop_forwarder_ms_p99"] == pytest.approx(210.9)
    assert f["shop_arrival_lag_ms_p99"] == pytest.approx(4.0)
    assert f["shop_alone_added_ms_p50"] == pytest.approx(50.0)
    assert f["shop_alone_onecall_added_ms_p50"] == pytest.approx(5.0)
    assert f["shop_nowan_added_ms_p50"] == pytest.approx(11.0)
    assert f["shop_nowan_forwarder_ms_p50"] == pytest.approx(4.0)
    assert f["shop_cpu_ms_per_receipt_unit"] == pytest.approx(5.0)
    assert math.isnan(f["shop_cpu_ms_per_receipt_proxy"])  # nothing measured, not zero
    assert f["shop_unit_idle_cpu_ms_per_s"] == pytest.approx(2.0)
    assert (f["shop_receipts_offered"], f["shop_receipts_each"]) == (100.0, 100.0)
    assert f["shop_tse_failures"] == 1.0
    assert "shop_alone_direct_ms_p50" not in shop_figures(Samples())
    assert "shop_forwarder_ms_p50" not in shop_figures(Samples())


def test_the_table_judges_the_shop_targets() -> None:
    figures = {
        "shop_alone_onecall_added_ms_p50": 9.8,
        "shop_added_ms_p50": 2.5,
        "shop_added_ms_p99": 54.8,
        "shop_start_ms_p99": 4.0,
        "shop_cpu_ms_per_receipt_unit": 6.5,
        "shop_cpu_ms_per_receipt_simulator": 1.0,
    }
    lines = {line.split("  ")[0].strip(): line for line in table(figures).splitlines()[2:]}

    def judged(label: str) -> str:
        return next(line for key, line in lines.items() if key.startswith(label)).split()[-1]

    assert judged("shop: alone, one-call added p50") == "MISSED"
    assert judged("shop: added latency p50") == "ok"
    assert judged("shop: added latency p99") == "MISSED"
    assert judged("shop: start answered p99") == "ok"
    assert judged("shop: unit CPU per receipt") == "MISSED"
    assert any(line.startswith("shop_cpu_ms_per_receipt_simulator") for line in lines.values())


@asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application()
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


async def test_the_wan_proxy_delays_every_call_and_keeps_the_bytes() -> None:
    async with echo_server() as port:
        proxy = await asyncio.to_thread(start_wan_proxy, f"http://127.0.0.1:{port}", 150.0)
        try:
            body = bytes(range(256)) * 1024  # more than one read of the proxy
            async with aiohttp.ClientSession(proxy.base_url) as http:
                for _ in range(3):  # the same keep-alive connection each time
                    began = time.monotonic()
                    async with http.post("/echo", data=body) as r:
                        assert r.status == 200
                        assert await r.read() == body
                    assert time.monotonic() - began >= 0.15  # a lower bound only
        finally:
            proxy.stop()


async def test_each_register_connects_from_its_own_loopback_address() -> None:
    """The unit holds at most 32 connections per address: 50 registers on one address would
    be refused, as 50 registers on a LAN never are."""
    assert len({register_source(i) for i in range(300)}) == 300
    app = web.Application()

    async def peer(request: web.Request) -> web.Response:
        return web.Response(text=str(request.remote))

    app.router.add_get("/", peer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        seen = []
        for index in (0, 1, 251):
            session = https_session(f"http://127.0.0.1:{port}", source=register_source(index))
            async with session, session.get("/") as response:
                seen.append(await response.text())
        assert seen == ["127.0.1.1", "127.0.1.2", "127.0.2.2"]
    finally:
        await runner.cleanup()
