"""SIGKILL of the real unit process (built-in simulator, its SUBMIT DE kept in the state
directory) at each point of a filing submission: after the submission was created, after its
transmission was triggered, while the transmission was pending. After every restart the unit
takes the submission up by itself; it ends final once, the events it covers are closed, the
simulator holds no second submission of the premises and no second transmission. A
submission refused by ELSTER, cut as well, stays visible with fiskaly's reason and leaves the
events open."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.reliability import pair_token, stop, tsectl_json, wait_for, wait_ready
from tests.support.unit import free_port, serve_argv
from tsed.fiskaly.simulator import Simulator
from tsed.state.paths import StatePaths

STEP = 1.5  # seconds per SUBMIT DE state: "pending" lasts long enough to be killed in
ADDRESS = ["--street", "Hauptstraße", "--house-number", "1", "--zip-code", "70173",
           "--town", "Stuttgart"]  # fmt: skip
DATA = ["--maker", "Kassen AG", "--model", "K1", "--software", "Kasse Pro",
        "--purchased-on", "2026-01-02"]  # fmt: skip
PREMISES = {"mitte": "ERS mitte", "hafen": "ERS hafen", "taxi": "ERS taxi"}


def _start(state: Path, port: int, control: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TSED_MDNS": "off"}
    env.pop("NOTIFY_SOCKET", None)
    env.pop("TSED_FISKALY_BASE_URL", None)  # the built-in simulator, its state in the state dir
    argv = serve_argv(state, port)[2:]  # without "-m tsed.cli.tsed"
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.submission_process", str(control), str(STEP),
         *argv],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _kill(unit: subprocess.Popen[bytes]) -> float:
    os.kill(unit.pid, signal.SIGKILL)
    unit.wait(timeout=30)
    return time.time()


def _tsectl(state: Path, *args: str) -> subprocess.Popen[str]:
    """A tsectl call in the background (the installer's submit, cut by the kill)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tsed.cli.tsectl", "--state-dir", str(state), "--json", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


async def _held(control: Path, point: str, timeout: float = 90) -> None:
    marker = Path(f"{control}.held")

    async def held() -> bool:
        return marker.exists() and marker.read_text() == point

    await wait_for(held, timeout, f"the unit held at {point}")
    marker.unlink()


def _sim(state: Path, at: float | None = None) -> dict[str, dict[str, Any]]:
    """The simulator's submissions as it persisted them (the unit is down), each with the
    state it had at ``at`` (default: now)."""
    sim = Simulator(state_dir=StatePaths(state).simulator,
                    clock=time.time if at is None else (lambda: at))  # fmt: skip
    try:
        return {
            sub.id: {"establishment": sub.establishment_id, "transmission": sub.transmission,
                     "state": sim.submit.state_of(sub)[0]}
            for sub in sim.submit.submissions.values()
        }  # fmt: skip
    finally:
        sim.close()


def _rows(state: Path) -> list[dict[str, Any]]:
    """The unit's own record of its submissions, as the killed unit left it (with the resume
    data kept beside them)."""
    db = sqlite3.connect(f"file:{StatePaths(state).filing}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute(
            "SELECT s.*, r.content_hash, r.upto FROM submissions s "
            "LEFT JOIN submission_resume r ON r.id = s.id ORDER BY s.created_at"
        ).fetchall()
        return [dict(row) for row in rows]
    finally:
        db.close()


def _events(state: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{StatePaths(state).filing}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute("SELECT * FROM events ORDER BY id").fetchall()]
    finally:
        db.close()


async def _final(state: Path, premises: str, timeout: float = 90) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def final() -> bool:
        status = await asyncio.to_thread(tsectl_json, state, "filing", "status")
        mine = [s for s in status["submissions"] if s["premises"] == premises]
        seen.update(mine[-1] if mine else {})
        return bool(mine) and bool(mine[-1]["final"])

    await wait_for(final, timeout, f"the submission of {premises} final")
    return seen


async def _setup(state: Path, port: int) -> None:
    def ok(*args: str) -> None:
        tsectl_json(state, *args)

    await asyncio.to_thread(ok, "taxpayer", "set", "--name", "Huber GmbH", "--tax-number",
                            "93815/08152", "--land", "BW", *ADDRESS)  # fmt: skip
    for premises, serial in PREMISES.items():
        await asyncio.to_thread(ok, "premises", "set", premises, "--name", premises.title(),
                                *ADDRESS)  # fmt: skip
        kind = ["--kind", "4"] if premises == "taxi" else []  # a taximeter without remarks
        await asyncio.to_thread(ok, "registers", "set", serial, "--premises", premises, *DATA,
                                *kind)  # fmt: skip
        await pair_token(port, state, serial)


def _reap(call: subprocess.Popen[str]) -> tuple[int, str]:
    out, _err = call.communicate(timeout=60)
    return call.returncode, out


@pytest.mark.timeout(600)
async def test_kill_at_each_point_of_a_submission(tmp_path: Path) -> None:
    state, port, control = tmp_path / "unit", free_port(), tmp_path / "control"
    state.mkdir(mode=0o700)
    (state / "tsed.toml").write_text("")
    control.write_text("")
    unit = _start(state, port, control)
    kills: list[str] = []
    try:
        await wait_ready(port)
        await _setup(state, port)

        # 1. after create: SUBMIT DE has the submission, the unit not yet its answer
        control.write_text("create:after")
        submit = _tsectl(state, "filing", "submit", "--premises", "mitte")
        await _held(control, "create:after")
        _kill(unit)
        kills.append("create")
        assert _reap(submit)[0] != 0  # the installer's call was cut
        (row,) = _rows(state)
        mitte_id = row["id"]
        assert (row["premises_id"], row["state"]) == ("mitte", "CREATING")
        assert row["content_hash"] and row["upto"]
        assert list(_sim(state)) == [mitte_id]  # made at SUBMIT DE with the recorded id

        # 2. after trigger: the resume at start triggers it, the unit dies before recording it
        control.write_text("trigger:after")
        unit = _start(state, port, control)
        await _held(control, "trigger:after")
        killed = _kill(unit)
        kills.append("trigger")
        triggered = _sim(state, at=killed)[mitte_id]
        assert triggered["transmission"] is not None
        assert triggered["state"] == "TRANSMISSION_PENDING"
        assert _rows(state)[0]["state"] not in ("TRANSMISSION_SUCCEEDED", "CREATING")

        # the next start ends it by itself; a submit meanwhile follows it (or finds it done)
        control.write_text("")
        unit = _start(state, port, control)
        await wait_ready(port)
        again = await asyncio.to_thread(
            tsectl_json, state, "filing", "submit", "--premises", "mitte"
        )
        assert (again["id"], again["state"]) == (mitte_id, "TRANSMISSION_SUCCEEDED")
        assert (await _final(state, "mitte"))["id"] == mitte_id

        # 3. while pending: the unit saw TRANSMISSION_PENDING, SUBMIT DE still pending
        control.write_text("get:TRANSMISSION_PENDING")
        submit = _tsectl(state, "filing", "submit", "--premises", "hafen")
        await _held(control, "get:TRANSMISSION_PENDING")
        killed = _kill(unit)
        kills.append("pending")
        _reap(submit)
        hafen = [r for r in _rows(state) if r["premises_id"] == "hafen"]
        assert [r["state"] for r in hafen] == ["TRANSMISSION_PENDING"]
        hafen_id = hafen[0]["id"]
        assert _sim(state, at=killed)[hafen_id]["state"] == "TRANSMISSION_PENDING"
        transmitted_at = _sim(state)[hafen_id]["transmission"]

        # 4. a refusal, cut after create: resumed, it stays visible with fiskaly's reason
        control.write_text("create:after")
        unit = _start(state, port, control)
        await wait_ready(port)
        submit = _tsectl(state, "filing", "submit", "--premises", "taxi")
        await _held(control, "create:after")
        _kill(unit)
        kills.append("create (refused)")
        _reap(submit)

        control.write_text("")
        unit = _start(state, port, control)
        await wait_ready(port)
        assert (await _final(state, "hafen"))["state"] == "TRANSMISSION_SUCCEEDED"
        refused = await _final(state, "taxi")
        status = await asyncio.to_thread(tsectl_json, state, "filing", "status")
        code, text = await asyncio.to_thread(_text_status, state)
    finally:
        stop(unit)  # SIGTERM, then SIGKILL after 30 s

    assert kills == ["create", "trigger", "pending", "create (refused)"]
    # the unit: one record per submission, each final once
    rows = _rows(state)
    assert [(r["premises_id"], r["state"]) for r in rows] == [
        ("mitte", "TRANSMISSION_SUCCEEDED"), ("hafen", "TRANSMISSION_SUCCEEDED"),
        ("taxi", "EXTERNAL_VALIDATION_FAILED"),
    ]  # fmt: skip
    # SUBMIT DE: one submission per premises, one transmission each, none made twice
    sim = _sim(state)
    assert len(sim) == 3 and len({s["establishment"] for s in sim.values()}) == 3
    assert sim[mitte_id]["state"] == sim[hafen_id]["state"] == "TRANSMISSION_SUCCEEDED"
    assert sim[hafen_id]["transmission"] == transmitted_at  # not triggered a second time
    # the events: closed by the submission that covered them, as in an uninterrupted run
    events = _events(state)
    for premises, sub_id in (("mitte", mitte_id), ("hafen", hafen_id)):
        own = [e for e in events if e["premises_id"] == premises]
        assert own and all(e["filed_by"] == sub_id for e in own), own
    taxi = [e for e in events if e["premises_id"] == "taxi"]
    assert taxi and all(e["filed_on"] is None for e in taxi)  # refused: still to be filed
    assert [e["kind"] for e in status["pending"] if e["premises"] == "taxi"] == ["register_paired"]
    assert refused["error"] and "remarks" in refused["error"]  # fiskaly's reason
    assert code == 0 and "EXTERNAL_VALIDATION_FAILED" in text and "remarks" in text
    print("killed at: " + ", ".join(kills))


def _text_status(state: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "tsed.cli.tsectl", "--state-dir", str(state), "filing", "status"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout
