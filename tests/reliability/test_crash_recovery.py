"""kill -9 of a real daemon process mid-load, against the standalone simulator.

After each restart: every answer a register got is answered again identically for the same
Idempotency-Key, every signed result is retrievable, nothing stays ACTIVE at "fiskaly" once
the registers finished what they started, and SQLite's integrity check is clean.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.unit import KEY, RECEIPT, SECRET, free_port, start_sim, start_unit_process
from tsed.fiskaly.tr03151 import verify_qr_code


async def _ready(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(verify=False) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(f"https://127.0.0.1:{port}/api/v1/status")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the unit did not come up")


def _tsectl(state: Path, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tsed.cli.tsectl", "--state-dir", str(state), "--json", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)


def _open_rows(state: Path) -> int:
    db = sqlite3.connect(state / "tsed.sqlite")
    try:
        return int(
            db.execute(
                "SELECT COUNT(*) FROM transactions WHERE state IN "
                "('journaled','active','finishing','cancelling','failed')"
            ).fetchone()[0]
        )
    finally:
        db.close()


@pytest.mark.timeout(180)
async def test_kill_9_mid_load_loses_nothing(tmp_path: Path) -> None:
    sim_state, unit_state = tmp_path / "sim", tmp_path / "unit"
    unit_state.mkdir(mode=0o700)
    (unit_state / "vault.json").write_text(
        json.dumps(
            {
                "fiskaly.test.default.api_key": KEY,
                "fiskaly.test.default.api_secret": SECRET,
            }
        )
    )
    (unit_state / "vault.json").chmod(0o600)
    (unit_state / "tsed.toml").write_text("abandon_minutes = 0.05\n")
    sim_port, port = free_port(), free_port()
    sim = start_sim(sim_state, sim_port)
    answers: dict[str, dict] = {}
    started: dict[str, str] = {}  # idempotency key of a start → local id
    rng = random.Random(4711)
    unit = start_unit_process(unit_state, port, sim_port)
    try:
        await _ready(port)
        code = _tsectl(unit_state, "pair")["code"]
        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}", verify=False, timeout=10
        ) as http:
            paired = await http.post(
                "/api/v1/pairings", json={"code": code, "register_serial": "ERS crash-1"}
            )
        token = paired.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        async def load(http: httpx.AsyncClient, round_no: int) -> None:
            for i in range(400):
                key = f"r{round_no}-{i}"
                try:
                    if i % 4 == 0:
                        response = await http.post(
                            "/api/v1/transactions", headers={**headers, "Idempotency-Key": key}
                        )
                        if response.status_code == 201:
                            started[key] = response.json()["id"]
                        continue
                    response = await http.post(
                        "/api/v1/receipts",
                        json=RECEIPT,
                        headers={**headers, "Idempotency-Key": key},
                    )
                except httpx.TransportError:
                    return
                if response.status_code == 200:
                    answers[key] = response.json()

        for round_no in range(4):
            async with httpx.AsyncClient(
                base_url=f"https://127.0.0.1:{port}", verify=False, timeout=10
            ) as http:
                workers = [asyncio.create_task(load(http, round_no * 10 + w)) for w in range(4)]
                await asyncio.sleep(rng.uniform(0.3, 1.2))
                os.kill(unit.pid, signal.SIGKILL)
                unit.wait()
                await asyncio.gather(*workers)
            unit = start_unit_process(unit_state, port, sim_port)
            await _ready(port)

        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}", verify=False, timeout=10
        ) as http:
            # Every answered receipt is answered again identically, and is retrievable.
            assert len(answers) > 20
            for key, first in answers.items():
                again = await http.post(
                    "/api/v1/receipts", json=RECEIPT, headers={**headers, "Idempotency-Key": key}
                )
                assert again.json() == first, key
                if first["result"]:
                    got = await http.get(f"/api/v1/transactions/{first['id']}", headers=headers)
                    assert got.json()["result"] == first["result"]
                    assert verify_qr_code(first["result"]["qr_code_data"]).valid
            # The register finishes what it started (some starts were lost with the crash).
            for local_id in started.values():
                await http.post(
                    f"/api/v1/transactions/{local_id}/finish", json=RECEIPT, headers=headers
                )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if _open_rows(unit_state) == 0:
                    break
                await asyncio.sleep(0.5)
    finally:
        unit.send_signal(signal.SIGTERM)
        unit.wait(timeout=30)
        sim.terminate()
        sim.communicate(timeout=30)
    db = sqlite3.connect(unit_state / "tsed.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert _open_rows(unit_state) == 0
    sim_db = sqlite3.connect(sim_state / "simulator.sqlite")
    states = [
        json.loads(body)["revisions"][-1]["state"]
        for (body,) in sim_db.execute("SELECT body FROM objects WHERE kind = 'tx'")
    ]
    sim_db.close()
    assert states and "ACTIVE" not in states
    assert states.count("FINISHED") >= len([a for a in answers.values() if a["result"]])
