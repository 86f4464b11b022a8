"""SIGKILL of the real unit process (built-in simulator) at each step of a TSS's
decommissioning: after every restart the plan goes on by itself and ends done; the TSS was
disabled exactly once, its archive ends with that one disabling and holds nothing twice, and
the plan file was whole at every kill."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.reliability import pair_token, stop, tsectl_json, wait_for, wait_ready
from tests.support.unit import RECEIPT, free_port, serve_argv
from tsed.archive.audit import verify_archive
from tsed.archive.store import ArchiveStore
from tsed.fiskaly.simulator.engine import SimState
from tsed.fiskaly.simulator.model import LogEntry
from tsed.fiskaly.tarverify import AUD_NAME, SYS_NAME, TX_NAME

DISABLE_ROUTE = r"^PATCH /api/v2/tss/\{tss_id\}$"
EXPORT_ROUTE = "export"


def _start(state: Path, port: int, hold: str, release: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TSED_MDNS": "off"}
    env.pop("NOTIFY_SOCKET", None)
    env.pop("TSED_FISKALY_BASE_URL", None)  # the built-in simulator, its state in the state dir
    argv = serve_argv(state, port)[2:]  # without "-m tsed.cli.tsed"
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.decommission_process", hold, str(release), *argv],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _kill(unit: subprocess.Popen[bytes]) -> None:
    os.kill(unit.pid, signal.SIGKILL)
    unit.wait(timeout=30)


async def _status(state: Path) -> dict[str, Any]:
    data = await asyncio.to_thread(tsectl_json, state, "decommission", "status")
    plan: dict[str, Any] = data["plan"]
    return plan


async def _until_running(state: Path, step: str, timeout: float = 60) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def running() -> bool:
        seen.update(await _status(state))
        states = {s["name"]: s["state"] for s in seen["steps"]}
        return seen["state"] == "running" and states[step] == "running"

    await wait_for(running, timeout, f"tsectl decommission status shows {step} running")
    return seen


def _plan_file(state: Path) -> dict[str, Any]:
    """The plan as the killed unit left it: whole JSON, never half a file."""
    data: dict[str, Any] = json.loads((state / "decommission.json").read_bytes())
    return data


def _step_states(plan: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["state"] for s in plan["steps"]}


def _sim(state: Path, tss_id: str) -> tuple[str, list[LogEntry]]:
    """The TSS's state and signed logs, as the simulator persisted them in the state dir."""
    sim = SimState(state_dir=state / "simulator")
    try:
        return sim.tss[tss_id].state, list(sim.logs.get(tss_id, []))
    finally:
        assert sim.persist is not None
        sim.persist.close()


async def _faults(port: int, token: str, faults: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=False,
                                 timeout=20) as http:  # fmt: skip
        answer = await http.post("/api/v1/simulator/faults", json=faults,
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert answer.status_code == 200, answer.text


async def _receipts(port: int, token: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=False,
                                 timeout=20) as http:  # fmt: skip
        for _ in range(count):
            answer = await http.post("/api/v1/receipts", json=RECEIPT,
                                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert answer.status_code == 200, answer.text


def _archived(state: Path, tss_id: str) -> list[tuple[int, str]]:
    store = ArchiveStore(state / "archive")
    found = []
    for entry in store.entries(tss_id):
        assert entry.state == "archived", entry
        with tarfile.open(store.path(entry)) as tar:
            for name in tar.getnames():
                match = TX_NAME.match(name) or SYS_NAME.match(name) or AUD_NAME.match(name)
                if match:
                    found.append((int(match.group("counter")), name))
    return sorted(found)


@pytest.mark.timeout(600)
async def test_kill_at_each_step_of_a_tss_decommissioning(tmp_path: Path) -> None:
    state, port = tmp_path / "unit", free_port()
    state.mkdir(mode=0o700)
    (state / "tsed.toml").write_text("")
    release = tmp_path / "release"
    unit = _start(state, port, "-", release)
    kills: list[tuple[str, dict[str, str]]] = []

    def kill(step: str) -> None:
        _kill(unit)
        plan = _plan_file(state)
        assert _step_states(plan)[step] == "running", plan
        kills.append((step, _step_states(plan)))
        release.unlink(missing_ok=True)

    try:
        await wait_ready(port)
        token = await pair_token(port, state, "ERS decommission")
        await _receipts(port, token, 5)
        tss_id = str(tsectl_json(state, "status")["tss"]["default"]["tss_id"])
        # 1. archive: the export held by the simulator's latency
        await _faults(port, token, {"latency_ms": 5000, "route": EXPORT_ROUTE})
        started = await asyncio.to_thread(
            tsectl_json, state, "decommission", "tss", "--reason", "Geschäft aufgegeben",
            "--confirm", f"TSS {tss_id[:8]} stilllegen", "--no-wait",
        )  # fmt: skip
        assert started["plan"]["state"] == "running", started
        await _until_running(state, "archive")
        await asyncio.sleep(1.0)
        kill("archive")
        # 2. verify and 3. offbox: held before their work (local steps)
        for step in ("verify", "offbox"):
            unit = _start(state, port, f"{step}:before", release)
            await wait_ready(port)
            await _until_running(state, step)
            kill(step)
        # 4a. disable, its call held by the simulator's latency: killed before it took effect
        unit = _start(state, port, "offbox:before", release)
        await wait_ready(port)
        await _until_running(state, "offbox")
        await _faults(port, token, {"latency_ms": 8000, "route": DISABLE_ROUTE})
        release.touch()
        await _until_running(state, "disable")
        await asyncio.sleep(1.0)
        kill("disable")
        assert _sim(state, tss_id)[0] == "INITIALIZED"  # the held call never arrived
        # 4b. disable took effect at fiskaly, the plan not yet done
        unit = _start(state, port, "disable:after", release)
        await wait_ready(port)
        await _until_running(state, "disable")
        await wait_for(lambda: _disabled(state, tss_id), 30, "the TSS DISABLED at the simulator")
        kill("disable")
        # 5. seal: the last archive run held by the simulator's latency
        unit = _start(state, port, "seal:before", release)
        await wait_ready(port)
        await _until_running(state, "seal")
        await _faults(port, token, {"latency_ms": 5000, "route": EXPORT_ROUTE})
        release.touch()
        await asyncio.sleep(1.5)
        assert _step_states(await _status(state))["seal"] == "running"
        kill("seal")
        # 6. record, held before its work
        unit = _start(state, port, "record:before", release)
        await wait_ready(port)
        await _until_running(state, "record")
        kill("record")
        # the last start: the plan ends by itself
        unit = _start(state, port, "-", release)
        await wait_ready(port)

        async def done() -> bool:
            return (await _status(state))["state"] == "done"

        await wait_for(done, 120, "the decommissioning done")
        plan = await _status(state)
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=False,
                                     timeout=20) as http:  # fmt: skip
            refused = await http.post("/api/v1/receipts", json=RECEIPT,
                                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    finally:
        stop(unit)  # SIGTERM, then SIGKILL after 30 s
    assert [step for step, _ in kills] == [
        "archive", "verify", "offbox", "disable", "disable", "seal", "record",
    ]  # fmt: skip
    assert set(_step_states(plan).values()) == {"done"}, plan
    assert refused.status_code == 409 and "decommissioned" in refused.text, refused.text
    tss_state, logs = _sim(state, tss_id)
    assert tss_state == "DISABLED"
    disablings = [log for log in logs if "disableSecureElement" in log.file_name]
    assert len(disablings) == 1  # the irreversible call took effect exactly once
    archived = _archived(state, tss_id)
    counters = [counter for counter, _ in archived]
    assert len(counters) == len(set(counters))  # nothing archived twice
    assert counters == list(range(counters[0], counters[-1] + 1))  # no gap
    assert counters[-1] == max(log.counter for log in logs)  # to the TSS's end
    assert [name for _, name in archived if "disableSecureElement" in name] == [
        disablings[0].file_name
    ]  # exactly one disabling in the archived TARs
    store = ArchiveStore(state / "archive")
    on_disk = {p.relative_to(store.root).as_posix() for p in (store.root / "tss").rglob("*")
               if p.is_file()}  # fmt: skip
    assert on_disk == {e.path for e in store.entries(tss_id)}  # no half file counted
    assert verify_archive(store)["ok"]
    print(f"killed at {len(kills)} moments: " + ", ".join(step for step, _ in kills))


async def _disabled(state: Path, tss_id: str) -> bool:
    return _sim(state, tss_id)[0] == "DISABLED"
