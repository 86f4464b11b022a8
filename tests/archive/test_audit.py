"""A week of receipts across two tenants, nightly runs, the simulator's retention of two days:
after fiskaly forgot the data, the auditor export of the whole week is complete and verifies.

The clock is the test's: the simulator, the fiskaly clients and the archive share it; each
"day" has receipts at 10:00 and the nightly run at 02:00 of the next day.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tarfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.fiskaly.simulator.conftest import Api
from tests.support.offbox import RcloneRest
from tsed.archive.audit import period, verify_archive
from tsed.archive.auditor import Restored, export_period, needs_restore
from tsed.archive.offbox import OffboxCopy
from tsed.archive.run import Archiver, ArchiveTarget
from tsed.archive.store import ArchiveStore
from tsed.config.model import config_from_dict
from tsed.config.offbox import CREDENTIAL_ENTRY, PASSWORD_ENTRY
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.simulator import Limits, Simulator, SimulatorServer
from tsed.fiskaly.tarverify import AUD_NAME, SYS_NAME, TX_NAME, verify_tar
from tsed.fiskaly.transport import RetryPolicy
from tsed.state.vault import Vault

DAY = 86400.0
START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
DAYS = 7
PER_DAY = 6


@dataclass
class Tenant:
    name: str
    api: Api
    tss_id: str
    client_id: str
    fiskaly: FiskalyClient


class Clock:
    def __init__(self) -> None:
        self.now = START.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def week(tmp_path: Path) -> AsyncIterator[tuple[Clock, Simulator, list[Tenant]]]:
    clock = Clock()
    sim = Simulator(clock=clock, limits=Limits(retention_seconds=2 * DAY))
    server = SimulatorServer(sim)
    await server.start()
    http = httpx.AsyncClient(base_url=server.base_url, timeout=30.0)
    tenants = []
    for name in ("nord", "sued"):
        creds = sim.add_api_key("TEST")
        api = Api(http, creds)
        await api.auth()
        tss_id, client_id = await api.setup_tss()
        fiskaly = FiskalyClient(api_key=creds.api_key, api_secret=creds.api_secret,
                                base_url=server.base_url, retry=RetryPolicy(attempts=1),
                                clock=clock)  # fmt: skip
        tenants.append(Tenant(name, api, tss_id, client_id, fiskaly))
    yield clock, sim, tenants
    for tenant in tenants:
        await tenant.fiskaly.stop()
    await http.aclose()
    await server.stop()
    sim.close()


def _names(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def _counters(path: Path) -> list[int]:
    names = _names(path)
    return [int(m.group("counter")) for n in names
            if (m := TX_NAME.match(n) or SYS_NAME.match(n) or AUD_NAME.match(n))]  # fmt: skip


@pytest.mark.timeout(300)
async def test_a_week_is_complete_from_the_archive_after_fiskaly_forgot_it(
    week: tuple[Clock, Simulator, list[Tenant]], tmp_path: Path
) -> None:
    """... and, after the box lost its archive, from the off-box copy made after every
    nightly run (a real restic REST target on loopback)."""
    clock, sim, tenants = week
    target = RcloneRest(tmp_path / "target")
    await target.astart()
    try:
        await _week(clock, sim, tenants, tmp_path, target)
    finally:
        await target.astop()


async def _week(
    clock: Clock, sim: Simulator, tenants: list[Tenant], tmp_path: Path, target: RcloneRest
) -> None:
    vault = Vault(tmp_path / "state" / "vault.json")
    vault.update({PASSWORD_ENTRY: "week-repository-password", CREDENTIAL_ENTRY: target.password})
    config = config_from_dict({"offbox": {"repository": target.url(), "user": target.user}})
    offbox = OffboxCopy.from_config(config, vault, tmp_path / "state", clock=clock)
    assert offbox is not None
    copy_seconds: list[float] = []
    store = ArchiveStore(tmp_path / "archive", clock=clock)
    store.open()
    archiver = Archiver(
        store, lambda: [ArchiveTarget(t.name, t.tss_id, t.fiskaly) for t in tenants],
        poll_interval=0.1, clock=clock,
    )  # fmt: skip
    for day in range(DAYS):
        clock.now = (START + timedelta(days=day)).timestamp()
        for tenant in tenants:
            await tenant.api.auth()  # the test's own token lives one simulated day
            for _ in range(PER_DAY):
                await tenant.api.sale(tenant.tss_id, tenant.client_id)
        clock.now = (START + timedelta(days=day, hours=16)).timestamp()  # 02:00 next day
        state = await archiver.run("nightly")
        assert state.state == "done" and state.files == 2, (day, state.to_json())
        copied = await offbox.copy(store.root)  # what the unit does after every good run
        copy_seconds.append(copied.seconds)
    clock.now = (START + timedelta(days=DAYS + 3)).timestamp()  # fiskaly's retention is over
    for tenant in tenants:
        await tenant.api.auth()
        first = store.entries(tenant.tss_id, "archived")[0].first_counter
        gone = await tenant.api.call("GET", f"/tss/{tenant.tss_id}/tx")
        left = [t for t in gone.json().get("data", []) if t.get("state") != "ACTIVE"]
        assert gone.status_code == 200 and left == []  # every ended transaction is gone
        assert all(e.counter > first + 100 for e in sim.state.logs.get(tenant.tss_id, []))
    days = (START.date().isoformat(), (START + timedelta(days=DAYS - 1)).date().isoformat())
    low, high = period(*days)
    report = export_period(store, tmp_path / "auditor", low, high)
    assert report["ok"], json.dumps(report, indent=1)
    for tenant in tenants:
        files = [f for f in report["files"] if f["tss_id"] == tenant.tss_id]
        assert len(files) == DAYS and not report["gaps"][tenant.tss_id]
        counters = sorted(c for f in files for c in _counters(tmp_path / "auditor" / f["file"]))
        assert counters == list(range(counters[0], counters[-1] + 1))  # no gap, none twice
        logs = [name for f in files
                for name in _names(tmp_path / "auditor" / f["file"])
                if "_Log-Tra_" in name and "_Finish_" in name]  # fmt: skip
        assert len(logs) == DAYS * PER_DAY  # every receipt of the week, signed
        assert all(verify_tar(tmp_path / "auditor" / f["file"]).ok for f in files)
    assert (
        ": OK (14 file(s), from the local archive)"
        in (tmp_path / "auditor" / "report.txt").read_text()
    )
    one = export_period(store, tmp_path / "nord", low, high, tenant="nord")
    assert {f["tenant"] for f in one["files"]} == {"nord"} and one["ok"]
    assert verify_archive(store)["ok"]
    # the box loses its archive: the auditor's export comes from the off-box copy
    shutil.rmtree(store.root)
    assert needs_restore(store, low, high, None)
    restored = await offbox.restore(tmp_path / "restored")
    copy = Restored(ArchiveStore(tmp_path / "restored"), restored.snapshot_id[:8])
    again = export_period(store, tmp_path / "auditor-offbox", low, high, restored=copy)
    assert again["ok"] and again["complete"] and again["source"] == "off-box copy", again
    assert [(f["file"], f["sha256"]) for f in again["files"]] == [
        (f["file"], f["sha256"]) for f in report["files"]
    ]
    for item in again["files"]:
        assert verify_tar(tmp_path / "auditor-offbox" / item["file"]).ok
    print(
        f"off-box copy after each of {DAYS} nightly runs: median "
        f"{statistics.median(copy_seconds):.2f} s, max {max(copy_seconds):.2f} s; repository "
        f"{copied.repository_bytes} bytes for {copied.summary.total_bytes} bytes of archive; "
        f"restore of {restored.files} files in {restored.seconds:.2f} s"
    )
