"""The composition root: the unit starts in order, stops in exact reverse, and a start that
fails part-way undoes what had started; stop is idempotent."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from pathlib import Path

import httpx
import pytest

from tests.support.unit import free_port, running_unit
from tsed.errors import ConfigError, ConflictError
from tsed.unit.daemon import Daemon
from tsed.unit.options import DaemonOptions, ListenAddress

STEPS = [
    "state", "identity", "store", "backend", "filing", "registers", "access", "exports", "archive",
    "telemetry", "servers", "mdns", "ready", "status",
]  # fmt: skip


def _steps(caplog: pytest.LogCaptureFixture, event: str) -> list[str]:
    return [
        str(getattr(r, "TSED_STEP", ""))
        for r in caplog.records
        if getattr(r, "TSED_EVENT", None) == event
    ]


def _daemon(state_dir: Path, port: int) -> Daemon:
    state_dir.mkdir(parents=True, exist_ok=True)
    options = DaemonOptions(state_dir, state_dir / "tsed.toml", ListenAddress("127.0.0.1", port))
    return Daemon(options, environ={"TSED_MDNS": "off"})


def _store_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "tsed-store" and t.is_alive())


async def _refused(port: int) -> bool:
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


async def test_start_runs_the_steps_in_order_and_stop_undoes_them_in_reverse(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tsed.unit.bootstrap")
    async with running_unit(tmp_path / "state") as unit:
        assert _steps(caplog, "step_start") == STEPS
        assert _steps(caplog, "step_stop") == []
        sim_server = unit.daemon.sim_server
        assert sim_server is not None and unit.daemon.backend == "simulator"
        sim_port = httpx.URL(sim_server.base_url).port
        assert sim_port is not None and not await _refused(sim_port)
        register = await unit.pair()
        assert (await register.receipt())["state"] == "finished"
        daemon = unit.daemon
    assert _steps(caplog, "step_stop") == list(reversed(STEPS))
    assert not daemon.is_running
    assert await _refused(unit.port) and await _refused(sim_port)
    assert _store_threads() == 0
    with pytest.raises(ConflictError, match="not running"):
        _ = daemon.store


async def test_stop_without_start_twice_and_a_second_start_do_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tsed.unit.bootstrap")
    port = free_port()
    daemon = _daemon(tmp_path / "state", port)
    await daemon.stop()  # never started
    assert not daemon.is_running and _steps(caplog, "step_stop") == []
    await daemon.start()
    running = daemon.running
    await daemon.start()  # already running: the same unit, nothing started twice
    assert daemon.running is running and _steps(caplog, "step_start") == STEPS
    await daemon.stop()
    await daemon.stop()
    assert _steps(caplog, "step_stop") == list(reversed(STEPS))
    assert [r for r in caplog.records if getattr(r, "TSED_EVENT", None) == "stopped"]
    assert len([r for r in caplog.records if getattr(r, "TSED_EVENT", None) == "stopped"]) == 1
    assert await _refused(port)
    await daemon.start()  # a stopped unit starts again
    try:
        assert daemon.backend == "simulator" and not await _refused(port)
    finally:
        await daemon.stop()


async def test_a_start_that_fails_part_way_undoes_what_had_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The register port is taken: the servers step fails after the store, the backend with
    its simulator, the exports and half of the servers were started; all of it is undone."""
    caplog.set_level(logging.DEBUG, logger="tsed.unit.bootstrap")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = int(taken.getsockname()[1])
    daemon = _daemon(tmp_path / "state", port)
    try:
        with pytest.raises(OSError):
            await daemon.start()
    finally:
        taken.close()
    started = _steps(caplog, "step_start")
    assert started == STEPS[: STEPS.index("servers") + 1]
    assert _steps(caplog, "step_stop") == list(reversed(started))
    assert not daemon.is_running and _store_threads() == 0
    assert not daemon.options.admin_socket.exists()  # the admin API never came up
    await daemon.stop()  # after a failed start: nothing to do
    assert not [r for r in caplog.records if getattr(r, "TSED_EVENT", None) == "stopped"]
    await daemon.start()  # the port is free now: the same state starts cleanly
    try:
        assert daemon.backend == "simulator" and not await _refused(port)
    finally:
        await daemon.stop()


async def test_a_start_that_fails_at_the_first_step_leaves_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tsed.unit.bootstrap")
    daemon = _daemon(tmp_path / "state", free_port())
    daemon.options.config_path.write_text("listen = [not toml\n")
    with pytest.raises(ConfigError):
        await daemon.start()
    assert _steps(caplog, "step_start") == ["state"]
    assert _steps(caplog, "step_stop") == ["state"]
    assert not daemon.is_running and _store_threads() == 0
    await daemon.stop()
    await daemon.stop()
