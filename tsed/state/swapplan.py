"""The written-down plan of a restore's swap (``restore-swap.json``), checked field by field.

The swap (:mod:`tsed.state.restoreswap`) renames and removes what its plan names, so a plan
that was damaged or edited must never steer it out of the state directory or onto an entry a
restore does not replace. Every field is checked before anything is touched: the staging folder
and the folder set aside are plain names with the prefixes the restore gives them
(``.restore-``, ``.replaced-``); the paths inside the staging folder are relative and stay
inside it; the entries going out and coming in are entries a restore replaces, each once; the
configuration is an absolute path that is no entry of the state directory a restore replaces;
the direction and the format are known. The writer checks its plan the same way before it
writes it, so a plan it writes is always one the reader takes.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tsed.errors import StorageError
from tsed.state.paths import REPLACED_PREFIX, RESTORE_PREFIX, RESTORE_SWAP_FILE, StatePaths

FORMAT = 1
DIRECTIONS = ("forward", "back")
ABANDON_COMMAND = "tsectl backup restore FILE --replace --abandon-swap"


class SwapPlanUnreadable(StorageError, code="RESTORE_PLAN_UNREADABLE"):
    """An interrupted restore's plan cannot be read, was written by a newer tsed, or names
    something a restore never touches: nothing is done with it until a restore sets it aside."""

    default_hint = (
        f"Restore the backup again with {ABANDON_COMMAND}: the plan is kept beside the state "
        "(.abandoned-swap-<time>.json), the state there now is kept in .replaced-<time>, "
        "nothing is deleted."
    )


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
    backup_device: str = ""  # the backup's device id (for the messages)
    backup_created: float = 0.0  # when the backup was made (UNIX time; for the messages)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: object, paths: StatePaths) -> SwapPlan:
        """The plan in ``data``, checked; ValueError names the first field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError("it is not a JSON object")
        version = data.get("format")
        if type(version) is int and version > FORMAT:
            raise ValueError(f"it has format {version}, written by a newer tsed (this one "
                             f"reads format {FORMAT})")  # fmt: skip
        if version != FORMAT or type(version) is not int:
            raise ValueError(f"format: {version!r} is not {FORMAT}")
        plan = cls(
            _text(data, "staging"), _text(data, "new_root"), _text(data, "aside"),
            _names(data, "old"), _names(data, "incoming"), _optional(data, "config_source"),
            _optional(data, "config_path"), _text(data, "direction"),
            _text(data, "backup_device", ""), _number(data, "backup_created"),
        )  # fmt: skip
        check_plan(plan, paths)
        return plan


def _text(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{key}: {value!r} is not a text")
    if "\x00" in value:
        raise ValueError(f"{key}: it holds a NUL character")
    return value


def _optional(data: dict[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _text(data, key)


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key, 0.0)
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{key}: {value!r} is not a time")
    return float(value)


def _names(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list):
        raise ValueError(f"{key}: {value!r} is not a list of names")
    return tuple(_text({key: item}, key) for item in value)


def restorable_names(paths: StatePaths) -> frozenset[str]:
    """Top-level entries a restore replaces (whether or not the backup has them)."""
    single = [paths.store, paths.vault, paths.mode, paths.activation, paths.credentials,
              paths.device_key, paths.device_cert, paths.device_id, paths.register_sources,
              paths.certification, paths.housekeeping, paths.simulator,
              paths.archive]  # fmt: skip
    names = {p.name for p in single}
    return frozenset(names | {f"{paths.store.name}{side}" for side in ("-wal", "-shm")})


def _plain(key: str, name: str, prefix: str = "") -> None:
    """``name`` is one plain entry of a folder (with ``prefix`` and more after it)."""
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"{key}: {name!r} is not a plain name")
    if prefix and (not name.startswith(prefix) or len(name) == len(prefix)):
        raise ValueError(f"{key}: {name!r} does not start with {prefix!r}")


def _inside(key: str, relative: str) -> None:
    """``relative`` is a path inside a folder: relative, no ``..``, nothing empty."""
    parts = relative.split("/")
    if PurePosixPath(relative).is_absolute() or not all(parts):
        raise ValueError(f"{key}: {relative!r} is not a relative path")
    for part in parts:
        _plain(key, part)


def check_plan(plan: SwapPlan, paths: StatePaths) -> None:
    """Every field of ``plan`` is one a restore writes; ValueError names the first that is not."""
    _plain("staging", plan.staging, RESTORE_PREFIX)
    _plain("aside", plan.aside, REPLACED_PREFIX)
    _inside("new_root", plan.new_root)
    known = restorable_names(paths)
    for key, names in (("old", plan.old), ("incoming", plan.incoming)):
        for name in names:
            _plain(key, name)
            if name not in known:
                raise ValueError(f"{key}: {name!r} is no entry a restore replaces")
        if len(set(names)) != len(names):
            raise ValueError(f"{key}: an entry is named twice")
    if plan.direction not in DIRECTIONS:
        raise ValueError(f"direction: {plan.direction!r} is not one of {', '.join(DIRECTIONS)}")
    if (plan.config_source is None) != (plan.config_path is None):
        raise ValueError("config_source and config_path: only one of them is given")
    if plan.config_source is not None and plan.config_path is not None:
        _inside("config_source", plan.config_source)
        config = plan.config_path
        if not os.path.isabs(config) or os.path.normpath(config) != config or config == "/":
            raise ValueError(f"config_path: {config!r} is not a plain absolute path")
        inside = Path(config).parent == paths.root.absolute()
        name = Path(config).name
        if inside and (name in known or name == RESTORE_SWAP_FILE
                       or name.startswith((RESTORE_PREFIX, REPLACED_PREFIX))):  # fmt: skip
            raise ValueError(f"config_path: {config!r} is an entry of the state directory")
