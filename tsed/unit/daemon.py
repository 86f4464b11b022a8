"""The daemon: start the unit (:mod:`tsed.unit.bootstrap`, the composition root), run it until
SIGTERM or SIGINT, stop it in reverse.

Start order (each step logs a TSED_EVENT and can fail with a clear error; what had started is
then stopped again, in reverse):

1. state directory, configuration, logging (with secret redaction), vault;
2. device identity (P-256 key and self-signed certificate) and the SQLite store;
3. the backend: fiskaly V2 with the stored credentials, or, with none, the built-in
   simulator on loopback (TEST mode, backend ``simulator``, state kept in the state dir);
4. the signing service (crash recovery, TSS set-up);
5. the register API on TLS, the admin API on the Unix socket, mDNS;
6. READY=1 to systemd, watchdog, STATUS lines.

SIGTERM (or SIGINT) stops in reverse: in-flight requests finish within the register deadline.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable

from aiohttp import web

from tsed.archive.service import ArchiveService
from tsed.config.model import Config
from tsed.errors import ConflictError
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.net.auth import PairingManager
from tsed.net.identity import CertificateFollower, DeviceIdentity
from tsed.net.limits import GuardedListener
from tsed.net.lockout import FailureLimiter
from tsed.signing.service import SigningService
from tsed.state.mode import Mode
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.systemd import Notifier
from tsed.tss.exportjobs import ExportJobs
from tsed.tss.registry import UpstreamRegistry
from tsed.unit.bootstrap import Running, Steps, start_unit, unit_addresses
from tsed.unit.options import DaemonOptions
from tsed.unit.registers import Registers
from tsed.unit.settings import Settings
from tsed.unit.telemetry import TelemetryPusher

_LOGGER = logging.getLogger(__name__)


class Daemon:
    """The unit's lifecycle: :meth:`start` builds everything in order, :meth:`stop` undoes it
    in reverse. Both may be called again: a second start while running, and a stop without a
    start, after a stop or after a failed start, do nothing.

    While running, the parts are read through the properties below (tsectl status, tests);
    they raise a :class:`~tsed.errors.ConflictError` while the unit is not running.
    """

    def __init__(
        self,
        options: DaemonOptions,
        *,
        environ: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock  # the wall clock (deadlines and lockouts use time.monotonic)
        self.state_dir = options.state_dir
        self.notifier = Notifier()
        self.settings = Settings()
        self._running: Running | None = None

    # -- start / stop -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._running is not None:
            return
        steps = Steps()
        try:
            self._running = await start_unit(
                self.options,
                environ=self.environ,
                clock=self.clock,
                settings=self.settings,
                notifier=self.notifier,
                steps=steps,
                on_status=self.refresh_status,
            )
        except BaseException:
            await steps.close()  # what had started, in reverse
            raise

    async def stop(self) -> None:
        running, self._running = self._running, None
        if running is None:
            return
        try:
            await running.steps.close()
        finally:
            _LOGGER.info("tsed stopped", extra={"TSED_EVENT": "stopped"})

    @property
    def is_running(self) -> bool:
        return self._running is not None

    @property
    def running(self) -> Running:
        if self._running is None:
            raise ConflictError("the unit is not running", hint="Start it first (tsed serve).")
        return self._running

    def refresh_status(self) -> None:
        if self._running is not None:
            self.notifier.status(self._running.status_text())

    def addresses(self) -> list[str]:
        """The unit's IP addresses (for the console, the page and tsectl status)."""
        return unit_addresses()

    # -- the running unit's parts -----------------------------------------------------------

    @property
    def config(self) -> Config:
        return self.settings.config

    @property
    def mode(self) -> Mode:
        return self.settings.mode

    @property
    def vault(self) -> Vault:
        return self.running.ops.vault

    @property
    def identity(self) -> DeviceIdentity:
        return self.running.ops.identity

    @property
    def store(self) -> Store:
        return self.running.ops.store

    @property
    def backend(self) -> str:
        """``simulator`` or ``fiskaly``."""
        return self.running.ops.tse.kind

    @property
    def upstreams(self) -> UpstreamRegistry:
        return self.running.ops.tse.upstreams

    @property
    def signing(self) -> SigningService:
        return self.running.ops.tse.signing

    @property
    def sim(self) -> Simulator | None:
        """The built-in simulator while the unit signs with it."""
        return self.running.ops.tse.sim

    @property
    def sim_server(self) -> SimulatorServer | None:
        return self.running.ops.tse.sim_server

    @property
    def registers(self) -> Registers:
        return self.running.ops.registers

    @property
    def pairing(self) -> PairingManager:
        return self.running.ops.pairing

    @property
    def limiter(self) -> FailureLimiter:
        return self.running.limiter

    @property
    def web_limiter(self) -> FailureLimiter:
        return self.running.ops.web_limiter

    @property
    def console_limiter(self) -> FailureLimiter:
        return self.running.ops.console_limiter

    @property
    def listener(self) -> GuardedListener:
        return self.running.ops.listener

    @property
    def certificate(self) -> CertificateFollower:
        return self.running.certificate

    @property
    def exports(self) -> ExportJobs:
        return self.running.ops.exports

    @property
    def archive(self) -> ArchiveService:
        return self.running.ops.archive

    @property
    def telemetry(self) -> TelemetryPusher:
        return self.running.ops.telemetry

    @property
    def register_app(self) -> web.Application:
        return self.running.register_app


async def run(options: DaemonOptions) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the process exit code."""
    daemon = Daemon(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await daemon.start()
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await daemon.stop()
    return 0
