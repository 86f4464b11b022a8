"""The switch to LIVE mode: new TSS, re-bound registers, the other mode's bindings archived.

:func:`switch_mode` (only the vendor's LIVE activation allows LIVE): for every tenant a new TSS
of the target mode is set up and initialized (:meth:`UpstreamRegistry.ensure_tss`), every
paired register gets a new fiskaly client on it (kept on a second run;
:func:`tsed.provisioning.bindings.rebind_all`), then the bindings of the other mode are
archived (never reused) and the mode is written. Every step is resumable: running it again
after an interruption finishes the job. TEST and LIVE never mix; a LIVE unit never goes back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tsed.errors import InputError, ModeError
from tsed.provisioning.activation import ActivationDowngrade, load_activation
from tsed.provisioning.bindings import RegisterBinding, rebind_all
from tsed.state.mode import Mode, read_mode, write_mode
from tsed.state.store import Store
from tsed.tss.registry import UpstreamRegistry

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TssBinding:
    tenant_id: str
    tss_id: str
    serial: str | None
    state: str

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "tss_id": self.tss_id,
            "serial": self.serial,
            "state": self.state,
        }


@dataclass(frozen=True, slots=True)
class ModeSwitchResult:
    previous_mode: str
    mode: str
    tss: tuple[TssBinding, ...]
    registers: tuple[RegisterBinding, ...]
    archived_bindings: int

    @property
    def ok(self) -> bool:
        return all(r.error is None for r in self.registers)

    def to_json(self) -> dict[str, Any]:
        return {
            "previous_mode": self.previous_mode,
            "mode": self.mode,
            "ok": self.ok,
            "tss": [t.to_json() for t in self.tss],
            "registers": [r.to_json() for r in self.registers],
            "archived_bindings": self.archived_bindings,
        }


async def switch_mode(
    *,
    target: Mode,
    state_dir: Path,
    store: Store,
    registry: UpstreamRegistry,
    clock: Callable[[], float] = time.time,
) -> ModeSwitchResult:
    """Switch the unit to ``target`` with new TSS and re-bound registers (see module doc).

    ``registry`` must be a started :class:`UpstreamRegistry` in the target mode, with the
    target mode's credentials in the vault (LIVE: "Anlegen" after the LIVE activation).
    """
    if registry.mode != target:
        raise InputError(f"the upstream registry is in {registry.mode} mode, not {target}")
    previous = read_mode(state_dir)
    if previous == "LIVE" and target == "TEST":
        raise ActivationDowngrade("the unit is LIVE; it never goes back to TEST")
    if target == "LIVE":
        activation = load_activation(state_dir)
        if activation is None or activation.environment != "LIVE":
            raise ModeError(
                "only the vendor can switch the unit to LIVE: no LIVE activation was accepted",
                hint="The vendor signs a LIVE activation document for this unit; import it "
                "with tsectl activate FILE.",
            )
    missing = [t for t in registry.tenants if registry.credentials(t) is None]
    if missing:
        raise ModeError(
            f"no fiskaly {target} credentials for tenant(s) {', '.join(missing)}",
            hint="Create them first: 'Anlegen' (needs the vendor's activation), or own "
            "TEST credentials with tsectl credentials set.",
        )
    _LOGGER.warning(
        "switching from %s to %s mode: new TSS, registers re-bound", previous, target,
        extra={"TSED_EVENT": "mode_switch_started", "TSED_MODE": target},
    )  # fmt: skip
    tss = []
    for tenant in registry.tenants:
        binding = await registry.ensure_tss(tenant)
        tss.append(TssBinding(tenant, binding.tss_id, binding.serial, binding.state))
    rows = [r for r in await store.list_registers() if r.revoked_at is None]
    registers = await rebind_all(store, registry, rows, clock, force=False)
    archived = 0
    for env in ("TEST", "LIVE"):
        if env != target:
            archived += await store.archive_bindings(env, clock())
    if previous != target:
        write_mode(state_dir, target)
    await store.audit(
        "vendor", "mode_switched",
        {"from": previous, "to": target, "tss": [t.tss_id for t in tss], "archived": archived},
    )  # fmt: skip
    _LOGGER.warning(
        "unit is in %s mode: %d TSS, %d register(s) re-bound, %d binding(s) archived",
        target, len(tss), sum(1 for r in registers if r.error is None), archived,
        extra={"TSED_EVENT": "mode_switched", "TSED_MODE": target},
    )  # fmt: skip
    return ModeSwitchResult(previous, target, tuple(tss), registers, archived)
