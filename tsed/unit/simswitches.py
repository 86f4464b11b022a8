"""The built-in simulator's fault switches, as the register API offers them."""

from __future__ import annotations

import logging
import re
from types import MappingProxyType
from typing import Any

from tsed.errors import ConflictError, InputError
from tsed.fiskaly.simulator import Simulator
from tsed.tss.views import SimulatorFaults
from tsed.unit.backend import Backend

_LOGGER = logging.getLogger(__name__)


# The switches a register may set, with their type and range (the schema FaultSettings).
FAULT_SETTINGS: dict[str, tuple[type, float, float]] = {
    "latency_ms": (float, 0, 60_000),
    "jitter_ms": (float, 0, 60_000),
    "error_rate": (float, 0, 1),
    "error_status": (int, 400, 599),
    "rate_limit_burst": (int, 0, 10_000),
    "retry_after": (int, 0, 3600),
    "drop_rate": (float, 0, 1),
    "hang_rate": (float, 0, 1),
    "hang_seconds": (float, 0, 3600),
    "down_for": (float, 0, 3600),
}


def _check_fault(name: str, value: Any) -> None:
    known = ", ".join([*FAULT_SETTINGS, "route", "error_code", "tss_locked"])
    if name in ("route", "error_code"):
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            raise InputError(f"{name}: text (at most 200 characters) or null expected")
        if name == "route" and value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise InputError(f"route: {value!r} is not a regular expression: {err}") from None
        return
    if name == "tss_locked":
        if not isinstance(value, bool):
            raise InputError("tss_locked: true or false expected")
        return
    if name not in FAULT_SETTINGS:
        raise InputError(f"unknown fault setting {name!r}", hint=f"Use {known}.")
    kind, low, high = FAULT_SETTINGS[name]
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or (kind is int and not float(value).is_integer()) or not low <= value <= high:
        raise InputError(f"{name}: a number from {low:g} to {high:g} expected, not {value!r}")


class SimulatorSwitches:
    """The built-in simulator's fault switches, for register developers (register API).

    Only while the unit signs with the built-in simulator (TEST, no fiskaly credentials);
    with fiskaly there is nothing to switch and the call says so.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def _faults(self) -> Simulator:
        sim = self._backend.sim  # there is one only while the unit signs with it
        if sim is None:
            raise ConflictError(
                "fault switches exist only on the built-in simulator; this unit signs with fiskaly",
                hint="Use a unit without fiskaly credentials (GET /api/v1/status shows "
                "backend simulator) to test TSE failures.",
            )
        return sim

    @property
    def available(self) -> bool:
        return self._backend.sim is not None

    def faults(self) -> SimulatorFaults:
        return SimulatorFaults(MappingProxyType(dict(self._faults().faults.to_json())))

    def set_faults(self, changes: dict[str, Any]) -> SimulatorFaults:
        sim = self._faults()
        for name, value in changes.items():  # all or nothing: checked before any change
            _check_fault(name, value)
        sim.faults.update(changes)
        _LOGGER.warning(
            "simulator faults set by a register: %s",
            sim.faults.to_json(),
            extra={"TSED_EVENT": "sim_faults_changed"},
        )
        return self.faults()

    def reset_faults(self) -> SimulatorFaults:
        sim = self._faults()
        sim.faults.reset()
        sim.fault_engine.release_hangs()
        return self.faults()
