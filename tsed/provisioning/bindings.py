"""Re-binding registers to their tenant's current TSS: the steps the LIVE switch
(:mod:`tsed.provisioning.modeswitch`) and the register reset (:mod:`tsed.provisioning.reset`)
share.

:func:`rebind_all` with ``force`` gives each register a new fiskaly client on its tenant's
current TSS, the old client deregistered best effort. fiskaly keeps a serial number unique per
TSS, so when the old client on the *same* TSS still holds the register's serial, that client is
registered again instead (noted in the result). Without ``force`` a register keeps the client it
has on the current TSS, and gets one when it has none.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tsed.errors import TsedError
from tsed.fiskaly import errors as ferr
from tsed.fiskaly.client import FiskalyClient
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


async def rebind_all(
    store: Store,
    registry: UpstreamRegistry,
    rows: list[RegisterRow],
    clock: Callable[[], float],
    *,
    force: bool,
) -> tuple[RegisterBinding, ...]:
    """Each register in ``rows`` re-bound (``force``: a new client) or bound (kept when it is
    there already); a register that fails is reported in its :class:`RegisterBinding`."""
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
