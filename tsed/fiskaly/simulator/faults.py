"""Fault injection (simulator only): latency, errors, 429 bursts, drops, hangs, outages.

Settings live in a mutable :class:`FaultConfig` that tests change directly or through
``POST /_sim/faults`` (merge), ``DELETE /_sim/faults`` (reset). ``GET /_sim/stats`` counts
requests per route. Every injected fault is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class FaultConfig:
    """What to inject. All rates are probabilities from 0 to 1."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    route: str | None = None  # regex on "METHOD /path"; None = every API route
    error_rate: float = 0.0
    error_status: int = 500
    error_code: str | None = "E_INTERNAL"
    error_burst: int = 0  # the next N matching requests answer error_status / error_code
    rate_limit_burst: int = 0  # the next N matching requests answer 429
    retry_after: int = 1
    drop_rate: float = 0.0  # close the connection without an answer
    hang_rate: float = 0.0  # never answer (until the client gives up)
    hang_seconds: float = 3600.0
    down_until: float = 0.0  # time.time() until which every connection is dropped
    tss_locked: bool = False
    pending_tx: int = 0  # the next N transaction answers are pending (not signed yet)
    access_denied_message: str | None = None  # other wording of the TEST/LIVE 403
    _route_re: re.Pattern[str] | None = field(default=None, repr=False)

    def matches(self, key: str) -> bool:
        if self.route is None:
            return True
        if self._route_re is None or self._route_re.pattern != self.route:
            self._route_re = re.compile(self.route)
        return bool(self._route_re.search(key))

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(self) if not f.name.startswith("_")}
        unknown = set(changes) - known - {"down_for"}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            if name == "down_for":
                self.down_until = time.time() + float(value)
                continue
            current = getattr(self, name)
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, int) and not isinstance(current, bool):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            elif name in ("error_code", "access_denied_message", "route") and value is not None:
                value = str(value)
            setattr(self, name, value)
        if self.route is not None:
            re.compile(self.route)

    def reset(self) -> None:
        defaults = FaultConfig()
        for f in fields(self):
            setattr(self, f.name, getattr(defaults, f.name))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_route_re", None)
        return data


class FaultAction:
    """What the middleware should do with one request."""

    NONE = "none"
    DROP = "drop"
    HANG = "hang"
    ERROR = "error"
    RATE_LIMIT = "rate_limit"


@dataclass(slots=True)
class FaultEngine:
    config: FaultConfig = field(default_factory=FaultConfig)
    stats: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    _release: asyncio.Event | None = None

    async def hang(self) -> None:
        """Wait for the configured hang time, or until the server stops."""
        if self._release is None:
            self._release = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), self.config.hang_seconds)

    def release_hangs(self) -> None:
        """Let every hanging request go (the server is stopping)."""
        if self._release is not None:
            self._release.set()
            self._release = None

    async def before(self, key: str) -> str:
        """Apply latency and pick the fault for this request (``FaultAction``)."""
        cfg = self.config
        if cfg.down_until and time.time() < cfg.down_until:
            return self._note(FaultAction.DROP, key, "outage")
        if not cfg.matches(key):
            return FaultAction.NONE
        delay = cfg.latency_ms + (random.random() * cfg.jitter_ms if cfg.jitter_ms else 0.0)  # noqa: S311
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        if cfg.rate_limit_burst > 0:
            cfg.rate_limit_burst -= 1
            return self._note(FaultAction.RATE_LIMIT, key)
        if cfg.error_burst > 0:
            cfg.error_burst -= 1
            return self._note(FaultAction.ERROR, key, "burst")
        if cfg.drop_rate and random.random() < cfg.drop_rate:  # noqa: S311
            return self._note(FaultAction.DROP, key)
        if cfg.hang_rate and random.random() < cfg.hang_rate:  # noqa: S311
            return self._note(FaultAction.HANG, key)
        if cfg.error_rate and random.random() < cfg.error_rate:  # noqa: S311
            return self._note(FaultAction.ERROR, key)
        return FaultAction.NONE

    def _note(self, action: str, key: str, why: str = "") -> str:
        self.injected[action] += 1
        _LOGGER.info(
            "simulator: injected %s on %s %s",
            action,
            key,
            why,
            extra={"TSED_EVENT": "sim_fault", "TSED_FAULT": action},
        )
        return action
