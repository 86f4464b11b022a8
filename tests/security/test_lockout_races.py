"""Lockouts under concurrency: no check-then-act, paired registers never locked out, floods.

Issue 13 item 3 and issue 15 bug 1. Bounded: at most a few hundred requests per test, all on
loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.security import ADMIN_PASSWORD, set_admin_password
from tests.support.unit import RECEIPT, running_unit

WRONG = {"Authorization": "Bearer tsed_wrong"}


ONE_ADDRESS = httpx.Limits(max_connections=30)


async def test_100_concurrent_wrong_logins_are_at_most_5_checks(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        await set_admin_password(unit)
        # 30 connections at once: under the listener's cap of 32 per address, so every
        # attempt reaches the lockout and none is refused at the door
        async with httpx.AsyncClient(
            base_url=unit.base_url, verify=unit.ssl_context(), timeout=60, limits=ONE_ADDRESS
        ) as web:
            answers = await asyncio.gather(
                *(web.post("/setup/login", json={"password": f"falsch-{i:03}"}) for i in range(100))
            )
            statuses = Counter(a.status_code for a in answers)
            assert set(statuses) <= {401, 429}, statuses
            assert statuses[401] <= unit.daemon.web_limiter.max_failures, statuses
            assert statuses[429] >= 95
            for answer in answers:
                if answer.status_code == 429:
                    assert int(answer.headers["Retry-After"]) >= 1
                    assert answer.json()["error"]["code"] in (
                        "LOCKED_OUT",
                        "ATTEMPT_IN_PROGRESS",
                        "RATE_LIMITED",
                    )
            # refused attempts checked no password, so they are no failures; checked ones are
            checked = statuses[401]
            for _ in range(unit.daemon.web_limiter.max_failures - checked):
                assert (await web.post("/setup/login", json={"password": "x"})).status_code == 401
            right = await web.post("/setup/login", json={"password": ADMIN_PASSWORD})
            assert right.status_code == 429  # locked out after exactly max_failures checks


async def test_concurrent_wrong_pairing_codes_cannot_outrun_the_lockout(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        await unit.tsectl("pair")
        async with httpx.AsyncClient(
            base_url=unit.base_url, verify=unit.ssl_context(), timeout=60, limits=ONE_ADDRESS
        ) as http:
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/pairings",
                        json={"code": f"AAAA-BBBB-CCCC-{i:04}", "register_serial": f"ERS {i}"},
                    )
                    for i in range(60)
                )
            )
        statuses = Counter(a.status_code for a in answers)
        assert set(statuses) <= {401, 429}, statuses
        assert statuses[401] <= unit.daemon.limiter.max_failures, statuses
        assert unit.daemon.pairing.is_open  # the window is still there for the real register


async def test_a_paired_register_signs_while_its_address_is_locked_out(tmp_path: Path) -> None:
    """Issue 15 bug 1: another till (or host) behind the same address fails; this one signs."""
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        http = register.http
        for _ in range(unit.daemon.limiter.max_failures):
            assert (await http.post("/api/v1/receipts", json=RECEIPT, headers=WRONG)).status_code
        await unit.tsectl("pair")
        for i in range(unit.daemon.limiter.max_failures):
            await http.post(
                "/api/v1/pairings",
                json={"code": f"WRONG-CODE-{i}", "register_serial": "ERS fremd"},
            )
        locked = await http.post("/api/v1/receipts", json=RECEIPT, headers=WRONG)
        assert locked.status_code == 429 and locked.json()["error"]["code"] == "LOCKED_OUT"
        signed = await register.call("POST", "/api/v1/receipts", RECEIPT)
        assert signed.status_code == 200, signed.text
        started = await register.call("POST", "/api/v1/transactions")
        assert started.status_code == 201, started.text
        tx_id = started.json()["id"]
        got = await register.call("GET", f"/api/v1/transactions/{tx_id}")
        assert got.status_code == 200, got.text
        finished = await register.call("POST", f"/api/v1/transactions/{tx_id}/finish", RECEIPT)
        assert finished.status_code == 200, finished.text
        # and an unauthenticated attempt is still refused while the lockout lasts
        again = await http.post("/api/v1/receipts", json=RECEIPT, headers=WRONG)
        assert again.status_code == 429


@pytest.fixture
def scrypt_concurrency() -> Iterator[dict[str, int]]:
    """Counts how many scrypt computations run at once (in any thread)."""
    seen = {"now": 0, "max": 0, "calls": 0, "on_loop_thread": 0}
    lock = threading.Lock()
    original = hashlib.scrypt
    main = threading.main_thread()

    def counting(*args: Any, **kwargs: Any) -> bytes:
        with lock:
            seen["now"] += 1
            seen["calls"] += 1
            seen["max"] = max(seen["max"], seen["now"])
            if threading.current_thread() is main:
                seen["on_loop_thread"] += 1
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                seen["now"] -= 1

    hashlib.scrypt = counting  # type: ignore[assignment]
    try:
        yield seen
    finally:
        hashlib.scrypt = original


async def test_a_login_flood_from_60_addresses_hashes_on_one_thread_only(
    tmp_path: Path, scrypt_concurrency: dict[str, int]
) -> None:
    """60 addresses x 4 wrong logins (another process) while a register signs 20 receipts.

    Asserted: every receipt is signed, the flood gets only 401/429, and no more than one
    scrypt runs at a time (so a core stays free for signing). Printed: receipt latencies
    without and during the flood.
    """
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        await set_admin_password(unit)

        async def sign() -> list[float]:
            latencies = []
            for _ in range(20):
                began = time.perf_counter()
                answer = await register.call("POST", "/api/v1/receipts", RECEIPT)
                latencies.append(time.perf_counter() - began)
                assert answer.status_code == 200, answer.text
            return latencies

        quiet = await sign()  # the same receipts without the flood, for comparison
        cafile = str(unit.daemon.identity.cert_path)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.flood", unit.base_url, cafile, "60", "4",
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).parents[2],
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            started = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert started.strip() == b"started"
            latencies = await sign()
            result = await asyncio.wait_for(proc.stdout.readline(), 120)
            await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        flood_statuses = {int(k): v for k, v in json.loads(result).items()}
        assert set(flood_statuses) <= {401, 429}, flood_statuses
        assert sum(flood_statuses.values()) == 240
        assert scrypt_concurrency["max"] == 1, scrypt_concurrency
        assert scrypt_concurrency["on_loop_thread"] == 0
        print(
            f"\nreceipts without a flood: p50 {statistics.median(quiet) * 1000:.1f} ms, max "
            f"{max(quiet) * 1000:.1f} ms; during a login flood from 60 addresses: p50 "
            f"{statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms; "
            f"flood answers {flood_statuses}; scrypt runs {scrypt_concurrency['calls']}"
        )


async def test_pairing_many_registers_in_a_row_is_never_rate_limited(tmp_path: Path) -> None:
    """The global rate limits failures; 30 right pairings in a row (more than the burst) pass."""
    async with running_unit(tmp_path / "state") as unit:
        assert unit.daemon.limiter.rate is not None
        unit.daemon.limiter.rate.rate = 0.001  # no refill while it runs: only the burst is left
        for n in range(unit.daemon.limiter.rate.burst + 10):
            await unit.pair(f"ERS kasse-{n}")  # asserts 201
        assert len(unit.daemon.registers.rows) == unit.daemon.limiter.rate.burst + 10
