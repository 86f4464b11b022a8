"""A unit's provisioning surroundings for tests: simulator over HTTP, state dir, vault, store.

Import the ``unit`` fixture into a test module (``from tests.support.provisioning import unit``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tsed.config.model import Config, Tenant, config_from_dict
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.simulator import SimCredentials, Simulator, SimulatorServer
from tsed.fiskaly.transport import RetryPolicy, Timeouts
from tsed.provisioning.activation import (
    ActivationDocument,
    ActivationOrganization,
    ActivationResult,
    ManagementCredentials,
    accept_activation,
    generate_vendor_key,
    load_private_key,
    sign_document,
)
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.tss.access import FiskalyAccess
from tsed.tss.registry import Credentials, UpstreamRegistry

DEVICE = "5e0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
# Valid German USt-IdNr (check digit computed with tsed.config.check.vat_check_digit).
VAT_A = "DE136695976"
VAT_B = "DE811569869"
FAST = RetryPolicy(attempts=1)


@dataclass
class Unit:
    sim: Simulator
    server: SimulatorServer
    state_dir: Path
    vault: Vault
    store: Store
    vendor_key: Any
    vendor_pub: Path

    @property
    def access(self) -> FiskalyAccess:
        return FiskalyAccess(
            self.server.base_url, self.server.base_url, None, Timeouts(tss_setup=10.0), FAST
        )

    def activate(
        self, env: str = "TEST", *, mgmt: SimCredentials | None = None, address: bool = True
    ) -> tuple[ActivationResult, SimCredentials]:
        mgmt = mgmt or self.sim.add_api_key(env)  # type: ignore[arg-type]
        signed = signed_activation(
            self.vendor_key, DEVICE, env, mgmt.api_key, mgmt.api_secret,
            organization_id=mgmt.organization_id, address=address,
        )  # fmt: skip
        result = accept_activation(
            signed, public_key_path=self.vendor_pub,
            device_id=DEVICE, state_dir=self.state_dir, vault=self.vault,
        )  # fmt: skip
        return result, mgmt

    def registry(self, mode: str) -> UpstreamRegistry:
        base_url = self.server.base_url

        def make_client(tenant: str, creds: Credentials, on_auth: Any) -> FiskalyClient:
            return FiskalyClient(
                api_key=creds.api_key, api_secret=creds.api_secret, base_url=base_url,
                on_auth=on_auth, retry=FAST,
            )  # fmt: skip

        return UpstreamRegistry(
            store=self.store, vault=self.vault, mode=mode, make_client=make_client,
            tenants=["default"],
        )  # fmt: skip


def signed_activation(
    vendor_key: Any,
    device_id: str,
    env: str,
    mgmt_key: str,
    mgmt_secret: str,
    *,
    organization_id: str | None = None,
    address: bool = True,
    document_id: str | None = None,
) -> bytes:
    """A vendor activation document for ``device_id``, signed with ``vendor_key``."""
    org = ActivationOrganization(
        "Optik Muster GmbH",
        organization_id,
        "Hauptstr. 1" if address else None,
        "10115" if address else None,
        "Berlin" if address else None,
    )
    document = ActivationDocument(
        document_id=document_id or f"doc-{env}",
        device_id=device_id,
        environment=env,  # type: ignore[arg-type]
        organization=org,
        management=ManagementCredentials(mgmt_key, mgmt_secret),
        issued_at=datetime.now(UTC) - timedelta(minutes=5),
        expires_on=date.today() + timedelta(days=30),
    )
    return sign_document(vendor_key, document)


def saved_config(**changes: Any) -> Config:
    config = config_from_dict({"created_at": "2026-11-01T10:00:00Z"})
    return replace(config, **changes)


def multi_tenant_config(*tenants: Tenant) -> Config:
    return config_from_dict(
        {
            "created_at": "2026-11-01T10:00:00Z",
            "multi_tenant": True,
            "tenants": {t.id: {"name": t.name, "vat_id": t.vat_id} for t in tenants},
        }
    )


@pytest.fixture
async def unit(tmp_path: Path) -> AsyncIterator[Unit]:
    sim = Simulator()
    server = SimulatorServer(sim)
    await server.start()
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    store = Store(state_dir / "tsed.sqlite")
    await store.open()
    private_pem, public_pem = generate_vendor_key()
    pub = tmp_path / "vendor.pub"
    pub.write_bytes(public_pem)
    yield Unit(
        sim, server, state_dir, Vault(state_dir / "vault.json"), store,
        load_private_key(private_pem), pub,
    )  # fmt: skip
    await store.close()
    await server.stop()
    sim.close()
