"""An archive's surroundings for tests: a TSS with signed receipts on the simulator, and an
:class:`~tsed.archive.run.Archiver` over it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support.provisioning import FAST, Unit
from tsed.archive.run import Archiver, ArchiveTarget
from tsed.archive.store import ArchiveStore
from tsed.fiskaly.client import FiskalyClient
from tsed.state.rows import ClientRow
from tsed.tss.registry import UpstreamRegistry, vault_key

RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}
FAST_POLL = 0.1


@dataclass
class Shop:
    """One tenant's TSS with a register client, on the simulator of ``unit``."""

    unit: Unit
    registry: UpstreamRegistry
    row: ClientRow
    client: FiskalyClient

    @property
    def tss_id(self) -> str:
        return self.row.tss_id

    async def receipts(self, count: int) -> None:
        for _ in range(count):
            tx_id = str(uuid.uuid4())
            await self.client.start_transaction(self.tss_id, tx_id, self.row.client_id)
            await self.client.finish_transaction(self.tss_id, tx_id, 2, self.row.client_id, RECEIPT)

    async def counter(self) -> int:
        return int((await self.client.get_tss(self.tss_id)).signature_counter or 0)

    def target(self) -> ArchiveTarget:
        return ArchiveTarget("default", self.tss_id, self.client)


async def open_shop(unit: Unit) -> Shop:
    creds = unit.sim.add_api_key("TEST")
    unit.vault.update({vault_key("default", "TEST", "api_key"): creds.api_key,
                       vault_key("default", "TEST", "api_secret"): creds.api_secret})  # fmt: skip
    registry = unit.registry("TEST")
    await registry.start()
    row = await registry.ensure_client(str(uuid.uuid4()), "ERS kasse-1", "default")
    return Shop(unit, registry, row, registry.client("default"))


def archiver(root: Path, shop: Shop, **options: object) -> Archiver:
    store = ArchiveStore(root)
    store.open()
    settings: dict[str, object] = {"poll_interval": FAST_POLL, "busy_wait": 0.05, **options}
    return Archiver(store, lambda: [shop.target()], **settings)  # type: ignore[arg-type]


__all__ = ["FAST", "RECEIPT", "Shop", "archiver", "open_shop"]
