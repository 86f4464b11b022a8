"""Register API access control: every route the app serves, every way a token can be wrong.

Routes are taken from the running app's router, so a route added later is covered without
editing this file. Also: pairing-code brute force hits the lockout, codes expire and work once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
from pathlib import Path
from typing import Any

import httpx

from tests.support.unit import RECEIPT, Unit, running_unit

PUBLIC = {
    ("POST", "/api/v1/pairings"),
    ("GET", "/api/v1/status"),
    ("HEAD", "/api/v1/status"),
    ("GET", "/api/v1/openapi.json"),
    ("HEAD", "/api/v1/openapi.json"),
}


class Clock:
    """A wall clock the test can move (the unit's ``clock``)."""

    def __init__(self) -> None:
        import time

        self.offset = 0.0
        self._time = time.time

    def __call__(self) -> float:
        return self._time() + self.offset


def _routes(unit: Unit) -> list[tuple[str, str]]:
    app = unit.daemon.register_app
    found = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None:
            continue
        if resource.canonical.startswith("/api/"):  # the setup page has sessions (test_web.py)
            found.append((route.method, resource.canonical))
    return sorted(set(found))


def _fill(path: str, tx_id: str) -> str:
    return re.sub(r"\{[^}]+\}", tx_id, path)


async def _open_rows(unit: Unit) -> int:
    return len(await unit.daemon.store.txs_in_states(["journaled", "active", "finishing"]))


async def _count_all(unit: Unit) -> int:
    store = unit.daemon.store
    return len(
        await store.txs_in_states(
            ["journaled", "active", "finishing", "cancelling", "failed", "finished", "cancelled"]
        )
    )


async def test_every_register_route_refuses_missing_wrong_and_revoked_tokens(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        unit.daemon.limiter.max_failures = 10**6  # this test is about 401, not the lockout
        owner = await unit.pair("ERS owner")
        victim_tx = (await owner.call("POST", "/api/v1/transactions")).json()["id"]
        revoked = await unit.pair("ERS revoked")
        code, out = await unit.tsectl("registers", "revoke", revoked.register_id)
        assert code == 0, out
        routes = _routes(unit)
        protected = [r for r in routes if r not in PUBLIC]
        # The router really has the register calls (the enumeration is not empty by accident).
        assert {("POST", "/api/v1/receipts"), ("POST", "/api/v1/transactions")} <= set(protected)
        assert set(PUBLIC) <= set(routes)
        before = await _count_all(unit)
        bodies: dict[str, Any] = {"POST": RECEIPT, "PUT": RECEIPT}
        credentials = {
            "missing": {},
            "empty": {"Authorization": ""},
            "blank bearer": {"Authorization": "Bearer"},
            "not bearer": {"Authorization": f"Basic {owner.token}"},
            "wrong": {"Authorization": "Bearer tsed_" + "A" * 43},
            "prefix of a real one": {"Authorization": f"Bearer {owner.token[:-1]}"},
            "real one plus": {"Authorization": f"Bearer {owner.token}x"},
            "revoked": {"Authorization": f"Bearer {revoked.token}"},
            "lower-case scheme": {"Authorization": f"bearer {revoked.token}"},
        }
        checked = 0
        for method, template in protected:
            path = _fill(template, victim_tx)
            for name, headers in credentials.items():
                response = await owner.http.request(
                    method,
                    path,
                    json=bodies.get(method),
                    headers={**headers, "Idempotency-Key": f"k-{checked}"},
                )
                assert response.status_code == 401, (method, path, name, response.status_code)
                if method != "HEAD":
                    error = response.json()["error"]
                    assert error["code"] == "UNAUTHORIZED" and error["hint"], (method, path)
                    assert owner.token not in response.text and revoked.token not in response.text
                checked += 1
        assert checked == len(protected) * len(credentials)
        assert await _count_all(unit) == before  # nothing ran behind a refused call
        # The owner's token still works on the same routes (the 401s were about the token).
        ok = await owner.call("GET", f"/api/v1/transactions/{victim_tx}")
        assert ok.status_code == 200
        # Another register's valid token does not open this register's transaction.
        other = await unit.pair("ERS other")
        for method, template in protected:
            if "{" not in template:
                continue
            response = await other.http.request(
                method, _fill(template, victim_tx), json=bodies.get(method), headers=other.auth
            )
            assert response.status_code == 404, (method, template, response.text)
        assert (await owner.call("GET", f"/api/v1/transactions/{victim_tx}")).json()["pending"]


async def _raw(
    unit: Unit, method: str, target: str, body: bytes = b"", extra_headers: str = ""
) -> int:
    """One request with the request target exactly as given (no client normalisation)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection("127.0.0.1", unit.port, ssl=context)
    try:
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{extra_headers}\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 20)
    finally:
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()
    parts = status_line.split()
    return int(parts[1]) if len(parts) >= 2 else 0


async def test_path_tricks_do_not_bypass_the_token_check(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        unit.daemon.limiter.max_failures = 10**6
        owner = await unit.pair()
        tx = (await owner.call("POST", "/api/v1/transactions")).json()["id"]
        before = await _count_all(unit)
        body = json.dumps(RECEIPT).encode()
        targets = [
            "//api/v1/receipts",
            "/api/v1/receipts/",
            "/api//v1/receipts",
            "/api/v1/./receipts",
            "/api/v1/x/../receipts",
            "/api/v1/%72eceipts",
            "/%61pi/v1/receipts",
            "/API/v1/receipts",
            "/api/v1/receipts?x=/api/v1/status",
            "/api/v1/receipts#/api/v1/status",
            "/api/v1/status/../receipts",
            "/api/v1/pairings/../receipts",
            f"/api/v1/transactions/{tx}/finish/",
            f"/api/v1/transactions/{tx}/%66inish",
            "https://127.0.0.1/api/v1/receipts",
        ]
        for target in targets:
            status = await _raw(unit, "POST", target, body)
            assert status in (400, 401, 404, 405), (target, status)
        for header in ("Bearer  ", "Bearer \t", "Bearer \t ", "Bearer tsed_", " Bearer"):
            status = await _raw(
                unit, "POST", "/api/v1/receipts", body, f"Authorization: {header}\r\n"
            )
            assert status in (400, 401), (header, status)
        assert await _count_all(unit) == before
        assert (await owner.call("GET", f"/api/v1/transactions/{tx}")).json()["state"] in (
            "journaled",
            "active",
        )


async def test_pairing_code_brute_force_hits_the_lockout(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        _code, out = await unit.tsectl("--json", "pair")
        real = json.loads(out)["code"]
        async with httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context()) as http:
            statuses = []
            for attempt in range(12):
                guess = f"{attempt:04d}-0000-0000-0000"
                response = await http.post(
                    "/api/v1/pairings", json={"code": guess, "register_serial": "ERS brute"}
                )
                statuses.append(response.status_code)
            assert statuses[:5] == [401] * 5, statuses
            assert set(statuses[5:]) == {429}, statuses
            locked = await http.post(
                "/api/v1/pairings", json={"code": real, "register_serial": "ERS brute"}
            )
            # Locked out even with the right code: guessing costs time, not just tries.
            assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1
            assert locked.json()["error"]["code"] == "LOCKED_OUT"
            assert real not in locked.text
        # The lockout is per source; the window itself was not consumed by the guesses.
        assert unit.daemon.pairing.is_open
        assert not unit.daemon.registers.rows


async def test_pairing_codes_expire_and_work_exactly_once(tmp_path: Path) -> None:
    clock = Clock()
    async with running_unit(tmp_path / "s", clock=clock) as unit:
        _code, out = await unit.tsectl("--json", "pair")
        code = json.loads(out)["code"]
        async with httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context()) as http:
            clock.offset += unit.daemon.config.pairing_minutes * 60 + 1
            expired = await http.post(
                "/api/v1/pairings", json={"code": code, "register_serial": "ERS late"}
            )
            assert expired.status_code == 409 and "expired" in expired.json()["error"]["message"]
            status = (await http.get("/api/v1/status")).json()
            assert status["pairing_open"] is False
            clock.offset = 0.0  # the clock going back does not revive a closed window
            again = await http.post(
                "/api/v1/pairings", json={"code": code, "register_serial": "ERS late"}
            )
            assert again.status_code == 409
            _code, out = await unit.tsectl("--json", "pair")
            fresh = json.loads(out)["code"]
            results = await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/pairings",
                        json={"code": fresh, "register_serial": f"ERS race {i}"},
                    )
                    for i in range(5)
                )
            )
        codes = sorted(r.status_code for r in results)
        assert codes == [201, 409, 409, 409, 409], codes  # once, even when raced
        assert len(unit.daemon.registers.rows) == 1
