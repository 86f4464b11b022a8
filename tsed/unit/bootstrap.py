"""The composition root: build every part of the running unit, in order, each from its own folder.

:func:`start_unit` runs the steps below; each registers how to undo itself on :class:`Steps`,
whose :meth:`~Steps.close` undoes them in exactly the reverse order (also when a later step of
the start fails)::

    state      state directory, configuration, logging (with secret redaction), vault, mode
    identity   device identity (P-256 key and self-signed certificate)
    store      the SQLite store                                   ↩ closed
    backend    simulator or fiskaly, TSS per tenant, signing      ↩ stopped (tsed.unit.backend)
    registers  the paired registers
    access     pairing window, lockouts, password hasher, setup page sessions, the mDNS
               advertiser (announcing from the mdns step on)      ↩ hasher closed
    exports    TAR export jobs                                    ↩ stopped
    archive    the fiscal archive and the nightly housekeeping   ↩ stopped
    servers    register API and setup page on TLS, admin API on the Unix socket, the nightly
               unit backup's schedule                              ↩ closed
    mdns       the mDNS announcement (unless TSED_MDNS=off)        ↩ withdrawn
    ready      READY=1 to systemd, watchdog                       ↩ STOPPING=1
    status     the STATUS line, last-seen times, certificate names  ↩ cancelled

Every part gets what it uses and nothing more: the backend its store, vault and the unit's
:class:`~tsed.unit.settings.Settings`; the registers the store and the backend; the admin and
set-up operations an :class:`~tsed.unit.context.OpsContext`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

from aiohttp import web

from tsed import __version__
from tsed.archive.offboxsync import OffboxSync
from tsed.archive.service import ArchiveService
from tsed.config.model import load_config
from tsed.errors import TsedError
from tsed.filing.service import FilingService
from tsed.filing.store import FilingStore
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
    ConnectionLimits,
    GuardedListener,
    load_known_sources,
    save_known_sources,
)
from tsed.net.lockout import AttemptRate, FailureLimiter
from tsed.net.mdns import Advertiser
from tsed.net.passwords import PasswordHasher
from tsed.net.setupcode import SetupCode
from tsed.net.web import build_setup_app
from tsed.net.websession import WebSessions
from tsed.state.mode import read_mode
from tsed.state.paths import StatePaths
from tsed.state.restoreswap import finish_interrupted_swap, log_finished
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.systemd import JournalHandler, Notifier, journal_available, status_line
from tsed.tss.exportjobs import ExportJobs
from tsed.unit.admin_ops import AdminOps
from tsed.unit.backend import Backend
from tsed.unit.backup_ops import BackupSchedule
from tsed.unit.context import OpsContext
from tsed.unit.filing_ops import FilingUnit
from tsed.unit.fleetmetrics import FleetSources
from tsed.unit.housekeeping import Housekeeping
from tsed.unit.options import DaemonOptions
from tsed.unit.registers import Registers
from tsed.unit.settings import Settings
from tsed.unit.setup_ops import PASSWORD_KEY, SetupOps
from tsed.unit.signing_ops import SigningProxy
from tsed.unit.simswitches import SimulatorSwitches
from tsed.unit.telemetry import TelemetryPusher

_LOGGER = logging.getLogger(__name__)

STATUS_INTERVAL = 2.0  # seconds between STATUS lines (and last-seen writes)


class Steps:
    """The start as far as it went: each step's clean-ups, undone in reverse by :meth:`close`."""

    def __init__(self) -> None:
        self._stack = AsyncExitStack()
        self.started: list[str] = []

    def begin(self, name: str) -> AsyncExitStack:
        """Step ``name`` begins: what it starts registers its clean-up on the stack returned."""
        _LOGGER.debug("starting %s", name, extra={"TSED_EVENT": "step_start", "TSED_STEP": name})
        step = AsyncExitStack()
        self._stack.push_async_callback(self._undo, name, step)
        self.started.append(name)
        return step

    async def _undo(self, name: str, step: AsyncExitStack) -> None:
        try:
            await step.aclose()
        finally:
            _LOGGER.debug("stopped %s", name, extra={"TSED_EVENT": "step_stop", "TSED_STEP": name})

    async def close(self) -> None:
        """Undo every step begun, the last first; a failing clean-up does not stop the others
        (its error is raised once all ran). A second close does nothing."""
        await self._stack.aclose()


@dataclass(frozen=True, slots=True)
class Running:
    """What exists only while the unit runs: built by :func:`start_unit`, undone by ``steps``."""

    steps: Steps
    ops: OpsContext  # most parts: store, vault, identity, backend, registers, pairing, ...
    limiter: FailureLimiter  # pairing attempts on the register API
    certificate: CertificateFollower
    register_app: web.Application

    def status_text(self) -> str:
        return status_text(self.ops.settings.mode, self.ops.tse, self.ops.registers)


def status_text(mode: str, backend: Backend, registers: Registers) -> str:
    """The STATUS line a technician reads in ``systemctl status tsed``."""
    if not backend.running:
        return status_line(
            mode=mode, tse_available=False, failing_since="the last reload",
            reason="the backend did not start again", registers=registers.active,
            open_transactions=0,
        )  # fmt: skip
    status = backend.signing.status()
    since = status["tse"]["since"]
    return status_line(
        mode=mode,
        tse_available=status["tse"]["available"],
        failing_since=time.strftime("%H:%M:%S", time.localtime(since)) if since else None,
        reason=status["tse"]["reason"],
        registers=registers.active,
        open_transactions=status["open_transactions"],
    )


def local_addresses() -> list[str]:
    """Every IP address of the unit (loopback included); none if they cannot be read."""
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


def unit_addresses() -> list[str]:
    """The unit's IP addresses (for the console, the page and tsectl status)."""
    return [a for a in local_addresses() if a not in ("127.0.0.1",)]


async def start_unit(
    options: DaemonOptions,
    *,
    environ: Mapping[str, str],
    clock: Callable[[], float],
    settings: Settings,
    notifier: Notifier,
    steps: Steps,
    on_status: Callable[[], None],
) -> Running:
    """Start the unit in order; on a failure the caller closes ``steps`` (undoes the rest).

    ``settings`` are filled from the configuration and the mode marker; ``on_status`` is
    called when the status line should be sent again (a register paired or revoked, the
    pairing window opened or closed, a reload of the backend)."""
    began = time.monotonic()
    state_dir = options.state_dir
    paths = StatePaths(state_dir)

    steps.begin("state")
    limit_tls_buffers()
    hide_server_banner()
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    restored = finish_interrupted_swap(paths)  # before anything reads the state or config
    settings.config = load_config(options.config_path)
    handlers: list[logging.Handler] | None = [JournalHandler()] if journal_available() else None
    setup_logging(
        level=options.log_level, extended=settings.config.extended_logging, handlers=handlers
    )
    log_finished(restored)
    vault = Vault(paths.vault)
    settings.mode = read_mode(state_dir)

    steps.begin("identity")
    identity = load_or_create_identity(
        state_dir, name=settings.config.name, addresses=local_addresses()
    )
    cert_sha256 = identity.certificate_sha256
    _LOGGER.info(
        "device %s, certificate fingerprint (SHA-256) %s, key hash (registers pin) %s",
        identity.device_id,
        cert_sha256,
        identity.fingerprint_sha256,
        extra={"TSED_EVENT": "identity", "TSED_CERT_SHA256": cert_sha256},
    )

    step = steps.begin("store")
    store = Store(paths.store)
    await store.open()
    step.push_async_callback(store.close)

    step = steps.begin("backend")
    backend = Backend(
        settings=settings, store=store, vault=vault, state_dir=state_dir, environ=environ,
        clock=clock,
    )  # fmt: skip
    await backend.start()
    step.push_async_callback(backend.stop)

    step = steps.begin("filing")  # the notification duty (§ 146a Abs. 4 AO)
    filing_store = FilingStore(paths.filing)
    await filing_store.open()
    step.push_async_callback(filing_store.close)

    def check_tenant(tenant_id: str) -> object:  # the configuration in effect at each call
        return settings.config.tenant(tenant_id)

    filing = FilingUnit(FilingService(filing_store), backend, store, check_tenant)
    await filing.sync()
    filing.start_resume()  # a submission a restart cut is followed to its end
    step.push_async_callback(filing.close)
    reminders = asyncio.get_running_loop().create_task(filing.run_reminders())

    async def stop_reminders() -> None:  # pending filings in the journal, at start and daily
        reminders.cancel()
        await asyncio.gather(reminders, return_exceptions=True)

    step.push_async_callback(stop_reminders)

    steps.begin("registers")
    registers = Registers(
        store=store, settings=settings, backend=backend, on_change=on_status,
        on_enrolled=filing.enrolled, on_revoked=filing.revoked,
    )  # fmt: skip
    await registers.load()

    step = steps.begin("access")
    advertiser = _advertiser(options, environ, settings, identity)
    background: set[asyncio.Task[None]] = set()

    def pairing_changed(is_open: bool) -> None:
        if advertiser is not None:
            task = asyncio.get_running_loop().create_task(advertiser.update(pairing=is_open))
            background.add(task)
            task.add_done_callback(background.discard)
        on_status()

    pairing = PairingManager(clock=clock, on_change=pairing_changed)
    attempts = AttemptRate()  # pairings and setup-page logins share one global rate
    limiter = FailureLimiter(rate=attempts)
    web_limiter = FailureLimiter(rate=attempts)
    console_limiter = FailureLimiter()  # the current password asked on the console
    hasher = PasswordHasher()
    step.callback(hasher.close)
    web_sessions = WebSessions()
    setup_code = SetupCode(paths.setup_code, paths.setup_label)  # the first password
    if vault.get(PASSWORD_KEY) is None:
        setup_code.renew()
    else:
        setup_code.discard()

    step = steps.begin("exports")
    exports = ExportJobs(paths.exports)
    step.push_async_callback(exports.stop)

    step = steps.begin("archive")
    offbox = OffboxSync(  # the archive's copy off the box, after every good run
        source=paths.archive, state_dir=options.state_dir, config=lambda: settings.config,
        vault=vault, clock=clock,
    )  # fmt: skip
    archive = ArchiveService(  # the fiscal archive and its nightly run
        root=paths.archive, auditor=paths.auditor, upstreams=lambda: backend.upstreams,
        hour=lambda: settings.config.archive_hour, clock=clock, offbox=offbox,
    )  # fmt: skip
    await archive.start()
    step.push_async_callback(archive.stop)
    housekeeping = Housekeeping(  # the nightly routine: takes the archive's nightly slot
        backend=backend, archive=archive, store=store, vault=vault, settings=settings,
        environ=environ, paths=paths, clock=clock,
    )  # fmt: skip
    housekeeping.on_certification_event(filing.certification_event)  # a reportable event
    await housekeeping.start()
    step.push_async_callback(housekeeping.stop)

    step = steps.begin("telemetry")
    telemetry = TelemetryPusher.for_unit(
        config=lambda: settings.config, vault=vault, clock=clock,
        sources=FleetSources(lambda: backend.signing, lambda: backend.upstreams, store,
                             options.state_dir, identity),
    )  # fmt: skip
    step.push_async_callback(telemetry.stop)

    step = steps.begin("servers")
    limits = ConnectionLimits.for_file_limit()
    sources = paths.register_sources
    context = server_ssl_context(identity)
    certificate = CertificateFollower(
        identity, context, name=settings.config.name, addresses=local_addresses()
    )
    listener = GuardedListener(
        context,
        limits,
        known_sources=load_known_sources(sources),
        on_new_source=lambda known: save_known_sources(sources, known),
    )

    async def reload_backend() -> None:
        await backend.reload(list(registers.rows.values()))
        on_status()

    ops = OpsContext(
        options=options, environ=environ, settings=settings, vault=vault, store=store,
        identity=identity, tse=backend, registers=registers, pairing=pairing, hasher=hasher,
        web_sessions=web_sessions, web_limiter=web_limiter, console_limiter=console_limiter,
        setup_code=setup_code,
        listener=listener, exports=exports, archive=archive, housekeeping=housekeeping,
        telemetry=telemetry,
        advertiser=advertiser, filing=filing,
        addresses=unit_addresses,
        refresh_status=on_status, reload_backend=reload_backend,
    )  # fmt: skip
    admin = AdminOps(ops, SetupOps(ops))
    backups = BackupSchedule(admin.backup.nightly, lambda: (settings.config.archive_hour + 1) % 24)
    backups.start()  # the nightly unit backup, an hour after the archive's run
    step.push_async_callback(backups.stop)
    register_app = build_register_app(
        RegisterApiDeps(
            signing=SigningProxy(lambda: backend.signing),
            registers=registers,
            pairing=pairing,
            limiter=limiter,
            fingerprint=identity.fingerprint_sha256,
            simulator=SimulatorSwitches(backend),
            dsfinvk=admin.dsfinvk,
        )
    )
    register_app.add_subapp("/setup", build_setup_app(admin, web_sessions, web_limiter))
    register_app.middlewares.append(listener.middleware(REGISTER_KEY))
    await _serve(step, options, settings, register_app, listener, limits, admin)

    step = steps.begin("mdns")
    if advertiser is not None:
        await advertiser.start()
        step.push_async_callback(advertiser.stop)
        step.push_async_callback(_cancel_all, background)  # pending pairing-flag updates

    running = Running(steps, ops, limiter, certificate, register_app)
    step = steps.begin("ready")
    notifier.ready(running.status_text())
    step.push_async_callback(_stopping, notifier)
    notifier.start_watchdog()

    step = steps.begin("status")
    task = asyncio.create_task(_status_loop(running, notifier), name="tsed-status")
    step.push_async_callback(_cancel, task)
    await admin.decommission.start()  # an unfinished decommissioning goes on
    step.push_async_callback(admin.decommission.stop)
    telemetry.start()  # its stop is the telemetry step's
    _LOGGER.info(
        "tsed %s ready in %.2f s: %s mode, backend %s, listening on %s",
        __version__,
        time.monotonic() - began,
        settings.mode,
        backend.kind,
        options.listen,
        extra={"TSED_EVENT": "ready", "TSED_MODE": settings.mode},
    )
    return running


async def _serve(
    step: AsyncExitStack,
    options: DaemonOptions,
    settings: Settings,
    register_app: web.Application,
    listener: GuardedListener,
    limits: ConnectionLimits,
    admin: AdminOps,
) -> None:
    """The register API on the guarded TLS listener, then the admin API on the Unix socket."""
    runner = web.AppRunner(
        register_app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=settings.config.register_deadline + 1,
        keepalive_timeout=limits.idle_timeout,
        lingering_time=limits.lingering_time,
    )
    await runner.setup()
    step.push_async_callback(runner.cleanup)
    assert runner.server is not None
    await listener.start(runner.server, options.listen.host, options.listen.port, backlog=512)
    step.push_async_callback(listener.stop)
    admin_runner = web.AppRunner(build_admin_app(admin), access_log=None, handle_signals=False)
    await admin_runner.setup()
    step.push_async_callback(admin_runner.cleanup)
    socket_path = options.admin_socket
    socket_path.unlink(missing_ok=True)
    await web.UnixSite(admin_runner, str(socket_path)).start()
    socket_path.chmod(0o660)


def _advertiser(
    options: DaemonOptions,
    environ: Mapping[str, str],
    settings: Settings,
    identity: DeviceIdentity,
) -> Advertiser | None:
    """The mDNS announcement, started once the listener is bound (READY means: reachable and
    announced); none with TSED_MDNS=off."""
    setting = environ.get("TSED_MDNS", "on").strip()
    if setting.lower() == "off":
        _LOGGER.info("mDNS announcement is off (TSED_MDNS=off)")
        return None
    # "on": every address; else addresses or interface names (case matters: eth0, vA)
    interfaces = None if setting.lower() in ("on", "") else [a.strip() for a in setting.split(",")]
    return Advertiser(
        settings.config.name,
        identity.short_id,
        options.listen.port,
        mode=settings.mode,
        pairing=False,
        fingerprint=identity.fingerprint_sha256,
        interfaces=interfaces,
    )


async def _stopping(notifier: Notifier) -> None:
    notifier.stopping()
    await notifier.stop_watchdog()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _cancel_all(tasks: set[asyncio.Task[None]]) -> None:
    for task in list(tasks):
        await _cancel(task)


async def _status_loop(running: Running, notifier: Notifier) -> None:
    last = ""
    while True:
        await asyncio.sleep(STATUS_INTERVAL)
        try:
            await running.ops.registers.flush_seen()
        except TsedError as err:
            _LOGGER.warning("recording last-seen times failed: %s", err.message)
        await running.certificate.check(local_addresses())  # names follow address changes
        text = running.status_text()
        if text != last:
            notifier.status(text)
            last = text
