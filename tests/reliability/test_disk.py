"""Disk full on the state directory, for real: a small tmpfs in a private mount namespace.

The unit process runs in its own mount namespace (``unshare -m``) with its state directory on
a 16 MB tmpfs; the test fills and frees that file system from inside the namespace
(``nsenter``). While it is full the unit refuses new work with ``507 STORAGE_FULL`` and a hint
saying what to free, and keeps answering status; once space is back it signs again without a
restart, every answer given before is answered identically, and SQLite's integrity check is
clean.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.reliability import (
    finished_rows,
    integrity,
    open_rows,
    pair_token,
    seed_state,
    sim_faults,
    sim_states,
    start_sim_process,
    stop,
    wait_for,
    wait_ready,
)
from tests.support.unit import RECEIPT, free_port

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"),
    reason="needs root, unshare and nsenter (util-linux)",
)

# Runs inside the private mount namespace; the state is copied out when the unit has stopped.
NAMESPACE_SCRIPT = r"""
set -e
mount -t tmpfs -o size=16m,mode=0700 tsed-test-state "$STATE"
cp -a "$STAGE"/. "$STATE"/
"$PY" -m tsed.cli.tsed serve --state-dir "$STATE" --config "$STATE/tsed.toml" \
    --listen "127.0.0.1:$PORT" --log-level INFO 2>>"$LOG" &
echo $! >"$PIDFILE"
set +e
wait $!
cp -a "$STATE"/tsed.sqlite* "$OUT"/ 2>/dev/null
exit 0
"""


def _in_ns(pid: int, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", "-t", str(pid), "-m", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.timeout(180)
async def test_disk_full_refuses_new_work_then_recovers(tmp_path: Path) -> None:
    stage, state, out = tmp_path / "stage", tmp_path / "state", tmp_path / "out"
    state.mkdir(mode=0o700)
    out.mkdir()
    seed_state(stage, "abandon_minutes = 0.05\n")
    sim_port, port = free_port(), free_port()
    sim = start_sim_process(tmp_path / "sim", sim_port)
    pidfile, log = tmp_path / "unit.pid", tmp_path / "unit.log"
    env = {
        **os.environ,
        "STATE": str(state), "STAGE": str(stage), "OUT": str(out), "PY": sys.executable,
        "PORT": str(port), "PIDFILE": str(pidfile), "LOG": str(log),
        "TSED_FISKALY_BASE_URL": f"http://127.0.0.1:{sim_port}", "TSED_MDNS": "off",
    }  # fmt: skip
    env.pop("NOTIFY_SOCKET", None)
    shell = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", NAMESPACE_SCRIPT], env=env
    )
    unit_pid = 0
    answers: dict[str, dict] = {}
    refused: dict[str, dict] = {}
    try:
        await wait_ready(port)
        unit_pid = int(pidfile.read_text())
        token = await pair_token(
            port, state, "ERS disk-1", prefix=("nsenter", "-t", str(unit_pid), "-m")
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}", verify=False, timeout=20
        ) as http:

            async def receipt(key: str) -> httpx.Response:
                return await http.post(
                    "/api/v1/receipts", json=RECEIPT, headers={**headers, "Idempotency-Key": key}
                )

            for i in range(5):
                response = await receipt(f"before-{i}")
                assert response.status_code == 200 and not response.json()["tse_failure"]
                answers[f"before-{i}"] = response.json()

            # Fill the state directory's file system to the last block while receipts are in
            # flight (a slow WAN keeps some between their journal entry and their signature).
            await sim_faults(sim_port, {"latency_ms": 100})
            deadline = time.monotonic() + 60
            sent = 0

            async def worker(w: int) -> None:
                nonlocal sent
                for i in range(300):
                    if len(refused) >= 20 or time.monotonic() > deadline:
                        return
                    key = f"full-{w}-{i}"
                    response = await receipt(key)
                    sent += 1
                    assert response.status_code in (200, 507), (response.status_code, response.text)
                    if response.status_code == 200:
                        assert not response.json()["tse_failure"]  # journaled, so it was signed
                        answers[key] = response.json()
                        continue
                    error = response.json()["error"]
                    assert error["code"] == "STORAGE_FULL", error
                    assert str(state) in error["message"] and "Free space" in error["hint"]
                    refused[key] = error

            workers = [asyncio.create_task(worker(w)) for w in range(6)]
            await asyncio.sleep(0.3)
            fill = await asyncio.to_thread(
                _in_ns, unit_pid, "sh", "-c", f"cat /dev/zero > {state}/filler; sync"
            )
            assert "No space left" in fill.stderr, fill.stderr
            await asyncio.gather(*workers)
            assert len(refused) >= 20, f"{sent} receipts and no refusal on a full disk"
            await sim_faults(sim_port, None)
            # Starting a transaction is refused the same way; status still answers.
            start = await http.post("/api/v1/transactions", headers=headers)
            assert start.status_code == 507 and start.json()["error"]["code"] == "STORAGE_FULL"
            status = await http.get("/api/v1/status")
            assert status.status_code == 200
            assert shell.poll() is None  # the unit is alive

            # Space returns: the unit signs again without a restart.
            assert _in_ns(unit_pid, "rm", "-f", f"{state}/filler").returncode == 0

            async def signs_again() -> bool:
                response = await receipt(f"after-{time.monotonic_ns()}")
                return response.status_code == 200 and not response.json()["tse_failure"]

            await wait_for(signs_again, 30, "signing after space came back")
            for i in range(10):
                response = await receipt(f"after-{i}")
                assert response.status_code == 200 and not response.json()["tse_failure"]
                answers[f"after-{i}"] = response.json()

            # Every answer is answered again identically; every refused key now signs once.
            for key, first in answers.items():
                again = await receipt(key)
                assert again.json() == first, key
                got = await http.get(f"/api/v1/transactions/{first['id']}", headers=headers)
                assert got.json()["result"] == first["result"]
            for key in refused:
                retried = await receipt(key)
                if retried.status_code == 409:  # journaled before the disk filled: completing
                    await wait_for(
                        lambda k=key: _signed(receipt, k), 30, f"{key} completed in background"
                    )
                    retried = await receipt(key)
                assert retried.status_code == 200 and retried.json()["result"], retried.text
                assert (await receipt(key)).json() == retried.json()
            numbers = [a["result"]["transaction_number"] for a in answers.values()]
            assert len(numbers) == len(set(numbers))
    finally:
        if unit_pid:
            os.kill(unit_pid, signal.SIGTERM)
        try:
            shell.wait(timeout=60)
        except subprocess.TimeoutExpired:
            shell.kill()
            shell.wait()
        stop(sim)
    assert shell.returncode == 0
    assert (out / "tsed.sqlite").exists(), log.read_text()[-2000:]
    assert integrity(out) == "ok"
    assert open_rows(out) == 0
    states = sim_states(tmp_path / "sim")
    assert "ACTIVE" not in states
    # Nothing signed twice: one FINISHED transaction upstream per finished row of the journal.
    assert states.count("FINISHED") == finished_rows(out) >= len(answers) + len(refused)
    assert "Traceback" not in log.read_text()


async def _signed(receipt, key: str) -> bool:  # type: ignore[no-untyped-def]
    response = await receipt(key)
    return bool(response.status_code == 200 and response.json()["result"])
