"""The unit's TSS as the APIs show them: the binding, fiskaly's live figures, and the built-in
simulator's fault switches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TssCounters:
    """What fiskaly said of a TSS just now."""

    state: str
    signature_counter: int | None
    transaction_counter: int | None
    registered_clients: int | None
    active_transactions: int | None


@dataclass(frozen=True, slots=True)
class TssEntry:
    """One tenant's TSS: the stored binding, with fiskaly's figures or why they are missing."""

    tss_id: str
    env: str
    state: str  # the stored state; ``live.state`` when fiskaly answered
    serial: str | None
    live: TssCounters | None = None
    error: str | None = None  # fiskaly did not answer: its message

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "tss_id": self.tss_id,
            "env": self.env,
            "state": self.live.state if self.live else self.state,
            "serial": self.serial,
        }
        if self.live is not None:
            entry["signature_counter"] = self.live.signature_counter
            entry["transaction_counter"] = self.live.transaction_counter
            entry["registered_clients"] = self.live.registered_clients
            entry["active_transactions"] = self.live.active_transactions
        if self.error is not None:
            entry["error"] = self.error
        return entry


@dataclass(frozen=True, slots=True)
class TssStatus:
    """``GET /admin/v1/tss``: every tenant's TSS in the unit's mode."""

    mode: str
    backend: str
    tss: Mapping[str, TssEntry]  # per tenant

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "backend": self.backend,
            "tss": {tenant: entry.to_json() for tenant, entry in self.tss.items()},
        }


@dataclass(frozen=True, slots=True)
class SimulatorFaults:
    """The built-in simulator's fault switches as they are now (a copy: later changes do not
    show in it); the keys are the simulator's setting names."""

    settings: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(self.settings)
