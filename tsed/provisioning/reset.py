"""The register reset: re-initializing one register, or all, on the tenant's current TSS.

:func:`reset` gives the register a new fiskaly client id on its tenant's current TSS, the old
client deregistered best effort (:func:`tsed.provisioning.bindings.rebind_all`). It is the
remedy for fiskaly's 403 "You may not access this TSS" (a register initialized against a TEST
TSS, used with LIVE credentials) and for registers whose client was lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tsed.errors import InputError, NotFoundError
from tsed.provisioning.bindings import RegisterBinding, rebind_all
from tsed.state.store import Store
from tsed.tss.registry import UpstreamRegistry


@dataclass(frozen=True, slots=True)
class ResetResult:
    registers: tuple[RegisterBinding, ...]

    @property
    def ok(self) -> bool:
        return all(r.error is None for r in self.registers)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "registers": [r.to_json() for r in self.registers]}


async def reset(
    *,
    store: Store,
    registry: UpstreamRegistry,
    register_id: str | None = None,
    all: bool = False,
    clock: Callable[[], float] = time.time,
) -> ResetResult:
    """Re-initialize one register (``register_id``) or every paired register (``all=True``)."""
    if (register_id is None) == (not all):
        raise InputError(
            "name one register to reset, or all of them (not both)",
            hint="tsectl reset --register ID, or tsectl reset --all",
        )
    rows = [r for r in await store.list_registers() if r.revoked_at is None]
    if register_id is not None:
        rows = [r for r in rows if r.id == register_id]
        if not rows:
            raise NotFoundError(
                f"register {register_id} does not exist or was revoked",
                hint="List the registers with: tsectl registers",
            )
    result = ResetResult(await rebind_all(store, registry, rows, clock, force=True))
    await store.audit(
        "installer", "registers_reset",
        {"registers": [r.register_id for r in result.registers], "ok": result.ok},
    )  # fmt: skip
    return result
