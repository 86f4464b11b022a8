"""The off-box copy in the running unit: after every successful archive run the archive is
copied to ``offbox.repository`` (restic backup), and on a schedule checked (restic check,
``offbox.check_subset`` of the data read back, once every :data:`CHECK_EVERY`).

It runs as a task of its own: restic is a separate process bounded by
``offbox.timeout_minutes``, so a slow or dead target never holds up signing, the register API
or the next archive run. A failure is recorded in the off-box status (with a German text for
the page and tsectl) and logged; the next archive run tries again. The local archive is only
read. A run asked for while one copies is done right after it (once, however often asked).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tsed.archive.offbox import (
    OffboxCopy,
    OffboxStatus,
    RestoreResult,
    copied_files,
    offbox_status,
    record_failure,
    record_files,
)
from tsed.archive.store import ArchiveStore
from tsed.config.model import Config
from tsed.errors import ConflictError, OffboxError, TsedError
from tsed.state.vault import Vault

_LOGGER = logging.getLogger(__name__)

CHECK_EVERY = 7 * 86400.0  # a weekly restic check with --read-data-subset

GERMAN = {
    "OFFBOX_FAILED": "Die Kopie außer Haus ist fehlgeschlagen.",
    "OFFBOX_UNREACHABLE": "Das Sicherungsziel ist nicht erreichbar.",
    "OFFBOX_PROXY_FAILED": "Der Proxy des Ladens lässt die Verbindung zum Sicherungsziel nicht zu.",
    "OFFBOX_AUTH_FAILED": "Das Sicherungsziel lehnt die Anmeldung ab (Benutzer oder Schlüssel).",
    "OFFBOX_WRONG_PASSWORD": "Das Passwort des Sicherungs-Repositorys stimmt nicht.",
    "OFFBOX_MISSING": "Am Sicherungsziel gibt es das Repository nicht (Pfad prüfen).",
    "OFFBOX_FULL": "Das Sicherungsziel ist voll.",
    "RESTIC_MISSING": "Das Programm restic ist nicht installiert.",
    "CONFIG_INVALID": "Das Passwort des Sicherungs-Repositorys fehlt (Einrichtungsseite).",
    "CHECK_FAILED": "Die Prüfung der Kopie außer Haus hat Fehler gefunden.",
    "ARCHIVE_SHRANK": "Im Archiv fehlen Dateien, die die Kopie außer Haus hat: Kopie angehalten, "
    "Archiv wiederherstellen (tsectl archive restore).",
}


class ArchiveShrank(ConflictError, code="ARCHIVE_SHRANK"):
    default_hint = (
        "The local archive lost files since its last off-box copy; the copy is left as it is "
        "(its newest snapshot still holds them). Restore the archive (tsectl archive restore "
        "--to DIR, then put it back), and the copies go on."
    )


def german(status: OffboxStatus) -> OffboxStatus:
    """``status`` with the German text of its last error (the page and tsectl show it)."""
    if status.last_check_ok is False and status.last_error_code is None:
        return replace(status, last_error_de=GERMAN["CHECK_FAILED"])
    if status.last_error_code is None:
        return status
    text = GERMAN.get(status.last_error_code, GERMAN["OFFBOX_FAILED"])
    return replace(status, last_error_de=text)


class OffboxSync:
    """Copies (and checks) the archive off the box in the background, one at a time."""

    def __init__(
        self,
        *,
        source: Path,
        state_dir: Path,
        config: Callable[[], Config],
        vault: Vault,
        clock: Callable[[], float] = time.time,
        check_every: float = CHECK_EVERY,
        binary: str = "restic",
    ) -> None:
        self.source = source
        self.state_dir = state_dir
        self.config = config
        self.vault = vault
        self.clock = clock
        self.check_every = check_every
        self.binary = binary
        self.timeout: float | None = None  # seconds, instead of offbox.timeout_minutes
        self.copies = 0  # copies that completed since start (tests, benchmarks)
        self._task: asyncio.Task[None] | None = None
        self._again = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def status(self) -> OffboxStatus:
        return german(offbox_status(self.state_dir, self.config(), self.clock()))

    def build(self) -> OffboxCopy | None:
        """The copy as configured now (None: no target); a missing password raises."""
        copy = OffboxCopy.from_config(
            self.config(), self.vault, self.state_dir, binary=self.binary, clock=self.clock
        )
        if copy is not None and self.timeout is not None:
            copy.restic.timeout = self.timeout
        return copy

    def trigger(self, reason: str) -> bool:
        """Copy now in the background (after an archive run); False without a target."""
        if self.config().offbox is None:
            return False
        if self.running:
            self._again = True
            return True
        self._again = False
        self._task = asyncio.get_running_loop().create_task(
            self._loop(reason), name="tsed-offbox-copy"
        )
        return True

    async def wait(self) -> None:
        """Until the copy in progress (and one asked for during it) has ended."""
        while self._task is not None and not self._task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    async def _loop(self, reason: str) -> None:
        while True:
            await self.sync(reason)
            if not self._again:
                return
            self._again = False
            reason = "again after a run during the copy"

    async def sync(self, reason: str) -> None:
        """One copy, then the check when it is due; every failure is recorded, none raised."""
        try:
            copy = self.build()
        except TsedError as err:
            self._record_unusable(err)
            return
        if copy is None:
            return
        files = sorted(await asyncio.to_thread(ArchiveStore(self.source).manifest))
        lost = await asyncio.to_thread(copied_files, self.state_dir) - set(files)
        if lost:  # never a newest copy that lacks files: a restore takes the newest
            self._record_unusable(ArchiveShrank(
                f"{len(lost)} file(s) of the last off-box copy are not in the archive any more "
                f"(e.g. {min(lost)}): not copied"
            ))  # fmt: skip
            return
        _LOGGER.info("off-box copy (%s) to %s started", reason, copy.display,
                     extra={"TSED_EVENT": "offbox_copy_started"})  # fmt: skip
        if await copy.copy_or_report(self.source) is None:
            return
        self.copies += 1
        await asyncio.to_thread(record_files, self.state_dir, self.config(), files)
        last_check = copy.status(self.config()).last_check_at
        if last_check is not None and self.clock() - last_check < self.check_every:
            return
        with contextlib.suppress(OffboxError):  # recorded and logged by the copy
            await copy.check()

    async def restore(self, target_dir: Path) -> RestoreResult:
        """The newest copy into ``target_dir`` (the auditor's export when files are lost)."""
        copy = self.build()
        if copy is None:
            raise OffboxError(
                "no off-box copy is configured to restore lost archive files from",
                hint="Set offbox.repository and the repository password, then export again.",
            )
        return await copy.restore(target_dir)

    def _record_unusable(self, err: TsedError) -> None:
        """A copy not even tried (no password; an archive that lost files): recorded like a
        failed copy (the page shows it)."""
        record_failure(self.state_dir, self.config(), err, self.clock())
        _LOGGER.warning(
            "off-box copy not possible: %s (%s)", err.message, err.hint,
            extra={"TSED_EVENT": "offbox_copy_failed", "TSED_CODE": err.code},
        )  # fmt: skip

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()  # restic's process group is killed with it
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
