"""The register API's proxy asks for the current signing service on every call: a reload of
the backend replaces the service and the API follows without being rebuilt."""

from __future__ import annotations

from pathlib import Path

from tests.support.unit import running_unit
from tsed.signing.outcome import RegisterRef
from tsed.unit.signing_ops import SigningProxy


async def test_the_proxy_follows_a_reload_of_the_backend(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        first = unit.daemon.signing
        proxy = SigningProxy(lambda: unit.daemon.signing)
        assert (await register.receipt(key="before"))["tse_failure"] is False
        assert proxy.status()["receipts_signed"] == first.status()["receipts_signed"] == 1

        await unit.daemon.running.ops.reload_backend()
        second = unit.daemon.signing
        assert second is not first
        assert proxy.status()["receipts_signed"] == 0  # the new service's counters
        # Through the listener's proxy (built before the reload) to the new service.
        answer = await register.receipt(key="after")
        assert answer["tse_failure"] is False and answer["result"] is not None
        assert second.status()["receipts_signed"] == 1
        assert first.status()["receipts_signed"] == 1  # the old one got nothing more

        # The proxy's own calls land in the current service too.
        row = unit.daemon.registers.rows[register.register_id]
        ref = RegisterRef(row.id, row.serial, row.tenant_id)
        got = await proxy.get_transaction(ref, answer["id"])
        assert got.local_id == answer["id"] and got.state == "finished"
        page = await proxy.list_transactions(ref, ("finished",), 10, None)
        assert answer["id"] in [outcome.local_id for outcome in page]
