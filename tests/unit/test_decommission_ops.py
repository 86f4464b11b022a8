"""The guided decommissioning in a real unit (built-in simulator): each kind end to end, the
refusals, a failed step and ``resume``, a damaged plan file, ``tsectl decommission`` in
German (:mod:`tsed.unit.decommission_ops`)."""

from __future__ import annotations

import asyncio
import json
import tarfile
import time
from pathlib import Path

import pytest

from tests.support.unit import RECEIPT, Unit, running_unit
from tsed.archive.audit import verify_archive
from tsed.archive.store import ArchiveStore
from tsed.fiskaly.simulator import Simulator
from tsed.fiskaly.tarverify import AUD_NAME, SYS_NAME, TX_NAME


def _sim(unit: Unit) -> Simulator:
    sim = unit.daemon.sim
    assert sim is not None
    return sim


def _tss(unit: Unit, tenant: str = "default") -> str:
    binding = unit.daemon.upstreams.binding(tenant)
    assert binding is not None
    return binding.tss_id


async def _plan(unit: Unit) -> dict:  # type: ignore[type-arg]
    code, out = await unit.tsectl("--json", "decommission", "status")
    assert code == 0, out
    plan: dict = json.loads(out)["plan"]  # type: ignore[type-arg]
    return plan


async def _until(unit: Unit, state: str, timeout: float = 60) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        plan = await _plan(unit)
        if plan["state"] == state:
            return plan
        await asyncio.sleep(0.2)
    raise AssertionError(f"the plan is not {state} within {timeout} s: {plan}")


def _archived(unit: Unit, tss_id: str) -> list[tuple[int, str]]:
    """Every signature counter in the unit's archive of ``tss_id``, with its member's name."""
    store = ArchiveStore(unit.state_dir / "archive")
    found = []
    for entry in store.entries(tss_id):
        assert entry.state == "archived"
        with tarfile.open(store.path(entry)) as tar:
            for name in tar.getnames():
                match = TX_NAME.match(name) or SYS_NAME.match(name) or AUD_NAME.match(name)
                if match:
                    found.append((int(match.group("counter")), name))
    return sorted(found)


def _archived_to_its_end(unit: Unit, tss_id: str) -> list[str]:
    """The archive of ``tss_id`` holds every signature of the TSS, each once, the last one its
    disabling; returns the disabling logs' names."""
    archived = _archived(unit, tss_id)
    counters = [c for c, _ in archived]
    assert len(counters) == len(set(counters)), "a signature archived twice"
    assert counters == list(range(counters[0], counters[-1] + 1)), "a gap"
    logs = _sim(unit).state.logs[tss_id]
    assert counters[-1] == max(log.counter for log in logs)
    disabling = [name for _, name in archived if "disableSecureElement" in name]
    assert archived[-1][1] in disabling
    assert verify_archive(ArchiveStore(unit.state_dir / "archive"))["ok"]
    return disabling


async def test_a_register_is_deregistered_at_fiskaly_and_its_token_revoked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        register, other = await unit.pair(), await unit.pair("ERS kasse-2")
        await register.receipt()
        tss_id = _tss(unit)
        row = unit.daemon.upstreams.register_client(register.register_id, tss_id)
        assert row is not None
        code, out = await unit.tsectl(
            "--json", "decommission", "register", register.register_id, "--reason", "Kasse verkauft"
        )
        error = json.loads(out)["error"]
        assert code == 1 and error["code"] == "INVALID_REQUEST", out
        assert f"„Kasse {register.register_id[:8]} abmelden“" in error["message"]
        assert await _plan(unit) is None  # a refusal leaves no plan
        capsys.readouterr()
        for refused in (["--reason", "Kasse verkauft"], ["--reason", " "],
                        ["--reason", "x", "--date", "2999-01-01"]):  # fmt: skip
            code, _ = await unit.tsectl("--lang", "de", "decommission", "register",
                                        register.register_id, *refused)  # fmt: skip
            assert code == 1
        german = capsys.readouterr().err
        assert (f"Bestätigung: zum Bestätigen genau „Kasse {register.register_id[:8]} abmelden“ "
                "eingeben") in german, german  # fmt: skip
        assert "Grund: bitte den Grund der Außerbetriebnahme angeben" in german
        assert "Datum: der 2999-01-01 liegt in der Zukunft." in german
        code, out = await unit.tsectl(
            "decommission", "register", register.register_id, "--reason", "Kasse verkauft",
            "--date", "2026-11-30", "--confirm", f"Kasse {register.register_id[:8]} abmelden",
        )  # fmt: skip
        assert code == 0, out
        assert "Außerbetriebnahme (Kasse) am 2026-11-30: Kasse verkauft – erledigt" in out
        assert "4. Kasse(n) bei fiskaly abgemeldet (unumkehrbar) – erledigt: 1 Kasse(n)" in out
        assert "Noch zu tun: Innerhalb eines Monats dem Finanzamt melden" in out
        assert _sim(unit).state.clients[row.client_id].state == "DEREGISTERED"
        answer = await register.call("POST", "/api/v1/receipts", RECEIPT)
        assert answer.status_code == 401, answer.text
        await other.receipt()  # the other register signs on
        other_row = unit.daemon.upstreams.register_client(other.register_id, tss_id)
        assert other_row is not None
        assert _sim(unit).state.clients[other_row.client_id].state == "REGISTERED"
        code, out = await unit.tsectl("--json", "decommission", "register",
                                      register.register_id, "--reason", "x")  # fmt: skip
        assert code == 1 and json.loads(out)["error"]["code"] == "NOT_FOUND", out


async def test_a_tss_is_disabled_and_archived_to_its_end(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        register = await unit.pair()
        for _ in range(3):
            await register.receipt()
        tss_id = _tss(unit)
        for bad in (["--confirm", "TSS stilllegen"], ["--date", "2999-01-01"], ["--tenant", "x"]):
            code, out = await unit.tsectl("--json", "decommission", "tss", "--reason",
                                          "Geschäft aufgegeben", *bad)  # fmt: skip
            assert code == 1, out
        assert await _plan(unit) is None and _sim(unit).state.tss[tss_id].state == "INITIALIZED"
        sim = _sim(unit)
        sim.faults.update({"latency_ms": 1500, "route": "export"})  # hold the archive step
        code, out = await unit.tsectl(
            "--json", "decommission", "tss", "--reason", "Geschäft aufgegeben",
            "--confirm", f"TSS {tss_id[:8]} stilllegen", "--no-wait",
        )  # fmt: skip
        assert code == 0 and json.loads(out)["plan"]["state"] == "running", out
        code, out = await unit.tsectl("--json", "decommission", "unit", "--reason", "x",
                                      "--confirm", "Einheit stilllegen")  # fmt: skip
        assert code == 1 and json.loads(out)["error"]["code"] == "CONFLICT", out
        assert "under way" in json.loads(out)["error"]["message"]
        sim.faults.reset()
        plan = await _until(unit, "done")
        assert [s["state"] for s in plan["steps"]] == ["done"] * 6
        assert sim.state.tss[tss_id].state == "DISABLED"
        answer = await register.call("POST", "/api/v1/receipts", RECEIPT)
        assert answer.status_code == 409, answer.text
        assert "decommissioned" in answer.json()["error"]["message"]
        assert "tse_failure" not in answer.json()
        assert len(_archived_to_its_end(unit, tss_id)) == 1
        code, out = await unit.tsectl("decommission", "status")
        assert "signieren erst wieder mit einer neuen TSS" in out, out
        assert "6. Datum und Grund festgehalten, Meldung vorgemerkt – erledigt" in out
        # what is left to do: a new TSS (an exchange of the disabled one), then signing again
        confirm = f"TSS {tss_id[:8]} tauschen"
        code, out = await unit.tsectl(
            "--json", "decommission", "exchange", "--reason", "neue TSS", "--confirm", confirm
        )
        assert code == 0 and json.loads(out)["plan"]["state"] == "done", out
        assert _tss(unit) != tss_id
        assert not (await register.receipt())["tse_failure"]
        assert len(_archived_to_its_end(unit, tss_id)) == 1  # not disabled twice


async def test_an_exchange_rebinds_the_registers_to_a_new_tss(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        register = await unit.pair()
        await register.receipt()
        old = _tss(unit)
        code, out = await unit.tsectl(
            "--json", "decommission", "exchange", "--reason", "Zertifikat gewechselt",
            "--confirm", f"TSS {old[:8]} tauschen",
        )  # fmt: skip
        assert code == 0, out
        assert json.loads(out)["plan"]["state"] == "done"
        new = _tss(unit)
        assert new != old and _sim(unit).state.tss[new].state == "INITIALIZED"
        assert _sim(unit).state.tss[old].state == "DISABLED"
        answer = await register.receipt()
        assert not answer["tse_failure"], answer
        assert len(_sim(unit).state.txs.get(new, {})) == 1  # signed on the new TSS
        assert len(_archived_to_its_end(unit, old)) == 1


async def test_the_unit_deregisters_every_register_and_disables_every_tss(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        first, second = await unit.pair(), await unit.pair("ERS kasse-2")
        await first.receipt()
        tss_id = _tss(unit)
        code, out = await unit.tsectl("decommission", "unit", "--reason", "Filiale geschlossen",
                                      "--confirm", "Einheit stilllegen")  # fmt: skip
        assert code == 0, out
        assert "Außerbetriebnahme (Einheit)" in out and "2 Kasse(n) abgemeldet" in out
        assert _sim(unit).state.tss[tss_id].state == "DISABLED"
        for register in (first, second):
            answer = await register.call("POST", "/api/v1/receipts", RECEIPT)
            assert answer.status_code == 401, answer.text
        assert len(_archived_to_its_end(unit, tss_id)) == 1


async def test_a_failed_step_stops_the_plan_until_resume(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        register = await unit.pair()
        await register.receipt()
        tss_id = _tss(unit)
        sim = _sim(unit)
        sim.faults.update({"error_rate": 1.0, "error_status": 503, "route": "export"})
        code, out = await unit.tsectl("--json", "decommission", "tss", "--reason",
                                      "Geschäft aufgegeben", "--confirm",
                                      f"TSS {tss_id[:8]} stilllegen")  # fmt: skip
        assert code == 1, out
        error = json.loads(out)["error"]
        expected = "step 1 (letzter Archivlauf) failed: the archive run before decommissioning"
        assert error["message"].startswith(expected) and f"TSS {tss_id}" in error["message"], error
        assert "503" in error["message"] and "tsectl decommission resume" in error["hint"]
        code, out = await unit.tsectl("decommission", "status")
        assert "1. letzter Archivlauf – FEHLER: the archive run before" in out, out
        assert "4. TSS außer Betrieb genommen (unumkehrbar) – offen" in out
        plan = await _plan(unit)
        assert plan["state"] == "failed" and plan["current"] == "archive"
        assert sim.state.tss[tss_id].state == "INITIALIZED"  # nothing irreversible happened
        sim.faults.reset()
        code, out = await unit.tsectl("decommission", "resume")
        assert code == 0, out
        assert "– erledigt" in out.splitlines()[0]
        assert sim.state.tss[tss_id].state == "DISABLED"
        assert len(_archived_to_its_end(unit, tss_id)) == 1


async def test_a_damaged_plan_file_never_stops_the_unit(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "decommission.json").write_text('{"kind": "tss", "steps": [')
    async with running_unit(state) as unit:
        register = await unit.pair()
        await register.receipt()
        code, out = await unit.tsectl("--json", "decommission", "status")
        assert code == 1 and "cannot be read" in json.loads(out)["error"]["message"], out
    assert (state / "decommission.json").read_text() == '{"kind": "tss", "steps": ['


async def test_a_deregistration_that_took_effect_before_a_crash_is_not_sent_again(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.archive.archiver.poll_interval = 0.1
        register = await unit.pair()
        await register.receipt()
        tss_id, upstreams = _tss(unit), unit.daemon.upstreams
        row = upstreams.register_client(register.register_id, tss_id)
        assert row is not None
        client, pin = await upstreams.admin("default", tss_id)  # the call of a crashed run:
        await client.admin_login(tss_id, pin)  # fiskaly has it, the unit's row does not
        await client.set_client_state(tss_id, row.client_id, "DEREGISTERED")
        await client.admin_logout(tss_id)
        mark = max(log.counter for log in _sim(unit).state.logs[tss_id])
        assert upstreams.register_client(register.register_id, tss_id).state == "REGISTERED"  # type: ignore[union-attr]
        code, out = await unit.tsectl(
            "--json", "decommission", "register", register.register_id, "--reason", "defekt",
            "--confirm", f"Kasse {register.register_id[:8]} abmelden",
        )  # fmt: skip
        assert code == 0 and json.loads(out)["plan"]["state"] == "done", out
        logs = _sim(unit).state.logs[tss_id]
        assert len([log for log in logs if "deregisterClient" in log.file_name]) == 1
        after = [log.file_name for log in logs if log.counter > mark]
        assert not [name for name in after if "authenticateUser" in name], after  # not sent
        assert upstreams.register_client(register.register_id, tss_id).state == "DEREGISTERED"  # type: ignore[union-attr]
        answer = await register.call("POST", "/api/v1/receipts", RECEIPT)
        assert answer.status_code == 401, answer.text
