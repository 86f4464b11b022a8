"""TAR exports as background jobs: started by the setup page or ``tsectl export``, polled for
progress, downloaded when done.

An export can take minutes (fiskaly prepares it, then the unit downloads it; big ranges are
split), so the admin API answers at once with a job id. Finished files stay in
``<state_dir>/exports/<job id>/`` until :data:`KEEP_JOBS` newer jobs exist. A finished job is
described in ``job.json`` beside its files, so it can still be downloaded after a restart;
what a previous run left unfinished (no ``job.json``) is removed at start-up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsed.errors import ConflictError, NotFoundError, TsedError
from tsed.fiskaly.client import FiskalyClient
from tsed.state.files import atomic_write
from tsed.state.paths import EXPORT_JOB_FILE as JOB_FILE
from tsed.tss.exports import ExportFile, ExportProgress, ExportRange, export_tss

_LOGGER = logging.getLogger(__name__)

KEEP_JOBS = 5
MAX_RUNNING = 1


@dataclass(slots=True)
class ExportJob:
    id: str
    tss_id: str
    tenant: str
    started_at: float
    state: str = "running"  # running, done, failed
    progress: list[str] = field(default_factory=list)
    files: list[ExportFile] = field(default_factory=list)
    error: dict[str, str] | None = None
    finished_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tss_id": self.tss_id,
            "tenant": self.tenant,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "progress": self.progress[-20:],
            "files": [
                {"part": f.part, "name": f.path.name, "size": f.size, "sha256": f.sha256}
                for f in self.files
            ],
            "error": self.error,
        }

    def to_record(self) -> dict[str, Any]:
        """What ``job.json`` keeps of a finished job (file paths relative to its folder)."""
        record = self.to_json()
        record["files"] = [{**f.to_json(), "path": f.path.name} for f in self.files]
        return record

    @classmethod
    def from_record(cls, folder: Path, data: dict[str, Any]) -> ExportJob:
        files = []
        for item in data["files"]:
            path = folder / Path(str(item["path"])).name
            if not path.is_file():
                raise ValueError(f"{path.name} is missing")
            if path.stat().st_size != int(item["size"]):  # cut off by a power loss
                raise ValueError(f"{path.name} is not whole")
            files.append(
                ExportFile(
                    path, str(item["export_id"]), int(item["part"]), int(item["size"]),
                    str(item["sha256"]), {str(k): str(v) for k, v in item["filters"].items()},
                )
            )  # fmt: skip
        return cls(
            str(data["id"]), str(data["tss_id"]), str(data["tenant"]),
            float(data["started_at"]), "done", [str(p) for p in data["progress"]], files,
            None, float(data["finished_at"]),
        )  # fmt: skip


class ExportJobs:
    """The unit's export jobs: in memory while they run, ``job.json`` once they are done."""

    def __init__(self, root: Path, *, poll_interval: float = 5.0) -> None:
        self.root = root
        self.poll_interval = poll_interval
        self._jobs: dict[str, ExportJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._load()

    def _load(self) -> None:
        """Finished jobs of earlier runs come back; unfinished leftovers are removed."""
        if not self.root.is_dir():
            return
        removed = 0
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            try:
                data = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
                job = ExportJob.from_record(folder, data)
                if job.id != folder.name:
                    raise ValueError("the folder does not match its job")
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
                _LOGGER.info("removing the unfinished export %s (%s)", folder.name, err)
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
                continue
            self._jobs[job.id] = job
        self._prune()
        if removed:
            _LOGGER.info(
                "removed %d unfinished export folder(s) of an earlier run",
                removed,
                extra={"TSED_EVENT": "exports_cleaned"},
            )

    def start(
        self,
        client: FiskalyClient,
        tss_id: str,
        tenant: str,
        export_range: ExportRange,
        *,
        on_done: Callable[[ExportJob], Awaitable[None]] | None = None,
    ) -> ExportJob:
        export_range.kind()  # refuses mixed or reversed ranges before anything starts
        running = [j for j in self._jobs.values() if j.state == "running"]
        if len(running) >= MAX_RUNNING:
            raise ConflictError(
                f"export {running[0].id} is still running",
                hint="Wait until it is done (fiskaly allows only a few exports at a time), "
                "then start the next one.",
            )
        job = ExportJob(str(uuid.uuid4()), tss_id, tenant, time.time())
        self._jobs[job.id] = job
        self._prune()

        def report(p: ExportProgress) -> None:
            text = f"part {p.part} of {p.parts}: {p.event} ({p.state}) after {p.elapsed:.0f} s"
            job.progress.append(f"{text}: {p.message}" if p.message else text)

        async def run() -> None:
            try:
                result = await export_tss(
                    client,
                    tss_id,
                    self.root / job.id,
                    export_range=export_range,
                    on_progress=report,
                    poll_interval=self.poll_interval,
                )
                job.files = list(result.files)
                job.finished_at = time.time()
                record = json.dumps({**job.to_record(), "state": "done"}, indent=1).encode()
                await asyncio.to_thread(atomic_write, self.root / job.id / JOB_FILE, record)
                job.state = "done"  # only once it is on disk: downloadable after a restart
                _LOGGER.info(
                    "export %s of TSS %s done: %d file(s)",
                    job.id,
                    tss_id,
                    len(job.files),
                    extra={"TSED_EVENT": "export_done", "TSED_TSS": tss_id},
                )
            except TsedError as err:
                job.state = "failed"
                job.error = {"code": err.code, "message": err.message, "hint": err.hint}
                _LOGGER.warning(
                    "export %s of TSS %s failed: %s",
                    job.id,
                    tss_id,
                    err.message,
                    extra={"TSED_EVENT": "export_failed", "TSED_TSS": tss_id},
                )
            except Exception as err:  # a job never takes the daemon down
                job.state = "failed"
                job.error = {
                    "code": "export_failed",
                    "message": f"the export stopped unexpectedly: {type(err).__name__}",
                    "hint": "Start it again; the journal has the details.",
                }
                _LOGGER.exception("export %s failed", job.id)
            finally:
                job.finished_at = job.finished_at or time.time()
                if on_done is not None:
                    await on_done(job)

        task = asyncio.get_running_loop().create_task(run(), name=f"tsed-export-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, job_id: str) -> ExportJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(
                f"export {job_id} does not exist",
                hint="Start an export first; only the last few are kept.",
            )
        return job

    def file(self, job_id: str, part: int) -> Path:
        job = self.get(job_id)
        if job.state != "done":
            raise ConflictError(
                f"export {job_id} is {job.state}, there is nothing to download yet",
                hint="Poll the export until its state is 'done'.",
            )
        for item in job.files:
            if item.part == part:
                return item.path
        raise NotFoundError(f"export {job_id} has no part {part}")

    def list(self) -> list[ExportJob]:
        return sorted(self._jobs.values(), key=lambda j: j.started_at)

    def _prune(self) -> None:
        done = [j for j in self.list() if j.state != "running"]
        for job in done[: max(0, len(self._jobs) - KEEP_JOBS)]:
            self._jobs.pop(job.id, None)
            shutil.rmtree(self.root / job.id, ignore_errors=True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
