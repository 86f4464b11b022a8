"""The filing service: master data, the events the unit raises, the complete filing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from tsed.filing.errors import FilingIncomplete, FilingInvalid, PremisesUnknown
from tsed.filing.form import to_csv, to_html
from tsed.filing.service import FilingService, TssSeen
from tsed.filing.store import FilingStore

ADDRESS = {"street": "Hauptstraße", "house_number": "1", "zip_code": "70173", "town": "Stuttgart"}
TAXPAYER = {"name": "Bäckerei Huber GmbH", "tax_number": "2893081508152", **ADDRESS}
REGISTER = {"maker": "Kassen AG", "model": "K1", "software": "Kasse Pro",
            "software_version": "4.2", "purchased_on": "2026-01-02", "kind": "1"}  # fmt: skip


class Today:
    def __init__(self) -> None:
        self.value = date(2026, 1, 10)

    def __call__(self) -> date:
        return self.value


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[FilingService]:
    store = FilingStore(tmp_path / "filing.sqlite")
    await store.open()
    yield FilingService(store, today=Today())
    await store.close()


async def test_pairing_raises_an_event_once_per_serial(
    service: FilingService, caplog: pytest.LogCaptureFixture
) -> None:
    await service.set_premises("f1", "default", {"name": "Filiale 1", **ADDRESS})
    await service.set_register("S1", {"premises": "f1", **REGISTER})
    with caplog.at_level(logging.WARNING, "tsed.filing.service"):
        record = await service.register_paired("r-1", "S1", "default", {"software_version": "4.3"})
    assert (record.key, record.premises_id, record.paired_on, record.software_version) == (
        "r-1",
        "f1",
        "2026-01-10",
        "4.3",
    )
    assert [r.getMessage() for r in caplog.records if "reportable" in r.getMessage()]
    assert any(getattr(r, "TSED_EVENT", None) == "filing_due" for r in caplog.records)
    status = await service.status()
    assert [(e.kind, e.premises, e.due_on, e.days_left) for e in status.pending] == [
        ("register_paired", "f1", "2026-02-10", 31)
    ]
    await service.register_removed("r-1")
    await service.register_paired("r-2", "S1", "default", {})  # the same register again
    kinds = [e.kind for e in (await service.status()).pending]
    assert kinds == ["register_paired", "register_removed"]
    records = {r.key: r for r in await service.store.registers()}
    assert records["r-1"].decommission_reason  # the removed one stays, for the filing
    assert (records["r-2"].premises_id, records["r-2"].maker) == ("f1", "Kassen AG")
    assert records["r-2"].decommissioned_on is None
    assert (await service.set_register("S1", {"remarks": "Tresen"})).key == "r-2"


async def test_what_a_register_sends_wrongly_is_left_out(service: FilingService) -> None:
    record = await service.register_paired("r-1", "S9", "default", {"purchased_on": "gestern"})
    assert record.purchased_on is None and record.register_id == "r-1"


async def test_tss_and_certification_events(service: FilingService) -> None:
    await service.sync_tss([TssSeen("t-1", "default", True, "abc")])
    await service.sync_tss([TssSeen("t-1", "default", True, "abc")])  # nothing new
    assert not await service.certification_changed("default", "t-1", "BSI-K-TR-0001-2025")
    assert await service.certification_changed("default", "t-1", "BSI-K-TR-0002-2026")
    await service.sync_tss([TssSeen("t-1", "default", False, "abc")])
    kinds = [e.kind for e in (await service.status()).pending]
    assert kinds == ["tss_created", "certification_changed", "tss_disabled"]


async def test_premises_change_is_an_event(service: FilingService) -> None:
    created = await service.set_premises("f1", None, {"name": "Filiale 1", **ADDRESS})
    assert (await service.status()).pending == ()
    changed = await service.set_premises("f1", None, {"street": "Neue Straße"})
    assert changed.establishment_id == created.establishment_id
    assert [e.kind for e in (await service.status()).pending] == ["premises_changed"]
    with pytest.raises(FilingInvalid, match="gehört zum Mandanten default"):
        await service.set_premises("f1", "other", {})
    with pytest.raises(PremisesUnknown):
        await service.set_register("S1", {"premises": "nowhere"})


async def test_missed_deadline_stays_until_filed(service: FilingService) -> None:
    await service.set_premises("f1", "default", {"name": "Filiale 1", **ADDRESS})
    await service.set_register("S1", {"premises": "f1", **REGISTER})
    await service.register_paired("r-1", "S1", "default", {})
    service.today.value = date(2026, 3, 1)  # type: ignore[attr-defined]
    status = await service.status()
    assert (status.overdue, status.min_days_left) == (1, -19)
    assert await service.mark_filed("f1") == 1
    assert (await service.status()).pending == ()


async def test_the_filing_lists_all_registers_of_the_premises(service: FilingService) -> None:
    await service.set_premises("f1", "default", {"name": "Filiale <1>", **ADDRESS})
    await service.set_premises("f2", "default", {"name": "Filiale 2", **ADDRESS})
    with pytest.raises(FilingIncomplete, match="Steuerpflichtige/r des Mandanten default"):
        await service.filing("f1")
    await service.set_taxpayer("default", TAXPAYER)
    await service.set_register("S1", {"premises": "f1", **REGISTER})
    await service.set_register("S2", {"premises": "f1", "maker": "=HYPERLINK(1)"})
    await service.set_register("S3", {"premises": "f2", **REGISTER})
    with pytest.raises(FilingIncomplete, match="Kasse S2: Modell, Software, Anschaffungsdatum"):
        await service.filing("f1")
    await service.set_register("S2", {**REGISTER, "maker": "=HYPERLINK(1)"})
    await service.register_paired("r-1", "S1", "default", {})
    await service.register_paired("r-2", "S2", "default", {})
    await service.sync_tss([TssSeen("t-1", "default", True, "tss-serial")])
    filing = await service.filing("f1")
    assert [r.serial for r in filing.registers] == ["S1", "S2"]
    rows = filing.rows()
    sections = list(dict.fromkeys(s for s, _, _ in rows))
    assert sections == ["Steuerpflichtige/r", "Betriebsstätte", "Aufzeichnungssystem 1",
                        "Aufzeichnungssystem 2", "TSE 1"]  # fmt: skip
    assert ("Steuerpflichtige/r", "Steuernummer", "93815/08152") in rows
    assert ("Aufzeichnungssystem 1", "Datum der Inbetriebnahme", "10.01.2026") in rows
    csv_text = to_csv(filing)
    assert csv_text.splitlines()[0] == "Abschnitt;Feld;Wert"
    assert "'=HYPERLINK(1)" in csv_text  # no formula for the spreadsheet
    page = to_html(filing)
    assert "Filiale &lt;1&gt;" in page and "<b>Filiale <1>" not in page
    assert (
        page.index("Steuerpflichtige/r") < page.index("Aufzeichnungssystem 1") < page.index("TSE 1")
    )
