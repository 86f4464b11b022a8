"""Serve a :class:`~tsed.fiskaly.simulator.Simulator` over real HTTP on loopback."""

from __future__ import annotations

import logging
import socket
import ssl

from aiohttp import web

from tsed.fiskaly.simulator.app import build_app
from tsed.fiskaly.simulator.core import Simulator

_LOGGER = logging.getLogger(__name__)


class SimulatorServer:
    """An aiohttp server for the simulator. ``stop()``/``start()`` keep port and state."""

    def __init__(
        self,
        simulator: Simulator,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.simulator = simulator
        self.host = host
        self.port = port
        self.ssl_context = ssl_context  # HTTPS, e.g. behind the real fiskaly host names
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = build_app(self.simulator.state, self.simulator.fault_engine, self.simulator.submit)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        sock.listen(512)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        site = web.SockSite(runner, sock, ssl_context=self.ssl_context)
        await site.start()
        self._runner = runner
        _LOGGER.info(
            "fiskaly simulator listening on %s", self.base_url,
            extra={"TSED_EVENT": "simulator_started"},
        )  # fmt: skip

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            self.simulator.fault_engine.release_hangs()
            await runner.cleanup()
            _LOGGER.info("fiskaly simulator stopped", extra={"TSED_EVENT": "simulator_stopped"})
