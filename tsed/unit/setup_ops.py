"""The installer's set-up operations of the daemon (admin password, "Anlegen", tenants, the
switch to LIVE, exports, factory reset).

Wiring code like :mod:`tsed.unit.admin_ops` (whose :class:`~tsed.unit.admin_ops.AdminOps` offers
these besides its own): every rule lives in the service modules (:mod:`tsed.provisioning.anlegen`,
:mod:`tsed.provisioning.modeswitch`, :mod:`tsed.config.edit`, …); this only connects them to the
running unit, which the composition root (:mod:`tsed.unit.bootstrap`) hands them as an
:class:`~tsed.unit.context.OpsContext`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import segno

from tsed.config.edit import set_value
from tsed.config.model import Config, config_to_dict, save_config
from tsed.config.tenancy import TenantsView, TenantView
from tsed.config.view import ConfiguredCredentials, ConfigView
from tsed.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from tsed.logs import register_secret, set_extended
from tsed.net.admin_operations import PasswordProof
from tsed.net.auth import PairingQr
from tsed.net.passwords import PasswordStatus, needs_rehash
from tsed.provisioning.activation import VAULT_MGMT_KEY, VAULT_MGMT_SECRET
from tsed.provisioning.anlegen import ConfirmationRequired, OrgAddress
from tsed.provisioning.anlegen import create_credentials as create
from tsed.provisioning.credentials import credentials_created, credentials_status
from tsed.provisioning.modeswitch import ModeSwitchResult, switch_mode
from tsed.provisioning.views import CredentialsCreated, FactoryResetResult
from tsed.signing.status import Outages
from tsed.state.paths import CREDENTIALS_FILE as CREDENTIALS_RECORD
from tsed.tss.access import PROXY_PASSWORD, FiskalyAccess
from tsed.tss.exportjobs import ExportJob
from tsed.tss.exports import ExportRange
from tsed.tss.registry import vault_key
from tsed.unit.context import OpsContext
from tsed.unit.telemetry import TOKEN_KEY as TELEMETRY_TOKEN

_LOGGER = logging.getLogger(__name__)

PASSWORD_KEY = "admin.password_hash"  # noqa: S105 - a vault entry name
PASSWORD_MIN = 10
PASSWORD_MAX = 256
_KEEP_ON_RESET = (VAULT_MGMT_KEY, VAULT_MGMT_SECRET)


class WeakPassword(InputError, code="PASSWORD_TOO_WEAK"):
    default_hint = (
        f"Choose at least {PASSWORD_MIN} characters; a short sentence is easy to remember."
    )


class WrongPassword(ForbiddenError, code="PASSWORD_WRONG"):
    """The current admin password, asked again to replace it or to reset: it is wrong. (403, not
    401: the caller's session, if any, is still valid.)"""

    default_hint = "Type the current admin password."


class SetupOps:
    """The set-up operations group; ``self.d`` is the running unit's :class:`OpsContext`."""

    def __init__(self, context: OpsContext) -> None:
        self.d = context

    # -- admin password -----------------------------------------------------------------------

    async def password_status(self) -> PasswordStatus:
        return PasswordStatus(set=self.d.vault.get(PASSWORD_KEY) is not None)

    async def set_password(
        self, password: str, proof: PasswordProof | None = None
    ) -> PasswordStatus:
        if len(password) < PASSWORD_MIN:
            raise WeakPassword(
                f"the admin password needs at least {PASSWORD_MIN} characters "
                f"(it has {len(password)})"
            )
        if len(password) > PASSWORD_MAX or not password.isprintable():
            raise WeakPassword(
                f"the admin password must be at most {PASSWORD_MAX} printable characters"
            )
        register_secret(password)
        await self.prove(proof, "current")
        stored = await self.d.hasher.hash(password)
        self.d.vault.set(PASSWORD_KEY, stored)
        self.d.web_sessions.drop_all()  # a new password ends every web session
        await self.d.store.audit("admin", "password_set", {})
        _LOGGER.info("admin password set", extra={"TSED_EVENT": "password_set"})
        return PasswordStatus(set=True)

    async def check_password(self, password: str) -> bool:
        stored = self.d.vault.get(PASSWORD_KEY)
        if stored is None or not password:
            return False
        ok = await self.d.hasher.verify(password[:PASSWORD_MAX], stored)
        if ok and needs_rehash(stored):  # older cost parameters: store with today's
            self.d.vault.set(PASSWORD_KEY, await self.d.hasher.hash(password[:PASSWORD_MAX]))
            _LOGGER.info("admin password re-hashed", extra={"TSED_EVENT": "password_rehashed"})
        return ok

    async def prove(self, proof: PasswordProof | None, field_name: str) -> None:
        """Check the current password when the caller sent it or must send it.

        Failures count towards a lockout: per address for the setup page, for the admin
        socket's user (the serial console) otherwise."""
        if proof is None or self.d.vault.get(PASSWORD_KEY) is None:
            return  # no password yet: the first one may be set (the first-boot path)
        if proof.current is None and not proof.required:
            return  # root or the service user on the unit (tsectl)
        limiter = self.d.web_limiter if proof.required else self.d.console_limiter
        with limiter.attempt(proof.source) as attempt:
            if proof.current is None:
                attempt.uncounted()
                raise InputError(
                    f"{field_name}: the current admin password is needed for this",
                    hint=f"Send the current admin password as {field_name!r}.",
                )
            if not await self.check_password(proof.current):
                attempt.failed()
                _LOGGER.warning(
                    "wrong current admin password from %s",
                    proof.source,
                    extra={"TSED_EVENT": "password_proof_failed", "TSED_SOURCE": proof.source},
                )
                raise WrongPassword(
                    "the current admin password is wrong; nothing changed",
                    hint="Type the current admin password. Forgotten: tsectl password as root "
                    "on the unit sets a new one.",
                )
            attempt.succeeded()

    # -- configuration as a whole (the page's "Speichern") ------------------------------------

    async def config_update(self, values: dict[str, str]) -> ConfigView:
        """Apply several dotted keys at once: all or nothing, one atomic write."""
        d = self.d
        new: Config = d.config
        created = self._credentials_created()
        password = values.pop(PROXY_PASSWORD, None)
        token = values.pop(TELEMETRY_TOKEN, None)
        for key, raw in values.items():
            new = set_value(new, key, raw, credentials_created=created)
        d.settings.config = save_config(d.options.config_path, new)
        for name, secret in ((PROXY_PASSWORD, password), (TELEMETRY_TOKEN, token)):
            if secret:
                register_secret(secret)
                d.vault.set(name, secret)
            elif secret is not None:
                d.vault.delete(name)
        if token is not None or any(k.startswith(("telemetry.", "proxy.")) for k in values):
            d.telemetry.reconfigure()
        set_extended(d.config.extended_logging)
        await d.store.audit("admin", "config_saved", {"keys": sorted(values)})
        if [t.id for t in d.config.tenant_list()] != list(d.upstreams.tenants):
            await d.reload_backend()  # a tenant more or less: its own TSS and credentials
        elif password is not None or any(key.startswith("proxy.") for key in values):
            await d.apply_proxy()
        return await self.config_show()

    async def config_show(self) -> ConfigView:
        d = self.d
        status = credentials_status(d.state_dir, d.vault)
        return ConfigView(
            settings=config_to_dict(d.config),
            usage=d.config.usage,
            mode=d.mode,
            saved=d.config.saved,
            proxy_password_set=d.vault.get(PROXY_PASSWORD) is not None,
            # multi_tenant_locked: credentials.json has keys, i.e. credentials_created(state_dir)
            credentials_created=self._own_credentials() or status.multi_tenant_locked,
            activation=status.activation_env,
            credentials=tuple(
                ConfiguredCredentials(tenant=t.tenant_id, api_key=t.api_key, env=t.env)
                for t in status.tenants
                if t.env == d.mode
            ),
            url=d.upstream_url(),
        )

    def _own_credentials(self) -> bool:
        """Own TEST credentials entered with tsectl credentials set (not in the record)."""
        d = self.d
        return d.backend == "fiskaly" and any(
            d.vault.get(vault_key(t.id, d.mode, "api_key")) for t in d.config.tenant_list()
        )

    def _credentials_created(self) -> bool:
        return self._own_credentials() or credentials_created(self.d.state_dir)

    # -- tenants ------------------------------------------------------------------------------

    async def list_tenants(self) -> TenantsView:
        cfg = self.d.config
        return TenantsView(
            multi_tenant=cfg.multi_tenant,
            locked=self._credentials_created(),
            tenants=tuple(TenantView.of(t) for t in cfg.tenants),
        )

    async def add_tenant(self, tenant_id: str, name: str, vat_id: str | None) -> TenantsView:
        if any(t.id == tenant_id for t in self.d.config.tenants):
            raise ConflictError(
                f"tenant {tenant_id!r} exists already",
                hint="Change it with tsectl config set tenants.<id>.name / .vat_id.",
            )
        values = {f"tenants.{tenant_id}.name": name}
        if vat_id:
            values[f"tenants.{tenant_id}.vat_id"] = vat_id
        await self.config_update(values)
        if self.d.config.multi_tenant and self._credentials_created():
            _LOGGER.info(
                "tenant %s added: it needs its own credentials (Anlegen)",
                tenant_id,
                extra={"TSED_EVENT": "tenant_added", "TSED_TENANT": tenant_id},
            )
        return await self.list_tenants()

    # -- Anlegen and the switch to LIVE -------------------------------------------------------

    async def create_credentials(
        self, confirm: bool, addresses: dict[str, dict[str, str]] | None = None
    ) -> CredentialsCreated:
        """The mask's "Anlegen"; the secret is in this answer once, never again."""
        d = self.d  # create() enforces the rules: saved once, activation, the "Ja"
        access = FiskalyAccess.from_config(d.config, d.vault, d.mode, d.environ)
        result = await create(
            config=d.config,
            state_dir=d.state_dir,
            vault=d.vault,
            access=access,
            confirm=confirm,
            device_id=d.identity.device_id,
            addresses=_addresses(addresses),
            store=d.store,
        )
        switch = await self._use_credentials()
        return CredentialsCreated(
            result,
            switch,
            backend=d.backend,
            notice="Note the API secret now: it is shown only this once. Then save the "
            "configuration and run the connection test.",
        )

    async def _use_credentials(self) -> ModeSwitchResult | None:
        """New credentials: reload the backend; in LIVE also re-bind everything to LIVE."""
        await self.d.reload_backend()
        return await self._bind_live()

    async def _bind_live(self) -> ModeSwitchResult | None:
        d = self.d
        if d.mode != "LIVE" or d.backend != "fiskaly":
            return None
        missing = [t for t in d.upstreams.tenants if d.upstreams.credentials(t) is None]
        if missing:
            _LOGGER.info(
                "LIVE mode: no LIVE credentials yet for %s: 'Anlegen' comes next",
                ", ".join(missing),
                extra={"TSED_EVENT": "mode_pending", "TSED_MODE": d.mode},
            )
            return None
        result = await switch_mode(
            target="LIVE", state_dir=d.state_dir, store=d.store, registry=d.upstreams
        )
        d.refresh_status()
        return result

    async def change_mode(self, mode: str) -> ModeSwitchResult | None:
        """After a vendor activation changed the mode: follow it without a restart."""
        d = self.d
        if mode == d.mode:
            return None
        d.settings.mode = "LIVE" if mode == "LIVE" else "TEST"
        if d.advertiser is not None:
            await d.advertiser.update(mode=d.mode)
        return await self._use_credentials()

    # -- exports ------------------------------------------------------------------------------

    async def start_export(self, tenant: str | None, tss_id: str | None,
                           export_range: ExportRange) -> ExportJob:  # fmt: skip
        d = self.d
        bindings = d.upstreams.all_bindings()
        if tss_id is None:
            tenant = tenant or d.config.tenant_list()[0].id
            if tenant not in bindings:
                raise NotFoundError(
                    f"tenant {tenant!r} has no TSS", hint="Set it up first: tsectl tss setup"
                )
            tss_id = bindings[tenant].tss_id
        else:
            found = [t for t, b in bindings.items() if b.tss_id == tss_id]
            if not found:
                raise NotFoundError(
                    f"TSS {tss_id} is not one of this unit's TSS in {d.mode} mode",
                    hint="tsectl tss status lists them.",
                )
            tenant = found[0]
        job = d.exports.start(d.upstreams.client(tenant), tss_id, tenant, export_range)
        await d.store.audit("admin", "export_started", {"tss": tss_id, "job": job.id})
        return job

    async def export_status(self, job_id: str) -> ExportJob:
        return self.d.exports.get(job_id)

    async def export_file(self, job_id: str, part: int) -> Path:
        return self.d.exports.file(job_id, part)

    async def outages(self) -> Outages:
        rows = await self.d.store.outages()
        return Outages(tuple(reversed(rows[-200:])))

    def pairing_qr(self, code: str) -> PairingQr:
        """What a register app scans: how to reach the unit and the one-time code."""
        d = self.d
        listen = d.options.listen
        wildcard = listen.host in ("", "0.0.0.0", "::")  # noqa: S104 - compared, not bound
        addresses = d.addresses() if wildcard else [listen.host]
        text = (
            f"TSED:1;ID={d.identity.short_id};ADDR={','.join(addresses)};PORT={listen.port};"
            f"FP={d.identity.fingerprint_sha256};CODE={code.replace('-', '')}"
        )
        qr = segno.make(text, error="m")
        return PairingQr(text, qr.svg_data_uri(scale=4, dark="#000", light="#fff"))

    # -- factory reset ------------------------------------------------------------------------

    async def factory_reset(
        self, confirm: bool, proof: PasswordProof | None = None
    ) -> FactoryResetResult:
        """Back to first boot for a new shop. Kept: the device identity, the vendor activation
        and mode (a LIVE unit stays LIVE), and the journal with every signed receipt."""
        d = self.d
        if not confirm:
            raise ConfirmationRequired(
                "a factory reset erases the configuration, credentials, paired registers and "
                "the admin password; it needs the confirmation"
            )
        await self.prove(proof, "password")
        pending = await d.store.count_open()
        if pending:
            raise ConflictError(
                f"{pending} transaction(s) are not finished or not yet signed by the TSE",
                hint="Wait until the TSE is reachable and they are signed (tsectl status), "
                "then reset; fiscal records are never thrown away.",
            )
        archived_run = await d.archive.archive_before("before factory reset")  # else refused
        now = time.time()
        for row in list(d.registers.rows.values()):
            if row.revoked_at is None:
                await d.registers.revoke(row.id)
        archived = 0
        for env in ("TEST", "LIVE"):
            archived += await d.store.archive_bindings(env, now)
        d.vault.delete(*[n for n in d.vault.names() if n not in _KEEP_ON_RESET])
        (d.state_dir / CREDENTIALS_RECORD).unlink(missing_ok=True)
        d.options.config_path.unlink(missing_ok=True)
        d.settings.config = Config()
        d.telemetry.reconfigure()  # off again, at once
        set_extended(False)
        d.pairing.close()
        d.web_sessions.drop_all()
        d.listener.forget_sources()
        await d.store.audit("admin", "factory_reset", {"archived": archived})
        _LOGGER.warning(
            "factory reset: configuration, credentials, registers and password erased",
            extra={"TSED_EVENT": "factory_reset"},
        )
        await d.reload_backend()
        return FactoryResetResult(
            reset=True, archived_bindings=archived, mode=d.mode, archive_run=archived_run
        )


def _addresses(raw: dict[str, dict[str, str]] | None) -> dict[str, OrgAddress] | None:
    if not raw:
        return None
    out: dict[str, OrgAddress] = {}
    for tenant, fields in raw.items():
        street, zip_code, town = (fields.get(k, "").strip() for k in ("street", "zip", "town"))
        if not (street and zip_code and town):
            raise InputError(
                f"address of tenant {tenant!r}: street, zip and town are all needed",
                hint="Leave the address out to use the one from the vendor activation.",
            )
        out[tenant] = OrgAddress(street, zip_code, town, fields.get("country", "DEU") or "DEU")
    return out
