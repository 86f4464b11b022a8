"""A backup written in a process of its own, so the running unit never waits for it.

scrypt (64 MiB, up to seconds on a busy unit) and the compression hold the interpreter's lock
for long stretches; in the daemon's own process they would stall the event loop that answers
the registers. :func:`create_in_worker` runs :func:`tsed.state.backup.create_backup` in a child
(``python -m tsed.state.backup_worker``): its request, the password included, goes through the
child's standard input (never its command line or environment), its answer comes back as JSON
on standard output, an error as its code and message.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tsed.errors import StorageError, StorageFull, TsedError
from tsed.state.backup import BackupInfo, create_backup
from tsed.state.backupfile import BackupError, BackupPasswordWeak
from tsed.state.paths import StatePaths

TIMEOUT = 3600.0  # a bound, far above the 100 000-transaction benchmark's half minute
_ERRORS: dict[str, type[TsedError]] = {
    cls.code: cls for cls in (StorageError, StorageFull, BackupError, BackupPasswordWeak)
}


async def create_in_worker(
    state_dir: Path, config_path: Path, password: str, *, device_id: str, tsed_version: str
) -> BackupInfo:
    """:func:`~tsed.state.backup.create_backup` in a child process."""
    request = json.dumps({
        "state_dir": str(state_dir), "config_path": str(config_path), "password": password,
        "device_id": device_id, "tsed_version": tsed_version,
    }).encode()  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tsed.state.backup_worker",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(request), TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise StorageError(f"the backup took longer than {TIMEOUT:.0f} s and was stopped") from None
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    try:
        answer: dict[str, Any] = json.loads(out)
    except ValueError:
        raise StorageError(f"the backup process ended without an answer (exit {proc.returncode})"
                           ) from None  # fmt: skip
    if "error" in answer:
        error = answer["error"]
        cls = _ERRORS.get(str(error.get("code")), StorageError)
        raise cls(str(error.get("message", "the backup failed")))
    answer["file"] = Path(answer["file"])
    return BackupInfo(**answer)


def _main() -> int:
    try:
        request = json.loads(sys.stdin.buffer.read())
        info = create_backup(
            StatePaths(Path(request["state_dir"])), Path(request["config_path"]),
            request["password"], device_id=request["device_id"],
            tsed_version=request["tsed_version"],
        )  # fmt: skip
    except TsedError as err:
        json.dump({"error": {"code": err.code, "message": err.message}}, sys.stdout)
        return 1
    answer = asdict(info)
    answer["file"] = str(info.file)
    json.dump(answer, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
