"""``tsectl backup create|restore|fetch``: the encrypted unit backup (docs/backup.md).

* ``create`` asks the running unit (``POST /admin/v1/backup``): the unit takes the snapshot
  while it signs; the file lands in its state directory, ``-o FILE`` copies it out.
* ``restore`` runs on this machine while the daemon is stopped (:mod:`tsed.state.restore`):
  a restore replaces the store, vault and device identity the daemon holds open, so it never
  runs under a live unit; the command refuses when the admin socket answers.
* ``fetch`` takes the newest backup from the archive's off-box target (restic) into an empty
  folder, for a replacement unit that has only the configuration of its target.

The password comes from ``--password-file FILE`` (``/dev/fd/N`` for a file descriptor), else
the terminal (without echo) or one line of standard input; never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tsed.archive.backupcopy import fetch_newest_backup
from tsed.archive.offbox import OffboxCopy
from tsed.cli.adminclient import AdminClient, CommandFailed, NotConfirmed, UsageError
from tsed.cli.common import add_config, config_path, state_dir
from tsed.cli.tsectl_setup import read_secret
from tsed.config.model import load_config
from tsed.config.text import shown
from tsed.errors import TsedError
from tsed.net.wire import to_wire
from tsed.state.backup import CONFIG_MEMBER, STATE_PREFIX
from tsed.state.paths import StatePaths
from tsed.state.restore import finish_restore, restore_backup
from tsed.state.restoreswap import describe
from tsed.state.vault import Vault

CONFIRM_WORD = "ERSETZEN"
CREATE_TIMEOUT = 1800.0  # a large store: minutes, not the 30 s of other calls


def add_backup_parser(sub: Any) -> None:
    backup = sub.add_parser("backup", help="encrypted unit backup: create, restore, fetch")
    actions = backup.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="write an encrypted backup of the running unit")
    create.add_argument("-o", "--output", help="copy the backup to FILE as well")
    create.add_argument("--password-file", help="read the backup password from FILE")
    create.add_argument("--nightly", action="store_true",
                        help="keep the password in the vault: a backup every night, copied to "
                             "the off-box target when one is configured")  # fmt: skip
    restore = actions.add_parser("restore", help="restore a backup (the daemon must be stopped)")
    restore.add_argument("file", nargs="?", help="the backup file (*.tsedbackup)")
    restore.add_argument("--password-file", help="read the backup password from FILE")
    add_config(restore)
    restore.add_argument("--replace", action="store_true",
                         help="replace a unit that holds fiscal data (asks to type "
                              f"{CONFIRM_WORD}; the old data are kept aside)")  # fmt: skip
    restore.add_argument(
        "--archive-from",
        help="folder with the archive's files (tsectl "
        "archive restore --to DIR): the indexed files are taken from there",
    )
    restore.add_argument("--archive-from-offbox", action="store_true",
                         help="take the archive's files from the off-box copy named in the "
                              "backup's own configuration (restic)")  # fmt: skip
    restore.add_argument("--finish", action="store_true",
                         help="without FILE: finish an interrupted restore (as root when the "
                              "daemon cannot)")  # fmt: skip
    restore.add_argument("--abandon-swap", action="store_true",
                         help="set an interrupted restore's unreadable plan aside (kept) and "
                              "put the whole backup in place")  # fmt: skip
    fetch = actions.add_parser("fetch", help="the newest backup from the off-box target")
    fetch.add_argument("--to", required=True, help="new or empty folder")
    add_config(fetch)


def _password(args: argparse.Namespace, *, twice: bool) -> str:
    if args.password_file:
        try:
            text = Path(args.password_file).read_text(encoding="utf-8")
        except OSError as err:
            raise UsageError(
                f"cannot read the password file: {err.strerror}",
                "Give a readable file holding the password on its first line.",
            ) from None
        password = text.splitlines()[0] if text else ""
    else:
        password = read_secret("Backup-Passwort: ", twice=twice)
    if not password:
        raise UsageError(
            "no backup password given", "Give it with --password-file FILE or type it when asked."
        )
    return password


def _copy_out(source: Path, target: Path, sha256: str) -> None:
    """Copy the backup to ``target`` (temp file, fsync, rename), checked by its SHA-256."""
    partial = target.with_name(f".{target.name}.tmp")
    digest = hashlib.sha256()
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with source.open("rb") as src, os.fdopen(fd, "wb") as out:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise CommandFailed(f"the copy of {source} differs from the backup the unit wrote",
                                "Run tsectl backup create again.")  # fmt: skip
        os.replace(partial, target)
    except OSError as err:
        raise CommandFailed(
            f"cannot write {target}: {err.strerror}",
            "Name a writable place for the copy (-o FILE).",
        ) from err
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def _confirm_replace() -> None:
    prompt = (f"Das Gerät enthält fiskalische Daten; sie werden ersetzt (und aufbewahrt). "
              f"Zum Bestätigen {CONFIRM_WORD} tippen: ")  # fmt: skip
    answer = input(prompt) if sys.stdin.isatty() else sys.stdin.readline()
    if answer.strip() != CONFIRM_WORD:
        raise NotConfirmed("Wiederherstellung abgebrochen: nicht bestätigt",
                           f"Zum Ersetzen genau {CONFIRM_WORD} eingeben.")  # fmt: skip


def run_backup(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """One backup action: its JSON data and the printer for people."""
    try:
        if args.action == "create":
            return _create(args), print_created
        if args.action == "fetch":
            return _fetch(args), print_fetched
        if args.finish:
            return _finish(args), print_finished
        return _restore(args), print_restored
    except TsedError as err:
        if isinstance(err, CommandFailed):
            raise
        raise CommandFailed(err.message, err.hint, err.code) from err


def _create(args: argparse.Namespace) -> dict[str, Any]:
    password = _password(args, twice=True)
    client = AdminClient(args.socket_path, timeout=CREATE_TIMEOUT)
    try:
        data = dict(
            client.call(
                "POST", "/admin/v1/backup", {"password": password, "remember": bool(args.nightly)}
            )
        )
    finally:
        client.close()
    if args.output:
        _copy_out(Path(data["file"]), Path(args.output), data["sha256"])
        data["copied_to"] = str(Path(args.output))
    return data


def _finish(args: argparse.Namespace) -> dict[str, Any]:
    if args.file or args.replace or args.abandon_swap or args.archive_from \
            or args.archive_from_offbox:  # fmt: skip
        raise UsageError("--finish takes no backup file and no other restore option",
                         "Run tsectl backup restore --finish alone.")  # fmt: skip
    result = finish_restore(state_dir(args, os.environ))
    if result is None:
        return {"finished": False}
    plan = result.plan
    return {"finished": True, "direction": plan.direction, "backup_device": plan.backup_device,
            "backup_created": plan.backup_created, "kept": plan.aside,
            "message": describe(result)}  # fmt: skip


def _restore(args: argparse.Namespace) -> dict[str, Any]:
    if not args.file:
        raise UsageError(
            "name the backup file to restore",
            "tsectl backup restore FILE (or --finish for an interrupted one).",
        )
    password = _password(args, twice=False)
    directory = state_dir(args, os.environ)
    if args.replace:
        _confirm_replace()
    if args.archive_from and args.archive_from_offbox:
        raise UsageError("give --archive-from DIR or --archive-from-offbox, not both")
    info = restore_backup(
        Path(args.file), password, state_dir=directory, config_path=config_path(args, os.environ),
        replace=bool(args.replace),
        archive_from=Path(args.archive_from) if args.archive_from else None,
        archive_source=_from_offbox if args.archive_from_offbox else None,
        abandon_swap=bool(args.abandon_swap),
    )  # fmt: skip
    data: dict[str, Any] = to_wire(info)
    return data


def _from_offbox(backup: Path, scratch: Path) -> Path:
    """The archive's off-box copy restored into ``scratch``, reached with the configuration
    and vault of the unpacked ``backup`` (the new unit has none of its own yet)."""
    config_file = backup / CONFIG_MEMBER
    if not config_file.is_file():
        raise CommandFailed("the backup holds no configuration, so no off-box target",
                            "Restore the archive with tsectl archive restore --to DIR and "
                            "give --archive-from DIR.")  # fmt: skip
    staged = backup / STATE_PREFIX.rstrip("/")
    copy = OffboxCopy.from_config(load_config(config_file), Vault(StatePaths(staged).vault),
                                  scratch / "offbox-state")  # fmt: skip
    if copy is None:
        raise CommandFailed(
            "the backup's configuration names no off-box target (offbox.repository)",
            "Give --archive-from DIR with the archive's files instead.",
        )
    target = scratch / "offbox-files"
    asyncio.run(copy.restore(target))
    return target


def _fetch(args: argparse.Namespace) -> dict[str, Any]:
    directory = state_dir(args, os.environ)
    config = load_config(config_path(args, os.environ))
    copy = OffboxCopy.from_config(config, Vault(StatePaths(directory).vault), directory)
    if copy is None:
        raise CommandFailed(
            "no off-box copy is configured",
            "Set offbox.repository and the repository password first.",
        )
    found = asyncio.run(fetch_newest_backup(copy, Path(args.to)))
    return {"file": str(found), "size": found.stat().st_size}


def print_created(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(f"Backup geschrieben: {shown(str(data['file']))} ({data['size']} Bytes, "
              f"{data['transactions']} Transaktionen, {data['registers']} Kassen, "
              f"{data['archive_entries']} Archiv-Einträge) in {data['seconds']} s\n")  # fmt: skip
    if data.get("copied_to"):
        out.write(f"Kopie:              {shown(str(data['copied_to']))}\n")
    out.write(f"SHA-256:            {data['sha256']}\n")
    out.write("Das Passwort auf dem Installationsblatt notieren: ohne es kann niemand das "
              "Backup wiederherstellen.\n")  # fmt: skip


def print_restored(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(f"Backup des Geräts {shown(str(data['device_id']))} wiederhergestellt: "
              f"{data['transactions']} Transaktionen, {data['registers']} Kassen, "
              f"{data['bindings']} TSS, {data['archive_entries']} Archiv-Einträge.\n")  # fmt: skip
    if data.get("replaced"):
        out.write(f"Bisherige Daten aufbewahrt in {shown(str(data['replaced']))}\n")
    missing = data.get("archive_missing") or []
    if missing:
        out.write(
            f"WARNUNG: {len(missing)} Archivdatei(en) fehlen noch; mit --archive-from "
            "DIR aus der Off-Box-Kopie übernehmen (tsectl archive restore --to DIR).\n"
        )
    out.write("Jetzt den Dienst starten: systemctl start tsed\n")


def print_finished(data: Mapping[str, Any], out: TextIO) -> None:
    if not data["finished"]:
        out.write("Keine unterbrochene Wiederherstellung: nichts zu tun.\n")
        return
    device = shown(str(data["backup_device"] or "?"))
    made = ""
    if data["backup_created"]:
        made = " vom " + datetime.fromtimestamp(data["backup_created"], UTC).strftime(
            "%d.%m.%Y %H:%M UTC"
        )
    if data["direction"] == "forward":
        out.write(f"Unterbrochene Wiederherstellung abgeschlossen: das Gerät läuft jetzt mit "
                  f"der Sicherung des Geräts {device}{made}. Bisherige Daten aufbewahrt in "
                  f"{shown(str(data['kept']))}.\n")  # fmt: skip
    else:
        out.write(f"Unterbrochene Wiederherstellung rückgängig gemacht: das Gerät läuft mit "
                  f"seinen bisherigen Daten; die Sicherung des Geräts {device}{made} wurde "
                  "nicht eingespielt.\n")  # fmt: skip
    out.write("Jetzt den Dienst starten: systemctl start tsed\n")


def print_fetched(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(f"Neuestes Backup geholt: {shown(str(data['file']))} ({data['size']} Bytes)\n")
