"""The unit-level views of the admin API (what tsectl status and the setup page show).

The admin API (:mod:`tsed.net.admin`) sits below the unit and knows these only as answers
with a wire form (:class:`tsed.net.wire.JsonView`); the domain views live with their domains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tsed.net.wire import to_wire
from tsed.signing.status import SigningStatus
from tsed.unit.telemetry import TelemetryStatus
from tsed.unit.update_ops import UpdateStatus


@dataclass(frozen=True, slots=True)
class DeviceView:
    id: str
    short_id: str
    fingerprint: str  # SHA-256 of the served TLS certificate, A8:C8:… (what browsers show)
    key_sha256: str = ""  # SHA-256 of the public key, lower-case hex: what registers pin


@dataclass(frozen=True, slots=True)
class PairingState:
    open: bool
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class TssSummary:
    tss_id: str
    state: str
    env: str


@dataclass(frozen=True, slots=True)
class UnitStatus:
    """``GET /admin/v1/status``: the signing service's status and the unit around it."""

    signing: SigningStatus
    version: str
    listen: str
    registers: int
    device: DeviceView
    pairing: PairingState
    addresses: tuple[str, ...]
    password_set: bool
    tss: Mapping[str, TssSummary]  # per tenant
    telemetry: TelemetryStatus
    update: UpdateStatus | None = None  # versions, slots, the last update (tsectl update)

    def to_json(self) -> dict[str, Any]:
        device, pairing = self.device, self.pairing
        return {
            **self.signing.to_json(),
            "version": self.version,
            "listen": self.listen,
            "registers": self.registers,
            "device": {"id": device.id, "short_id": device.short_id,
                       "fingerprint": device.fingerprint, "key_sha256": device.key_sha256},
            "pairing": {"open": pairing.open, "expires_at": pairing.expires_at},
            "addresses": list(self.addresses),
            "password_set": self.password_set,
            "tss": {tenant: {"tss_id": t.tss_id, "state": t.state, "env": t.env}
                    for tenant, t in self.tss.items()},
            "telemetry": self.telemetry.to_json(),
            "update": to_wire(self.update),
        }  # fmt: skip
