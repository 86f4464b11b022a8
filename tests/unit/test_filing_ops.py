"""The notification duty end to end in a running unit, on the built-in simulator.

Two tenants, three premises: master data entered with tsectl and sent by the registers at
pairing, the reportable events raised (with their days left in tsectl status, the admin API,
the metrics and the journal), the complete filing of each premises printed, as CSV and
submitted through fiskaly SUBMIT DE in the simulator until its state is final, the events
closed; then a removal and a failed transmission that leave the events open.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.unit import Unit, running_unit
from tsed.config.check import vat_check_digit

NORD, SUED = f"DE12345678{vat_check_digit('12345678')}", f"DE13669597{vat_check_digit('13669597')}"
CONFIG = (
    "multi_tenant = true\n"
    f'[tenants.nord]\nname = "Nord GmbH"\nvat_id = "{NORD}"\n'
    f'[tenants.sued]\nname = "Süd GmbH"\nvat_id = "{SUED}"\n'
)
ADDRESS = ["--street", "Hauptstraße", "--house-number", "1", "--zip-code", "70173",
           "--town", "Stuttgart"]  # fmt: skip
DATA = ["--maker", "Kassen AG", "--model", "K1", "--purchased-on", "2026-01-02"]


async def ok(unit: Unit, *args: str) -> Any:
    code, out = await unit.tsectl("--json", *args)
    assert code == 0, (args, out)
    return json.loads(out)


async def setup(unit: Unit) -> None:
    await ok(unit, "taxpayer", "set", "--tenant", "nord", "--name", "Nord GmbH",
             "--tax-number", "93815/08152", "--land", "BW", *ADDRESS)  # fmt: skip
    await ok(unit, "taxpayer", "set", "--tenant", "sued", "--name", "Süd GmbH",
             "--tax-number", "9181081508155", *ADDRESS)  # fmt: skip
    for premises, tenant in (("nord-mitte", "nord"), ("nord-hafen", "nord"),
                             ("sued-markt", "sued")):  # fmt: skip
        await ok(unit, "premises", "set", premises, "--tenant", tenant, "--name",
                 premises.title(), *ADDRESS)  # fmt: skip
    for serial, premises, tenant in (("ERS nord-1", "nord-mitte", "nord"),
                                     ("ERS nord-2", "nord-hafen", "nord"),
                                     ("ERS sued-1", "sued-markt", "sued")):  # fmt: skip
        await ok(unit, "registers", "set", serial, "--tenant", tenant, "--premises", premises,
                 *DATA, "--software", "Kasse Pro")  # fmt: skip


async def admin(unit: Unit, method: str, path: str) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://unit") as client:
        return await client.request(method, path)


@pytest.mark.timeout(120)
async def test_two_tenants_three_premises_from_pairing_to_submitted_filings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_unit(tmp_path / "s", config=CONFIG) as unit:
        await setup(unit)
        first = (await ok(unit, "filing", "status"))["pending"]
        assert sorted(e["kind"] for e in first) == ["tss_created"] * 2  # a TSS per tenant
        software = {"name": "Kasse Pro", "version": "4.2.1"}
        await unit.pair("ERS nord-1", tenant="nord", software=software)
        await unit.pair("ERS nord-2", tenant="nord")
        await unit.pair("ERS sued-1", tenant="sued", manufacturer="Waagen GmbH", model="W2")
        # a register nobody entered before: it sends what it knows, the installer adds the rest
        await unit.pair("ERS nord-3", tenant="nord", software=software, manufacturer="Kassen AG",
                        model="K2")  # fmt: skip
        incomplete = await unit.tsectl("filing", "csv", "--premises", "nord-mitte")
        assert incomplete[0] == 0  # nord-3 has no premises yet: nord-mitte is complete
        await ok(unit, "registers", "set", "ERS nord-3", "--premises", "nord-mitte",
                 "--purchased-on", "2026-01-03")  # fmt: skip

        status = await ok(unit, "filing", "status")
        kinds = sorted(e["kind"] for e in status["pending"])
        assert kinds == ["register_paired"] * 4 + ["tss_created"] * 2
        assert all(e["days_left"] >= 28 and not e["overdue"] for e in status["pending"])
        code, text = await unit.tsectl("--lang", "de", "status")
        assert code == 0 and "Mitteilung fällig bis" in text and "noch " in text
        assert "TSE in Betrieb genommen" in text  # the event's kind, from the catalogue
        code, text = await unit.tsectl("--lang", "en", "status")
        assert code == 0 and "notification due by" in text and "TSE put into service" in text
        metrics = (await admin(unit, "GET", "/admin/metrics")).text
        assert "tsed_filing_pending 6" in metrics and "tsed_filing_overdue 0" in metrics
        assert any(getattr(r, "TSED_EVENT", None) == "filing_due" for r in caplog.records)

        csv_text = (await ok(unit, "filing", "csv", "--premises", "nord-mitte"))["content"]
        assert "ERS nord-1" in csv_text and "ERS nord-3" in csv_text  # all registers
        assert "ERS nord-2" not in csv_text  # of this premises only
        assert "Softwareversion;4.2.1" in csv_text and "Steuernummer;93815/08152" in csv_text
        page = tmp_path / "nord-mitte.html"
        code, _out = await unit.tsectl("filing", "print", "--premises", "nord-mitte", "--out",
                                      str(page))  # fmt: skip
        assert code == 0 and "Mitteilung nach § 146a Abs. 4 AO" in page.read_text()

        for premises in ("nord-mitte", "nord-hafen", "sued-markt"):
            submitted = await ok(unit, "filing", "submit", "--premises", premises)
            assert (submitted["state"], submitted["final"]) == ("TRANSMISSION_SUCCEEDED", True)
        sim = unit.daemon.sim
        assert sim is not None
        states = {s.establishment_id: sim.submit.state_of(s)[0]
                  for s in sim.submit.submissions.values()}  # fmt: skip
        assert sorted(states.values()) == ["TRANSMISSION_SUCCEEDED"] * 3
        assert len(sim.submit.client_data) == 4 and len(sim.submit.taxpayers) == 2
        status = await ok(unit, "filing", "status")
        assert status["pending"] == []
        assert [s["state"] for s in status["submissions"]].count("TRANSMISSION_SUCCEEDED") == 3

        # removing a register is reportable again; "filed" by hand closes it
        registers = (await ok(unit, "registers"))["registers"]
        nord_2 = next(r["id"] for r in registers if r["serial"] == "ERS nord-2")
        await ok(unit, "registers", "revoke", nord_2)
        pending = (await ok(unit, "filing", "status"))["pending"]
        assert [(e["kind"], e["premises"]) for e in pending] == [("register_removed", "nord-hafen")]
        csv_text = (await ok(unit, "filing", "csv", "--premises", "nord-hafen"))["content"]
        assert "Grund der Außerbetriebnahme;Außerbetriebnahme" in csv_text
        assert (await ok(unit, "filing", "done", "--premises", "nord-hafen"))["closed"] == 1
        assert (await ok(unit, "filing", "status"))["pending"] == []

        creds = unit.daemon.upstreams.credentials("nord")
        assert creds is not None and creds.api_secret not in caplog.text


async def test_a_failed_transmission_keeps_the_events_open(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config=CONFIG) as unit:
        await setup(unit)
        await unit.pair("ERS sued-1", tenant="sued")
        assert unit.daemon.sim is not None
        unit.daemon.sim.submit.faults["transmission"] = "TRANSMISSION_FAILED"
        code, _out = await unit.tsectl("filing", "submit", "--premises", "sued-markt")
        assert code == 1
        status = await ok(unit, "filing", "status")
        assert {e["kind"] for e in status["pending"]} == {"register_paired", "tss_created"}
        assert status["submissions"][0]["state"] == "TRANSMISSION_FAILED"


async def test_bad_input_gets_a_german_answer_not_a_traceback(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config=CONFIG) as unit:
        code, _ = await unit.tsectl("taxpayer", "set", "--tenant", "nord", "--name", "N",
                                    "--tax-number", "93815/08152", *ADDRESS)  # fmt: skip
        assert code == 1
        answer = await ok_or_error(unit, "taxpayer", "set", "--tenant", "nord", "--name", "N",
                                   "--tax-number", "93815/08152", *ADDRESS)  # fmt: skip
        assert answer["error"]["code"] == "FILING_INVALID"
        assert "Bundesland" in answer["error"]["message"]
        unknown = await ok_or_error(unit, "taxpayer", "set", "--tenant", "ost", "--name", "N")
        assert unknown["error"]["code"] == "CONFIG_INVALID"
        missing = await ok_or_error(unit, "filing", "csv", "--premises", "nirgends")
        assert missing["error"]["code"] == "PREMISES_UNKNOWN"
        await ok(unit, "premises", "set", "p1", "--tenant", "nord", "--name", "P", *ADDRESS)
        incomplete = await ok_or_error(unit, "filing", "submit", "--premises", "p1")
        assert incomplete["error"]["code"] == "FILING_INCOMPLETE"
        assert "Steuerpflichtige/r" in incomplete["error"]["message"]
        dates = await ok_or_error(unit, "registers", "set", "ERS x", "--tenant", "nord",
                                  "--purchased-on", "2026-13-01")  # fmt: skip
        assert (
            dates["error"]["code"] == "FILING_INVALID" and "kein Datum" in dates["error"]["message"]
        )


async def ok_or_error(unit: Unit, *args: str) -> Any:
    _code, out = await unit.tsectl("--json", *args)
    return json.loads(out)


async def test_pending_filings_are_in_the_journal_at_start_and_a_missed_one_as_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_unit(tmp_path / "s", config=CONFIG):
        pass  # the TSS of both tenants: two reportable events
    caplog.clear()
    async with running_unit(tmp_path / "s", config=CONFIG) as unit:
        for _ in range(100):  # the reminder task runs right after the start
            if any(getattr(r, "TSED_EVENT", None) == "filing_pending" for r in caplog.records):
                break
            await asyncio.sleep(0.02)
        pending = [r for r in caplog.records if getattr(r, "TSED_EVENT", None) == "filing_pending"]
        assert len(pending) == 2 and all(r.levelno == logging.WARNING for r in pending)
        filing = unit.daemon.running.ops.filing
        filing.service.today = lambda: date(2099, 1, 1)
        caplog.clear()
        assert await filing.remind() == 2
        assert {r.levelno for r in caplog.records if "filing due" in r.getMessage()} == {
            logging.ERROR
        }
        metrics = (await admin(unit, "GET", "/admin/metrics")).text
        assert "tsed_filing_overdue 2" in metrics and "tsed_filing_days_left -" in metrics


async def test_a_new_tss_and_a_certification_change_are_reportable(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        old = unit.daemon.upstreams.binding("default")
        assert old is not None
        code, out = await unit.tsectl("tss", "setup", "--new")
        assert code == 0, out
        new = unit.daemon.upstreams.binding("default")
        assert new is not None and new.tss_id != old.tss_id
        filing = unit.daemon.running.ops.filing
        assert not await filing.certification_changed("default", new.tss_id, "BSI-K-TR-0001-2025")
        assert await filing.certification_changed("default", new.tss_id, "BSI-K-TR-0002-2026")
        pending = (await ok(unit, "filing", "status"))["pending"]
        assert sorted((e["kind"], e["subject"]) for e in pending) == sorted([
            ("tss_created", old.tss_id), ("tss_disabled", old.tss_id),
            ("tss_created", new.tss_id),
            ("certification_changed", "BSI-K-TR-0001-2025 → BSI-K-TR-0002-2026"),
        ])  # fmt: skip


async def test_the_certification_watch_raises_the_reportable_event(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        sim = unit.daemon.sim
        binding = unit.daemon.upstreams.binding("default")
        assert sim is not None and binding is not None
        hk = unit.daemon.running.ops.housekeeping
        await hk.run("on demand")  # the id as it is now: nothing to report
        sim.set_certification_id(binding.tss_id, "BSI-K-TR-0999-2026")
        await hk.run("on demand")
        pending = (await ok(unit, "filing", "status"))["pending"]
        changed = [e for e in pending if e["kind"] == "certification_changed"]
        assert len(changed) == 1 and changed[0]["subject"].endswith("→ BSI-K-TR-0999-2026")
        assert changed[0]["tenant"] == "default" and changed[0]["premises"] is None


@pytest.mark.timeout(120)
async def test_a_guided_decommissioning_gives_the_filing_its_date_and_reason(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair("ERS kasse-7")
        confirm = f"Kasse {register.register_id[:8]} abmelden"
        code, out = await unit.tsectl(
            "decommission", "register", register.register_id, "--reason",
            "Gerät defekt, verschrottet", "--confirm", confirm,
        )  # fmt: skip
        assert code == 0, out
        records = await unit.daemon.running.ops.filing.service.store.registers()
        (record,) = [r for r in records if r.serial == "ERS kasse-7"]
        assert record.decommission_reason == "Gerät defekt, verschrottet"
        assert record.decommissioned_on is not None
        pending = (await ok(unit, "filing", "status"))["pending"]
        assert ("register_removed", "ERS kasse-7") in {(e["kind"], e["subject"]) for e in pending}


async def admin_json(unit: Unit, method: str, path: str, body: Any = None) -> Any:
    transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://unit") as client:
        return (await client.request(method, "/admin/v1" + path, json=body)).json()


async def test_the_overview_counts_the_filings_due_per_premises(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config=CONFIG) as unit:
        due = (await admin_json(unit, "GET", "/dashboard"))["filings_due"]
        today = date.today()
        assert (due["filings"], due["events"], due["overdue"]) == (2, 2, 0)  # a TSS per tenant
        assert date.fromisoformat(due["next_due_on"]) > today and due["days_left"] >= 28
        for premises in ("nord-mitte", "nord-hafen"):  # nord's TSS concerns both now
            await ok(unit, "premises", "set", premises, "--tenant", "nord", "--name", "N",
                     *ADDRESS)  # fmt: skip
        due = (await admin_json(unit, "GET", "/dashboard"))["filings_due"]
        assert (due["filings"], due["events"]) == (3, 2)
        await admin_json(unit, "POST", "/filing/premises/nord-mitte/filed")
        due = (await admin_json(unit, "GET", "/dashboard"))["filings_due"]
        assert (due["filings"], due["events"]) == (1, 1)  # süd's, still without premises
        unit.daemon.running.ops.filing.service.today = lambda: date(2099, 1, 1)
        due = (await admin_json(unit, "GET", "/dashboard"))["filings_due"]
        assert due["overdue"] == 1 and due["days_left"] < 0  # stays until filed
        await admin_json(unit, "POST", "/filing/premises/nord-hafen/filed")  # not süd's
        assert (await admin_json(unit, "GET", "/dashboard"))["filings_due"]["filings"] == 1


async def test_a_refused_entry_names_its_input_with_the_german_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_unit(tmp_path / "s", config=CONFIG) as unit:
        body = {"name": "Nord GmbH", "tax_number": "93815/0815", "land": "BW", "street": "A",
                "house_number": "1", "zip_code": "70173", "town": "Stuttgart"}  # fmt: skip
        error = (await admin_json(unit, "PUT", "/filing/taxpayers/nord", body))["error"]
        assert error["field"] == "filing.tax_number"
        assert error["text"]["de"]["message"] == error["message"]
        assert error["text"]["de"]["message"].startswith("Die Steuernummer '93815/0815' hat 9")
        assert "Schreibweise" in error["text"]["en"]["message"]  # German data, in English too
        dates = await admin_json(unit, "PUT", "/filing/registers/ERS x",
                                 {"purchased_on": "2026-13-01"})  # fmt: skip
        assert dates["error"]["field"] == "filing.purchased_on"
        capsys.readouterr()
        code, _out = await unit.tsectl("taxpayer", "set", "--tenant", "nord", "--name", "N",
                                       "--tax-number", "12345", *ADDRESS)  # fmt: skip
        said = capsys.readouterr().err
        assert code == 1 and "hat 5 Ziffern" in said, said  # tsectl says what is wrong, in German
