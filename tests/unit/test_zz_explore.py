import json, tarfile
from pathlib import Path
from tests.support.unit import running_unit
from tsed.archive.store import ArchiveStore
from tsed.fiskaly.tarverify import SYS_NAME

async def test_explore(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        reg = await unit.pair()
        await reg.receipt()
        tss_id = unit.daemon.upstreams.binding("default").tss_id
        conf = f"TSS {tss_id[:8]} stilllegen"
        code, out = await unit.tsectl("decommission", "tss", "--reason", "Geschäft aufgegeben", "--confirm", conf)
        print(code, out)
        print(unit.daemon.sim.state.tss[tss_id].state)
        r = await reg.call("POST", "/api/v1/receipts", {"receipt_type": "RECEIPT", "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "1.00"}], "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "1.00"}]})
        print(r.status_code, r.text)
        store = ArchiveStore(unit.state_dir / "archive")
        for e in store.entries(tss_id):
            with tarfile.open(store.path(e)) as tar:
                print(e, [n for n in tar.getnames() if SYS_NAME.match(n)])
        print(max(l.counter for l in unit.daemon.sim.state.logs[tss_id]))
        code, out = await unit.tsectl("--json", "status")
        print(out[:1500])
