"""Re-binding registers to TSS: the switch to LIVE and the register reset.

:func:`switch_mode` (only the vendor's LIVE activation allows LIVE): for every tenant a new TSS
of the target mode is set up and initialized (:meth:`UpstreamRegistry.ensure_tss`), every
paired register gets a new fiskaly client on it (kept on a second run), then the bindings of
the other mode are archived (never reused) and the mode is written. Every step is resumable:
running it again after an interruption finishes the job. TEST and LIVE never mix; a LIVE
unit never goes back.

:func:`reset` re-initializes one register (or all): a new fiskaly client id on the tenant's
current TSS, the old client deregistered best effort. It is the remedy for fiskaly's 403 "You
may not access this TSS" (a register initialized against a TEST TSS, used with LIVE
credentials) and for registers whose client was lost. fiskaly keeps a serial number unique per
TSS, so when the old client on the *same* TSS still holds the register's serial, that client is
registered again instead (noted in the result).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tsed.errors import InputError, ModeError, NotFoundError, TsedError
from tsed.fiskaly import errors as ferr
from tsed.fiskaly.client import FiskalyClient
from tsed.provisioning.activation import (
    ActivationDowngrade,
    Mode,
    load_activation,
    read_mode,
    write_mode,
)
from tsed.state.rows import ClientRow, RegisterRow
from tsed.state.store import Store
from tsed.tss.registry import UpstreamRegistry

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RegisterBinding:
    """A register's fiskaly client after re-binding, or why it failed."""

    register_id: str
    tenant_id: str
    tss_id: str | None
    client_id: str | None
    previous_client_ids: tuple[str, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "register_id": self.register_id,
            "tenant_id": self.tenant_id,
            "tss_id": self.tss_id,
            "client_id": self.client_id,
            "previous_client_ids": list(self.previous_client_ids),
            "ok": self.error is None,
            "error": self.error,
            "notes": list(self.notes),
        }


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
class ResetResult:
    registers: tuple[RegisterBinding, ...]

    @property
    def ok(self) -> bool:
        return all(r.error is None for r in self.registers)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "registers": [r.to_json() for r in self.registers]}


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


class _Admin:
    """Admin login → operations → logout (always) on one TSS."""

    def __init__(self, client: FiskalyClient, tss_id: str, pin: str) -> None:
        self.client, self.tss_id, self._pin = client, tss_id, pin

    async def __aenter__(self) -> FiskalyClient:
        await self.client.admin_login(self.tss_id, self._pin)
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(TsedError):
            await self.client.admin_logout(self.tss_id)


def _message(err: BaseException) -> str:
    return err.message if isinstance(err, TsedError) else f"{type(err).__name__}: {err}"


async def _rebind(
    store: Store, registry: UpstreamRegistry, row: RegisterRow, clock: Callable[[], float]
) -> RegisterBinding:
    """A new fiskaly client for the register on its tenant's current TSS."""
    binding = await registry.ensure_tss(row.tenant_id)
    tss_id = binding.tss_id
    mine = [c for c in await store.clients() if c.register_id == row.id]
    current = next((c for c in mine if c.tss_id == tss_id), None)
    notes: list[str] = []
    client, pin = await registry.admin(row.tenant_id, tss_id)
    new_id = str(uuid.uuid4())
    async with _Admin(client, tss_id, pin) as admin:
        if current is not None and current.state == "REGISTERED":
            try:
                await admin.set_client_state(tss_id, current.client_id, "DEREGISTERED")
            except TsedError as err:
                notes.append(f"old client {current.client_id} not deregistered: {_message(err)}")
        try:
            created = await admin.create_client(
                tss_id, new_id, row.serial, {"tsed_register": row.id}
            )
            client_id = created.id
        except ferr.FiskalyRejected as err:
            if current is None or err.fiskaly_code != "E_ILLEGAL_CLIENT_SERIAL":
                raise
            await admin.set_client_state(tss_id, current.client_id, "REGISTERED")
            client_id = current.client_id
            notes.append(
                f"the serial {row.serial!r} stays with client {client_id} on TSS {tss_id} "
                "(fiskaly keeps serials unique per TSS); it was registered again"
            )
    await store.save_client(
        ClientRow(row.id, tss_id, registry.mode, client_id, row.serial, "REGISTERED", clock())
    )
    for old in mine:
        if old.tss_id == tss_id or old.state != "REGISTERED":
            continue
        if old.env != registry.mode:
            notes.append(
                f"client {old.client_id} on the {old.env} TSS {old.tss_id} is left as it is "
                "(TEST and LIVE never mix)"
            )
            continue
        try:
            old_client, old_pin = await registry.admin(row.tenant_id, old.tss_id)
            async with _Admin(old_client, old.tss_id, old_pin) as admin:
                await admin.set_client_state(old.tss_id, old.client_id, "DEREGISTERED")
        except TsedError as err:
            notes.append(f"old client {old.client_id} not deregistered: {_message(err)}")
        else:
            await store.save_client(ClientRow(
                old.register_id, old.tss_id, old.env, old.client_id, old.serial,
                "DEREGISTERED", old.created_at,
            ))  # fmt: skip
    _LOGGER.info(
        "register %s re-bound to client %s on TSS %s", row.id, client_id, tss_id,
        extra={"TSED_EVENT": "register_reset", "TSED_REGISTER": row.id, "TSED_TSS": tss_id,
               "TSED_MODE": registry.mode},
    )  # fmt: skip
    return RegisterBinding(
        row.id, row.tenant_id, tss_id, client_id,
        tuple(c.client_id for c in mine if c.client_id != client_id), None, tuple(notes),
    )  # fmt: skip


async def _bind(
    store: Store, registry: UpstreamRegistry, row: RegisterRow, clock: Callable[[], float]
) -> RegisterBinding:
    """The register's client on its tenant's current TSS (kept when it is there already)."""
    del store, clock
    binding = await registry.ensure_tss(row.tenant_id)
    before = registry.register_client(row.id, binding.tss_id)
    client = await registry.ensure_client(row.id, row.serial, row.tenant_id)
    notes = (
        ("already bound",) if before is not None and before.client_id == client.client_id else ()
    )
    return RegisterBinding(row.id, row.tenant_id, client.tss_id, client.client_id, (), None, notes)


async def _rebind_all(
    store: Store,
    registry: UpstreamRegistry,
    rows: list[RegisterRow],
    clock: Callable[[], float],
    *,
    force: bool,
) -> tuple[RegisterBinding, ...]:
    results = []
    step = _rebind if force else _bind
    for row in rows:
        try:
            results.append(await step(store, registry, row, clock))
        except TsedError as err:
            _LOGGER.warning(
                "register %s could not be re-bound: %s", row.id, err.message,
                extra={"TSED_EVENT": "register_reset_failed", "TSED_REGISTER": row.id},
            )  # fmt: skip
            results.append(RegisterBinding(row.id, row.tenant_id, None, None, (), err.message))
    await registry.start()  # reload the registry's view of the stored client bindings
    return tuple(results)


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
    result = ResetResult(await _rebind_all(store, registry, rows, clock, force=True))
    await store.audit(
        "installer", "registers_reset",
        {"registers": [r.register_id for r in result.registers], "ok": result.ok},
    )  # fmt: skip
    return result


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
    registers = await _rebind_all(store, registry, rows, clock, force=False)
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
