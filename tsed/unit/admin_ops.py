"""The daemon's operations behind the admin socket.

Wiring code (like :mod:`tsed.unit.daemon`): it may use every layer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from tsed import __version__
from tsed.config.view import ConfigView
from tsed.errors import TsedError
from tsed.net.admin_operations import PasswordProof
from tsed.net.auth import PairingAnswer, RegisterView
from tsed.provisioning.activation import accept_activation
from tsed.provisioning.anlegen import set_credentials as enter_credentials
from tsed.provisioning.conntest import ConnectionReport, run_connection_test
from tsed.provisioning.reset import ResetResult
from tsed.provisioning.reset import reset as reset_bindings
from tsed.provisioning.views import ActivationAnswer, CredentialsSet
from tsed.tss.access import FiskalyAccess
from tsed.tss.views import TssCounters, TssEntry, TssStatus
from tsed.unit.archive_ops import ArchiveAdminOps
from tsed.unit.backup_ops import BackupAdminOps
from tsed.unit.context import OpsContext
from tsed.unit.decommission_ops import Decommissioning
from tsed.unit.dsfinvk_ops import DsfinvkOps
from tsed.unit.health_ops import HealthAdminOps
from tsed.unit.setup_ops import SetupOps
from tsed.unit.update_ops import UpdateOps
from tsed.unit.views import DeviceView, PairingState, TssSummary, UnitStatus
from tsed.unit.wizard_ops import WizardOps

_LOGGER = logging.getLogger(__name__)


class AdminOps:
    """The admin operations behind tsectl, the setup page and the console (tsed.net.admin).

    Its own operations and, delegated, those of the set-up group (:class:`SetupOps`): together
    the :class:`~tsed.net.web.SetupOperations` the admin API and the setup page call.
    """

    def __init__(self, context: OpsContext, setup: SetupOps) -> None:
        self.d = context
        self.setup = setup
        # the set-up group's operations, offered as this object's own
        self.password_status = setup.password_status
        self.set_password = setup.set_password
        self.check_password = setup.check_password
        self.config_update = setup.config_update
        self.config_show = setup.config_show
        self.list_tenants = setup.list_tenants
        self.add_tenant = setup.add_tenant
        self.create_credentials = setup.create_credentials
        self.change_mode = setup.change_mode
        self.start_export = setup.start_export
        self.export_status = setup.export_status
        self.export_file = setup.export_file
        self.outages = setup.outages
        self.pairing_qr = setup.pairing_qr
        self.factory_reset = setup.factory_reset
        # the fiscal archive's operations (/admin/v1/archive*)
        self.archive = ArchiveAdminOps(context)
        self.archive_status = self.archive.archive_status
        self.archive_run = self.archive.archive_run
        self.archive_progress = self.archive.archive_progress
        self.archive_verify = self.archive.archive_verify
        self.archive_export = self.archive.archive_export
        # the unit backup (/admin/v1/backup) and its nightly run (tsed.unit.backup_ops)
        self.backup = BackupAdminOps(context)
        self.backup_create = self.backup.backup_create
        # the first-run wizard's operations (/admin/v1/wizard, test-receipt, setup-code)
        self.wizard = WizardOps(context, setup)
        self.wizard_state = self.wizard.wizard_state
        self.wizard_update = self.wizard.wizard_update
        self.test_receipt = self.wizard.test_receipt
        self.setup_code = self.wizard.setup_code
        self.first_password = self.wizard.first_password
        self.dashboard = self.wizard.dashboard
        # the TSE part of the DSFinV-K (/admin/v1/archive/dsfinvk, /api/v1/dsfinvk*)
        self.dsfinvk = DsfinvkOps(context)
        self.archive_dsfinvk = self.dsfinvk.export
        # the guided decommissioning (/admin/v1/decommission)
        self.decommission = Decommissioning(context)
        self.decommission_status = self.decommission.status
        self.decommission_begin = self.decommission.begin
        self.decommission_resume = self.decommission.resume
        # the nightly housekeeping and the certificate watch (/admin/v1/health)
        self.health_ops = HealthAdminOps(context.housekeeping)
        self.health = self.health_ops.health
        self.health_run = self.health_ops.health_run
        self.offbox_password = self.archive.offbox_password
        # the notification duty's operations (/admin/v1/filing*)
        self.filing = context.filing
        self.filing_status = self.filing.filing_status
        self.filing_master_data = self.filing.filing_master_data
        self.filing_set_taxpayer = self.filing.filing_set_taxpayer
        self.filing_set_premises = self.filing.filing_set_premises
        self.filing_set_register = self.filing.filing_set_register
        self.filing_document = self.filing.filing_document
        self.filing_submit = self.filing.filing_submit
        self.filing_done = self.filing.filing_done
        # A/B updates through RAUC (/admin/v1/update*)
        self.updates = UpdateOps.from_environ(
            context.environ, state_dir=context.state_dir, config=lambda: context.config,
            vault=context.vault,
        )  # fmt: skip
        self.update_status = self.updates.update_status
        self.update_install = self.updates.update_install

    async def status(self) -> UnitStatus:
        d = self.d
        signing = d.signing.status_view()
        return UnitStatus(
            signing=replace(
                signing,
                notices=(
                    *signing.notices,
                    *await self.archive.archive_notices(),
                    *self.health_ops.notices(),
                ),
            ),
            version=__version__,
            listen=str(d.options.listen),
            registers=d.registers.active,
            device=DeviceView(
                id=d.identity.device_id,
                short_id=d.identity.short_id,
                fingerprint=d.identity.certificate_sha256,
                key_sha256=d.identity.fingerprint_sha256,
            ),
            pairing=PairingState(open=d.pairing.is_open, expires_at=d.pairing.expires_at),
            addresses=tuple(d.addresses()),
            password_set=(await self.password_status()).set,
            tss={
                tenant: TssSummary(tss_id=b.tss_id, state=b.state, env=b.env)
                for tenant, b in d.upstreams.all_bindings().items()
            },
            telemetry=d.telemetry.status(),
            update=await self.updates.status_summary(),
        )

    async def open_pairing(
        self, minutes: int | None, tenant: str | None = None, proof: PasswordProof | None = None
    ) -> PairingAnswer:
        await self.setup.prove(proof, "password")  # sent by the serial console once one is set
        if tenant is not None:
            self.d.config.tenant(tenant)  # refuses an unknown tenant, naming the known ones
        code = self.d.pairing.open(minutes or self.d.config.pairing_minutes, tenant=tenant)
        await self.d.store.audit("admin", "pairing_opened", {"tenant": tenant})
        # ~30 ms of CPU: off the event loop, registers keep signing meanwhile
        qr = await asyncio.to_thread(self.pairing_qr, code.grouped)
        return PairingAnswer(
            code=code.grouped,
            tenant=tenant,
            expires_at=code.expires_at,
            fingerprint=self.d.identity.certificate_sha256,
            qr_text=qr.qr_text,
            qr_image=qr.qr_image,
            key_sha256=self.d.identity.fingerprint_sha256,
        )

    async def list_registers(self) -> tuple[RegisterView, ...]:
        await self.d.registers.flush_seen()
        return tuple(RegisterView.from_row(r) for r in self.d.registers.rows.values())

    async def revoke_register(self, register_id: str) -> None:
        await self.d.registers.revoke(register_id)
        await self.d.store.audit("admin", "register_revoked", {"register": register_id})

    async def config_set(self, key: str, value: str) -> ConfigView:
        return await self.config_update({key: value})

    async def connection_test(self) -> ConnectionReport:
        d = self.d
        if d.backend == "simulator" and d.sim_server is not None:
            access = FiskalyAccess(d.sim_server.base_url, d.sim_server.base_url)
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
        return report

    async def reset(self, register_id: str | None, everything: bool) -> ResetResult:
        result = await reset_bindings(
            store=self.d.store, registry=self.d.upstreams, register_id=register_id, all=everything
        )
        await self.d.store.audit("admin", "reset", {"register": register_id, "all": everything})
        return result

    async def tss_status(self) -> TssStatus:
        d = self.d
        tss: dict[str, TssEntry] = {}
        for tenant, binding in d.upstreams.all_bindings().items():
            entry = TssEntry(binding.tss_id, binding.env, binding.state, binding.serial)
            try:
                live = await d.upstreams.client(tenant).get_tss(binding.tss_id)
                counters = TssCounters(
                    state=live.state,
                    signature_counter=live.signature_counter,
                    transaction_counter=live.transaction_counter,
                    registered_clients=live.number_registered_clients,
                    active_transactions=live.number_active_transactions,
                )
                entry = replace(entry, live=counters)
            except TsedError as err:
                entry = replace(entry, error=err.message)
            tss[tenant] = entry
        return TssStatus(mode=d.mode, backend=d.backend, tss=tss)

    async def tss_setup(self, new: bool) -> TssStatus:
        """Set up (or resume) the TSS of every tenant; ``new`` replaces it, clients follow."""
        d = self.d
        old = {b.tss_id: tenant for tenant, b in d.upstreams.all_bindings().items()}
        if new:  # the old TSS's signatures into the archive first: refused when that fails
            await d.archive.archive_before("before replacing the TSS")
        try:
            for tenant in d.upstreams.tenants:
                if new:
                    await d.upstreams.recreate_after_deletion(tenant, reason="replaced on request")
                else:
                    await d.upstreams.ensure_tss(tenant)
        finally:  # a replaced TSS is archived on to its last signature (its closing logs)
            now = {b.tss_id for b in d.upstreams.all_bindings().values()}
            await d.archive.retire({i: t for i, t in old.items() if i not in now})
        await d.store.audit("admin", "tss_setup", {"new": new})
        return await self.tss_status()

    async def activate(self, document: bytes) -> ActivationAnswer:
        d = self.d
        result = accept_activation(
            document,
            public_key_path=d.options.vendor_key,
            device_id=d.identity.device_id,
            state_dir=d.state_dir,
            vault=d.vault,
        )
        await d.store.audit("admin", "activation", {"mode": result.mode})
        switch = await self.change_mode(result.mode) if result.mode_changed else None
        hint = None
        if result.mode_changed and switch is None:
            hint = (
                f"The unit is now in {result.mode} mode: create the {result.mode} credentials "
                "(Anlegen), then run the connection test."
            )
        return ActivationAnswer(result, switch, hint)

    async def set_credentials(
        self, api_key: str, api_secret: str, tenant: str | None
    ) -> CredentialsSet:
        d = self.d
        access = FiskalyAccess.from_config(d.config, d.vault, d.mode, d.environ)
        result = await enter_credentials(
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
        return CredentialsSet(result, d.backend)

    async def metrics(self) -> tuple[bytes, str]:
        payload, content_type = await self.d.telemetry.metrics.render()
        archive = self.archive.archive_metrics()
        filing = await self.filing.metrics()
        return payload + archive + self.health_ops.metrics() + filing, content_type
