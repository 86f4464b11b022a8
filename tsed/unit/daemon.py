"""Wiring: build every component from the options, start them in order, stop them in reverse.

Start order (each step logs a TSED_EVENT and can fail with a clear error):

1. state directory, configuration, vault, logging (with secret redaction);
2. device identity (P-256 key and self-signed certificate) and the SQLite store;
3. the upstream: fiskaly V2 with the stored credentials, or, with none, the built-in
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
from typing import Any

from aiohttp import web

from tsed import __version__
from tsed.config.model import Config, Mode, effective, fiskaly_urls, load_config
from tsed.errors import TsedError
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.transport import ProxySettings, Timeouts
from tsed.logs import setup_logging
from tsed.net.admin import build_admin_app
from tsed.net.api import REGISTER_KEY, RegisterApiDeps, build_register_app
from tsed.net.auth import PairingManager
from tsed.net.http import hide_server_banner
from tsed.net.identity import (
    CertificateFollower,
    DeviceIdentity,
    limit_tls_buffers,
    load_or_create_identity,
    server_ssl_context,
)
from tsed.net.limits import (
    REGISTER_SOURCES_FILE,
    ConnectionLimits,
    GuardedListener,
    load_known_sources,
    save_known_sources,
)
from tsed.net.lockout import AttemptRate, FailureLimiter
from tsed.net.mdns import Advertiser
from tsed.net.passwords import PasswordHasher
from tsed.net.web import build_setup_app
from tsed.net.websession import WebSessions
from tsed.signing.service import SigningService
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.systemd import JournalHandler, Notifier, journal_available, status_line
from tsed.tss.access import proxy_settings
from tsed.tss.exportjobs import ExportJobs
from tsed.tss.registry import Credentials, UpstreamRegistry, vault_key
from tsed.unit.admin_ops import AdminOps
from tsed.unit.archive_ops import ArchiveService
from tsed.unit.options import DaemonOptions
from tsed.unit.registers import Registers
from tsed.unit.signing_ops import SigningProxy
from tsed.unit.simswitches import SimulatorSwitches

_LOGGER = logging.getLogger(__name__)


class Daemon:
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
        self._runners: list[web.AppRunner] = []
        self._sim: Simulator | None = None
        self._sim_server: SimulatorServer | None = None
        self._started = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.config = Config()

    # -- start / stop -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        began = time.monotonic()
        limit_tls_buffers()
        hide_server_banner()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.config = load_config(self.options.config_path)
        handlers: list[logging.Handler] | None = [JournalHandler()] if journal_available() else None
        setup_logging(
            level=self.options.log_level, extended=self.config.extended_logging, handlers=handlers
        )
        self.vault = Vault(self.state_dir / "vault.json")
        self.mode = self._mode()
        self.identity: DeviceIdentity = load_or_create_identity(
            self.state_dir, name=self.config.name, addresses=_local_addresses()
        )
        _LOGGER.info(
            "device %s, certificate fingerprint %s",
            self.identity.device_id,
            self.identity.fingerprint_display,
            extra={"TSED_EVENT": "identity"},
        )
        self.store = Store(self.state_dir / "tsed.sqlite")
        await self.store.open()
        await self._start_backend()
        self.registers = Registers(self)
        await self.registers.load()
        self.pairing = PairingManager(clock=self.clock, on_change=self._pairing_changed)
        self.advertiser: Advertiser | None = None
        attempts = AttemptRate()  # pairings and setup-page logins share one global rate
        self.limiter = FailureLimiter(rate=attempts)
        self.web_limiter = FailureLimiter(rate=attempts)
        self.console_limiter = FailureLimiter()  # the current password asked on the console
        self.hasher = PasswordHasher()
        self.web_sessions = WebSessions()
        self.exports = ExportJobs(self.state_dir / "exports")
        self.archive = ArchiveService(  # the fiscal archive and its nightly run
            root=self.state_dir / "archive", auditor=self.state_dir / "auditor",
            upstreams=lambda: self.upstreams, hour=lambda: self.config.archive_hour,
            clock=self.clock,
        )  # fmt: skip
        await self.archive.start()
        await self._serve()
        await self._announce()
        self.notifier.ready(self._status_text())
        self.notifier.start_watchdog()
        self._status_task = asyncio.create_task(self._status_loop(), name="tsed-status")
        _LOGGER.info(
            "tsed %s ready in %.2f s: %s mode, backend %s, listening on %s",
            __version__,
            time.monotonic() - began,
            self.mode,
            self.backend,
            self.options.listen,
            extra={"TSED_EVENT": "ready", "TSED_MODE": self.mode},
        )

    async def _start_backend(self) -> None:
        """Upstream (simulator or fiskaly), TSS per tenant and the signing service."""
        tenants = [t.id for t in self.config.tenant_list()]
        base_url, self.proxy = await self._backend(tenants)
        timeouts = Timeouts(transaction=10.0)  # foreground calls pass the register deadline

        def make_client(tenant: str, creds: Credentials, on_auth: Any) -> FiskalyClient:
            return FiskalyClient(
                api_key=creds.api_key,
                api_secret=creds.api_secret,
                base_url=base_url,
                proxy=self.proxy,
                timeouts=timeouts,
                on_auth=on_auth,
                clock=self.clock,
            )

        self.upstreams = UpstreamRegistry(
            store=self.store,
            vault=self.vault,
            mode=self.mode,
            make_client=make_client,
            tenants=tenants,
            credential_names=("sim_key", "sim_secret")
            if self.backend == "simulator"
            else ("api_key", "api_secret"),
        )
        await self.upstreams.start()
        for tenant in tenants:
            try:
                await self.upstreams.ensure_tss(tenant)
            except Exception as err:
                _LOGGER.error(
                    "TSS set-up for tenant %s failed: %s",
                    tenant,
                    getattr(err, "message", err),
                    extra={"TSED_EVENT": "tss_setup_failed"},
                )
        self.signing = SigningService(
            store=self.store,
            upstreams=self.upstreams,
            mode=self.mode,
            backend=self.backend,
            deadline=lambda reg: effective(self.config, reg.serial).register_deadline,
            abandon_after=self.config.abandon_minutes * 60,
            max_open=lambda: self.config.max_open_per_register,
            clock=self.clock,
        )
        await self.signing.start()

    async def _stop_backend(self) -> None:
        if hasattr(self, "signing"):
            await self.signing.stop()
        if hasattr(self, "upstreams"):
            await self.upstreams.stop()
        if self._sim_server is not None:
            await self._sim_server.stop()
            self._sim_server = None
        if self._sim is not None:
            self._sim.close()
            self._sim = None

    async def reload_backend(self) -> None:
        """Credentials changed: rebuild the upstream side; registers keep their tokens and get
        clients on the new TSS."""
        previous = self.backend
        await self._stop_backend()
        if previous == "simulator":
            await self.store.archive_bindings(self.mode, time.time())
        await self._start_backend()
        for row in self.registers.rows.values():
            if row.revoked_at is None:
                try:
                    await self.upstreams.ensure_client(row.id, row.serial, row.tenant_id)
                except TsedError as err:
                    _LOGGER.error(
                        "register %s has no client on the new TSS: %s",
                        row.id,
                        err.message,
                        extra={"TSED_EVENT": "register_rebind_failed"},
                    )
        _LOGGER.info("backend is now %s", self.backend, extra={"TSED_EVENT": "backend_reloaded"})
        self.refresh_status()

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.notifier.stopping()
        if hasattr(self, "_status_task"):
            self._status_task.cancel()
        await self.notifier.stop_watchdog()
        if hasattr(self, "exports"):
            await self.exports.stop()
        if hasattr(self, "archive"):
            await self.archive.stop()
        if getattr(self, "advertiser", None) is not None:
            assert self.advertiser is not None
            await self.advertiser.stop()
        if hasattr(self, "listener"):
            await self.listener.stop()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        await self._stop_backend()
        if hasattr(self, "store"):
            await self.store.close()
        if hasattr(self, "hasher"):
            self.hasher.close()
        _LOGGER.info("tsed stopped", extra={"TSED_EVENT": "stopped"})

    # -- pieces -----------------------------------------------------------------------------

    def _mode(self) -> Mode:
        marker = self.state_dir / "mode"
        mode = marker.read_text().strip() if marker.exists() else "TEST"
        return "LIVE" if mode == "LIVE" else "TEST"

    async def _backend(self, tenants: list[str]) -> tuple[str, ProxySettings | None]:
        have = [t for t in tenants if self.vault.get(vault_key(t, self.mode, "api_key"))]
        if not have and self.mode == "TEST" and self.vault.get("backend") != "fiskaly":
            self.backend = "simulator"
            (self.state_dir / "simulator").mkdir(mode=0o700, exist_ok=True)
            self._sim = Simulator(state_dir=self.state_dir / "simulator")
            self._sim_server = SimulatorServer(self._sim)
            await self._sim_server.start()
            for tenant in tenants:
                key = self.vault.get(vault_key(tenant, "TEST", "sim_key"))
                secret = self.vault.get(vault_key(tenant, "TEST", "sim_secret"))
                creds = self._sim.add_api_key("TEST", key, secret)
                self.vault.update(
                    {
                        vault_key(tenant, "TEST", "sim_key"): creds.api_key,
                        vault_key(tenant, "TEST", "sim_secret"): creds.api_secret,
                    }
                )
            _LOGGER.info(
                "no fiskaly credentials: using the built-in simulator (TEST)",
                extra={"TSED_EVENT": "backend_simulator"},
            )
            return self._sim_server.base_url, None
        self.backend = "fiskaly"
        urls = fiskaly_urls(self.mode, self.environ)
        return urls.sign, proxy_settings(self.config, self.vault)

    async def apply_proxy(self) -> None:
        """The proxy was changed (page, tsectl, console): every fiskaly client goes through
        the new one from its next call on, without a restart or a reload of the backend."""
        if self.backend != "fiskaly":
            return  # the built-in simulator is reached directly
        self.proxy = proxy_settings(self.config, self.vault)
        await self.upstreams.set_proxy(self.proxy)
        _LOGGER.info(
            "fiskaly is now reached %s",
            f"through the proxy {self.proxy.display}" if self.proxy else "directly",
            extra={"TSED_EVENT": "proxy_applied"},
        )

    async def _serve(self) -> None:
        register_app = build_register_app(
            RegisterApiDeps(
                signing=SigningProxy(self),
                registers=self.registers,
                pairing=self.pairing,
                limiter=self.limiter,
                fingerprint=self.identity.fingerprint_sha256,
                simulator=SimulatorSwitches(self),
            )
        )
        ops = AdminOps(self)
        register_app.add_subapp("/setup", build_setup_app(ops, self.web_sessions, self.web_limiter))
        limits = ConnectionLimits.for_file_limit()
        sources = self.state_dir / REGISTER_SOURCES_FILE
        context = server_ssl_context(self.identity)
        self.certificate = CertificateFollower(
            self.identity, context, name=self.config.name, addresses=_local_addresses()
        )
        self.listener = GuardedListener(
            context,
            limits,
            known_sources=load_known_sources(sources),
            on_new_source=lambda known: save_known_sources(sources, known),
        )
        register_app.middlewares.append(self.listener.middleware(REGISTER_KEY))
        runner = web.AppRunner(
            register_app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self.config.register_deadline + 1,
            keepalive_timeout=limits.idle_timeout,
            lingering_time=limits.lingering_time,
        )
        await runner.setup()
        self._runners.append(runner)
        assert runner.server is not None
        listen = self.options.listen
        await self.listener.start(runner.server, listen.host, listen.port, backlog=512)
        admin = web.AppRunner(build_admin_app(ops), access_log=None, handle_signals=False)
        await admin.setup()
        self._runners.append(admin)
        socket_path = self.options.admin_socket
        socket_path.unlink(missing_ok=True)
        await web.UnixSite(admin, str(socket_path)).start()
        socket_path.chmod(0o660)

    async def _announce(self) -> None:
        """mDNS after the listener is bound (READY means: reachable and announced)."""
        setting = self.environ.get("TSED_MDNS", "on").strip()
        if setting.lower() == "off":
            _LOGGER.info("mDNS announcement is off (TSED_MDNS=off)")
            return
        # "on": every address; else addresses or interface names (case matters: eth0, vA)
        interfaces = (
            None if setting.lower() in ("on", "") else [a.strip() for a in setting.split(",")]
        )
        self.advertiser = Advertiser(
            self.config.name,
            self.identity.short_id,
            self.options.listen.port,
            mode=self.mode,
            pairing=False,
            fingerprint=self.identity.fingerprint_sha256,
            interfaces=interfaces,
        )
        await self.advertiser.start()

    def _pairing_changed(self, is_open: bool) -> None:
        if self.advertiser is not None:
            task = asyncio.get_running_loop().create_task(self.advertiser.update(pairing=is_open))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self.refresh_status()

    def _status_text(self) -> str:
        status = self.signing.status()
        since = status["tse"]["since"]
        return status_line(
            mode=self.mode,
            tse_available=status["tse"]["available"],
            failing_since=time.strftime("%H:%M:%S", time.localtime(since)) if since else None,
            reason=status["tse"]["reason"],
            registers=self.registers.active,
            open_transactions=status["open_transactions"],
        )

    def addresses(self) -> list[str]:
        """The unit's IP addresses (for the console, the page and tsectl status)."""
        return [a for a in _local_addresses() if a not in ("127.0.0.1",)]

    def upstream_url(self) -> str:
        """The fiskaly URL in use (read-only on the page: it follows the mode)."""
        if self.backend == "simulator" and self._sim_server is not None:
            return f"{self._sim_server.base_url} (built-in simulator)"
        try:
            return fiskaly_urls(self.mode, self.environ).sign
        except TsedError as err:
            return f"unavailable: {err.message}"

    def refresh_status(self) -> None:
        self.notifier.status(self._status_text())

    async def _status_loop(self) -> None:
        last = ""
        while True:
            await asyncio.sleep(2.0)
            try:
                await self.registers.flush_seen()
            except TsedError as err:
                _LOGGER.warning("recording last-seen times failed: %s", err.message)
            await self.certificate.check(_local_addresses())  # names follow address changes
            text = self._status_text()
            if text != last:
                self.notifier.status(text)
                last = text


def _local_addresses() -> list[str]:
    try:
        import ifaddr  # noqa: PLC0415 - a zeroconf dependency

        return [
            str(ip.ip)
            for adapter in ifaddr.get_adapters()
            for ip in adapter.ips
            if isinstance(ip.ip, str)
        ]
    except Exception:
        return []


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
