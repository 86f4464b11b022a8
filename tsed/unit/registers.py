"""The paired registers of the running unit, cached in memory over the store.

Wiring like :mod:`tsed.unit.admin_ops`: a register's token hash leads to its
:class:`~tsed.signing.outcome.RegisterRef` on every call; pairing creates its fiskaly client first
(on the backend's registry, :mod:`tsed.unit.backend`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from tsed.config.model import effective
from tsed.config.tenancy import bound_tenant
from tsed.errors import ConflictError, NotFoundError
from tsed.signing.outcome import RegisterRef
from tsed.state.rows import RegisterRow
from tsed.state.store import Store
from tsed.unit.backend import Backend
from tsed.unit.settings import Settings

_LOGGER = logging.getLogger(__name__)


class Registers:
    """Paired registers, cached in memory (token hash → register) over the store."""

    def __init__(
        self, *, store: Store, settings: Settings, backend: Backend, on_change: Callable[[], None]
    ) -> None:
        self._store = store
        self._settings = settings
        self._backend = backend
        self._on_change = on_change  # the register count changed (the status line shows it)
        self._by_hash: dict[str, RegisterRef] = {}
        self._seen: dict[str, float] = {}
        self.rows: dict[str, RegisterRow] = {}

    async def load(self) -> None:
        for row in await self._store.list_registers():
            self.rows[row.id] = row
            if row.revoked_at is None:
                self._by_hash[row.token_hash] = RegisterRef(row.id, row.serial, row.tenant_id)

    def lookup(self, token_hash: str) -> RegisterRef | None:
        ref = self._by_hash.get(token_hash)
        if ref is not None:
            self._seen[ref.register_id] = time.time()
        return ref

    async def flush_seen(self) -> None:
        """Write "last seen" of active registers (batched; not on every request)."""
        seen, self._seen = self._seen, {}
        if not seen:
            return
        await self._store.touch_registers(seen)
        for register_id, at in seen.items():
            row = self.rows.get(register_id)
            if row is not None:
                self.rows[register_id] = replace(row, last_seen_at=at)

    def bound_tenant(self, serial: str, window_tenant: str | None, requested: str | None) -> str:
        return bound_tenant(self._settings.config, serial, window_tenant, requested)

    def check_enroll(self, serial: str, tenant: str | None) -> str:
        """The tenant a new register with ``serial`` joins; refuses a serial already paired
        (with how to replace that register) and an unknown tenant."""
        tenant_id = tenant or effective(self._settings.config, serial).tenant
        self._settings.config.tenant(tenant_id)  # refuses unknown tenants with a hint
        for row in self.rows.values():
            if row.serial == serial and row.revoked_at is None:
                raise ConflictError(
                    f"a register with serial {serial!r} is already paired ({row.id})",
                    hint=f"To replace that register, revoke it first (tsectl registers revoke "
                    f"{row.id}), then pair again; the pairing window stays open.",
                )
        return tenant_id

    async def enroll(
        self, serial: str, label: str | None, tenant: str | None, token_hash: str
    ) -> RegisterRef:
        tenant_id = self.check_enroll(serial, tenant)
        register_id = str(uuid.uuid4())
        await self._backend.upstreams.ensure_client(register_id, serial, tenant_id)
        row = RegisterRow(register_id, serial, label, tenant_id, token_hash, time.time())
        await self._store.add_register(row)
        self.rows[register_id] = row
        ref = RegisterRef(register_id, serial, tenant_id)
        self._by_hash[token_hash] = ref
        _LOGGER.info(
            "register %s paired (serial %s, tenant %s)",
            register_id,
            serial,
            tenant_id,
            extra={"TSED_EVENT": "register_paired", "TSED_REGISTER": register_id},
        )
        await self._store.audit("register", "pair", {"register": register_id, "serial": serial})
        self._on_change()
        return ref

    async def revoke(self, register_id: str) -> None:
        row = self.rows.get(register_id)
        if row is None:
            raise NotFoundError(
                f"register {register_id} does not exist",
                hint="List the registers with: tsectl registers",
            ).localized("registers.unknown", id=register_id)
        if row.revoked_at is not None:
            return
        await self._store.revoke_register(register_id, time.time())
        self._by_hash.pop(row.token_hash, None)
        self.rows[register_id] = replace(row, revoked_at=time.time())
        try:
            await self._backend.upstreams.deregister(register_id, row.tenant_id)
        except Exception as err:
            _LOGGER.warning("deregistering the fiskaly client of %s failed: %s", register_id, err)
        self._on_change()

    @property
    def active(self) -> int:
        return len(self._by_hash)
