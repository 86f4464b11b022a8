"""Per-tenant binding to fiskaly: the client, the TSS of the unit's mode and register clients.

TSS set-up (:meth:`UpstreamRegistry.ensure_tss`) runs the whole sequence and resumes after a
crash or power loss at any step, because every step is recorded before it is taken (the PUK
and the generated PIN go to the vault first) and the TSS state at fiskaly says where to go on:

    create → UNINITIALIZED (≥ 30 s timeout) → PIN via PUK → admin login → INITIALIZED → logout
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from tsed.errors import ConflictError, ModeError
from tsed.fiskaly import errors as ferr
from tsed.fiskaly.client import FiskalyClient, ProxySettings
from tsed.fiskaly.models import AuthToken, Client
from tsed.state.rows import BindingRow, ClientRow
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.texts.notices import Notice, notice

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str
    api_secret: str


@dataclass(frozen=True, slots=True)
class ClientInMaking:
    """A register client the unit is creating (or about to create on a new TSS): a receipt
    meanwhile is journaled on it as a TSE failure and signed late once ``done`` is set."""

    tss_id: str
    client_id: str
    done: asyncio.Event


@dataclass(frozen=True, slots=True)
class _Plan:
    """The clients a TSS re-creation will make, fixed before the new TSS exists."""

    new_tss: str
    clients: dict[str, str]  # register id → client id
    done: asyncio.Event


def vault_key(tenant_id: str, env: str, what: str) -> str:
    return f"fiskaly.{env.lower()}.{tenant_id}.{what}"


class UpstreamRegistry:
    """Clients, TSS bindings and register clients for every tenant, in the unit's mode."""

    def __init__(
        self,
        *,
        store: Store,
        vault: Vault,
        mode: str,
        make_client: Callable[[str, Credentials, Callable[[AuthToken], None]], FiskalyClient],
        tenants: list[str],
        credential_names: tuple[str, str] = ("api_key", "api_secret"),
    ) -> None:
        self.store = store
        self.vault = vault
        self.mode = mode
        self._make_client = make_client
        self.tenants = tenants
        self._credential_names = credential_names
        self._clients: dict[str, FiskalyClient] = {}
        self._bindings: dict[str, BindingRow] = {}
        self._register_clients: dict[tuple[str, str], ClientRow] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._making: dict[tuple[str, str], tuple[str, asyncio.Event]] = {}
        self._plans: dict[str, _Plan] = {}
        self.notices: list[Notice] = []

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        for row in await self.store.bindings():
            if row.env == self.mode:
                self._bindings[row.tenant_id] = row
        for client in await self.store.clients():
            if client.env == self.mode:
                self._register_clients[(client.register_id, client.tss_id)] = client

    async def stop(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.stop()

    async def set_proxy(self, proxy: ProxySettings | None) -> None:
        """Every tenant's client goes through ``proxy`` from its next call on."""
        for client in self._clients.values():
            await client.set_proxy(proxy)

    def check_environment(self, token: AuthToken) -> None:
        """Called after every (re-)authentication: the token must match the unit's mode."""
        if token.env != self.mode:
            raise ModeError(
                f"the fiskaly credentials are for {token.env}, but the unit is in {self.mode} "
                "mode; TEST and LIVE never mix",
                hint="Use credentials of the unit's mode (tsectl credentials), or have the "
                "vendor activate the matching mode; registers set up in TEST must be reset.",
            )

    def credentials(self, tenant_id: str) -> Credentials | None:
        key_name, secret_name = self._credential_names
        key = self.vault.get(vault_key(tenant_id, self.mode, key_name))
        secret = self.vault.get(vault_key(tenant_id, self.mode, secret_name))
        if key is None or secret is None:
            return None
        return Credentials(key, secret)

    def client(self, tenant_id: str) -> FiskalyClient:
        client = self._clients.get(tenant_id)
        if client is None:
            creds = self.credentials(tenant_id)
            if creds is None:
                raise ConflictError(
                    f"no fiskaly credentials for tenant {tenant_id!r} in {self.mode} mode",
                    hint="Create them with 'Anlegen' (needs the vendor's activation), or enter "
                    "own fiskaly TEST credentials: tsectl credentials set --api-key KEY.",
                )
            client = self._make_client(tenant_id, creds, self.check_environment)
            binding = self._bindings.get(tenant_id)
            if binding is not None:  # a 403 on it is then told apart: TEST/LIVE or not
                client.note_tss_env(binding.tss_id, binding.env)
            self._clients[tenant_id] = client
        return client

    def binding(self, tenant_id: str) -> BindingRow | None:
        return self._bindings.get(tenant_id)

    def all_bindings(self) -> dict[str, BindingRow]:
        return dict(self._bindings)

    def register_client(self, register_id: str, tss_id: str) -> ClientRow | None:
        return self._register_clients.get((register_id, tss_id))

    def client_in_making(self, register_id: str, tenant_id: str) -> ClientInMaking | None:
        """The register's client while the unit creates it (or the TSS it goes on)."""
        binding = self._bindings.get(tenant_id)
        if binding is None:
            return None
        making = self._making.get((register_id, binding.tss_id))
        if making is not None:
            return ClientInMaking(binding.tss_id, *making)
        plan = self._plans.get(tenant_id)
        if plan is not None and register_id in plan.clients:
            return ClientInMaking(plan.new_tss, plan.clients[register_id], plan.done)
        return None

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    # -- TSS set-up -------------------------------------------------------------------------

    async def ensure_tss(
        self, tenant_id: str, *, replace: bool = False, tss_id: str | None = None
    ) -> BindingRow:
        """An INITIALIZED TSS for the tenant in the unit's mode (set up or resumed); a new one
        gets ``tss_id`` when given."""
        async with self._lock(f"tss:{tenant_id}"):
            binding = self._bindings.get(tenant_id)
            if binding is not None and binding.env != self.mode:
                raise ModeError(f"TSS {binding.tss_id} belongs to {binding.env}")
            if binding is not None and binding.state == "INITIALIZED" and not replace:
                return binding
            client = self.client(tenant_id)
            if client.token is None:
                await client.authenticate()  # the environment check runs before any TSS step
            if binding is None or replace:
                if binding is not None:
                    await self.store.archive_bindings_of(binding.tss_id, time.time())
                binding = await self._create(client, tenant_id, tss_id or str(uuid.uuid4()))
            return await self._advance(client, binding)

    async def _create(self, client: FiskalyClient, tenant_id: str, tss_id: str) -> BindingRow:
        binding = BindingRow(tenant_id, self.mode, tss_id, "CREATING", None, time.time())
        await self.store.save_binding(binding)  # recorded before the call: resumable
        self._bindings[tenant_id] = binding
        tss = await client.create_tss(tss_id, {"tsed_tenant": tenant_id})
        if tss.admin_puk:
            self.vault.set(f"tss.{tss_id}.puk", tss.admin_puk)
        return await self._save(binding, "CREATED", tss.serial_number)

    async def _save(self, binding: BindingRow, state: str, serial: str | None) -> BindingRow:
        new = BindingRow(
            binding.tenant_id,
            binding.env,
            binding.tss_id,
            state,
            serial or binding.serial,
            binding.created_at,
        )
        await self.store.save_binding(new)
        self._bindings[binding.tenant_id] = new
        return new

    async def _advance(self, client: FiskalyClient, binding: BindingRow) -> BindingRow:
        tss_id = binding.tss_id
        tss = await client.get_tss(tss_id)
        if tss.state == "CREATED":
            tss = await client.set_tss_state(tss_id, "UNINITIALIZED")
        if tss.state == "UNINITIALIZED":
            pin = self.vault.get(f"tss.{tss_id}.pin")
            if pin is None:
                pin = secrets.token_hex(5)
                self.vault.set(f"tss.{tss_id}.pin", pin)
            puk = self.vault.get(f"tss.{tss_id}.puk")
            if puk is None:
                raise ConflictError(
                    f"TSS {tss_id} needs its admin PUK, which the vault does not have",
                    hint="Set up a new TSS: tsectl tss setup --new.",
                )
            await client.change_admin_pin(tss_id, puk, pin)
            await client.admin_login(tss_id, pin)
            try:
                tss = await client.set_tss_state(tss_id, "INITIALIZED")
            finally:
                await client.admin_logout(tss_id)
        if tss.state != "INITIALIZED":
            raise ferr.TssUnusable(f"TSS {tss_id} is {tss.state} and cannot sign")
        _LOGGER.info(
            "TSS %s of tenant %s is INITIALIZED (%s)",
            tss_id,
            binding.tenant_id,
            self.mode,
            extra={"TSED_EVENT": "tss_ready", "TSED_TSS": tss_id, "TSED_MODE": self.mode},
        )
        return await self._save(binding, "INITIALIZED", tss.serial_number)

    async def disable_tss(self, tenant_id: str, tss_id: str) -> str:
        """Take a TSS out of service for good (DISABLED at fiskaly: irreversible); asks first,
        so a call that took effect before a crash is never sent again. The tenant's binding
        keeps the TSS, marked DISABLED: registers of the tenant get a clear refusal, not a
        TSE failure, until a new TSS is set up."""
        client = self.client(tenant_id)
        if client.token is None:
            await client.authenticate()
        state = (await client.get_tss(tss_id)).state
        if state != "DISABLED":
            async with self._lock(f"admin:{tss_id}"):
                client, pin = await self.admin(tenant_id, tss_id)
                await client.admin_login(tss_id, pin)
                state = (await client.set_tss_state(tss_id, "DISABLED")).state
        binding = self._bindings.get(tenant_id)
        if binding is not None and binding.tss_id == tss_id:
            await self._save(binding, "DISABLED", None)
        _LOGGER.warning(
            "TSS %s of tenant %s is DISABLED (decommissioned)", tss_id, tenant_id,
            extra={"TSED_EVENT": "tss_disabled", "TSED_TSS": tss_id, "TSED_MODE": self.mode},
        )  # fmt: skip
        return state

    # -- register clients -------------------------------------------------------------------

    async def admin(self, tenant_id: str, tss_id: str) -> tuple[FiskalyClient, str]:
        pin = self.vault.get(f"tss.{tss_id}.pin")
        if pin is None:
            raise ConflictError(f"the admin PIN of TSS {tss_id} is missing from the vault")
        return self.client(tenant_id), pin

    async def ensure_client(
        self, register_id: str, serial: str, tenant_id: str, client_id: str | None = None
    ) -> ClientRow:
        """The register's fiskaly client on its tenant's TSS (created with admin login).

        ``client_id`` is the id for a new client (one is made up without it). While it is
        being created, :meth:`client_in_making` names it.
        """
        binding = await self.ensure_tss(tenant_id)
        existing = self._register_clients.get((register_id, binding.tss_id))
        if existing is not None and existing.state == "REGISTERED":
            return existing
        # A replaced register (the old one revoked, the new one paired with the same serial)
        # takes over the old client: fiskaly keeps a serial for good, deregistered or not.
        previous = next(
            (
                row
                for row in self._register_clients.values()
                if row.tss_id == binding.tss_id
                and row.serial == serial
                and row.state == "DEREGISTERED"
                and row.register_id != register_id
            ),
            None,
        )
        if previous is not None:
            client_id = previous.client_id
        elif existing is not None:
            client_id = existing.client_id
        else:
            client_id = client_id or str(uuid.uuid4())
        key, done = (register_id, binding.tss_id), asyncio.Event()
        self._making[key] = (client_id, done)
        try:
            async with self._lock(f"admin:{binding.tss_id}"):
                client, pin = await self.admin(tenant_id, binding.tss_id)
                await client.admin_login(binding.tss_id, pin)
                try:
                    created = await self._registered_client(
                        client, binding.tss_id, client_id, serial, register_id
                    )
                finally:
                    await client.admin_logout(binding.tss_id)
            row = ClientRow(
                register_id, binding.tss_id, self.mode, created.id, serial, created.state,
                time.time(),
            )  # fmt: skip
            await self.store.save_client(row)
            self._register_clients[key] = row
        finally:
            if self._making.get(key) == (client_id, done):
                del self._making[key]
            done.set()
        return row

    async def _registered_client(
        self, client: FiskalyClient, tss_id: str, client_id: str, serial: str, register_id: str
    ) -> Client:
        """A REGISTERED fiskaly client for ``serial`` (the admin is logged in).

        createClient is idempotent: for a client that was deregistered it answers the client
        still DEREGISTERED, which cannot sign, so it is registered again. A serial is unique
        within a TSS: a register paired again with the serial of a revoked register gets that
        register's (deregistered) client, registered again; its signed history stays one.
        """
        try:
            created = await client.create_client(
                tss_id, client_id, serial, {"tsed_register": register_id}
            )
        except ferr.FiskalyRejected as err:
            if err.fiskaly_code != "E_ILLEGAL_CLIENT_SERIAL":
                raise
            same = [c for c in await client.list_clients(tss_id) if c.serial_number == serial]
            if not same:
                raise  # the serial itself is refused
            created = same[0]
            _LOGGER.info(
                "serial %s already has fiskaly client %s (%s) on TSS %s; register %s takes it",
                serial, created.id, created.state, tss_id, register_id,
                extra={"TSED_EVENT": "client_adopted", "TSED_REGISTER": register_id},
            )  # fmt: skip
        if created.state != "REGISTERED":
            created = await client.set_client_state(tss_id, created.id, "REGISTERED")
            _LOGGER.info(
                "fiskaly client %s of register %s registered again", created.id, register_id,
                extra={"TSED_EVENT": "client_reregistered", "TSED_REGISTER": register_id},
            )  # fmt: skip
        return created

    async def reregister(self, register_id: str, tenant_id: str, tss_id: str) -> None:
        """fiskaly answered ``E_CLIENT_DEREGISTERED`` for the register's client (it was
        deregistered outside the unit, e.g. in fiskaly's dashboard): register it again."""
        row = self._register_clients.get((register_id, tss_id))
        if row is None or self._bindings.get(tenant_id) is None:
            return
        self._register_clients[(register_id, tss_id)] = replace(row, state="DEREGISTERED")
        await self.ensure_client(register_id, row.serial, tenant_id)

    async def deregister(self, register_id: str, tenant_id: str) -> None:
        binding = self._bindings.get(tenant_id)
        if binding is None:
            return
        row = self._register_clients.get((register_id, binding.tss_id))
        if row is None:
            return
        async with self._lock(f"admin:{binding.tss_id}"):
            client, pin = await self.admin(tenant_id, binding.tss_id)
            # asks first: a call that took effect before a crash is never sent again
            if (await client.get_client(binding.tss_id, row.client_id)).state != "DEREGISTERED":
                await client.admin_login(binding.tss_id, pin)
                try:
                    await client.set_client_state(binding.tss_id, row.client_id, "DEREGISTERED")
                finally:
                    await client.admin_logout(binding.tss_id)
        new = ClientRow(
            row.register_id,
            row.tss_id,
            row.env,
            row.client_id,
            row.serial,
            "DEREGISTERED",
            row.created_at,
        )
        await self.store.save_client(new)
        self._register_clients[(register_id, binding.tss_id)] = new

    async def recreate_after_deletion(
        self, tenant_id: str, reason: str | None = None
    ) -> BindingRow:
        """A new TSS for the tenant (fiskaly wiped the old TEST TSS, or the installer asked)
        and new clients for its registers on it.

        The registers' client ids are fixed first: a receipt while the TSS or the clients are
        being made is a TSE failure on the new client, signed late (never a 409).
        """
        running = self._plans.get(tenant_id)
        if running is not None:  # a second receipt on the deleted TSS: one new TSS, not two
            await running.done.wait()
            binding = self._bindings.get(tenant_id)
            if binding is not None and binding.tss_id == running.new_tss:
                return binding
        old = self._bindings.get(tenant_id)
        moving = [
            (register_id, row.serial)
            for (register_id, tss_id), row in list(self._register_clients.items())
            if old is not None and tss_id == old.tss_id
        ]
        plan = _Plan(
            str(uuid.uuid4()),
            {register_id: str(uuid.uuid4()) for register_id, _serial in moving},
            asyncio.Event(),
        )
        self._plans[tenant_id] = plan
        try:
            return await self._recreate(tenant_id, old, reason, moving, plan)
        finally:
            if self._plans.get(tenant_id) is plan:
                del self._plans[tenant_id]
            plan.done.set()

    async def _recreate(
        self,
        tenant_id: str,
        old: BindingRow | None,
        reason: str | None,
        moving: list[tuple[str, str]],
        plan: _Plan,
    ) -> BindingRow:
        binding = await self.ensure_tss(tenant_id, replace=True, tss_id=plan.new_tss)
        why = reason or "deleted by fiskaly (idle TEST TSS are wiped)"
        old_id = old.tss_id if old else "?"
        english = (
            f"The TSS {old_id} was {why}; a new TSS {binding.tss_id} was set up automatically."
        )
        self.notices.append(notice(english, "notice.tss.recreated", old=old_id, new=binding.tss_id))
        _LOGGER.warning(english, extra={"TSED_EVENT": "tss_recreated", "TSED_TSS": binding.tss_id})
        for register_id, serial in moving:
            await self.ensure_client(register_id, serial, tenant_id, plan.clients[register_id])
        return binding
