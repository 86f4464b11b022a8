"""The archive in a real unit: tsectl archive status|run|verify|export, metrics, and the
archive surviving a factory reset."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.archive import RECEIPT
from tests.support.unit import running_unit


async def test_archive_operations_through_tsectl_and_factory_reset(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1  # the simulator is done in 0.5 s
        register = await unit.pair()
        for _ in range(5):
            await register.receipt()
        code, out = await unit.tsectl("--json", "archive", "run")
        assert code == 0, out
        run = json.loads(out)
        assert run["state"] == "done" and run["files"] == 1 and run["reason"] == "on demand"
        ((tss_id, item),) = run["tss"].items()
        code, out = await unit.tsectl("--json", "archive", "status")
        status = json.loads(out)
        tss = status["tss"][tss_id]
        assert tss["last_counter"] == item["archived_to"] and tss["in_use"] and not tss["gaps"]
        assert tss["lag_signatures"] <= 2 and tss["findings"] == []  # the export's own logs
        assert status["receipts"] == 5 and status["bytes_per_10000_receipts"] > 0
        assert status["next_run"] > time.time() and status["archive_hour"] == 2
        code, text = await unit.tsectl("archive", "status")
        assert code == 0 and f"TSS {tss_id}" in text and "per 10 000 receipts" in text
        code, out = await unit.tsectl("--json", "archive", "verify")
        assert code == 0 and json.loads(out)["ok"], out
        today = datetime.now(UTC).date().isoformat()
        code, out = await unit.tsectl("--json", "archive", "export", "--from", today, "--to",
                                      today)  # fmt: skip
        assert code == 0, out
        report = json.loads(out)
        folder = Path(report["directory"])
        assert report["ok"] and [f["tss_id"] for f in report["files"]] == [tss_id]
        assert {p.name for p in folder.iterdir()} == {
            report["files"][0]["file"],
            "SHA256SUMS",
            "report.json",
            "report.txt",
        }
        sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, check=False,
                              capture_output=True, text=True)  # fmt: skip
        assert sums.returncode == 0, sums.stdout
        code, out = await unit.tsectl("--json", "archive", "export", "--from", "2026-13-01",
                                      "--to", today)  # fmt: skip
        assert code == 1 and json.loads(out)["error"]["code"] == "INVALID_REQUEST", out
        code, out = await unit.tsectl("--json", "archive", "export", "--from", "2020-01-01",
                                      "--to", "2020-01-02")  # fmt: skip
        assert code == 0 and json.loads(out)["files"] == []  # nothing archived then
        transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
        async with httpx.AsyncClient(transport=transport, base_url="http://tsed") as admin:
            metrics = (await admin.get("/admin/metrics")).text
            assert f'tsed_archive_lag_signatures{{tss="{tss_id}"}}' in metrics
            assert f'tsed_archive_lag_hours{{tss="{tss_id}"}}' in metrics
            assert "tsed_archive_running 0.0" in metrics
            assert "tsed_receipts_total" in metrics  # the signing metrics are still there
            busy = await admin.post("/admin/v1/archive/export", json={"from": today})
            assert busy.status_code == 400
        archived = sorted((unit.state_dir / "archive" / "tss").rglob("*.tar"))
        await register.receipt()  # signed after the last run: archived before the reset
        code, out = await unit.tsectl("--json", "factory-reset", "--yes")
        assert code == 0, out
        assert json.loads(out)["archive_run"]["state"] == "done"
        kept = sorted((unit.state_dir / "archive" / "tss").rglob("*.tar"))
        assert kept[: len(archived)] == archived and len(kept) == len(archived) + 1
        code, out = await unit.tsectl("--json", "archive", "status")
        assert json.loads(out)["tss"][tss_id]["last_counter"] >= tss["last_counter"] + 2
        code, out = await unit.tsectl("--json", "archive", "verify")
        assert code == 0 and json.loads(out)["ok"], out


@pytest.mark.timeout(180)
async def test_an_archive_run_never_blocks_signing(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        archiver = unit.daemon.archive.archiver
        archiver.poll_interval, archiver.max_records = 0.1, 100  # many files: many checks
        register = await unit.pair()
        for _ in range(300):
            await register.receipt()
        idle = []
        for _ in range(20):
            began = time.monotonic()
            await register.receipt()
            idle.append(time.monotonic() - began)
        run = asyncio.create_task(archiver.run("test"))
        during, late = [], 0
        while not run.done():
            began = time.monotonic()
            answer = await register.receipt()
            during.append(time.monotonic() - began)
            late += bool(answer["tse_failure"])
        state = await run
        assert state.state == "done" and state.files >= 6, state.to_json()
        assert len(during) >= 10  # receipts went on during the run
        # signed within the register's deadline, every one (a blocked unit answers tse_failure)
        assert late == 0, (late, sorted(during)[-5:])
        print(
            f"receipts during a run of {state.finished_at - state.started_at:.1f} s: "
            f"{len(during)}, median {statistics.median(during) * 1000:.0f} ms, max "
            f"{max(during) * 1000:.0f} ms (idle median {statistics.median(idle) * 1000:.0f} ms)"
        )


async def test_a_finding_is_an_alert_in_tsectl_status(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        register = await unit.pair()
        await register.receipt()
        sim = unit.daemon.sim
        assert sim is not None
        ((tss_id, logs),) = sim.state.logs.items()
        logs[-1] = replace(logs[-1], signature=bytes(64))  # the TSE serves a bad signature
        code, out = await unit.tsectl("--json", "archive", "run")
        assert code == 1, out
        code, out = await unit.tsectl("--json", "archive", "status")
        assert json.loads(out)["tss"][tss_id]["findings"], out
        code, out = await unit.tsectl("--json", "status")
        (notice,) = [n for n in json.loads(out)["notices"] if n.startswith("archive:")]
        assert f"TSS {tss_id}" in notice and "signature" in notice and "rejected/" in notice
        code, out = await unit.tsectl("status")
        assert "has findings" in out


async def test_a_replaced_tss_is_archived_first(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        register = await unit.pair()
        await register.receipt()
        old = unit.daemon.upstreams.binding("default")
        assert old is not None
        code, out = await unit.tsectl("--json", "tss", "setup", "--new")
        assert code == 0, out
        code, out = await unit.tsectl("--json", "archive", "status")
        item = json.loads(out)["tss"][old.tss_id]
        assert item["files"] == 1 and item["last_counter"] > 23
        assert unit.daemon.upstreams.binding("default").tss_id != old.tss_id  # type: ignore[union-attr]


async def test_a_damaged_archive_index_never_stops_signing(tmp_path: Path) -> None:
    """The archive's index is damaged: the unit starts, signs, says what is wrong."""
    state = tmp_path / "state"
    (state / "archive").mkdir(parents=True, mode=0o700)
    (state / "archive" / "index.sqlite").write_bytes(b"this is not a database" * 100)
    async with running_unit(state) as unit:
        register = await unit.pair()
        answer = await register.receipt()
        assert answer["tse_failure"] is False and answer["result"] is not None
        code, out = await unit.tsectl("--json", "status")
        assert code == 0, out
        notices = json.loads(out)["notices"]
        assert any("archive: cannot be opened" in notice for notice in notices), notices
        code, out = await unit.tsectl("--json", "archive", "run")
        assert code == 1, out
        error = json.loads(out)["error"]
        assert error["code"] == "STORAGE_FAILED" and "archive cannot be opened" in error["message"]
        assert "restart the unit" in error["hint"]


async def test_a_replacement_or_reset_is_refused_when_the_archive_run_fails(
    tmp_path: Path,
) -> None:
    """Before: the run's failure was ignored and the TSS replaced (its last signatures then
    belonged to a TSS nobody archived any more)."""
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        register = await unit.pair()
        await register.receipt()
        old = unit.daemon.upstreams.binding("default")
        assert old is not None
        sim = unit.daemon.sim
        assert sim is not None
        logs = sim.state.logs[old.tss_id]
        logs[-1] = replace(logs[-1], signature=bytes(64))  # the export will have a finding
        code, out = await unit.tsectl("--json", "tss", "setup", "--new")
        assert code == 1, out
        error = json.loads(out)["error"]
        assert error["code"] == "ARCHIVE_INCOMPLETE" and old.tss_id in error["message"], error
        assert "tsectl archive run" in error["hint"]
        assert unit.daemon.upstreams.binding("default").tss_id == old.tss_id  # type: ignore[union-attr]
        code, out = await unit.tsectl("--json", "factory-reset", "--yes")
        assert code == 1 and json.loads(out)["error"]["code"] == "ARCHIVE_INCOMPLETE", out
        assert (await register.receipt())["tse_failure"] is False  # still paired, signing


async def test_a_replaced_tss_is_archived_to_its_last_signature(tmp_path: Path) -> None:
    """A signature the old TSS makes after the replacement (a late-signed transaction of a
    register's outage) is archived by the next run; then the old TSS is done. Before: the
    replaced TSS was no archive target any more."""
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        register = await unit.pair()
        await register.receipt()
        old = unit.daemon.upstreams.binding("default")
        assert old is not None
        code, out = await unit.tsectl("--json", "tss", "setup", "--new")
        assert code == 0, out
        client = unit.daemon.upstreams.client("default")
        (old_client, *_) = await client.list_clients(old.tss_id)
        tx_id = str(uuid.uuid4())
        await client.start_transaction(old.tss_id, tx_id, str(old_client.id))
        await client.finish_transaction(old.tss_id, tx_id, 2, str(old_client.id), RECEIPT)
        newest = int((await client.get_tss(old.tss_id)).signature_counter or 0)
        code, out = await unit.tsectl("--json", "archive", "status")
        item = json.loads(out)["tss"][old.tss_id]
        assert item["in_use"] and item["last_counter"] < newest  # still an archive target
        run = await unit.daemon.archive.run_now("test")
        assert run.state == "done" and run.tss[old.tss_id]["archived_to"] >= newest
        code, out = await unit.tsectl("--json", "archive", "status")
        item = json.loads(out)["tss"][old.tss_id]
        assert item["last_counter"] >= newest and item["in_use"] is False  # done with it
        assert old.tss_id not in unit.daemon.archive.store.retired()
