"""A restore's swap, resumable after a power cut at any rename.

The swap puts the checked backup in place: each entry of the state directory it replaces is
renamed into ``.replaced-<time>/`` (kept), each new one renamed in from the staging folder, then
the configuration file is written. Each rename is atomic, but a power cut between two of them
would leave the unit half old and half new (the new store with the old vault, say), and the
daemon would start on a mix of two units.

So before the first rename the whole swap is written down, durably, in
``restore-swap.json`` (:attr:`StatePaths.restore_swap`; its fields are checked by
:mod:`tsed.state.swapplan`): the staging folder, the folder set aside, the names going out and
coming in, the configuration; and whether it goes forward or is being undone. In this order:
every staged file and folder is fsynced, the folder set aside is made (a new one: a leftover
is never mixed in), the plan written (atomically), then the renames, then the folders they
touched fsynced. Run as root (``tsectl``), the staging folder, the folder set aside and the plan
are given to the state directory's owner first, so the daemon (the service user) can finish.

The plan is removed only when the swap is complete and checked (every entry where the plan
puts it). After a cut, :func:`finish_interrupted_swap` (run by the daemon before it opens
anything, by the next restore and by ``tsectl backup restore --finish``) finishes what the
file says: forward (the backup was opened and checked in full before the file was written, and
the installer asked for it), or back when the swap was being undone after an error. Each step
looks first where its entry is, so it can run any number of times; an entry it cannot look at
(no permission) is an error, never taken for absent. A swap that cannot be finished or undone
completely keeps its plan: the next start tries again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import stat
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from tsed.errors import StorageError
from tsed.state.files import atomic_write
from tsed.state.paths import StatePaths
from tsed.state.swapplan import SwapPlan, SwapPlanUnreadable, check_plan

_LOGGER = logging.getLogger(__name__)
CONFIG_KEPT = "config.toml"  # the replaced configuration, in the folder set aside
FINISH_COMMAND = "tsectl backup restore --finish"


class SwapUnfinished(StorageError, code="RESTORE_UNFINISHED"):
    """An interrupted restore's swap could not be finished or undone (no permission, a
    failing disk): its plan is kept and the unit does not start on half of two states."""

    default_hint = (
        f"Run {FINISH_COMMAND} as root: it finishes the swap and gives the files to the "
        "service user. Or give the state directory back to the service user (chown -R "
        "tsed:tsed /var/lib/tsed) and start the unit again. Nothing was lost."
    )


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


def _sync_tree(top: Path) -> None:
    """fsync every file and folder under ``top`` (deepest first), then ``top``."""
    for dirpath, _dirs, files in os.walk(top, topdown=False):
        for name in files:
            path = Path(dirpath) / name
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def _owner(paths: StatePaths) -> tuple[int, int] | None:
    """The state directory's owner when run as root (the entries go to it), else None."""
    if os.geteuid() != 0:
        return None
    found = paths.root.stat()
    return found.st_uid, found.st_gid


def give_to_owner(top: Path, owner: tuple[int, int] | None) -> None:
    """``top`` and everything under it to ``owner`` (nothing when None)."""
    if owner is None:
        return
    os.chown(top, *owner, follow_symlinks=False)
    for dirpath, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            os.chown(Path(dirpath) / name, *owner, follow_symlinks=False)


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; one that cannot be looked at raises (never taken for absent)."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    return True


def _write_plan(paths: StatePaths, plan: SwapPlan) -> None:
    data = json.dumps(plan.to_json(), indent=1).encode()
    atomic_write(paths.restore_swap, data, mode=0o600, owner=_owner(paths))


def _move(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` unless that was done already (a resumed swap)."""
    if _exists(source) and not _exists(target):
        os.rename(source, target)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return None


def _look(paths: StatePaths, plan: SwapPlan) -> None:
    """Look at every entry the swap moves before it moves one: an entry it may not look at
    (no permission) stops it before anything changed."""
    root, aside = paths.root, paths.root / plan.aside
    new_root = root / plan.staging / plan.new_root
    for name in {*plan.old, *plan.incoming}:
        for folder in (root, aside, new_root):
            _exists(folder / name)


def _forward(paths: StatePaths, plan: SwapPlan) -> None:
    root = paths.root
    staging, aside = root / plan.staging, root / plan.aside
    new_root = staging / plan.new_root
    _look(paths, plan)
    if not _exists(aside):  # made before the plan was written; a plan of an older tsed
        aside.mkdir(mode=0o700)
        give_to_owner(aside, _owner(paths))
    for name in plan.old:
        if not _exists(aside / name):  # out, unless already out
            _move(root / name, aside / name)
    for name in plan.incoming:
        _move(new_root / name, root / name)
    for folder in (aside, new_root, root):
        fsync_dir(folder)
    if plan.config_source is not None and plan.config_path is not None:
        _write_config(paths, staging / plan.config_source, Path(plan.config_path), aside)
    _check_forward(paths, plan)


def _write_config(paths: StatePaths, source: Path, target: Path, aside: Path) -> None:
    wanted = source.read_bytes()
    if _digest(target) == hashlib.sha256(wanted).hexdigest():
        return  # written before the cut
    kept = aside / CONFIG_KEPT
    if _exists(target) and stat.S_ISREG(os.stat(target).st_mode) and not _exists(kept):
        atomic_write(kept, target.read_bytes(), mode=0o600, owner=_owner(paths))
    owner = None
    if os.geteuid() == 0:
        found = target.parent.stat()
        owner = found.st_uid, found.st_gid
    atomic_write(target, wanted, mode=0o644, owner=owner)


def _check_forward(paths: StatePaths, plan: SwapPlan) -> None:
    """Every entry where the plan puts it, or StorageError naming the first that is not."""
    root, aside = paths.root, paths.root / plan.aside
    new_root = root / plan.staging / plan.new_root
    wrong = [str(root / n) for n in plan.incoming if not _exists(root / n)]
    wrong += [str(new_root / n) for n in plan.incoming if _exists(new_root / n)]
    wrong += [str(aside / n) for n in plan.old if not _exists(aside / n)]
    if plan.config_source is not None and plan.config_path is not None:
        wanted = hashlib.sha256((root / plan.staging / plan.config_source).read_bytes())
        if _digest(Path(plan.config_path)) != wanted.hexdigest():
            wrong.append(plan.config_path)
    if wrong:
        raise StorageError(f"the restore's swap is not complete: {wrong[0]} is not in place "
                           f"({len(wrong)} entries)")  # fmt: skip


def _back(paths: StatePaths, plan: SwapPlan) -> None:
    """Undo the swap as far as it went; StorageError when anything stays undone."""
    root, aside = paths.root, paths.root / plan.aside
    new_root = root / plan.staging / plan.new_root
    failed: list[str] = []
    try:
        _look(paths, plan)
    except OSError as err:
        raise StorageError(f"the restore could not be undone: {err.filename}: "
                           f"{err.strerror or err}") from err  # fmt: skip
    try:
        if not _exists(new_root):  # a staging folder someone removed: made again, to move into
            new_root.mkdir(parents=True, mode=0o700)
    except OSError as err:
        failed.append(f"{new_root}: {err.strerror or err}")
    for name in reversed(plan.incoming):
        try:
            if _exists(root / name) and not _exists(new_root / name):
                os.rename(root / name, new_root / name)
        except OSError as err:
            failed.append(f"{root / name}: {err.strerror or err}")
    for name in reversed(plan.old):
        try:
            _move(aside / name, root / name)
        except OSError as err:
            failed.append(f"{aside / name}: {err.strerror or err}")
    kept = aside / CONFIG_KEPT
    try:
        if plan.config_path is not None and _exists(kept):
            atomic_write(Path(plan.config_path), kept.read_bytes(), mode=0o644)
            kept.unlink()
    except (OSError, StorageError) as err:
        failed.append(f"{plan.config_path}: {getattr(err, 'message', None) or err}")
    if not failed:
        failed = _undone_wrong(paths, plan)
    if failed:
        raise StorageError(f"the restore could not be undone completely: {failed[0]} "
                           f"({len(failed)} entries)")  # fmt: skip
    try:
        if _exists(aside) and not any(aside.iterdir()):
            aside.rmdir()  # empty once everything is back
        fsync_dir(root)
    except OSError as err:
        raise StorageError(f"the restore was undone but {root} not synced: "
                           f"{err.strerror or err}") from err  # fmt: skip


def _undone_wrong(paths: StatePaths, plan: SwapPlan) -> list[str]:
    """What an undone swap has not in its old place."""
    root, aside = paths.root, paths.root / plan.aside
    wrong = [f"{root / n}: missing" for n in plan.old if not _exists(root / n)]
    wrong += [f"{aside / n}: still set aside" for n in plan.old if _exists(aside / n)]
    wrong += [f"{root / n}: still in place" for n in plan.incoming
              if n not in plan.old and _exists(root / n)]  # fmt: skip
    return wrong


def _done(paths: StatePaths) -> None:
    paths.restore_swap.unlink(missing_ok=True)
    fsync_dir(paths.root)


def _prepare(paths: StatePaths, plan: SwapPlan) -> None:
    """Before the plan is written: the staging synced and given to the owner, the folder set
    aside made (a new one)."""
    try:
        check_plan(plan, paths)
    except ValueError as err:
        raise StorageError(f"cannot put the restored state in place: the plan's {err}") from None
    owner = _owner(paths)
    aside = paths.root / plan.aside
    try:
        give_to_owner(paths.root / plan.staging, owner)  # the daemon must be able to finish
        _sync_tree(paths.root / plan.staging)
        aside.mkdir(mode=0o700)  # never exist_ok: a leftover would be mixed in
        give_to_owner(aside, owner)
    except FileExistsError:
        raise StorageError(
            f"cannot put the restored state in place: {aside} is left from an earlier "
            "restore; nothing was changed",
            hint="Move that folder out of the state directory (it may hold an earlier state "
            "of the unit: keep it) and restore again.",
        ) from None
    except OSError as err:
        raise StorageError(
            f"cannot put the restored state in place: {err.filename}: {err.strerror or err}"
        ) from err


def swap(paths: StatePaths, plan: SwapPlan) -> None:
    """The swap, written down first; on an error everything goes back and it raises."""
    _prepare(paths, plan)
    try:
        _write_plan(paths, plan)
    except StorageError as err:
        with contextlib.suppress(OSError):
            (paths.root / plan.aside).rmdir()
        raise StorageError(f"cannot put the restored state in place: {err.message}") from err
    try:
        _forward(paths, plan)
    except (OSError, StorageError) as err:
        if isinstance(err, StorageError):
            message = f"cannot write the configuration {plan.config_path}: {err.message}"
        else:
            message = f"cannot put the restored state in place: {err.strerror or err}"
        back = replace(plan, direction="back")
        with contextlib.suppress(StorageError):  # unwritten: a cut redoes the (checked) swap
            _write_plan(paths, back)  # a cut while undoing finishes the undoing
        try:
            _back(paths, back)
        except StorageError as undo:
            raise SwapUnfinished(
                f"{message}; undoing it stopped part-way: {undo.message}",
                hint=f"The swap's plan is kept: fix the cause, then run {FINISH_COMMAND} (as "
                "root) or start the unit, and the undoing is finished. Nothing was lost.",
            ) from err
        _done(paths)
        raise StorageError(message) from err
    _done(paths)


def _read_plan(paths: StatePaths) -> SwapPlan | None:
    """The plan of an interrupted swap, checked; None when there is none."""
    try:
        data = json.loads(paths.restore_swap.read_bytes())
    except FileNotFoundError:
        return None
    except OSError as err:
        raise SwapUnfinished(
            f"cannot read the plan of an interrupted restore, {paths.restore_swap}: "
            f"{err.strerror or err}"
        ) from err
    except ValueError as err:
        raise SwapPlanUnreadable(
            f"the plan of an interrupted restore, {paths.restore_swap}, is not readable "
            f"JSON ({err}); nothing was changed"
        ) from None
    try:
        return SwapPlan.from_json(data, paths)
    except ValueError as err:
        raise SwapPlanUnreadable(
            f"the plan of an interrupted restore, {paths.restore_swap}, is refused: {err}; "
            "nothing was changed"
        ) from None


def abandon_unreadable_plan(paths: StatePaths, stamp: str) -> Path | None:
    """Set an unreadable plan aside (kept, renamed), for a restore that puts a whole backup
    in place instead; a readable plan stays (it is finished as usual). Returns where it went."""
    try:
        _read_plan(paths)
    except SwapPlanUnreadable:
        kept = paths.abandoned_swap(stamp)
        os.rename(paths.restore_swap, kept)
        fsync_dir(paths.root)
        _LOGGER.warning(
            "the unreadable plan of an interrupted restore was set aside as %s; the restore "
            "puts the whole backup in place", kept,
            extra={"TSED_EVENT": "restore_plan_abandoned", "TSED_PATH": str(kept)},
        )  # fmt: skip
        return kept
    return None


def finish_interrupted_swap(paths: StatePaths) -> SwapResult | None:
    """Finish a swap a power cut (or a kill) interrupted, forward or back as it was going;
    None when there was none. Raises (the unit must not start on half of two states):
    :class:`SwapPlanUnreadable` for a plan it cannot take, touching nothing;
    :class:`SwapUnfinished` when it cannot finish, keeping the plan."""
    plan = _read_plan(paths)
    if plan is None:
        return None
    try:
        if plan.direction == "back":
            _back(paths, plan)
        else:
            _forward(paths, plan)
        _done(paths)
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        raise SwapUnfinished(
            f"cannot finish the interrupted restore: {where}{err.strerror or err}; its plan is kept"
        ) from err
    except StorageError as err:
        raise SwapUnfinished(
            f"cannot finish the interrupted restore: {err.message}; its plan is kept"
        ) from err
    shutil.rmtree(paths.root / plan.staging, ignore_errors=True)
    return SwapResult(plan, resumed=True)


def describe(result: SwapResult) -> str:
    """What finishing an interrupted swap did, in a sentence for the technician."""
    plan = result.plan
    backup = f"the backup of device {plan.backup_device or 'unknown'}"
    if plan.backup_created:
        made = datetime.fromtimestamp(plan.backup_created, UTC).strftime("%Y-%m-%d %H:%M UTC")
        backup += f" made {made}"
    if plan.direction == "forward":
        return (f"an interrupted restore was finished: the unit now runs on {backup} "
                f"({len(plan.incoming)} entries put in place); its earlier state is kept in "
                f"{plan.aside}")  # fmt: skip
    return (f"an interrupted restore was undone: the unit runs on its earlier state again, "
            f"{backup} was not put in place")  # fmt: skip


def log_finished(result: SwapResult | None) -> None:
    """The journal line of a finished interrupted swap (once logging is set up)."""
    if result is None:
        return
    plan = result.plan
    _LOGGER.warning(
        "%s", describe(result),
        extra={"TSED_EVENT": "restore_resumed",
               "TSED_RESULT": "finished" if plan.direction == "forward" else "undone",
               "TSED_DEVICE": plan.backup_device, "TSED_PATH": plan.aside},
    )  # fmt: skip
