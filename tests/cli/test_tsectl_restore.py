"""``tsectl backup restore`` after an interrupted restore: the commands the errors name work as
named (``--abandon-swap`` for a plan that cannot be read, ``--finish`` for one the daemon
could not finish), and what a finished or undone swap says, in the journal and on the console,
is plain and holds no secret."""

from __future__ import annotations

import io
import json
import logging
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.state.test_restore import CONFIG, PASSWORD, digests, source  # noqa: F401 - fixture
from tests.state.test_restoreswap import STAMP, _restore, _unit_with_data
from tsed.cli import tsectl
from tsed.state.paths import StatePaths
from tsed.state.restore import restore_backup
from tsed.state.restoreswap import FINISH_COMMAND, finish_interrupted_swap, log_finished
from tsed.state.swapplan import ABANDON_COMMAND
from tsed.texts.catalogue import error_text


def _tsectl(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    code = tsectl.main(argv, out=out)
    return code, out.getvalue()


def _restore_args(file: Path, target: Path, password_file: Path) -> list[str]:
    """ABANDON_COMMAND with this unit's file and paths."""
    words = ABANDON_COMMAND.split()[1:]  # after "tsectl"
    words[words.index("FILE")] = str(file)
    config = str(target / "tsed.toml")
    return ["--state-dir", str(target / "state"), *words,
            "--password-file", str(password_file), "--config", config]  # fmt: skip


@pytest.mark.parametrize("plan", ["{not json", '{"format": 2, "staging": ".restore-x"}'])
def test_an_unreadable_plan_is_cleared_by_the_command_its_error_names(
    source: tuple[Path, Path],  # noqa: F811 - the fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    plan: str,
) -> None:
    file, original = source
    target = tmp_path / "unit"
    _unit_with_data(original, target)
    paths = StatePaths(target / "state")
    paths.restore_swap.write_text(plan)
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    before = digests(target)
    args = _restore_args(file, target, password_file)
    without = [a for a in args if a != "--abandon-swap"]
    code, _ = _tsectl(without, monkeypatch, "ERSETZEN\n")
    shown = capsys.readouterr().err
    assert code == 1 and "--abandon-swap" in shown and "tsectl backup restore" in shown
    german = error_text("RESTORE_PLAN_UNREADABLE", "de")["hint"]
    assert german and "tsectl backup restore DATEI --replace --abandon-swap" in german
    assert digests(target) == before
    code, out = _tsectl(["--json", *without], monkeypatch, "ERSETZEN\n")
    error = json.loads(out)["error"]
    assert error["code"] == "RESTORE_PLAN_UNREADABLE" and ABANDON_COMMAND in error["hint"]

    code, out = _tsectl(["--json", *args], monkeypatch, "ERSETZEN\n")  # the hint's command
    assert code == 0, out + capsys.readouterr().err
    assert json.loads(out)["transactions"] == 2
    assert not paths.restore_swap.exists()
    (kept,) = paths.root.glob(".abandoned-swap-*.json")
    assert kept.read_text() == plan  # set aside, not deleted
    assert (target / "tsed.toml").read_text() == CONFIG
    assert finish_interrupted_swap(paths) is None
    assert PASSWORD not in out + capsys.readouterr().err


def test_finish_without_an_interrupted_restore_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _tsectl(["--state-dir", str(tmp_path), *FINISH_COMMAND.split()[1:]], monkeypatch)
    assert code == 0 and "nichts zu tun" in out
    code, out = _tsectl(["--state-dir", str(tmp_path), "backup", "restore"], monkeypatch)
    assert code == 2  # no file, no --finish: a usage error


def test_a_finished_restore_says_what_it_did_and_no_secret(
    source: tuple[Path, Path],  # noqa: F811 - the fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    file, original = source
    target = tmp_path / "unit"
    _unit_with_data(original, target)
    assert _restore(file, target, 6) == 9  # cut: half of the entries out
    paths = StatePaths(target / "state")
    assert PASSWORD not in paths.restore_swap.read_text()
    plan = json.loads(paths.restore_swap.read_text())
    made = datetime.fromtimestamp(plan["backup_created"], UTC)
    caplog.set_level(logging.INFO)
    code, out = _tsectl(["--state-dir", str(paths.root), *FINISH_COMMAND.split()[1:]], monkeypatch)
    assert code == 0, out
    assert "Unterbrochene Wiederherstellung abgeschlossen" in out
    assert made.strftime("%d.%m.%Y %H:%M UTC") in out and plan["backup_device"] in out
    (record,) = [r for r in caplog.records if getattr(r, "TSED_EVENT", "") == "restore_resumed"]
    text = record.getMessage()
    assert "interrupted restore was finished: the unit now runs on the backup of device" in text
    assert plan["backup_device"] in text and made.strftime("%Y-%m-%d %H:%M UTC") in text
    assert record.TSED_RESULT == "finished"  # type: ignore[attr-defined]
    assert plan["aside"] == record.TSED_PATH  # type: ignore[attr-defined]
    assert PASSWORD not in text + out
    assert (paths.root / "device.json").read_bytes() == (original / "device.json").read_bytes()


def test_an_undone_restore_says_so(
    source: tuple[Path, Path],  # noqa: F811 - the fixture
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    file, original = source
    for cut_after in range(20, 60):  # a cut while an error is being undone
        target = tmp_path / f"undo-{cut_after}"
        _unit_with_data(original, target, config_writable=False)
        if _restore(file, target, cut_after, failing=True) != 9:
            continue
        paths = StatePaths(target / "state")
        if json.loads(paths.restore_swap.read_text())["direction"] != "back":
            continue
        caplog.set_level(logging.INFO)
        log_finished(finish_interrupted_swap(paths))
        (record,) = [r for r in caplog.records if getattr(r, "TSED_EVENT", "") == "restore_resumed"]
        text = record.getMessage()
        assert "interrupted restore was undone: the unit runs on its earlier state again" in text
        assert "was not put in place" in text and PASSWORD not in text
        assert record.TSED_RESULT == "undone"  # type: ignore[attr-defined]
        return
    pytest.fail("no cut fell into the undoing")


def test_a_leftover_folder_set_aside_gets_a_new_name(
    source: tuple[Path, Path],  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    file, original = source
    target = tmp_path / "unit"
    _unit_with_data(original, target)
    stamp = datetime.fromtimestamp(STAMP, UTC).strftime("%Y%m%dT%H%M%SZ")
    leftover = target / "state" / f".replaced-{stamp}"
    leftover.mkdir()
    (leftover / "tsed.sqlite").write_text("an earlier restore's store")
    info = restore_backup(
        file, PASSWORD, state_dir=target / "state", config_path=target / "tsed.toml",
        replace=True, clock=lambda: STAMP,
    )  # fmt: skip
    assert info.replaced == target / "state" / f".replaced-{stamp}-2"
    assert (leftover / "tsed.sqlite").read_text() == "an earlier restore's store"
    assert sorted(p.name for p in leftover.iterdir()) == ["tsed.sqlite"]  # nothing mixed in
    assert (info.replaced / "tsed.sqlite").read_bytes() == (original / "tsed.sqlite").read_bytes()
    shutil.rmtree(target)
