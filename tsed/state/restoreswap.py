"""A restore's swap, resumable after a power cut at any rename.

The swap puts the checked backup in place: each entry of the state directory it replaces is
renamed into ``.replaced-<time>/`` (kept), each new one renamed in from the staging folder, then
the configuration file is written. Each rename is atomic, but a power cut between two of them
would leave the unit half old and half new (the new store with the old vault, say), and the
daemon would start on a mix of two units.

So before the first rename the whole swap is written down, durably, in
``restore-swap.json`` (:attr:`StatePaths.restore_swap`): the staging folder, the folder set
aside, the names going out and coming in, the configuration; and whether it goes forward or is
being undone. The file is removed only when the swap is complete. After a cut,
:func:`finish_interrupted_swap` (run by the daemon before it opens anything, and by the next
restore) finishes what the file says: forward (the backup was opened and checked in full before
the file was written, and the installer asked for it), or back when the swap was being undone
after an error. Each step looks first where its entry is, so it can run any number of times.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tsed.errors import StorageError
from tsed.state.files import atomic_write
from tsed.state.paths import StatePaths

_LOGGER = logging.getLogger(__name__)
FORMAT = 1
CONFIG_KEPT = "config.toml"  # the replaced configuration, in the folder set aside


@dataclass(frozen=True, slots=True)
class SwapPlan:
    staging: str  # the restore's staging folder, in the state directory
    new_root: str  # the unpacked state, relative to the staging folder
    aside: str  # the folder the replaced entries go to, in the state directory
    old: tuple[str, ...]  # the entries going out (in this order)
    incoming: tuple[str, ...]  # the entries coming in (in this order)
    config_source: str | None  # the backup's configuration, relative to the staging folder
    config_path: str | None  # the unit's configuration file (absolute)
    direction: str = "forward"  # or "back": an error part-way, being undone

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SwapPlan:
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        return cls(
            str(data["staging"]), str(data["new_root"]), str(data["aside"]),
            tuple(str(n) for n in data["old"]), tuple(str(n) for n in data["incoming"]),
            data.get("config_source"), data.get("config_path"), str(data["direction"]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SwapResult:
    plan: SwapPlan
    resumed: bool  # finished after an interruption (a power cut, a killed restore)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_plan(paths: StatePaths, plan: SwapPlan) -> None:
    data = json.dumps(plan.to_json(), indent=1).encode()
    atomic_write(paths.restore_swap, data, mode=0o600)


def _move(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` unless that was done already (a resumed swap)."""
    if os.path.lexists(source) and not os.path.lexists(target):
        os.rename(source, target)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _forward(root: Path, plan: SwapPlan) -> None:
    staging, aside = root / plan.staging, root / plan.aside
    new_root = staging / plan.new_root
    aside.mkdir(mode=0o700, exist_ok=True)
    for name in plan.old:
        if not os.path.lexists(aside / name):  # out, unless already out
            _move(root / name, aside / name)
    for name in plan.incoming:
        _move(new_root / name, root / name)
    fsync_dir(aside)
    fsync_dir(root)
    if plan.config_source is None or plan.config_path is None:
        return
    source, target = staging / plan.config_source, Path(plan.config_path)
    wanted = source.read_bytes()
    if _digest(target) == hashlib.sha256(wanted).hexdigest():
        return  # written before the cut
    if target.is_file() and not (aside / CONFIG_KEPT).exists():
        shutil.copyfile(target, aside / CONFIG_KEPT)
    atomic_write(target, wanted, mode=0o644)
    if os.geteuid() == 0:
        owner = target.parent.stat()
        os.chown(target, owner.st_uid, owner.st_gid)


def _back(root: Path, plan: SwapPlan) -> None:
    staging, aside = root / plan.staging, root / plan.aside
    new_root = staging / plan.new_root
    for name in reversed(plan.incoming):
        if os.path.lexists(root / name) and not os.path.lexists(new_root / name):
            with contextlib.suppress(OSError):
                os.rename(root / name, new_root / name)
    for name in reversed(plan.old):
        with contextlib.suppress(OSError):
            _move(aside / name, root / name)
    kept = aside / CONFIG_KEPT
    if plan.config_path is not None and kept.is_file():
        with contextlib.suppress(OSError, StorageError):
            atomic_write(Path(plan.config_path), kept.read_bytes(), mode=0o644)
            kept.unlink()
    with contextlib.suppress(OSError):
        aside.rmdir()  # empty once everything is back
    with contextlib.suppress(OSError):
        fsync_dir(root)


def _done(paths: StatePaths) -> None:
    paths.restore_swap.unlink(missing_ok=True)
    fsync_dir(paths.root)


def swap(paths: StatePaths, plan: SwapPlan) -> None:
    """The swap, written down first; on an error everything goes back and it raises."""
    try:
        _write_plan(paths, plan)
    except StorageError as err:
        raise StorageError(f"cannot put the restored state in place: {err.message}") from err
    try:
        _forward(paths.root, plan)
    except (OSError, StorageError) as err:
        back = SwapPlan(**{**asdict(plan), "direction": "back"})
        with contextlib.suppress(StorageError):
            _write_plan(paths, back)  # a cut while undoing finishes the undoing
        _back(paths.root, back)
        with contextlib.suppress(OSError):
            _done(paths)
        if isinstance(err, StorageError):
            message = f"cannot write the configuration {plan.config_path}: {err.message}"
        else:
            message = f"cannot put the restored state in place: {err.strerror or err}"
        raise StorageError(message) from err
    _done(paths)


def finish_interrupted_swap(paths: StatePaths) -> SwapResult | None:
    """Finish a swap a power cut (or a kill) interrupted, forward or back as it was going;
    None when there was none. Raises StorageError when it cannot (the unit must not start
    on half of two states)."""
    try:
        data = json.loads(paths.restore_swap.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise StorageError(
            f"an interrupted restore left {paths.restore_swap} unreadable: {err}",
            hint="Restore the backup again (tsectl backup restore FILE --replace).",
        ) from err
    try:
        plan = SwapPlan.from_json(data)
    except (KeyError, TypeError, ValueError) as err:
        raise StorageError(
            f"an interrupted restore left {paths.restore_swap} unreadable: {err}",
            hint="Restore the backup again (tsectl backup restore FILE --replace).",
        ) from err
    try:
        if plan.direction == "back":
            _back(paths.root, plan)
        else:
            _forward(paths.root, plan)
        _done(paths)
    except (OSError, StorageError) as err:
        raise StorageError(
            f"cannot finish the interrupted restore: {err}",
            hint="Look at the state directory's free space and permissions, then start again.",
        ) from err
    shutil.rmtree(paths.root / plan.staging, ignore_errors=True)
    return SwapResult(plan, resumed=True)


def log_finished(result: SwapResult | None) -> None:
    """The journal line of a finished interrupted swap (once logging is set up)."""
    if result is None:
        return
    plan = result.plan
    _LOGGER.warning(
        "an interrupted restore was finished (%s): %d entries in place, the earlier ones in %s",
        "forward" if plan.direction == "forward" else "undone", len(plan.incoming), plan.aside,
        extra={"TSED_EVENT": "restore_resumed"},
    )  # fmt: skip
