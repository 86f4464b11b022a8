"""Helpers of the reliability tests: real unit and simulator processes, their journals."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from aiohttp import web

from tests.support.unit import KEY, SECRET

OPEN_STATES = ("journaled", "active", "finishing", "cancelling", "failed")


def seed_state(state: Path, config: str = "") -> None:
    """A state directory whose unit signs against a standalone simulator (KEY/SECRET)."""
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    vault = {"fiskaly.test.default.api_key": KEY, "fiskaly.test.default.api_secret": SECRET}
    (state / "vault.json").write_text(json.dumps(vault))
    (state / "vault.json").chmod(0o600)
    (state / "tsed.toml").write_text(config)


def start_sim_process(state: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    """The standalone simulator (``tsed-fiskaly-sim``) on ``port``; returns once it listens."""
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "tsed.fiskaly.simulator", "--listen", f"127.0.0.1:{port}",
            "--state-dir", str(state), "--api-key", KEY, "--api-secret", SECRET,
            "--env", "TEST", "--log-level", "WARNING", *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline(), "the simulator did not start"
    return proc


def stop(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    if proc.stdout is not None:
        proc.stdout.close()


async def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(verify=False) as http:
        while time.monotonic() < deadline:
            try:
                response = await http.get(f"https://127.0.0.1:{port}/api/v1/status")
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the unit on port {port} did not come up")


async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached within {timeout:.0f} s: {what}")


def tsectl_json(state: Path, *args: str, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    out = subprocess.run(
        [
            *prefix,
            sys.executable,
            "-m",
            "tsed.cli.tsectl",
            "--state-dir",
            str(state),
            "--json",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


async def pair_token(port: int, state: Path, serial: str, prefix: tuple[str, ...] = ()) -> str:
    code = (await asyncio.to_thread(tsectl_json, state, "pair", prefix=prefix))["code"]
    async with httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{port}", verify=False, timeout=20
    ) as http:
        response = await http.post(
            "/api/v1/pairings", json={"code": code, "register_serial": serial}
        )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def unit_db(state: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{state / 'tsed.sqlite'}?mode=ro", uri=True, timeout=10)


def integrity(state: Path) -> str:
    db = unit_db(state)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def open_rows(state: Path) -> int:
    db = unit_db(state)
    try:
        marks = ",".join("?" * len(OPEN_STATES))
        sql = f"SELECT COUNT(*) FROM transactions WHERE state IN ({marks})"
        return int(db.execute(sql, OPEN_STATES).fetchone()[0])
    finally:
        db.close()


def finished_rows(state: Path) -> int:
    db = unit_db(state)
    try:
        sql = "SELECT COUNT(*) FROM transactions WHERE state = 'finished'"
        return int(db.execute(sql).fetchone()[0])
    finally:
        db.close()


def sim_transactions(sim_state: Path) -> list[dict[str, Any]]:
    """Every transaction the simulator holds: its latest revision (persisted state)."""
    db = sqlite3.connect(f"file:{sim_state / 'simulator.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT body FROM objects WHERE kind = 'tx'").fetchall()
    finally:
        db.close()
    return [json.loads(body) for (body,) in rows]


def sim_states(sim_state: Path) -> list[str]:
    return [str(tx["revisions"][-1]["state"]) for tx in sim_transactions(sim_state)]


async def sim_stats(sim_port: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_port}") as http:
        data: dict[str, Any] = (await http.get("/_sim/stats")).json()
        return data


async def sim_faults(sim_port: int, changes: dict[str, Any] | None = None) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_port}") as http:
        if changes is None:
            response = await http.delete("/_sim/faults")
        else:
            response = await http.post("/_sim/faults", json=changes)
        assert response.status_code == 200, response.text


@dataclass
class Recorder:
    """A recording reverse proxy in front of the simulator: every call with its time."""

    upstream: str
    calls: list[tuple[float, str, str, int]] = field(default_factory=list)
    auths: list[tuple[str, int]] = field(default_factory=list)  # ("key"|"refresh", status)
    port: int = 0
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=2**20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        sent = await request.read()
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=sent, headers=headers
        ) as answer:
            body = await answer.read()
            self.calls.append((time.monotonic(), request.method, request.path, answer.status))
            if request.method == "POST" and request.path == "/api/v2/auth":
                kind = "refresh" if b'"refresh_token"' in sent else "key"
                self.auths.append((kind, answer.status))
            kept = {
                k: v for k, v in answer.headers.items()
                if k.lower() in ("content-type", "retry-after", "request-id")
            }  # fmt: skip
            return web.Response(body=body, status=answer.status, headers=kept)

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for _t, m, p, _s in self.calls if m == method and p.startswith(path_prefix))
