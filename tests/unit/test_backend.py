"""The backend on its own: the built-in simulator on loopback without fiskaly credentials,
fiskaly with them; start and stop in reverse, stop idempotent, its parts gone while stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tsed.errors import ConfigError, ConflictError
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.tss.registry import vault_key
from tsed.unit.backend import Backend
from tsed.unit.bootstrap import status_text
from tsed.unit.registers import Registers
from tsed.unit.settings import Settings


@dataclass
class Parts:
    backend: Backend
    store: Store
    vault: Vault
    settings: Settings


@asynccontextmanager
async def parts(state_dir: Path, environ: dict[str, str] | None = None) -> AsyncIterator[Parts]:
    state_dir.mkdir(parents=True, exist_ok=True)
    store = Store(state_dir / "tsed.sqlite")
    await store.open()
    vault = Vault(state_dir / "vault.json")
    settings = Settings()
    backend = Backend(
        settings=settings, store=store, vault=vault, state_dir=state_dir, environ=environ or {}
    )
    try:
        yield Parts(backend, store, vault, settings)
    finally:
        await backend.stop()
        await store.close()


async def _reachable(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            await client.get(url)
    except httpx.ConnectError:
        return False
    return True


async def test_without_credentials_the_simulator_serves_on_loopback_until_stopped(
    tmp_path: Path,
) -> None:
    async with parts(tmp_path / "state") as p:
        backend = p.backend
        assert not backend.running and backend.sim is None and backend.sim_server is None
        with pytest.raises(ConflictError, match="not running"):
            _ = backend.signing
        await backend.start()
        server = backend.sim_server
        assert backend.kind == "simulator" and server is not None and backend.sim is not None
        assert server.base_url.startswith("http://127.0.0.1:")
        assert backend.upstream_url() == f"{server.base_url} (built-in simulator)"
        assert await _reachable(server.base_url)
        assert backend.upstreams.binding("default") is not None  # its TSS was set up
        assert p.vault.get(vault_key("default", "TEST", "sim_key"))
        signing = backend.signing
        await backend.start()  # running already: the same parts
        assert backend.signing is signing
        await backend.stop()
        assert not backend.running and backend.sim is None
        assert not await _reachable(server.base_url)
        with pytest.raises(ConflictError, match="not running"):
            _ = backend.upstreams
        await backend.stop()  # twice: nothing more to do


async def test_reload_moves_the_registers_to_the_new_tss_and_archives_the_old(
    tmp_path: Path,
) -> None:
    async with parts(tmp_path / "state") as p:
        await p.backend.start()
        first = p.backend.upstreams.binding("default")
        assert first is not None
        old_signing = p.backend.signing
        await p.backend.reload([])
        again = p.backend.upstreams.binding("default")
        assert p.backend.kind == "simulator" and p.backend.signing is not old_signing
        assert again is not None and again.tss_id != first.tss_id  # a new TSS after the archive
        bindings = await p.store.bindings(include_archived=True)
        archived = [b for b in bindings if b.tss_id == first.tss_id]
        assert archived and archived[0].archived_at is not None


async def test_with_fiskaly_credentials_the_backend_signs_with_fiskaly_at_the_mode_url(
    tmp_path: Path,
) -> None:
    """No built-in simulator: the clients go to fiskaly (a simulator on loopback stands in)."""
    fiskaly = Simulator()
    creds = fiskaly.add_api_key("TEST")
    server = SimulatorServer(fiskaly)
    await server.start()
    try:
        async with parts(tmp_path / "state", {"TSED_FISKALY_BASE_URL": server.base_url}) as p:
            p.vault.update(
                {
                    vault_key("default", "TEST", "api_key"): creds.api_key,
                    vault_key("default", "TEST", "api_secret"): creds.api_secret,
                }
            )
            await p.backend.start()
            assert p.backend.kind == "fiskaly" and p.backend.sim is None
            assert p.backend.upstream_url() == server.base_url
            binding = p.backend.upstreams.binding("default")
            assert binding is not None and binding.tss_id in fiskaly.state.tss
            await p.backend.apply_proxy()  # no proxy configured: fiskaly directly, no restart
            tss = await p.backend.upstreams.client("default").get_tss(binding.tss_id)
            assert tss.state == "INITIALIZED"
    finally:
        await server.stop()
        fiskaly.close()


async def test_a_reload_that_cannot_start_again_leaves_the_backend_stopped_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """New credentials, but the fiskaly URL is a V1 address: the old side is stopped, the new
    one refuses to start with a clear error; the unit's status says so, stop still works."""
    environ = {"TSED_FISKALY_BASE_URL": "https://kassensichv.io/api/v1"}
    async with parts(tmp_path / "state", environ) as p:
        await p.backend.start()
        server = p.backend.sim_server
        assert server is not None
        p.vault.update(
            {
                vault_key("default", "TEST", "api_key"): "test_key_for_the_backend_test",
                vault_key("default", "TEST", "api_secret"): "S" * 43,
            }
        )
        with pytest.raises(ConfigError, match="V1"):
            await p.backend.reload([])
        assert not p.backend.running and not await _reachable(server.base_url)
        assert [r for r in caplog.records if getattr(r, "TSED_EVENT", "") == "backend_failed"]
        with pytest.raises(ConflictError) as raised:
            _ = p.backend.signing
        assert raised.value.hint and "restart tsed" in raised.value.hint
        registers = Registers(
            store=p.store, settings=p.settings, backend=p.backend, on_change=lambda: None
        )
        assert "FAILING since the last reload" in status_text("TEST", p.backend, registers)
        assert p.backend.upstream_url().startswith("unavailable: ")


async def test_a_simulator_state_of_a_newer_tsed_is_refused_not_misread(tmp_path: Path) -> None:
    """The built-in simulator's state written by a newer tsed (an update rolled back): the
    backend does not start on it, as with the store (exit 3, the data untouched)."""
    import sqlite3

    from tsed.state.paths import StatePaths
    from tsed.state.store import StoreTooNew

    folder = StatePaths(tmp_path / "s").simulator
    Simulator(state_dir=folder).close()
    with sqlite3.connect(folder / "simulator.sqlite") as db:
        db.execute("UPDATE settings SET value = '99' WHERE name = 'schema_version'")
    async with parts(tmp_path / "s") as p:
        with pytest.raises(StoreTooNew, match="simulator of a newer tsed") as caught:
            await p.backend.start()
    assert caught.value.code == "STORE_TOO_NEW"
    with sqlite3.connect(folder / "simulator.sqlite") as db:
        assert (
            db.execute("SELECT value FROM settings WHERE name = 'schema_version'").fetchone()[0]
            == "99"
        )
