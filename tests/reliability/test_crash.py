"""kill -9 of the real daemon process at random points of a mixed load, many times.

Registers behave like real ones: one-call receipts, start/finish, start/cancel, starts they
never finish; a request whose answer was lost to the crash is sent again (same
Idempotency-Key) once the unit is back. After every kill SQLite's integrity check is clean;
at the end every key has had one answer only, every signed result is retrievable and
verifies, nothing stays open in the journal or ACTIVE at "fiskaly", and nothing was signed
twice. The short variant always runs; ``--slow`` adds the long one.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.reliability import (
    finished_rows,
    open_rows,
    pair_token,
    seed_state,
    sim_states,
    start_sim_process,
    stop,
    wait_for,
    wait_ready,
)
from tests.support.unit import RECEIPT, free_port, start_unit_process
from tsed.fiskaly.tr03151 import verify_qr_code

Request = tuple[str, str, Any, str]  # method, path, body, idempotency key


@dataclass
class Till:
    """One register: its answers by key, and the requests whose answers the crash ate."""

    name: str
    token: str = ""
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: dict[str, Request] = field(default_factory=dict)
    lost: list[Request] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def send(
        self, http: httpx.AsyncClient, request: Request, *, retry: bool = False
    ) -> dict[str, Any] | None:
        method, path, body, key = request
        self.requests[key] = request
        try:
            response = await http.request(
                method, path, json=body, headers={**self.headers, "Idempotency-Key": key}
            )
        except httpx.TransportError:
            if not retry:
                self.lost.append(request)
            raise
        if retry and response.status_code == 409 and key not in self.answers:
            return None  # the lost finish came too late: the transaction was abandoned
        assert response.status_code in (200, 201), (request, response.status_code, response.text)
        answer: dict[str, Any] = response.json()
        first = self.answers.setdefault(key, answer)
        assert answer == first, f"{key} answered twice, differently"
        return answer

    async def work(self, http: httpx.AsyncClient, rng: random.Random, round_no: int) -> None:
        try:
            while self.lost:  # first the requests whose answers were lost
                await self.send(http, self.lost[0], retry=True)
                self.lost.pop(0)
            for i in range(500):
                key = f"{self.name}-{round_no}-{i}"
                roll = rng.random()
                if roll < 0.5:
                    await self.send(http, ("POST", "/api/v1/receipts", RECEIPT, key))
                    continue
                start = await self.send(http, ("POST", "/api/v1/transactions", None, key + "s"))
                assert start is not None
                tx = f"/api/v1/transactions/{start['id']}"
                if roll < 0.8:
                    await self.send(http, ("POST", f"{tx}/finish", RECEIPT, key + "f"))
                elif roll < 0.9:
                    await self.send(http, ("POST", f"{tx}/cancel", None, key + "c"))
                else:
                    self.started.append(start["id"])  # never finished: abandoned
        except httpx.TransportError:
            return


def _integrity(state: Path) -> str:
    db = sqlite3.connect(state / "tsed.sqlite", timeout=10)  # rw: replays the WAL like a restart
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


async def _crash_loop(tmp_path: Path, kills: int, seed: int) -> None:
    sim_state, state = tmp_path / "sim", tmp_path / "unit"
    seed_state(state, "abandon_minutes = 0.05\nregister_deadline = 2.0\n")
    sim_port, port = free_port(), free_port()
    sim = start_sim_process(sim_state, sim_port)
    rng = random.Random(seed)
    tills = [Till(f"t{i}") for i in range(4)]
    unit = start_unit_process(state, port, sim_port)
    try:
        await wait_ready(port)
        for till in tills:
            till.token = await pair_token(port, state, f"ERS crash {till.name}")
        for round_no in range(kills):
            async with httpx.AsyncClient(
                base_url=f"https://127.0.0.1:{port}", verify=False, timeout=20
            ) as http:
                workers = [
                    asyncio.create_task(t.work(http, random.Random(rng.random()), round_no))
                    for t in tills
                ]
                await asyncio.sleep(rng.uniform(0.05, 1.0))
                os.kill(unit.pid, signal.SIGKILL)
                unit.wait()
                await asyncio.gather(*workers)
            assert _integrity(state) == "ok", f"after kill {round_no + 1}"
            unit = start_unit_process(state, port, sim_port)
            await wait_ready(port)

        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}", verify=False, timeout=20
        ) as http:
            for till in tills:
                while till.lost:
                    await till.send(http, till.lost.pop(0), retry=True)

            async def settled() -> bool:
                return open_rows(state) == 0

            await wait_for(settled, 60, "the journal has no open rows")
            signed = 0
            for till in tills:
                # Every request is answered again exactly as the first time.
                for key, request in till.requests.items():
                    if key in till.answers:
                        assert await till.send(http, request) == till.answers[key]
                for answer in till.answers.values():
                    got = await http.get(
                        f"/api/v1/transactions/{answer['id']}", headers=till.headers
                    )
                    body = got.json()
                    assert body["state"] in ("finished", "cancelled"), body
                    if answer.get("result"):
                        assert body["result"] == answer["result"]
                    if body["state"] == "finished":
                        assert verify_qr_code(body["result"]["qr_code_data"]).valid
                        signed += 1
            assert signed > 10
    finally:
        stop(unit)  # SIGTERM, then SIGKILL after 30 s
        stop(sim)
    assert _integrity(state) == "ok"
    assert open_rows(state) == 0
    states = sim_states(sim_state)
    assert states and "ACTIVE" not in states
    assert states.count("FINISHED") == finished_rows(state)  # nothing signed twice


@pytest.mark.timeout(120)
async def test_kill_9_at_random_points_short(tmp_path: Path) -> None:
    await _crash_loop(tmp_path, kills=3, seed=20260)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_kill_9_at_random_points_long(tmp_path: Path, seed: int) -> None:
    await _crash_loop(tmp_path, kills=40, seed=seed)
