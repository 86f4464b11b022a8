"""Registers bound to the simulator's TSS, for the tests of re-binding (reset, LIVE switch).

Import the ``unit`` and ``test_registry`` fixtures into a test module
(``from tests.support.rebinding import test_registry, unit``).
"""

from __future__ import annotations

import uuid

import pytest

from tests.support.provisioning import Unit, unit
from tsed.fiskaly.tr03151 import verify_qr_code
from tsed.state.rows import RegisterRow
from tsed.tss.registry import UpstreamRegistry, vault_key

__all__ = ["RECEIPT", "pair", "sign", "test_registry", "unit", "use_sim_credentials"]
RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}


def use_sim_credentials(u: Unit, env: str) -> None:
    creds = u.sim.add_api_key(env)  # type: ignore[arg-type]
    u.vault.update(
        {
            vault_key("default", env, "api_key"): creds.api_key,
            vault_key("default", env, "api_secret"): creds.api_secret,
        }
    )


async def pair(u: Unit, registry: UpstreamRegistry, serial: str) -> str:
    register_id = str(uuid.uuid4())
    await u.store.add_register(
        RegisterRow(register_id, serial, None, "default", uuid.uuid4().hex, 1.0)
    )
    await registry.ensure_client(register_id, serial, "default")
    return register_id


async def sign(registry: UpstreamRegistry, tss_id: str | None, client_id: str | None) -> str:
    assert tss_id is not None and client_id is not None
    client = registry.client("default")
    tx_id = str(uuid.uuid4())
    await client.start_transaction(tss_id, tx_id, client_id)
    tx = await client.finish_transaction(tss_id, tx_id, 2, client_id, RECEIPT)
    assert tx.qr_code_data and verify_qr_code(tx.qr_code_data).valid
    return tx.env


@pytest.fixture
async def test_registry(unit: Unit):
    use_sim_credentials(unit, "TEST")
    registry = unit.registry("TEST")
    await registry.start()
    yield registry
    await registry.stop()
