"""``tsectl archive copy|check|restore|copy-status``: the archive's off-box copy, run on this
machine as the service user (no daemon needed: a replacement unit restores before it is set
up, and a box that lost its archive restores for the auditor).

It reads the configuration (``--config`` / ``TSED_CONFIG``), the vault and the archive in the
state directory, and drives :class:`tsed.archive.offbox.OffboxCopy`. restic's repository lock
keeps a copy started here and one started by the daemon apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from tsed.archive.offbox import OffboxCopy, offbox_status
from tsed.archive.offboxsync import german
from tsed.cli.adminclient import CommandFailed
from tsed.cli.say import lang, t
from tsed.config.model import Config, load_config
from tsed.config.text import shown
from tsed.errors import TsedError
from tsed.state.paths import DEFAULT_STATE_DIR, StatePaths
from tsed.state.vault import Vault
from tsed.texts.formats import number, size
from tsed.unit.options import DEFAULT_CONFIG

ACTIONS = ("copy", "check", "restore", "copy-status")


def add_offbox_actions(actions: Any) -> None:
    """The off-box actions under ``tsectl archive`` (``actions``: its subparsers)."""
    for name, text in (
        ("copy", "copy the archive off the box now (restic backup to offbox.repository)"),
        ("check", "check the off-box copy (restic check, --subset of the data read back)"),
        ("restore", "restore the off-box copy into an empty directory (--to DIR)"),
        ("copy-status", "the off-box copy's state and age as last recorded"),
    ):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("--config", help=f"configuration file (env TSED_CONFIG, default "
                                             f"{DEFAULT_CONFIG})")  # fmt: skip
        if name == "copy":
            parser.add_argument("--source", help="directory to copy (default STATE_DIR/archive)")
        if name == "check":
            parser.add_argument("--subset", help="share of the data to read, e.g. 5%% or 1/10")
        if name == "restore":
            parser.add_argument("--to", dest="to", required=True, help="new or empty directory")
            parser.add_argument("--snapshot", default="latest", help="snapshot id (default latest)")


def _context(args: argparse.Namespace) -> tuple[Config, Vault, Path]:
    state_dir = Path(args.state_dir or os.environ.get("TSED_STATE_DIR") or DEFAULT_STATE_DIR)
    config_path = Path(args.config or os.environ.get("TSED_CONFIG") or DEFAULT_CONFIG)
    try:
        return load_config(config_path), Vault(StatePaths(state_dir).vault), state_dir
    except TsedError as err:
        raise CommandFailed(err.message, err.hint, err.code) from err


def _status_data(config: Config, state_dir: Path) -> dict[str, Any]:
    return asdict(german(offbox_status(state_dir, config, time.time())))


def run_offbox(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """One off-box action: its JSON data and the printer for people."""
    config, vault, state_dir = _context(args)
    if args.action == "copy-status":
        return _status_data(config, state_dir), print_status
    try:
        copy = OffboxCopy.from_config(config, vault, state_dir)
        if copy is None:
            raise CommandFailed(
                "no off-box copy is configured",
                "Set offbox.repository (tsectl config set offbox.repository sftp:USER@HOST:/PATH)"
                " and the repository password in the vault (setup page).",
            ).localized("offbox.not_configured")
        if args.action == "copy":
            source = Path(args.source) if args.source else StatePaths(state_dir).archive
            result = asyncio.run(copy.copy(source))
            data = {"snapshot": result.snapshot_id, "files_new": result.summary.files_new,
                    "bytes_added": result.summary.data_added, "seconds": round(result.seconds, 2),
                    "repository_bytes": result.repository_bytes,
                    "status": _status_data(config, state_dir)}  # fmt: skip
            return data, print_copy
        if args.action == "check":
            check = asyncio.run(copy.check(args.subset))
            return {"ok": check.ok, "subset": check.subset, "message": check.message}, print_check
        restored = asyncio.run(copy.restore(Path(args.to), args.snapshot))
        return {"snapshot": restored.snapshot_id, "files": restored.files, "bytes": restored.bytes,
                "seconds": round(restored.seconds, 2), "to": args.to,
                "sha256": restored.sha256}, print_restore  # fmt: skip
    except TsedError as err:
        raise CommandFailed(err.message, err.hint, err.code) from err


def _age(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return t("offbox.never")
    if seconds < 3600:
        return t("offbox.minutes", count=f"{seconds / 60:.0f}")
    if seconds < 172800:
        return t("offbox.hours", count=number(seconds / 3600, lang()))
    return t("offbox.days", count=number(seconds / 86400, lang()))


def print_status(data: Mapping[str, Any], out: TextIO) -> None:
    if data["state"] == "off":
        out.write(t("offbox.off") + "\n")
        return
    out.write(t("offbox.state", state=data["state"], repository=shown(str(data["repository"]))))
    out.write("\n" + t("offbox.newest", age=_age(data["age_seconds"])))
    if data.get("last_snapshot"):
        out.write(t("offbox.snapshot", snapshot=data["last_snapshot"],
                    size=size(data["repository_bytes"], lang())))  # fmt: skip
    out.write("\n")
    if data.get("last_check_at") is not None:
        verdict = t("offbox.check_ok") if data["last_check_ok"] else t("offbox.check_errors")
        out.write(t("offbox.last_check", subset=data["last_check_subset"], verdict=verdict))
        out.write("\n")
    if data.get("last_error"):
        error = data["last_error"]
        if lang() == "de" and data.get("last_error_de"):
            error = data["last_error_de"]  # the unit's own German text of the failure
        out.write(t("offbox.last_error", error=shown(str(error))) + "\n")


def print_copy(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(t("offbox.copied", snapshot=data["snapshot"], files=data["files_new"],
                added=size(data["bytes_added"], lang()), seconds=data["seconds"],
                total=size(data["repository_bytes"], lang())) + "\n")  # fmt: skip


def print_check(data: Mapping[str, Any], out: TextIO) -> None:
    verdict = (t("offbox.check_ok") if data["ok"]
               else t("offbox.check_failed", message=shown(str(data["message"]))))  # fmt: skip
    out.write(t("offbox.checked", subset=data["subset"], verdict=verdict) + "\n")


def print_restore(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(t("offbox.restored", snapshot=data["snapshot"][:8], to=shown(str(data["to"])),
                files=data["files"], size=size(data["bytes"], lang()),
                seconds=data["seconds"]) + "\n")  # fmt: skip
