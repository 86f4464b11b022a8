"""SIGKILL of the real unit process during archive runs, at many moments: the next run
completes the archive with no gap, nothing twice and no half-written file counted."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import pytest

from tests.support.reliability import pair_token, seed_state, start_sim_process, stop, wait_ready
from tests.support.unit import RECEIPT, free_port
from tsed.archive.audit import verify_archive
from tsed.archive.store import ArchiveStore
from tsed.fiskaly.tarverify import AUD_NAME, SYS_NAME, TX_NAME

KILLS = 6


def _start(state: Path, port: int, sim_port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TSED_FISKALY_BASE_URL": f"http://127.0.0.1:{sim_port}",
           "TSED_MDNS": "off"}  # fmt: skip
    env.pop("NOTIFY_SOCKET", None)
    argv = [sys.executable, "-m", "tests.support.archive_process", "0.1", "8", "serve",
            "--state-dir", str(state), "--config", str(state / "tsed.toml"),
            "--listen", f"127.0.0.1:{port}", "--log-level", "WARNING"]  # fmt: skip
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _admin(state: Path) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=str(state / "admin.sock"))
    return httpx.AsyncClient(transport=transport, base_url="http://tsed", timeout=20)


async def _receipts(port: int, token: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=False,
                                 timeout=20) as http:  # fmt: skip
        for _ in range(count):
            answer = await http.post("/api/v1/receipts", json=RECEIPT,
                                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert answer.status_code == 200, answer.text


def _counters(path: Path) -> list[int]:
    with tarfile.open(path) as tar:
        names = tar.getnames()
    return [int(m.group("counter")) for n in names
            if (m := TX_NAME.match(n) or SYS_NAME.match(n) or AUD_NAME.match(n))]  # fmt: skip


@pytest.mark.timeout(300)
async def test_kill_during_archive_runs_then_the_archive_is_complete(tmp_path: Path) -> None:
    sim_state, state = tmp_path / "sim", tmp_path / "unit"
    seed_state(state)
    sim_port, port = free_port(), free_port()
    sim = start_sim_process(sim_state, sim_port)
    unit = _start(state, port, sim_port)
    rng = random.Random(17)
    cut: list[tuple[int, int]] = []
    try:
        await wait_ready(port)
        token = await pair_token(port, state, "ERS archive")
        for kill in range(KILLS):
            await _receipts(port, token, 12)
            async with _admin(state) as admin:
                started = await admin.post("/admin/v1/archive/run")
                assert started.status_code == 202, started.text
                await asyncio.sleep(rng.uniform(0.1, 3.5))  # mid-export, mid-record, or after
                progress = (await admin.get("/admin/v1/archive/run")).json()
            os.kill(unit.pid, signal.SIGKILL)
            unit.wait()
            if progress["running"]:
                cut.append((kill, progress["files"]))
            unit = _start(state, port, sim_port)
            await wait_ready(port)
        assert len(cut) >= KILLS // 2, cut  # most kills hit a run in the middle
        assert any(files for _, files in cut), cut  # some after a file of the run counted
        async with _admin(state) as admin:
            assert (await admin.post("/admin/v1/archive/run")).status_code == 202
            for _ in range(600):
                run = (await admin.get("/admin/v1/archive/run")).json()
                if not run["running"]:
                    break
                await asyncio.sleep(0.1)
            assert run["state"] == "done", run
            status = (await admin.get("/admin/v1/archive")).json()
        ((tss_id, item),) = status["tss"].items()
        assert item["lag_signatures"] <= 2 and not item["gaps"] and not item["findings"]
    finally:
        stop(unit)  # SIGTERM, then SIGKILL after 30 s
        stop(sim)
    store = ArchiveStore(state / "archive")
    entries = store.entries(tss_id)
    assert all(e.state == "archived" for e in entries) and len(entries) > KILLS
    counters = [c for e in entries for c in _counters(store.path(e))]
    assert len(counters) == len(set(counters))  # nothing twice
    assert sorted(counters) == list(range(entries[0].first_counter,
                                          entries[-1].last_counter + 1))  # fmt: skip
    on_disk = {p.relative_to(store.root).as_posix() for p in (store.root / "tss").rglob("*")
               if p.is_file()}  # fmt: skip
    assert on_disk == {e.path for e in entries}  # a half file is never counted
    assert verify_archive(store)["ok"]
