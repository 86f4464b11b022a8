"""The daemon's operations behind the admin socket.

Wiring code (like :mod:`tsed.unit.daemon`): it may use every layer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from tsed import __version__
from tsed.errors import TsedError
from tsed.unit.archive_ops import ArchiveAdminOps
from tsed.unit.setup_ops import SetupOps

if TYPE_CHECKING:
    from tsed.net.admin import PasswordProof
    from tsed.unit.daemon import Daemon

_LOGGER = logging.getLogger(__name__)


class AdminOps(SetupOps, ArchiveAdminOps):
    """The admin operations behind tsectl, the setup page and the console (tsed.net.admin)."""

    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon

    async def status(self) -> dict[str, Any]:
        d = self.d
        status = d.signing.status()
        return {
            **status,
            "version": __version__,
            "listen": str(d.options.listen),
            "registers": d.registers.active,
            "device": {
                "id": d.identity.device_id,
                "short_id": d.identity.short_id,
                "fingerprint": d.identity.fingerprint_sha256,
            },
            "pairing": {"open": d.pairing.is_open, "expires_at": d.pairing.expires_at},
            "addresses": d.addresses(),
            "password_set": (await self.password_status())["set"],
            "notices": [*status.get("notices", []), *await self.archive_notices()],
            "tss": {
                tenant: {"tss_id": b.tss_id, "state": b.state, "env": b.env}
                for tenant, b in d.upstreams.all_bindings().items()
            },
        }

    async def open_pairing(
        self, minutes: int | None, tenant: str | None = None, proof: PasswordProof | None = None
    ) -> dict[str, Any]:
        await self._prove(proof, "password")  # sent by the serial console once one is set
        if tenant is not None:
            self.d.config.tenant(tenant)  # refuses an unknown tenant, naming the known ones
        code = self.d.pairing.open(minutes or self.d.config.pairing_minutes, tenant=tenant)
        await self.d.store.audit("admin", "pairing_opened", {"tenant": tenant})
        return {
            "code": code.grouped,
            "tenant": tenant,
            "expires_at": code.expires_at,
            "fingerprint": self.d.identity.fingerprint_sha256,
            # ~30 ms of CPU: off the event loop, registers keep signing meanwhile
            **await asyncio.to_thread(self.pairing_qr, code.grouped),
        }

    async def list_registers(self) -> list[dict[str, Any]]:
        await self.d.registers.flush_seen()
        return [
            {
                "id": r.id,
                "serial": r.serial,
                "label": r.label,
                "tenant_id": r.tenant_id,
                "created_at": r.created_at,
                "revoked_at": r.revoked_at,
                "last_seen_at": r.last_seen_at,
            }
            for r in self.d.registers.rows.values()
        ]

    async def revoke_register(self, register_id: str) -> None:
        await self.d.registers.revoke(register_id)
        await self.d.store.audit("admin", "register_revoked", {"register": register_id})

    async def config_set(self, key: str, value: str) -> dict[str, Any]:
        return await self.config_update({key: value})

    async def connection_test(self) -> dict[str, Any]:
        from tsed.provisioning.conntest import run_connection_test  # noqa: PLC0415
        from tsed.tss.access import FiskalyAccess  # noqa: PLC0415

        d = self.d
        if d.backend == "simulator" and d._sim_server is not None:
            access = FiskalyAccess(d._sim_server.base_url, d._sim_server.base_url)
            names = ("sim_key", "sim_secret")
        else:
            access = FiskalyAccess.from_config(d.config, d.vault, d.mode, d.environ)
            names = ("api_key", "api_secret")
        report = await run_connection_test(
            config=d.config,
            mode=d.mode,
            vault=d.vault,
            store=d.store,
            access=access,
            credential_names=names,
        )
        await d.store.audit("admin", "connection_test", {"verdict": report.verdict})
        return {**report.to_json(), "lines": report.lines()}

    async def reset(self, register_id: str | None, everything: bool) -> dict[str, Any]:
        from tsed.provisioning.rebind import reset  # noqa: PLC0415

        result = await reset(
            store=self.d.store, registry=self.d.upstreams, register_id=register_id, all=everything
        )
        await self.d.store.audit("admin", "reset", {"register": register_id, "all": everything})
        return result.to_json()

    async def tss_status(self) -> dict[str, Any]:
        d = self.d
        tss: dict[str, Any] = {}
        for tenant, binding in d.upstreams.all_bindings().items():
            entry: dict[str, Any] = {
                "tss_id": binding.tss_id,
                "env": binding.env,
                "state": binding.state,
                "serial": binding.serial,
            }
            try:
                live = await d.upstreams.client(tenant).get_tss(binding.tss_id)
                entry.update(
                    state=live.state,
                    signature_counter=live.signature_counter,
                    transaction_counter=live.transaction_counter,
                    registered_clients=live.number_registered_clients,
                    active_transactions=live.number_active_transactions,
                )
            except TsedError as err:
                entry["error"] = err.message
            tss[tenant] = entry
        return {"mode": d.mode, "backend": d.backend, "tss": tss}

    async def tss_setup(self, new: bool) -> dict[str, Any]:
        """Set up (or resume) the TSS of every tenant; ``new`` replaces it, clients follow."""
        d = self.d
        if new:  # the old TSS's signatures into the archive before it is replaced
            await d.archive.archiver.run("before replacing the TSS")
        for tenant in d.upstreams.tenants:
            if new:
                await d.upstreams.recreate_after_deletion(tenant, reason="replaced on request")
            else:
                await d.upstreams.ensure_tss(tenant)
        await d.store.audit("admin", "tss_setup", {"new": new})
        return await self.tss_status()

    async def activate(self, document: bytes) -> dict[str, Any]:
        from tsed.provisioning.activation import accept_activation  # noqa: PLC0415

        d = self.d
        result = accept_activation(
            document,
            public_key_path=d.options.vendor_key,
            device_id=d.identity.device_id,
            state_dir=d.state_dir,
            vault=d.vault,
        )
        await d.store.audit("admin", "activation", {"mode": result.mode})
        answer = result.to_json()
        answer["switch"] = await self.change_mode(result.mode) if result.mode_changed else None
        if result.mode_changed and answer["switch"] is None:
            answer["hint"] = (
                f"The unit is now in {result.mode} mode: create the {result.mode} credentials "
                "(Anlegen), then run the connection test."
            )
        return answer

    async def set_credentials(
        self, api_key: str, api_secret: str, tenant: str | None
    ) -> dict[str, Any]:
        from tsed.provisioning.anlegen import set_credentials  # noqa: PLC0415
        from tsed.tss.access import FiskalyAccess  # noqa: PLC0415

        d = self.d
        access = FiskalyAccess.from_config(d.config, d.vault, d.mode, d.environ)
        result = await set_credentials(
            config=d.config,
            state_dir=d.state_dir,
            vault=d.vault,
            access=access,
            api_key=api_key,
            api_secret=api_secret,
            tenant_id=tenant,
            store=d.store,
        )
        await d.store.audit("admin", "credentials_set", {"tenant": tenant})
        await d.reload_backend()
        return {**result.to_json(), "backend": d.backend}

    def metrics(self) -> tuple[bytes, str]:
        signing = self.d.signing
        signing.metrics.open_transactions.set(signing.open_transactions)
        signing.metrics.tse_available.set(1 if signing.breaker.available else 0)
        payload, content_type = signing.metrics.render()
        return payload + self.archive_metrics(), content_type
