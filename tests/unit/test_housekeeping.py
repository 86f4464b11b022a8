"""The nightly housekeeping in a real unit (built-in simulator, real store and archive): every
step recorded and logged, a failing step that does not stop the others, the reconciliation
finding a late-signed transaction missing from the archive, the certificate watch with its
banner, tsectl status|health, the admin API and the gauges; signing goes on meanwhile."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.german import english_lines
from tests.support.unit import Register, Unit, running_unit
from tsed.tss.certwatch import CertificationEvent
from tsed.tss.registry import vault_key
from tsed.unit.housekeeping import Housekeeping

CONFIG = "register_deadline = 1.0\nabandon_minutes = 0.02\n"  # abandoned after 1.2 s
STEPS = ["abandon", "archive", "reconcile", "certificates", "selfcheck"]


def housekeeping(unit: Unit) -> Housekeeping:
    return unit.daemon.running.ops.housekeeping


async def until(check: Any, what: str, seconds: float = 20.0) -> None:
    ends = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < ends, what
        await asyncio.sleep(0.05)


async def transaction(register: Register, local_id: str) -> dict[str, Any]:
    response = await register.call("GET", f"/api/v1/transactions/{local_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def admin_get(unit: Unit, path: str) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://tsed") as admin:
        return await admin.get(path)


@pytest.mark.timeout(180)
async def test_the_nightly_routine_in_a_real_unit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_unit(tmp_path / "state", config=CONFIG) as unit:
        daemon, hk = unit.daemon, housekeeping(unit)
        daemon.archive.archiver.poll_interval = 0.1  # the simulator is done in 0.5 s
        assert daemon.archive.schedule.job == hk.nightly  # the routine has the nightly slot
        sim = daemon.sim
        assert sim is not None
        code, out = await unit.tsectl("config", "set", "name", "Laden Mitte")  # saved: tested
        assert code == 0, out
        register = await unit.pair()
        await register.receipt()
        opened = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        await until(lambda: _started(daemon, opened), "the transaction started at fiskaly")
        sim.faults.update({"error_rate": 1.0, "error_status": 503, "route": "/tx/"})
        failed = await register.receipt()
        assert failed["tse_failure"] is True
        sim.faults.reset()

        async def signed_late() -> bool:
            body = await transaction(register, failed["id"])
            return body["result"] is not None and body["signed_late"] is True

        async def abandoned() -> bool:
            return (await transaction(register, opened))["state"] == "cancelled"

        await until(signed_late, "the failed receipt was signed late")
        await until(abandoned, "the open transaction was cancelled as abandoned")
        # the night: fiskaly refuses exports (the archive fails), the unit's clock is 2 min off
        sim.faults.update({"error_rate": 1.0, "error_status": 400, "route": "/export"})
        hk.clock = lambda: time.time() + 120
        caplog.set_level(logging.INFO, logger="tsed.unit.housekeeping")
        task = asyncio.create_task(hk.run("nightly"))
        during = []
        while not task.done():  # signing goes on during the routine
            during.append(await register.receipt())
        first = await task
        assert during and not any(r["tse_failure"] for r in during)
        assert [s.step for s in first.steps] == STEPS
        result = {s.step: s for s in first.steps}
        assert result["abandon"].result == "ok" and result["abandon"].details["cancelled"] >= 1
        assert result["archive"].result == "failed" and result["archive"].details["files"] == 0
        assert result["reconcile"].result == "failed"  # the late signature is archived nowhere
        (finding,) = result["reconcile"].details["findings"]
        assert finding["id"] == failed["id"] and finding["signature_counter"] > 0
        assert result["certificates"].result == "ok"
        (cert,) = result["certificates"].details["tss"]
        assert 363 <= cert["days_left"] <= 365 and cert["certification_id"]
        selfcheck = result["selfcheck"]
        assert selfcheck.details["clock"] == "warn" and selfcheck.result in ("warn", "failed")
        assert 100 < abs(selfcheck.details["clock_offset"]) < 140
        assert selfcheck.details["connection"]["verdict"] == "warn"
        assert set(selfcheck.details["disk"]) == {"state", "archive"}
        assert selfcheck.details["certificates"][0]["days_left"] == cert["days_left"]
        assert first.result == "failed"
        logged = [(r.TSED_STEP, r.TSED_RESULT) for r in caplog.records  # type: ignore[attr-defined]
                  if getattr(r, "TSED_EVENT", "") == "housekeeping_step"]  # fmt: skip
        assert logged == [(s.step, s.result) for s in first.steps]
        assert any(getattr(r, "TSED_EVENT", "") == "housekeeping_done" for r in caplog.records)

        code, out = await unit.tsectl("--json", "status")
        status = json.loads(out)
        assert code == 0 and status["housekeeping"]["last"]["result"] == "failed"
        assert any(failed["id"] in n and "no archived export" in n for n in status["notices"])
        assert any("archive, reconcile failed" in n for n in status["notices"])
        code, text = await unit.tsectl("status")
        assert "Housekeeping:  FAILED on" in text and "archive FAILED" in text
        code, text = await unit.tsectl("health")
        assert code == 0 and "reconcile    FAILED" in text and "test clock:" in text
        # in German: the finding and last night's clock warning from the catalogue
        code, text = await unit.tsectl("--lang", "de", "status")
        assert f"Wartung: die spät signierte Transaktion {failed['id']} (TSS " in text, text
        assert "liegt in keinem archivierten Export" in text and english_lines(text) == []
        code, text = await unit.tsectl("--lang", "de", "health")
        assert "    Verbindungstest, Uhr: die Uhr der Einheit weicht um " in text, text
        assert english_lines(text) == []
        metrics = (await admin_get(unit, "/admin/metrics")).text
        tss_id = cert["tss_id"]
        assert 'tsed_housekeeping_last_result{step="archive"} 2.0' in metrics
        assert 'tsed_housekeeping_last_result{step="all"} 2.0' in metrics
        assert f'tsed_certificate_days_left{{tss="{tss_id}"}}' in metrics
        assert "tsed_health_record_age_hours" in metrics
        assert "tsed_housekeeping_unarchived_late_signed 1.0" in metrics
        assert f'tsed_archive_lag_signatures{{tss="{tss_id}"}}' in metrics

        # fiskaly exports again, the clock is right: the next run archives the late signature
        sim.faults.reset()
        hk.clock = time.time
        second = await hk.run("on demand")
        result = {s.step: s for s in second.steps}
        assert result["archive"].result == "ok" and result["archive"].details["files"] == 1
        assert result["reconcile"].result == "ok"
        assert result["reconcile"].details["archived"] == 1
        assert result["abandon"].details["cancelled"] == 0  # counted once, by the first night
        assert result["selfcheck"].details["clock"] == "ok"
        # the same day: the run on demand is the newest record, the night's stays beside it
        assert [r.reason for r in hk.log.records()] == ["nightly", "on demand"]
        assert hk.log.last() == second and hk.last == second
        code, out = await unit.tsectl("--json", "status")
        assert not any("housekeeping" in n for n in json.loads(out)["notices"])

        # the certificate expires in 60 days, the BSI certification id changed
        sim.reissue_certificate(tss_id, 60)
        sim.set_certification_id(tss_id, "BSI-K-TR-0999-2026")
        heard: list[CertificationEvent] = []

        async def listener(event: CertificationEvent) -> None:  # the notification duty's hook
            heard.append(event)

        hk.on_certification_event(listener)
        await hk.run("on demand")
        assert [e.current for e in heard] == ["BSI-K-TR-0999-2026"]
        assert hk.certification.events() == tuple(heard)
        health = (await admin_get(unit, "/admin/v1/health")).json()
        assert "noch 59 Tage" in health["banner"] and "tsectl tss setup --new" in health["banner"]
        (event,) = health["certification_events"]
        assert event["current"] == "BSI-K-TR-0999-2026" and event["tss_id"] == tss_id
        assert health["certificates"][0]["threshold"] == 90
        assert health["days"][0]["steps"]["certificates"] == "warn"
        code, out = await unit.tsectl("--json", "status")
        assert any("noch 59 Tage" in n for n in json.loads(out)["notices"])
        code, text = await unit.tsectl("health")
        assert "!! Das Zertifikat der TSE" in text and "Reportable:" in text
        metrics = (await admin_get(unit, "/admin/metrics")).text
        assert f'tsed_certificate_days_left{{tss="{tss_id}"}} 59.0' in metrics
        # no secret in the records, the answers or the journal
        vault = daemon.vault
        secrets = [vault.get(vault_key("default", "TEST", "sim_secret")),
                   vault.get(f"tss.{tss_id}.pin"), vault.get(f"tss.{tss_id}.puk")]  # fmt: skip
        assert secrets[0] and secrets[1]
        texts = [json.dumps(health), text, out, metrics, caplog.text,
                 (unit.state_dir / "housekeeping.json").read_text(),
                 (unit.state_dir / "certification.json").read_text()]  # fmt: skip
        for secret in filter(None, secrets):
            assert not any(secret in t for t in texts)
        # the TSS replaced (its signatures archived first): its certificate is no longer due
        code, out = await unit.tsectl("--json", "tss", "setup", "--new")
        assert code == 0, out
        health = (await admin_get(unit, "/admin/v1/health")).json()
        assert health["banner"] is None and health["certificates"] == []
        assert len(health["certification_events"]) == 1  # a reportable event stays


async def _started(daemon: Any, local_id: str) -> bool:
    row = await daemon.store.get_tx(local_id)
    return row is not None and row.state in ("journaled", "active")


async def test_the_records_and_the_watch_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with running_unit(state) as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        await unit.pair()
        await unit.tsectl("config", "set", "name", "Laden Mitte")
        record = await housekeeping(unit).run("nightly")
    async with running_unit(state) as unit:
        hk = housekeeping(unit)
        assert hk.last == record and hk.watch is None
        assert await hk.catch_up() is None  # last night's record is there: nothing missed
        health = (await admin_get(unit, "/admin/v1/health")).json()
        assert health["last"]["started_at"] == record.started_at
        assert health["certificates"][0]["days_left"] >= 363  # from the record, counted now
        metrics = (await admin_get(unit, "/admin/metrics")).text
        assert "tsed_certificate_days_left" in metrics
        (age,) = [x for x in metrics.splitlines() if x.startswith("tsed_health_record_age_hours ")]
        assert 0 <= float(age.split()[1]) < 1
        hk.clock = lambda: time.time() + 27 * 3600  # the unit was off at archive_hour
        caught = await hk.catch_up()
        assert caught is not None and caught.reason == "catch-up"
        assert [s.step for s in caught.steps] == STEPS and hk.last == caught
