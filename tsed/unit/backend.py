"""The unit's backend: where its TSE signs, with the per-tenant registry and the signing service.

Without fiskaly credentials a TEST unit signs with the built-in simulator, served on loopback
(its state kept in ``<state_dir>/simulator``); otherwise it signs with fiskaly SIGN DE V2 at
the URL of its mode, through the shop's proxy if one is configured. Either way the clients come
from :class:`~tsed.tss.access.FiskalyAccess`.

:meth:`Backend.start` builds, in order: the simulator (if used), the upstream registry, the TSS
of every tenant and the signing service (crash recovery); :meth:`Backend.stop` takes them down
in reverse. :meth:`Backend.reload` does both after a change of credentials, tenants or mode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from tsed.config.model import effective, fiskaly_urls
from tsed.errors import ConflictError, TsedError
from tsed.fiskaly import SubmitClient
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.models import AuthToken
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.transport import Timeouts
from tsed.signing.service import SigningService
from tsed.state.paths import StatePaths
from tsed.state.rows import RegisterRow
from tsed.state.store import Store, StoreTooNew
from tsed.state.vault import Vault
from tsed.tss.access import FiskalyAccess, proxy_settings
from tsed.tss.registry import Credentials, UpstreamRegistry, vault_key
from tsed.unit.settings import Settings

_LOGGER = logging.getLogger(__name__)

BackendKind = Literal["simulator", "fiskaly"]
# foreground calls pass the register deadline; this bounds the background ones
TIMEOUTS = Timeouts(transaction=10.0)


@dataclass(frozen=True, slots=True)
class _Run:
    """What exists while the backend runs; ``stack`` takes it down in reverse."""

    kind: BackendKind
    upstreams: UpstreamRegistry
    signing: SigningService
    sim: Simulator | None
    sim_server: SimulatorServer | None
    stack: AsyncExitStack


class Backend:
    """The built-in simulator on loopback or fiskaly, with its registry and signing service."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        vault: Vault,
        state_dir: Path,
        environ: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._vault = vault
        self._state_dir = state_dir
        self._environ = environ
        self._clock = clock
        self._run: _Run | None = None
        # how clients reach the backend now; a new proxy replaces it (apply_proxy)
        self._access: FiskalyAccess | None = None

    # -- what runs ------------------------------------------------------------------------

    def _current(self) -> _Run:
        if self._run is None:
            raise ConflictError(
                "the unit's TSE backend is not running",
                hint="It did not start again after a change (the journal says why: "
                "TSED_EVENT=backend_failed); correct that, then restart tsed.",
            )
        return self._run

    @property
    def running(self) -> bool:
        return self._run is not None

    @property
    def kind(self) -> BackendKind:
        return self._current().kind

    @property
    def upstreams(self) -> UpstreamRegistry:
        return self._current().upstreams

    @property
    def signing(self) -> SigningService:
        return self._current().signing

    @property
    def sim(self) -> Simulator | None:
        """The built-in simulator, while the unit signs with it."""
        return self._run.sim if self._run is not None else None

    @property
    def sim_server(self) -> SimulatorServer | None:
        return self._run.sim_server if self._run is not None else None

    # -- start / stop ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._run is None:
            self._run = await self._start()

    async def stop(self) -> None:
        """Reverse of :meth:`start`; stopping a stopped backend does nothing."""
        run, self._run = self._run, None
        self._access = None
        if run is not None:
            await run.stack.aclose()

    async def reload(self, registers: Iterable[RegisterRow]) -> None:
        """Credentials, tenants or the mode changed: rebuild the backend; ``registers`` keep
        their tokens and get clients on the new TSS."""
        old = self._current()
        # the old side stays visible (stopped) until the new one is up, as callers expect
        await old.stack.aclose()
        if old.kind == "simulator":
            await self._store.archive_bindings(self._settings.mode, time.time())
        try:
            self._run = await self._start()
        except BaseException as err:
            self._run = None
            _LOGGER.error(
                "the backend did not start again: %s",
                getattr(err, "message", err),
                extra={"TSED_EVENT": "backend_failed"},
            )
            raise
        for row in registers:
            if row.revoked_at is None:
                try:
                    await self._run.upstreams.ensure_client(row.id, row.serial, row.tenant_id)
                except TsedError as err:
                    _LOGGER.error(
                        "register %s has no client on the new TSS: %s",
                        row.id,
                        err.message,
                        extra={"TSED_EVENT": "register_rebind_failed"},
                    )
        _LOGGER.info("backend is now %s", self._run.kind, extra={"TSED_EVENT": "backend_reloaded"})

    async def _start(self) -> _Run:
        """Upstream (simulator or fiskaly), TSS per tenant and the signing service; what was
        started is stopped again if a later part fails."""
        stack = AsyncExitStack()
        try:
            return await self._start_parts(stack)
        except BaseException:
            await stack.aclose()
            raise

    async def _start_parts(self, stack: AsyncExitStack) -> _Run:
        config, mode = self._settings.config, self._settings.mode
        tenants = [t.id for t in config.tenant_list()]
        sim, sim_server = await self._simulator(tenants, stack)
        kind: BackendKind = "simulator" if sim_server is not None else "fiskaly"
        if sim_server is not None:
            url = sim_server.base_url
            access = FiskalyAccess(url, url, timeouts=TIMEOUTS, clock=self._clock)
        else:
            access = FiskalyAccess.from_config(config, self._vault, mode, self._environ)
            access = replace(access, timeouts=TIMEOUTS, clock=self._clock)
        self._access = access
        stack.callback(setattr, self, "_access", None)
        upstreams = UpstreamRegistry(
            store=self._store,
            vault=self._vault,
            mode=mode,
            make_client=self._make_client,
            tenants=tenants,
            credential_names=("sim_key", "sim_secret")
            if kind == "simulator"
            else ("api_key", "api_secret"),
        )
        await upstreams.start()
        stack.push_async_callback(upstreams.stop)
        for tenant in tenants:
            try:
                await upstreams.ensure_tss(tenant)
            except Exception as err:
                _LOGGER.error(
                    "TSS set-up for tenant %s failed: %s",
                    tenant,
                    getattr(err, "message", err),
                    extra={"TSED_EVENT": "tss_setup_failed"},
                )
        settings = self._settings
        signing = SigningService(
            store=self._store,
            upstreams=upstreams,
            mode=mode,
            backend=kind,
            deadline=lambda reg: effective(settings.config, reg.serial).register_deadline,
            abandon_after=config.abandon_minutes * 60,
            max_open=lambda: settings.config.max_open_per_register,
            clock=self._clock,
        )
        await signing.start()
        stack.push_async_callback(signing.stop)
        return _Run(kind, upstreams, signing, sim, sim_server, stack)

    def _make_client(
        self, _tenant: str, creds: Credentials, on_auth: Callable[[AuthToken], None]
    ) -> FiskalyClient:
        if self._access is None:
            raise ConflictError("the unit's TSE backend is not running")
        return self._access.sign_client(creds.api_key, creds.api_secret, on_auth=on_auth)

    def submit_client(self, tenant_id: str) -> SubmitClient:
        """fiskaly SUBMIT DE with the tenant's credentials (the simulator's, with it)."""
        creds = self.upstreams.credentials(tenant_id)
        if self._access is None or creds is None:
            raise ConflictError(
                f"no fiskaly credentials for tenant {tenant_id!r}: SUBMIT DE needs them",
                hint="Die Mitteilung ausdrucken (tsectl filing print) und in Mein ELSTER erfassen.",
            )
        return self._access.submit_client(creds.api_key, creds.api_secret)

    async def _simulator(
        self, tenants: list[str], stack: AsyncExitStack
    ) -> tuple[Simulator | None, SimulatorServer | None]:
        """The built-in simulator, if the unit signs with it: TEST, no fiskaly credentials
        and fiskaly not chosen; each tenant gets its own simulator API key."""
        mode, vault = self._settings.mode, self._vault
        have = [t for t in tenants if vault.get(vault_key(t, mode, "api_key"))]
        if have or mode != "TEST" or vault.get("backend") == "fiskaly":
            return None, None
        folder = StatePaths(self._state_dir).simulator
        folder.mkdir(mode=0o700, exist_ok=True)
        found, known = Simulator.stored_version(folder), Simulator.SCHEMA_VERSION
        if found is not None and found > known:  # a newer tsed's: never misread it
            raise StoreTooNew(
                f"{folder} was written by the simulator of a newer tsed (schema {found}; this "
                f"tsed reads up to {known})"
            )
        sim = Simulator(state_dir=folder)
        stack.callback(sim.close)
        server = SimulatorServer(sim)
        await server.start()
        stack.push_async_callback(server.stop)
        for tenant in tenants:
            key = vault.get(vault_key(tenant, "TEST", "sim_key"))
            secret = vault.get(vault_key(tenant, "TEST", "sim_secret"))
            creds = sim.add_api_key("TEST", key, secret)
            vault.update(
                {
                    vault_key(tenant, "TEST", "sim_key"): creds.api_key,
                    vault_key(tenant, "TEST", "sim_secret"): creds.api_secret,
                }
            )
        _LOGGER.info(
            "no fiskaly credentials: using the built-in simulator (TEST)",
            extra={"TSED_EVENT": "backend_simulator"},
        )
        return sim, server

    # -- while running --------------------------------------------------------------------

    async def apply_proxy(self) -> None:
        """The proxy was changed (page, tsectl, console): every fiskaly client goes through
        the new one from its next call on, without a restart or a reload of the backend."""
        run = self._run
        if run is None or run.kind != "fiskaly" or self._access is None:
            return  # the built-in simulator is reached directly
        proxy = proxy_settings(self._settings.config, self._vault)
        self._access = replace(self._access, proxy=proxy)
        await run.upstreams.set_proxy(proxy)
        _LOGGER.info(
            "fiskaly is now reached %s",
            f"through the proxy {proxy.display}" if proxy else "directly",
            extra={"TSED_EVENT": "proxy_applied"},
        )

    def upstream_url(self) -> str:
        """The fiskaly URL in use (read-only on the page: it follows the mode)."""
        server = self.sim_server
        if server is not None:
            return f"{server.base_url} (built-in simulator)"
        try:
            return fiskaly_urls(self._settings.mode, self._environ).sign
        except TsedError as err:
            return f"unavailable: {err.message}"
