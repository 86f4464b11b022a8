"""What the open setup page polls to update itself: ``GET /setup/live``.

Short polling of one cheap route, not server-sent events: the page asks every few seconds and
gets the unit's status, the registers, the outage journal and the TSS counters in one answer.
Why polling: it needs no subscriber bookkeeping or heartbeat (nothing stays open, so there is
no limit of streams to hold and none to leak), it passes any proxy or captive portal between
the installer's phone and the unit, it recovers from a dropped Wi-Fi by itself, and a logout
ends it at the next poll (401). The cost is bounded: the status, registers and outages are
local (memory and SQLite); the TSS counters come from fiskaly (or the simulator) and are
fetched only when something changed (a receipt, a pairing, the TSE state), at most once per
:data:`TSS_INTERVAL` for all open pages together.

The route peeks at the session (:meth:`tsed.net.websession.WebSessions.peek`): polling alone
does not keep an unattended session alive, it ends after the idle time as before.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from tsed.net.auth import RegisterView
from tsed.net.wire import JsonView, to_wire
from tsed.signing.status import Outages
from tsed.tss.views import TssStatus

TSS_INTERVAL = 5.0  # seconds between two fiskaly reads of the counters, for all pages together
POLL_SECONDS = 3  # what the page is told to use


class LiveOperations(Protocol):
    async def status(self) -> JsonView: ...

    async def list_registers(self) -> tuple[RegisterView, ...]: ...

    async def outages(self) -> Outages: ...

    async def tss_status(self) -> TssStatus: ...


class LiveFeed:
    """One snapshot for every polling page; the TSS counters cached until something changes."""

    def __init__(
        self,
        ops: LiveOperations,
        *,
        tss_interval: float = TSS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ops = ops
        self._interval = tss_interval
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tss: Any = None
        self._key: str | None = None
        self._at = float("-inf")
        self.tss_reads = 0  # how often fiskaly was asked (the cost this module bounds)

    async def snapshot(self) -> dict[str, Any]:
        status = to_wire(await self._ops.status())
        registers = to_wire(await self._ops.list_registers())
        outages = to_wire(await self._ops.outages())
        key = json.dumps(
            [
                status.get("receipts_signed"),
                status.get("failures"),
                status.get("registers"),
                status.get("tse"),
                status.get("tss"),
                status.get("mode"),
                len(outages.get("outages", [])),
            ],
            sort_keys=True,
            default=str,
        )
        async with self._lock:  # one fiskaly read at a time, shared by every page
            due = self._clock() - self._at >= self._interval
            if self._tss is None or (key != self._key and due):
                self._tss = to_wire(await self._ops.tss_status())
                self._key, self._at = key, self._clock()
                self.tss_reads += 1
        return {
            "poll_seconds": POLL_SECONDS,
            "status": status,
            "registers": registers,
            "outages": outages["outages"],
            "tss": self._tss,
        }
