"""The certificate and certification watch against the simulator's TSS objects: expiry read
from the X.509 certificate, warnings at 180, 90 and 30 days (once each, in the journal with
TSED_ fields), a changed BSI certification id as a reportable event kept for good."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.archive import Shop, open_shop
from tests.support.provisioning import Unit, unit
from tsed.tss.certwatch import (
    DAY,
    CertificateStatus,
    CertificationLog,
    certificate_expiry,
    threshold_for,
    watch_certificates,
)

__all__ = ["unit"]


@pytest.fixture
async def shop(unit: Unit) -> AsyncIterator[Shop]:
    shop = await open_shop(unit)
    yield shop
    await shop.registry.stop()


def test_thresholds() -> None:
    table = {400: None, 181: None, 180: 180, 91: 180, 90: 90, 31: 90, 30: 30, 0: 30, -1: 0}
    assert {days: threshold_for(days) for days in table} == table


def test_one_day_left_is_said_in_the_singular() -> None:
    one = CertificateStatus("default", "tss-1", time.time() + 86400, 1, 30, "BSI-K-TR-0490-2021")
    two = CertificateStatus(
        "default", "tss-1", time.time() + 2 * 86400, 2, 30, "BSI-K-TR-0490-2021"
    )
    assert "(noch 1 Tag)" in (one.text or "")
    assert "(noch 2 Tage)" in (two.text or "")


def test_an_unreadable_certificate_is_named() -> None:
    with pytest.raises(ValueError, match="cannot be read"):
        certificate_expiry("bm90IGEgY2VydGlmaWNhdGU=")


async def test_expiry_warned_once_per_threshold_with_what_to_do(
    shop: Shop, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = CertificationLog(tmp_path / "certification.json")
    now = time.time()
    first = await watch_certificates(shop.registry, log, now)
    (status,) = first.tss
    assert status.tss_id == shop.tss_id and status.tenant == "default"
    assert 363 <= status.days_left <= 365 and status.threshold is None  # type: ignore[operator]
    assert status.level == "ok" and status.text is None and not first.warned
    caplog.set_level(logging.WARNING, logger="tsed.tss.certwatch")
    journal: list[object] = []
    warned: list[object] = []
    for days_later in (200, 190, 280, 281, 340, 366):  # the test drives the clock
        result = await watch_certificates(shop.registry, log, now + days_later * DAY)
        warned += [s.threshold for s in result.warned]
    for record in caplog.records:
        if getattr(record, "TSED_EVENT", None) == "certificate_expiry":
            assert shop.tss_id == record.TSED_TSS  # type: ignore[attr-defined]
            assert record.getMessage() and "Zertifikat" in record.getMessage()
            journal.append(record.TSED_THRESHOLD)  # type: ignore[attr-defined]
    assert warned == journal == [180, 90, 30, 0]  # 190 and 281 days later: already warned
    late = await watch_certificates(shop.registry, log, now + 340 * DAY)
    (status,) = late.tss
    text = status.text or ""
    assert status.level == "critical" and status.threshold == 30
    assert f"noch {status.days_left} Tage" in text and 23 <= status.days_left <= 25  # type: ignore[operator]
    assert "tsectl tss setup --new" in text and "Finanzamt" in text and "§ 146a" in text
    expired = await watch_certificates(shop.registry, log, now + 400 * DAY)
    assert "abgelaufen" in (expired.tss[0].text or "") and expired.tss[0].days_left < 0  # type: ignore[operator]


async def test_a_new_certificate_warns_again(shop: Shop, tmp_path: Path) -> None:
    log = CertificationLog(tmp_path / "certification.json")
    shop.unit.sim.reissue_certificate(shop.tss_id, 100)  # the simulator's switch
    result = await watch_certificates(shop.registry, log, time.time())
    assert [(s.threshold, s.days_left) for s in result.warned] == [(180, 99)]
    assert not (await watch_certificates(shop.registry, log, time.time())).warned
    shop.unit.sim.reissue_certificate(shop.tss_id, 150)  # renewed, still under 180 days
    again = await watch_certificates(shop.registry, log, time.time())
    assert [s.threshold for s in again.warned] == [180]


async def test_a_changed_certification_id_is_a_reportable_event(
    shop: Shop, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "certification.json"
    log = CertificationLog(path)
    first = await watch_certificates(shop.registry, log, time.time())
    assert first.tss[0].certification_id == "BSI-K-TR-0717-2025" and not first.events
    shop.unit.sim.set_certification_id(shop.tss_id, "BSI-K-TR-0999-2026")
    caplog.set_level(logging.WARNING, logger="tsed.tss.certwatch")
    at = time.time()
    changed = await watch_certificates(shop.registry, log, at)
    (event,) = changed.events
    assert (event.tss_id, event.tenant, event.previous, event.current) == (
        shop.tss_id, "default", "BSI-K-TR-0717-2025", "BSI-K-TR-0999-2026",
    )  # fmt: skip
    assert event.at == at and event.kind == "certification_changed" and len(event.day) == 10
    (record,) = [
        r for r in caplog.records if getattr(r, "TSED_EVENT", "") == "certification_changed"
    ]
    assert record.TSED_CERTIFICATION_ID == "BSI-K-TR-0999-2026"  # type: ignore[attr-defined]
    assert not (await watch_certificates(shop.registry, log, time.time())).events
    assert CertificationLog(path).events() == (event,)  # kept for the notification duty
    stored = json.loads(path.read_text())
    assert stored["tss"][shop.tss_id]["certification_id"] == "BSI-K-TR-0999-2026"


async def test_a_damaged_file_is_kept_aside(shop: Shop, tmp_path: Path) -> None:
    path = tmp_path / "certification.json"
    path.write_text("{not json")
    log = CertificationLog(path)
    result = await watch_certificates(shop.registry, log, time.time())
    assert result.ok and (tmp_path / "certification.json.damaged").read_text() == "{not json"
    assert json.loads(path.read_text())["tss"]
