"""The decommissioning's plan: its steps per kind, the plan file, the checks of reason, date
and confirmation (:mod:`tsed.provisioning.decommission`)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from tsed.errors import ConflictError, InputError
from tsed.provisioning.decommission import (
    IRREVERSIBLE,
    STEPS,
    PlanFile,
    check_day,
    check_reason,
    confirmation,
    new_plan,
)

TODAY = date(2026, 12, 2)
TSS = "3c7686af-80c4-4e04-bd03-558264a09656"


def test_every_kind_archives_verifies_and_copies_before_its_one_irreversible_step() -> None:
    assert set(STEPS) == {"register", "tss", "exchange", "unit"}
    for kind, steps in STEPS.items():
        assert steps[:3] == ("archive", "verify", "offbox"), kind
        assert steps[-1] == "record", kind
        first = min(i for i, name in enumerate(steps) if name in IRREVERSIBLE)
        assert first == 3, kind
    for kind in ("tss", "exchange", "unit"):  # the TSS's disabling is itself a signed log
        steps = STEPS[kind]
        assert steps.index("seal") == steps.index("disable") + 1, kind
    assert STEPS["exchange"].index("replace") < STEPS["exchange"].index("disable")
    assert "seal" not in STEPS["register"] and "disable" not in STEPS["register"]


def test_the_plan_file_round_trips_and_is_written_whole(tmp_path: Path) -> None:
    file = PlanFile(tmp_path / "decommission.json")
    assert file.load() is None
    plan = new_plan("tss", tenant="default", register_id=None, tss_ids=(TSS,),
                    reason="Geschäft aufgegeben", day="2026-12-01", clock=lambda: 1.5)  # fmt: skip
    assert [s.name for s in plan.steps] == list(STEPS["tss"])
    assert plan.current is not None and plan.current.name == "archive"
    running = plan.with_step(replace(plan.step("archive"), state="done", detail="1 Datei"))
    running = running.with_step(replace(running.step("verify"), state="running"))
    file.save(running)
    assert file.load() == running
    assert (tmp_path / "decommission.json").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["decommission.json"]  # no temp file left
    data = json.loads((tmp_path / "decommission.json").read_text())
    assert data["current"] == "verify" and data["reason"] == "Geschäft aufgegeben"
    (disable,) = [s for s in data["steps"] if s["name"] == "disable"]
    assert disable["irreversible"] and disable["text"] == "TSS außer Betrieb genommen"
    assert not any(s["irreversible"] for s in data["steps"] if s["name"] != "disable")
    done = replace(running, steps=tuple(replace(s, state="done") for s in running.steps))
    assert done.current is None


@pytest.mark.parametrize("content", [b'{"kind": "tss"', b"[]", b'{"steps": 3}', b"\xff\xfe"])
def test_a_damaged_plan_file_is_a_clear_conflict(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "decommission.json"
    path.write_bytes(content)
    with pytest.raises(ConflictError) as caught:
        PlanFile(path).load()
    assert "cannot be read" in caught.value.message
    assert "vendor" in (caught.value.hint or "")
    assert path.read_bytes() == content  # kept as it is


def test_reason_is_required_and_bounded() -> None:
    assert check_reason("  Kasse   verkauft \n") == "Kasse verkauft"
    for empty in ("", "   ", "\n\t"):
        with pytest.raises(InputError, match="reason: give the reason"):
            check_reason(empty)
    assert check_reason("x" * 200) == "x" * 200
    with pytest.raises(InputError, match="at most 200 characters, got 201"):
        check_reason("x" * 201)


def test_date_defaults_to_today_and_is_never_in_the_future() -> None:
    assert check_day(None, TODAY) == "2026-12-02"
    assert check_day(" 2026-11-30 ", TODAY) == "2026-11-30"
    assert check_day("2026-12-02", TODAY) == "2026-12-02"
    with pytest.raises(InputError, match="lies in the future"):
        check_day("2026-12-03", TODAY)
    for bad in ("2026-13-01", "morgen", "02.12.2026", ""):
        with pytest.raises(InputError, match="is not a day") as caught:
            check_day(bad, TODAY)
        assert "YYYY-MM-DD" in caught.value.message and caught.value.hint


def test_confirmation_phrases_name_what_goes() -> None:
    register = "b1b2351b-6dca-41c6-a7b3-148fd20eda8f"
    assert confirmation("register", (TSS,), register) == "Kasse b1b2351b abmelden"
    assert confirmation("tss", (TSS,), None) == "TSS 3c7686af stilllegen"
    assert confirmation("exchange", (TSS,), None) == "TSS 3c7686af tauschen"
    assert confirmation("unit", (TSS, "a032df96-0000"), None) == "Einheit stilllegen"


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(InputError, match="'everything' is not one of register, tss"):
        new_plan("everything", tenant=None, register_id=None, tss_ids=(), reason="x",
                 day="2026-12-01")  # fmt: skip
