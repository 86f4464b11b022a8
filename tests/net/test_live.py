"""The setup page's live route (``GET /setup/live``): what the page polls to update itself."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.unit import Unit, running_unit
from tsed.net.live import LiveFeed
from tsed.net.websession import IDLE_SECONDS, WebSessions
from tsed.unit.admin_ops import AdminOps
from tsed.unit.setup_ops import SetupOps

PASSWORD = "Kassen-Passwort-2026"


async def _logged_in(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> tuple[httpx.AsyncClient, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out = await unit.tsectl("password")
    assert code == 0, out
    browser = httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context(), timeout=20)
    response = await browser.post("/setup/login", json={"password": PASSWORD})
    assert response.status_code == 200, response.text
    return browser, str(response.json()["csrf"])


def _counter(live: dict[str, Any]) -> int:
    return int(live["tss"]["tss"]["default"]["signature_counter"])


async def test_pairing_and_a_receipt_show_up_without_a_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_unit(tmp_path / "state") as unit:
        async with httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context()) as anon:
            assert (await anon.get("/setup/live")).status_code == 401
        browser, csrf = await _logged_in(unit, monkeypatch)
        try:
            before = (await browser.get("/setup/live")).json()
            assert before["registers"] == [] and before["status"]["receipts_signed"] == 0
            assert before["poll_seconds"] <= 5 and before["outages"] == []
            assert before["status"]["device"]["fingerprint"].count(":") == 31
            counter = _counter(before)
            register = await unit.pair(label="Kasse 1")
            await register.receipt()
            deadline = time.monotonic() + 10  # the TSS counters: at most every 5 s
            while True:
                live = (await browser.get("/setup/live")).json()
                if _counter(live) > counter or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert [r["label"] for r in live["registers"]] == ["Kasse 1"]
            assert live["status"]["receipts_signed"] == 1 and _counter(live) > counter
            assert live["status"]["pairing"]["open"] is False  # the code is used up
            # polling is no activity: only real requests keep the session from its idle end
            cookie = browser.cookies.get("tsed_session")
            session = unit.daemon.running.ops.web_sessions.peek(cookie)
            assert session is not None
            idle_since = session.seen_at
            for _ in range(3):
                assert (await browser.get("/setup/live")).status_code == 200
            assert session.seen_at == idle_since
            assert (await browser.get("/setup/api/admin/v1/status")).status_code == 200
            assert session.seen_at > idle_since
            await browser.post("/setup/logout", json={}, headers={"X-CSRF-Token": csrf})
            assert (await browser.get("/setup/live")).status_code == 401  # logout ends it
        finally:
            await browser.aclose()


async def test_the_tss_is_read_once_per_change_for_every_page(tmp_path: Path) -> None:
    now = [1000.0]
    async with running_unit(tmp_path / "state") as unit:
        ops = unit.daemon.running.ops
        feed = LiveFeed(AdminOps(ops, SetupOps(ops)), tss_interval=5.0, clock=lambda: now[0])
        first = await feed.snapshot()
        for _ in range(5):  # nothing changed: no fiskaly call, however often pages ask
            await feed.snapshot()
        assert feed.tss_reads == 1
        register = await unit.pair()
        await register.receipt()
        cached = await feed.snapshot()  # a change, but the last read is not 5 s old
        assert feed.tss_reads == 1 and _counter(cached) == _counter(first)
        assert cached["status"]["receipts_signed"] == 1 and len(cached["registers"]) == 1
        now[0] += 5.0
        fresh = await feed.snapshot()
        assert feed.tss_reads == 2 and _counter(fresh) > _counter(first)
        await feed.snapshot()
        assert feed.tss_reads == 2


def test_polling_does_not_keep_an_idle_session_alive() -> None:
    now = [0.0]
    sessions = WebSessions(clock=lambda: now[0])
    cookie, _session = sessions.create("127.0.0.1")
    for _ in range(3):  # a page left open polls for longer than the idle time
        now[0] += IDLE_SECONDS / 2
        if sessions.peek(cookie) is None:
            break
    assert sessions.peek(cookie) is None and sessions.get(cookie) is None
    cookie, _session = sessions.create("127.0.0.1")
    for _ in range(3):  # real requests do keep it
        now[0] += IDLE_SECONDS / 2
        assert sessions.get(cookie) is not None
