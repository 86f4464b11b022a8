"""What the admin API (:mod:`tsed.net.admin`) asks of the daemon, and what it answers with.

The daemon implements :class:`AdminOperations` (:mod:`tsed.unit.admin_ops`); every answer is a
frozen view of the domain it describes, turned into JSON only at the HTTP edge
(:func:`tsed.net.wire.to_wire`). The unit's status is defined above this layer
(:mod:`tsed.unit.views`): here it is an answer that knows its wire form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tsed.config.tenancy import TenantsView
from tsed.config.view import ConfigView
from tsed.net.auth import PairingAnswer, RegisterView
from tsed.net.passwords import PasswordStatus
from tsed.net.wire import JsonView
from tsed.provisioning.views import (
    ActivationAnswer,
    CredentialsCreated,
    CredentialsSet,
    FactoryResetResult,
)
from tsed.signing.status import Outages
from tsed.tss.exportjobs import ExportJob
from tsed.tss.exports import ExportRange
from tsed.tss.views import TssStatus

if TYPE_CHECKING:  # loaded when the operation runs
    from tsed.provisioning.conntest import ConnectionReport
    from tsed.provisioning.reset import ResetResult


class AdminOperations(Protocol):
    """What the admin API can ask the daemon to do."""

    async def status(self) -> JsonView: ...

    async def open_pairing(
        self, minutes: int | None, tenant: str | None = None, proof: PasswordProof | None = None
    ) -> PairingAnswer: ...

    async def list_registers(self) -> tuple[RegisterView, ...]: ...

    async def revoke_register(self, register_id: str) -> None: ...

    async def config_show(self) -> ConfigView: ...

    async def config_set(self, key: str, value: str) -> ConfigView: ...

    async def config_update(self, values: dict[str, str]) -> ConfigView: ...

    async def connection_test(self) -> ConnectionReport: ...

    async def reset(self, register_id: str | None, everything: bool) -> ResetResult: ...

    async def tss_status(self) -> TssStatus: ...

    async def activate(self, document: bytes) -> ActivationAnswer: ...

    async def tss_setup(self, new: bool) -> TssStatus: ...

    async def set_credentials(
        self, api_key: str, api_secret: str, tenant: str | None
    ) -> CredentialsSet: ...

    async def create_credentials(
        self, confirm: bool, addresses: dict[str, dict[str, str]] | None = None
    ) -> CredentialsCreated: ...

    async def password_status(self) -> PasswordStatus: ...

    async def set_password(
        self, password: str, proof: PasswordProof | None = None
    ) -> PasswordStatus: ...

    async def list_tenants(self) -> TenantsView: ...

    async def add_tenant(self, tenant_id: str, name: str, vat_id: str | None) -> TenantsView: ...

    async def outages(self) -> Outages: ...

    async def start_export(
        self, tenant: str | None, tss_id: str | None, export_range: ExportRange
    ) -> ExportJob: ...

    async def export_status(self, job_id: str) -> ExportJob: ...

    async def export_file(self, job_id: str, part: int) -> Path: ...

    async def factory_reset(
        self, confirm: bool, proof: PasswordProof | None = None
    ) -> FactoryResetResult: ...

    async def metrics(self) -> tuple[bytes, str]: ...


@dataclass(frozen=True, slots=True)
class PasswordProof:
    """The current admin password as a caller proved it (``None``: not sent)."""

    current: str | None = field(repr=False)
    required: bool
    source: str  # whose failures count towards the lockout: the web peer or "console"
