"""TSS exports against the simulator: TAR files with TR-03151 names, ranges, splitting, limits."""

from __future__ import annotations

import asyncio
import json
import os
import re
import tarfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.provisioning import Unit, unit
from tsed.errors import InputError, NotFoundError
from tsed.fiskaly import errors as ferr
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.transport import RetryPolicy
from tsed.tss.exportjobs import ExportJobs
from tsed.tss.exports import ExportFailed, ExportProgress, ExportRange, _Pacer, export_tss
from tsed.tss.registry import vault_key

__all__ = ["unit"]
RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}
TX_LOG = re.compile(
    r"^Unixt_\d+_Sig-(\d+)_Log-Tra_No-(\d+)_(Start|Update|Finish)_Client-[^/]+\.log$"
)
SYS_LOG = re.compile(r"^Unixt_\d+_Sig-(\d+)_Log-Sys_\w+\.log$")
AUD_LOG = re.compile(r"^Unixt_\d+_Sig-(\d+)_Log-Aud\.log$")
CERT = re.compile(r"^[0-9a-f]{64}_X509\.(cer|crt|der|pem)$")
FAST_POLL = 0.05


@pytest.fixture
async def signed(unit: Unit) -> AsyncIterator[tuple[FiskalyClient, str]]:
    """An INITIALIZED TSS with four signed transactions, and a client without retries."""
    creds = unit.sim.add_api_key("TEST")
    unit.vault.update({vault_key("default", "TEST", "api_key"): creds.api_key,
                       vault_key("default", "TEST", "api_secret"): creds.api_secret})  # fmt: skip
    registry = unit.registry("TEST")
    await registry.start()
    row = await registry.ensure_client(str(uuid.uuid4()), "ERS kasse-1", "default")
    client = registry.client("default")
    for _ in range(4):
        tx_id = str(uuid.uuid4())
        await client.start_transaction(row.tss_id, tx_id, row.client_id)
        await client.finish_transaction(row.tss_id, tx_id, 2, row.client_id, RECEIPT)
    plain = FiskalyClient(
        api_key=creds.api_key, api_secret=creds.api_secret, base_url=unit.server.base_url,
        retry=RetryPolicy(attempts=1),
    )  # fmt: skip
    yield plain, row.tss_id
    await plain.stop()
    await registry.stop()


def _names(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def _logs(paths: list[Path]) -> list[str]:
    return [n for p in paths for n in _names(p) if n.endswith(".log")]


async def test_whole_tss_export_is_a_tar_with_tr03151_names(signed, tmp_path: Path) -> None:
    client, tss_id = signed
    events: list[ExportProgress] = []
    result = await export_tss(client, tss_id, tmp_path / "out", on_progress=events.append,
                              poll_interval=FAST_POLL)  # fmt: skip
    (item,) = result.files
    assert item.path.name.startswith(f"export_{tss_id}_") and item.path.suffix == ".tar"
    assert item.size == item.path.stat().st_size and len(item.sha256) == 64
    names = _names(item.path)
    tx_logs = [m for n in names if (m := TX_LOG.match(n))]
    assert {(int(m.group(2)), m.group(3)) for m in tx_logs} == {
        (n, op) for n in range(1, 5) for op in ("Start", "Finish")
    }
    assert any(SYS_LOG.match(n) for n in names)  # set-up logs (PIN, admin, state, client)
    assert any(AUD_LOG.match(n) for n in names)
    assert sum(1 for n in names if CERT.match(n)) == 2 and "info.csv" in names  # TSS and CA
    assert all(TX_LOG.match(n) or SYS_LOG.match(n) or AUD_LOG.match(n) or CERT.match(n)
               or n == "info.csv" for n in names)  # fmt: skip
    kinds = [e.event for e in events]
    assert kinds[0] == "triggered" and kinds[-1] == "downloaded" and "polled" in kinds
    assert events[-1].state == "COMPLETED" and result.to_json()["files"][0]["part"] == 1
    assert {(e.part, e.parts) for e in events} == {(1, 1)}  # "part 1 of 1", also when done


async def test_big_exports_are_split_by_record_count(signed, tmp_path: Path) -> None:
    client, tss_id = signed
    whole = await export_tss(client, tss_id, tmp_path / "whole", poll_interval=FAST_POLL)
    all_logs = sorted(_logs([whole.files[0].path]))
    events: list[ExportProgress] = []
    parts = await export_tss(client, tss_id, tmp_path / "parts", max_records=10,
                             poll_interval=FAST_POLL, on_progress=events.append)  # fmt: skip
    assert len(parts.files) >= 3
    downloaded = [(e.part, e.parts) for e in events if e.event == "downloaded"]
    count = len(parts.files)
    assert downloaded == [(n, count) for n in range(1, count + 1)]  # "part n of all"
    assert all(1 <= e.part <= e.parts == count for e in events)
    assert [f.part for f in parts.files] == list(range(1, len(parts.files) + 1))
    assert all(f.path.name.endswith(f"_part{f.part:02d}.tar") for f in parts.files)
    assert all(len(_logs([f.path])) <= 10 for f in parts.files)
    split_logs = _logs([f.path for f in parts.files])
    assert sorted(split_logs) == all_logs  # nothing lost, nothing twice


async def test_transaction_range_and_reactive_split(signed, tmp_path: Path) -> None:
    client, tss_id = signed
    events: list[ExportProgress] = []
    wanted = ExportRange(start_transaction=2, end_transaction=3)
    result = await export_tss(client, tss_id, tmp_path, export_range=wanted, max_records=2,
                              on_progress=events.append, poll_interval=FAST_POLL)  # fmt: skip
    assert "split" in [e.event for e in events]
    logs = _logs([f.path for f in result.files])
    numbers = sorted({int(m.group(2)) for n in logs if (m := TX_LOG.match(n))})
    assert numbers == [2, 3] and len(logs) == 4 and len(result.files) == 2


async def test_time_range(signed, tmp_path: Path, unit: Unit) -> None:
    client, tss_id = signed
    now = unit.sim.state.now()
    result = await export_tss(client, tss_id, tmp_path,
                              export_range=ExportRange(start_date=now - 3600, end_date=now + 5),
                              poll_interval=FAST_POLL)  # fmt: skip
    assert len([n for n in _logs([result.files[0].path]) if TX_LOG.match(n)]) == 8
    empty = await export_tss(client, tss_id, tmp_path / "old",
                             export_range=ExportRange(start_date=1, end_date=1000),
                             poll_interval=FAST_POLL)  # fmt: skip
    assert _logs([empty.files[0].path]) == []


async def test_retry_after_is_respected_and_reported(signed, tmp_path: Path, unit: Unit) -> None:
    client, tss_id = signed
    unit.sim.faults.update({"route": r"GET /api/v2/tss/\{tss_id\}/export/\{export_id\}$",
                            "rate_limit_burst": 1, "retry_after": 1})  # fmt: skip
    waits: list[float] = []
    real_sleep = __import__("asyncio").sleep

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(min(seconds, 0.05))

    events: list[ExportProgress] = []
    result = await export_tss(client, tss_id, tmp_path, on_progress=events.append,
                              poll_interval=FAST_POLL, sleep=sleep)  # fmt: skip
    assert [e.event for e in events].count("rate_limited") == 1
    assert 1.0 in waits and result.files[0].path.exists()


async def test_pacer_keeps_twelve_requests_per_minute() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pacer = _Pacer(sleep, lambda: now[0])
    calls: list[float] = []
    for _ in range(30):
        await pacer.wait()
        calls.append(now[0])
        now[0] += 0.1
    for start in calls:  # any 60 s window holds at most 12 requests
        assert sum(1 for t in calls if start <= t < start + 60.0 - 1e-6) <= 12
    assert calls[12] >= 60.0 - 1e-6 and calls[24] >= 120.0 - 1e-6
    assert max(waits) > 58


async def test_refusals(signed, tmp_path: Path) -> None:
    client, tss_id = signed
    with pytest.raises(InputError):
        await export_tss(client, tss_id, tmp_path,
                         export_range=ExportRange(start_date=1, start_transaction=1))  # fmt: skip
    backwards = ExportRange(start_date=5, end_date=1)
    with pytest.raises(InputError):
        await export_tss(client, tss_id, tmp_path, export_range=backwards)
    one = ExportRange(start_transaction=2, end_transaction=2)
    with pytest.raises(ExportFailed) as caught:
        await export_tss(client, tss_id, tmp_path, max_records=1, poll_interval=FAST_POLL,
                         export_range=one)  # fmt: skip
    assert "cannot be split" in caught.value.message
    with pytest.raises(ferr.FiskalyNotFound):
        await export_tss(client, str(uuid.uuid4()), tmp_path, poll_interval=FAST_POLL)


async def test_finished_exports_survive_a_restart_and_leftovers_are_removed(
    signed, tmp_path: Path
) -> None:
    client, tss_id = signed
    root = tmp_path / "exports"
    jobs = ExportJobs(root, poll_interval=FAST_POLL)
    job = jobs.start(client, tss_id, "default", ExportRange())
    for _ in range(400):
        if job.state != "running":
            break
        await asyncio.sleep(0.02)
    assert job.state == "done", job.error
    await jobs.stop()
    leftover = root / str(uuid.uuid4())  # an export cut off by a restart: no job.json
    leftover.mkdir()
    (leftover / "part.tar").write_bytes(b"half")
    stray = root / str(uuid.uuid4())  # a job.json whose file is gone
    stray.mkdir()
    (stray / "job.json").write_text(json.dumps({**job.to_record(), "id": stray.name}))

    again = ExportJobs(root, poll_interval=FAST_POLL)
    restored = again.get(job.id)
    assert restored.state == "done"
    assert restored.to_json() == job.to_json()
    assert again.file(job.id, 1).read_bytes() == job.files[0].path.read_bytes()
    assert not leftover.exists() and not stray.exists()
    assert [j.id for j in again.list()] == [job.id]
    await again.stop()


async def _finished_job(client: FiskalyClient, tss_id: str, root: Path) -> tuple[ExportJobs, Any]:
    jobs = ExportJobs(root, poll_interval=FAST_POLL)
    job = jobs.start(client, tss_id, "default", ExportRange())
    for _ in range(400):
        if job.state != "running":
            break
        await asyncio.sleep(0.02)
    assert job.state == "done", job.error
    return jobs, job


async def test_export_files_reach_the_disk_before_their_job_counts_as_done(
    signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut must not leave job.json naming a TAR that never reached the disk."""
    client, tss_id = signed
    flushed: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    jobs, job = await _finished_job(client, tss_id, tmp_path / "exports")
    await jobs.stop()
    tar = str(job.files[0].path)
    record = next(i for i, name in enumerate(flushed) if ".job.json." in name)
    assert tar + ".part" in flushed[:record], flushed  # the TAR's data, before the record
    assert str(job.files[0].path.parent) in flushed[:record]  # and its rename


async def test_an_export_file_cut_short_is_not_counted_as_done(signed, tmp_path: Path) -> None:
    client, tss_id = signed
    root = tmp_path / "exports"
    jobs, job = await _finished_job(client, tss_id, root)
    await jobs.stop()
    path = job.files[0].path
    path.write_bytes(path.read_bytes()[: job.files[0].size // 2])  # what a power cut can leave

    again = ExportJobs(root, poll_interval=FAST_POLL)
    with pytest.raises(NotFoundError):
        again.get(job.id)
    assert again.list() == [] and not path.parent.exists()
    await again.stop()
