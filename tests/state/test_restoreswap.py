"""A restore cut off at any rename of its swap is finished at the next start, forward, to
exactly what an uninterrupted restore leaves; one cut while undoing an error goes back.

The restore runs in a child process that dies (``os._exit``, no clean-up, like a power cut
after the rename reached the disk) right after its k-th rename, for every k until it gets
through; then the state is finished as the daemon finishes it at its start, and compared file
by file with an uninterrupted restore of the same backup onto the same unit. A real daemon
then starts on one of them and signs with the restored identity."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.state.test_restore import CONFIG, PASSWORD, digests, source  # noqa: F401 - fixture
from tests.support.unit import running_unit
from tsed.state.paths import StatePaths
from tsed.state.restoreswap import finish_interrupted_swap

ROOT = Path(__file__).resolve().parents[2]
STAMP = 1_800_000_000.0  # the restore's clock: the same folder name for what it set aside
CHILD = """
import os, sys
from pathlib import Path
from tsed.state.restore import restore_backup

file, target, password, cut_after = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
stamp = float(sys.argv[5])
count = 0
real = {"rename": os.rename, "replace": os.replace}

def cutting(name):
    def op(*args, **kwargs):
        global count
        real[name](*args, **kwargs)
        count += 1
        if count == cut_after:
            os._exit(9)  # the power goes: nothing after this rename runs
    return op

os.rename, os.replace = cutting("rename"), cutting("replace")
restore_backup(Path(file), password, state_dir=target / "state",
               config_path=target / "tsed.toml", replace=True, clock=lambda: stamp)
"""


def _unit_with_data(original: Path, target: Path, *, config_writable: bool = True) -> None:
    """A copy of the backup's unit with a configuration of its own; without
    ``config_writable`` the configuration path is a folder: the swap's last step fails."""
    shutil.copytree(original, target / "state", ignore=shutil.ignore_patterns("*.sock"))
    if config_writable:
        (target / "tsed.toml").write_text('name = "Alte Kasse"\n')
    else:
        (target / "tsed.toml").mkdir()


def _restore(file: Path, target: Path, cut_after: int, failing: bool = False) -> int:
    """0: restored; 9: cut; 1 (only when ``failing``): the restore's error."""
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(file), str(target), PASSWORD, str(cut_after), str(STAMP)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    allowed = (1, 9) if failing else (0, 9)
    assert run.returncode in allowed, run.stderr[-3000:]
    if run.returncode == 1:
        assert "cannot write the configuration" in run.stderr, run.stderr[-3000:]
    return run.returncode


@pytest.mark.timeout(600)
def test_a_cut_at_every_rename_is_finished_to_the_same_state(
    source: tuple[Path, Path],  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    file, original = source
    reference = tmp_path / "reference"
    _unit_with_data(original, reference)
    assert _restore(file, reference, 0) == 0  # never cut
    expected = digests(reference)
    aside = ".replaced-" + datetime.fromtimestamp(STAMP, UTC).strftime("%Y%m%dT%H%M%SZ")
    assert (reference / "state" / aside / "tsed.sqlite").is_file()
    assert (reference / "tsed.toml").read_text() == CONFIG

    cuts = 0
    for cut_after in range(1, 80):
        target = tmp_path / f"cut-{cut_after}"
        _unit_with_data(original, target)
        if _restore(file, target, cut_after) == 0:
            break  # got through: every rename was a cut point once
        cuts += 1
        paths = StatePaths(target / "state")
        finished = finish_interrupted_swap(paths)
        if finished is None:  # cut before the swap was written down: nothing changed yet
            assert digests(target / "state") == digests(original), cut_after
            continue
        assert finished.plan.direction == "forward" and finished.resumed
        assert digests(target) == expected, f"cut after rename {cut_after}"
        assert not paths.restore_swap.exists()
        assert not [p for p in paths.root.iterdir() if p.name.startswith(".restore-")]
        assert finish_interrupted_swap(paths) is None  # once
    assert cuts > 10  # the plan, every entry out, every entry in, the configuration


@pytest.mark.timeout(300)
async def test_the_daemon_finishes_a_cut_restore_before_it_starts(
    source: tuple[Path, Path],  # noqa: F811 - the fixture
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    file, original = source
    target = tmp_path / "unit"
    _unit_with_data(original, target)
    (target / "state" / "device.json").unlink()  # another unit's identity, to tell them apart
    (target / "state" / "device.key").unlink()
    (target / "state" / "device.crt").unlink()
    assert _restore(file, target, 6) == 9  # half of the entries out, none in yet
    assert StatePaths(target / "state").restore_swap.exists()
    async with running_unit(target / "state") as unit:
        assert (target / "state" / "device.json").read_bytes() == (
            original / "device.json"
        ).read_bytes()
        assert unit.daemon.identity.device_id in (original / "device.json").read_text()
        register = await unit.pair("ERS nach dem Tausch")
        body = await register.receipt()
        assert body["tse_failure"] is False and body["result"]["signature"]
    assert any(getattr(r, "TSED_EVENT", "") == "restore_resumed" for r in caplog.records)
    assert not StatePaths(target / "state").restore_swap.exists()


def test_a_cut_while_undoing_an_error_goes_back(
    source: tuple[Path, Path],  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    file, original = source
    target = tmp_path / "unit"
    _unit_with_data(original, target, config_writable=False)  # the swap is undone
    before = digests(target / "state")
    assert _restore(file, target, 0, failing=True) == 1
    assert digests(target / "state") == before  # undone in the same run
    assert not StatePaths(target / "state").restore_swap.exists()
    # the same failure, cut in the middle of the undoing: the next start goes back as well
    for cut_after in range(20, 60):
        again = tmp_path / f"undo-{cut_after}"
        _unit_with_data(original, again, config_writable=False)
        if _restore(file, again, cut_after, failing=True) != 9:
            continue
        paths = StatePaths(again / "state")
        finished = finish_interrupted_swap(paths)
        if finished is not None and finished.plan.direction == "back":
            assert digests(again / "state") == before, cut_after
            return
    pytest.fail("no cut fell into the undoing")
