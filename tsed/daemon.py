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
import signal

from tsed.cli import DaemonOptions

_LOGGER = logging.getLogger(__name__)


async def run(options: DaemonOptions) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the process exit code."""
    from tsed.runtime import Daemon  # noqa: PLC0415 - heavy imports after option parsing

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
