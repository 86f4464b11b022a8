"""The restore's swap under faults, on a small made-up unit (no daemon, no backup file): the
order of its fsyncs and renames, a swap begun as root finished by the service user, an entry
it cannot look at, an undo that fails half-way, a leftover folder set aside, a plan with a bad
field. Each case leaves the unit whole: nothing marked done that is not, nothing lost."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from tsed.cli import tsectl
from tsed.errors import StorageError
from tsed.state.paths import StatePaths
from tsed.state.restoreswap import (
    CONFIG_KEPT,
    FINISH_COMMAND,
    SwapUnfinished,
    finish_interrupted_swap,
    swap,
)
from tsed.state.swapplan import ABANDON_COMMAND, SwapPlan, SwapPlanUnreadable

ROOT = Path(__file__).resolve().parents[2]
SERVICE_UID = 4321  # the service user tsed (tsectl runs as root)
ASIDE = ".replaced-20260101T000000Z"
CREATED = 1_767_225_600.0  # 2026-01-01 00:00 UTC
CHILD = """
import json, os, sys
from pathlib import Path
from tsed.state.paths import StatePaths
from tsed.state.restoreswap import finish_interrupted_swap
from tsed.errors import TsedError

os.setgid(int(sys.argv[2]))
os.setuid(int(sys.argv[2]))
try:
    result = finish_interrupted_swap(StatePaths(Path(sys.argv[1])))
    print(json.dumps({"finished": result is not None}))
except TsedError as err:
    print(json.dumps({"code": err.code, "message": err.message, "hint": err.hint}))
"""


class Cut(BaseException):
    """The power goes: nothing after this rename runs (not an error the swap catches)."""


def digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def make_unit(base: Path, *, owner: int | None = None) -> tuple[StatePaths, SwapPlan]:
    """A unit's state directory with an old state and a staged new one, and the plan a restore
    makes for it; with ``owner`` the state (not the staging) belongs to that user."""
    root = base / "state"
    root.mkdir(mode=0o700)
    (root / "tsed.sqlite").write_text("old store")
    (root / "vault.json").write_text("old vault")
    (root / "archive").mkdir()
    (root / "archive" / "index.sqlite").write_text("old index")
    etc = base / "etc"
    etc.mkdir()
    (etc / "tsed.toml").write_text('name = "Alt"\n')
    if owner is not None:
        for path in [root, *root.rglob("*"), etc, *etc.rglob("*")]:
            os.chown(path, owner, owner)
    staging = root / ".restore-abc123"
    new = staging / "tree" / "state"
    new.mkdir(parents=True, mode=0o700)
    staging.chmod(0o700)
    (new / "tsed.sqlite").write_text("new store")
    (new / "vault.json").write_text("new vault")
    (new / "device.key").write_text("new key")
    (new / "archive" / "tss").mkdir(parents=True)
    (new / "archive" / "index.sqlite").write_text("new index")
    (new / "archive" / "tss" / "a.tar").write_text("new tar")
    (staging / "tree" / "config.toml").write_text('name = "Neu"\n')
    if owner is not None:  # what a restore gives the service user before its swap
        for path in new.rglob("*"):
            os.chown(path, owner, owner)
    plan = SwapPlan(
        staging.name, "tree/state", ASIDE, ("archive", "tsed.sqlite", "vault.json"),
        ("archive", "device.key", "tsed.sqlite", "vault.json"), "tree/config.toml",
        str(etc / "tsed.toml"), backup_device="dev-1234", backup_created=CREATED,
    )  # fmt: skip
    return StatePaths(root), plan


def assert_new(paths: StatePaths) -> None:
    root = paths.root
    assert (root / "tsed.sqlite").read_text() == "new store"
    assert (root / "device.key").read_text() == "new key"
    assert (root / "archive" / "tss" / "a.tar").read_text() == "new tar"
    assert (root / ASIDE / "tsed.sqlite").read_text() == "old store"
    assert (root / ASIDE / "archive" / "index.sqlite").read_text() == "old index"
    assert (root / ASIDE / CONFIG_KEPT).read_text() == 'name = "Alt"\n'
    assert (root.parent / "etc" / "tsed.toml").read_text() == 'name = "Neu"\n'
    assert not paths.restore_swap.exists()


class Recorder:
    """os.fsync, os.rename and os.replace as they happen: ("fsync", path) and (op, src, dst);
    ``cut_after`` renames (os.rename) end in a :class:`Cut`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cut_after: int = 0) -> None:
        self.events: list[tuple[str, ...]] = []
        self.renames = 0
        real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace

        def fsync(fd: int) -> None:
            self.events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
            real_fsync(fd)

        def rename(src: Any, dst: Any, **kwargs: Any) -> None:
            real_rename(src, dst, **kwargs)
            self.events.append(("rename", str(src), str(dst)))
            self.renames += 1
            if self.renames == cut_after:
                raise Cut

        def replace_(src: Any, dst: Any, **kwargs: Any) -> None:
            real_replace(src, dst, **kwargs)
            self.events.append(("replace", str(src), str(dst)))

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "rename", rename)
        monkeypatch.setattr(os, "replace", replace_)

    def index(self, match: Callable[[tuple[str, ...]], bool]) -> list[int]:
        return [i for i, event in enumerate(self.events) if match(event)]


def test_staged_files_are_synced_before_the_plan_and_the_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, plan = make_unit(tmp_path)
    staging = paths.root / plan.staging
    staged = [str(p) for p in sorted(staging.rglob("*"))] + [str(staging)]
    recorder = Recorder(monkeypatch)
    swap(paths, plan)
    monkeypatch.undo()
    assert_new(paths)
    (written,) = recorder.index(lambda e: e[0] == "replace" and e[2] == str(paths.restore_swap))
    renames = recorder.index(lambda e: e[0] == "rename")
    assert renames and written < renames[0]  # the plan first, then the renames
    synced: dict[str, int] = {}
    for i, event in enumerate(recorder.events):
        if event[0] == "fsync":
            synced.setdefault(event[1], i)
    for path in staged:  # every staged file and folder reached the disk before the plan
        assert path in synced and synced[path] < written, path
    after = {e[1] for e in recorder.events[renames[-1] :] if e[0] == "fsync"}
    for folder in (paths.root, paths.root / ASIDE, staging / plan.new_root):
        assert str(folder) in after, folder  # the renames themselves reached the disk


def test_the_kept_configuration_is_written_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, plan = make_unit(tmp_path)
    recorder = Recorder(monkeypatch)
    swap(paths, plan)
    monkeypatch.undo()
    kept = str(paths.root / ASIDE / CONFIG_KEPT)
    (moved,) = recorder.index(lambda e: e[0] == "replace" and e[2] == kept)
    temp = recorder.events[moved][1]  # it got its name by a rename, after its fsync
    assert recorder.index(lambda e: e == ("fsync", temp))[0] < moved
    assert Path(kept).read_text() == 'name = "Alt"\n'


@contextlib.contextmanager
def shared_base() -> Iterator[Path]:
    """A folder the service user can reach (pytest's tmp_path is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="tsed-swap-", dir="/tmp"))
    base.chmod(0o711)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def as_service_user(root: Path) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(SERVICE_UID)], capture_output=True,
        text=True, timeout=60, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def cut_swap(
    paths: StatePaths, plan: SwapPlan, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    Recorder(monkeypatch, cut_after=after)
    with pytest.raises(Cut):
        swap(paths, plan)
    monkeypatch.undo()
    assert paths.restore_swap.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to play root and the service user")
def test_a_swap_begun_as_root_is_finished_by_the_service_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with shared_base() as base:
        paths, plan = make_unit(base, owner=SERVICE_UID)
        cut_swap(paths, plan, monkeypatch, after=2)  # two entries out, none in
        assert as_service_user(paths.root) == {"finished": True}
        assert_new(paths)
        for path in paths.root.rglob("*"):
            assert path.stat().st_uid == SERVICE_UID, path


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to play root and the service user")
def test_an_entry_the_service_user_cannot_see_is_an_error_not_absent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with shared_base() as base:
        paths, plan = make_unit(base, owner=SERVICE_UID)
        cut_swap(paths, plan, monkeypatch, after=4)  # every entry out, one in
        staging = paths.root / plan.staging
        os.chown(staging, 0, 0)  # as an older tsectl left it: root's, 0700
        before = digests(base)
        found = as_service_user(paths.root)
        assert found["code"] == SwapUnfinished.code, found
        assert str(staging) in found["message"] and "Permission denied" in found["message"]
        assert FINISH_COMMAND in found["hint"]
        assert paths.restore_swap.exists()  # nothing marked done
        assert digests(base) == before  # nothing moved, nothing lost
        # the hint's command, as root
        out = io.StringIO()
        argv = ["--json", "--state-dir", str(paths.root), *FINISH_COMMAND.split()[1:]]
        assert tsectl.main(argv, out=out) == 0, capsys.readouterr().err
        done = json.loads(out.getvalue())
        assert done["finished"] and done["direction"] == "forward", done
        assert_new(paths)


def test_an_entry_missing_at_the_finish_is_not_recorded_as_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, plan = make_unit(tmp_path)
    cut_swap(paths, plan, monkeypatch, after=3)  # every entry out, none in
    (paths.root / plan.staging / plan.new_root / "device.key").unlink()  # gone from the staging
    with pytest.raises(SwapUnfinished, match=r"device\.key is not in place"):
        finish_interrupted_swap(paths)
    assert paths.restore_swap.exists()


def test_a_permission_error_while_looking_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, plan = make_unit(tmp_path)
    cut_swap(paths, plan, monkeypatch, after=2)
    before = digests(tmp_path)
    real_lstat = os.lstat
    hidden = str(paths.root / plan.staging)

    def lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if str(path).startswith(hidden + "/"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    with pytest.raises(SwapUnfinished) as caught:
        finish_interrupted_swap(paths)
    monkeypatch.undo()
    assert hidden in caught.value.message and FINISH_COMMAND in caught.value.hint
    assert paths.restore_swap.exists() and digests(tmp_path) == before
    assert finish_interrupted_swap(paths) is not None  # once it can look: finished
    assert_new(paths)


def test_an_undo_that_fails_half_way_keeps_its_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, plan = make_unit(tmp_path)
    config = Path(str(plan.config_path))
    config.unlink()
    config.mkdir()  # the configuration cannot be written: the swap goes back
    before = digests(tmp_path)
    real_rename = os.rename
    failing = str(paths.root / ASIDE / "tsed.sqlite")

    def rename(src: Any, dst: Any, **kwargs: Any) -> None:
        if str(src) == failing:
            raise OSError(errno.EIO, "Input/output error", str(src))
        real_rename(src, dst, **kwargs)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(SwapUnfinished, match="undoing it stopped part-way") as caught:
        swap(paths, plan)
    assert FINISH_COMMAND in caught.value.hint
    written = json.loads(paths.restore_swap.read_text())  # kept: the next start goes on
    assert written["direction"] == "back"
    assert (paths.root / plan.staging).is_dir()
    with pytest.raises(SwapUnfinished, match="could not be undone completely"):
        finish_interrupted_swap(paths)  # the disk still fails: still not done
    assert paths.restore_swap.exists()
    monkeypatch.undo()
    finished = finish_interrupted_swap(paths)
    assert finished is not None and finished.plan.direction == "back"
    unit = {k: v for k, v in before.items() if not k.startswith(f"state/{plan.staging}/")}
    assert digests(tmp_path) == unit and not paths.restore_swap.exists()
    assert not (paths.root / ASIDE).exists()


def test_a_leftover_folder_set_aside_is_never_mixed_in(tmp_path: Path) -> None:
    paths, plan = make_unit(tmp_path)
    leftover = paths.root / ASIDE
    leftover.mkdir()
    (leftover / "tsed.sqlite").write_text("an earlier restore's store")
    before = digests(tmp_path)
    with pytest.raises(StorageError, match="left from an earlier restore"):
        swap(paths, plan)
    assert digests(tmp_path) == before and not paths.restore_swap.exists()


def _plan_data(plan: SwapPlan) -> dict[str, Any]:
    return json.loads(json.dumps(plan.to_json()))  # type: ignore[no-any-return]


BAD_FIELDS: list[tuple[str, object]] = [
    ("staging", ""), ("staging", "."), ("staging", ".."), ("staging", "/"),
    ("staging", "../state"), ("staging", "tree"), ("staging", ".restore-"),
    ("staging", ".restore-a/.."), ("staging", 7),
    ("aside", ""), ("aside", "/etc"), ("aside", ".."), ("aside", "old"),
    ("aside", ".replaced-x/../.."),
    ("new_root", ""), ("new_root", "/"), ("new_root", "../.."), ("new_root", "tree//state"),
    ("new_root", "tree/./state"),
    ("old", ["../../etc"]), ("old", ["notes.txt"]), ("old", ["tsed.sqlite", "tsed.sqlite"]),
    ("old", "tsed.sqlite"), ("old", [""]), ("old", [".restore-abc123"]),
    ("incoming", ["/etc/passwd"]), ("incoming", [".."]), ("incoming", ["restore-swap.json"]),
    ("direction", "sideways"), ("direction", None),
    ("format", 2), ("format", "1"), ("format", True), ("format", None),
    ("config_source", "/etc/shadow"), ("config_source", "../../x"), ("config_source", None),
    ("config_path", "relative/tsed.toml"), ("config_path", "/etc/../x"), ("config_path", 5),
    ("backup_created", -1), ("backup_created", "gestern"), ("backup_device", ["x"]),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=[f"{f}={v!r}" for f, v in BAD_FIELDS])
def test_a_plan_with_a_bad_field_is_refused_and_nothing_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, value: object
) -> None:
    paths, plan = make_unit(tmp_path)
    cut_swap(paths, plan, monkeypatch, after=2)
    data = _plan_data(plan)
    data[field] = value
    paths.restore_swap.write_text(json.dumps(data))
    before = digests(tmp_path)
    with pytest.raises(SwapPlanUnreadable) as caught:
        finish_interrupted_swap(paths)
    assert field in caught.value.message, caught.value.message
    assert ABANDON_COMMAND in caught.value.hint
    assert digests(tmp_path) == before


def test_a_config_path_onto_a_state_entry_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, plan = make_unit(tmp_path)
    before = digests(tmp_path)
    with pytest.raises(StorageError, match="config_path"):  # the writer checks it too
        swap(paths, replace(plan, config_path=str(paths.store.absolute())))
    assert digests(tmp_path) == before and not paths.restore_swap.exists()
    cut_swap(paths, plan, monkeypatch, after=1)
    data = _plan_data(plan)
    data["config_path"] = str(paths.vault.absolute())
    paths.restore_swap.write_text(json.dumps(data))
    before = digests(tmp_path)
    with pytest.raises(SwapPlanUnreadable, match="config_path"):
        finish_interrupted_swap(paths)
    assert digests(tmp_path) == before


def test_a_plan_of_an_older_tsed_without_the_backup_fields_is_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, plan = make_unit(tmp_path)
    cut_swap(paths, plan, monkeypatch, after=2)
    data = {k: v for k, v in asdict(plan).items() if not k.startswith("backup_")}
    paths.restore_swap.write_text(json.dumps({"format": 1, **data}))
    assert finish_interrupted_swap(paths) is not None
    assert_new(paths)


def test_an_undo_that_cannot_look_changes_nothing_and_keeps_its_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, plan = make_unit(tmp_path)
    cut_swap(paths, plan, monkeypatch, after=4)  # every entry out, one in
    paths.restore_swap.write_text(json.dumps(_plan_data(replace(plan, direction="back"))))
    before = digests(tmp_path)
    real_lstat = os.lstat
    hidden = str(paths.root / ASIDE)

    def lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if str(path).startswith(hidden + "/"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    with pytest.raises(SwapUnfinished, match="could not be undone") as caught:
        finish_interrupted_swap(paths)
    monkeypatch.undo()
    assert hidden in caught.value.message and FINISH_COMMAND in caught.value.hint
    assert paths.restore_swap.exists() and digests(tmp_path) == before
    finished = finish_interrupted_swap(paths)
    assert finished is not None and finished.plan.direction == "back"
    assert (paths.root / "tsed.sqlite").read_text() == "old store"
    assert not (paths.root / "device.key").exists() and not (paths.root / ASIDE).exists()
