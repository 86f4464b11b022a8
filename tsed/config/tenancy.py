"""Which tenant (company, VAT ID, TSS) a register signs for: the installer decides."""

from __future__ import annotations

from dataclasses import dataclass

from tsed.config.model import Config, Tenant, effective
from tsed.errors import TenantMismatch


def bound_tenant(
    config: Config, serial: str, window_tenant: str | None, requested: str | None
) -> str:
    """The tenant a pairing register is bound to: the installer decides, never the register.

    The workplace setting wins, then the tenant the pairing window was opened for, then the
    first tenant. A register that asks for a different one is refused (TenantMismatch)."""
    place = config.workplace(serial)
    tenant = (place.tenant if place else None) or window_tenant or effective(config, None).tenant
    config.tenant(tenant)  # refuses unknown tenants with a hint
    if requested is not None and requested != tenant:
        raise TenantMismatch(
            f"tenant: this register is bound to tenant {tenant!r} by the installer; it asked "
            f"for {requested[:64]!r}"
        )
    return tenant


@dataclass(frozen=True, slots=True)
class TenantView:
    id: str
    name: str
    vat_id: str | None

    @classmethod
    def of(cls, tenant: Tenant) -> TenantView:
        return cls(tenant.id, tenant.name, tenant.vat_id)


@dataclass(frozen=True, slots=True)
class TenantsView:
    """``GET /admin/v1/tenants``: the configured tenants (``locked``: credentials exist, so
    ``multi_tenant`` cannot change any more)."""

    multi_tenant: bool
    locked: bool
    tenants: tuple[TenantView, ...]
