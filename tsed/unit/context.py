"""What the admin and set-up operations (:mod:`tsed.unit.admin_ops`, :mod:`tsed.unit.setup_ops`)
use of the running unit: the composition root (:mod:`tsed.unit.bootstrap`) builds one
:class:`OpsContext` from the parts it started and hands it to them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tsed.archive.service import ArchiveService
from tsed.config.model import Config
from tsed.fiskaly.simulator import SimulatorServer
from tsed.net.auth import PairingManager
from tsed.net.identity import DeviceIdentity
from tsed.net.limits import GuardedListener
from tsed.net.lockout import FailureLimiter
from tsed.net.mdns import Advertiser
from tsed.net.passwords import PasswordHasher
from tsed.net.websession import WebSessions
from tsed.signing.service import SigningService
from tsed.state.mode import Mode
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.tss.exportjobs import ExportJobs
from tsed.tss.registry import UpstreamRegistry
from tsed.unit.backend import Backend
from tsed.unit.housekeeping import Housekeeping
from tsed.unit.options import DaemonOptions
from tsed.unit.registers import Registers
from tsed.unit.settings import Settings
from tsed.unit.telemetry import TelemetryPusher


@dataclass(frozen=True, slots=True)
class OpsContext:
    """What the admin and set-up operations use of the running unit.

    Its parts are fixed while the unit runs. ``config`` and ``mode`` are read from the unit's
    :class:`~tsed.unit.settings.Settings`, which the operations change (``settings``); the
    backend's parts (``backend``, ``upstreams``, ``signing``, ``sim_server``) are those of the
    backend now, which a reload replaces.
    """

    options: DaemonOptions
    environ: Mapping[str, str]
    settings: Settings
    vault: Vault
    store: Store
    identity: DeviceIdentity
    tse: Backend
    registers: Registers
    pairing: PairingManager
    hasher: PasswordHasher
    web_sessions: WebSessions
    web_limiter: FailureLimiter
    console_limiter: FailureLimiter
    listener: GuardedListener
    exports: ExportJobs
    archive: ArchiveService  # the fiscal archive and its nightly run
    housekeeping: Housekeeping  # the nightly routine, health records, certificate watch
    telemetry: TelemetryPusher  # the opt-in push to the chain's monitoring
    advertiser: Advertiser | None
    addresses: Callable[[], list[str]]  # the unit's IP addresses (loopback left out)
    refresh_status: Callable[[], None]  # the status line for systemd, now
    reload_backend: Callable[[], Awaitable[None]]  # the backend again, registers re-bound

    @property
    def state_dir(self) -> Path:
        return self.options.state_dir

    @property
    def config(self) -> Config:
        return self.settings.config

    @property
    def mode(self) -> Mode:
        return self.settings.mode

    @property
    def backend(self) -> str:
        return self.tse.kind

    @property
    def upstreams(self) -> UpstreamRegistry:
        return self.tse.upstreams

    @property
    def signing(self) -> SigningService:
        return self.tse.signing

    @property
    def sim_server(self) -> SimulatorServer | None:
        return self.tse.sim_server

    async def apply_proxy(self) -> None:
        await self.tse.apply_proxy()

    def upstream_url(self) -> str:
        return self.tse.upstream_url()
