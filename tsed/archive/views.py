"""The archive's answers at the admin boundary: frozen views of its status, runs, checks and
auditor exports (``/admin/v1/archive*``; JSON only in :mod:`tsed.net.wire`).

Field names are the wire names; the auditor export's ``from``/``to`` are Python keywords,
so :class:`ExportView` names them in its ``to_json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tsed.archive.offbox import OffboxStatus
from tsed.archive.run import RunState


@dataclass(frozen=True, slots=True)
class RunView:
    """An archive run (running or the last one); all None but ``running`` before the first."""

    running: bool
    reason: str | None = None
    state: str | None = None  # running, done, failed (a TSS not archived, or the run crashed)
    started_at: float | None = None
    finished_at: float | None = None
    tss: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # per TSS: from, to, …
    events: tuple[str, ...] = ()
    files: int = 0
    bytes: int = 0
    logs: int = 0
    cpu_seconds: float = 0.0

    @classmethod
    def of(cls, running: bool, run: RunState | None) -> RunView:
        if run is None:
            return cls(running)
        data = run.to_json()
        return cls(
            running, data["reason"], data["state"], data["started_at"], data["finished_at"],
            MappingProxyType({k: MappingProxyType(dict(v)) for k, v in data["tss"].items()}),
            tuple(data["events"]), data["files"], data["bytes"], data["logs"],
            data["cpu_seconds"],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class FindingView:
    """A rejected export, kept as evidence."""

    file: str
    range: str
    at: float
    findings: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class TssArchiveView:
    """One TSS in the archive: how far it is archived, and (in use) how far behind."""

    tenant: str
    first_counter: int | None
    last_counter: int | None
    last_log_time: int | None
    archived_at: float | None
    files: int
    gaps: tuple[str, ...]
    findings: tuple[FindingView, ...]
    in_use: bool = False  # a TSS the unit signs with (or one replaced, not yet archived out)
    tss_counter: int | None = None
    lag_signatures: int | None = None
    lag_hours: float | None = None
    tss_error: str | None = None  # fiskaly could not be asked for the TSS's counter


@dataclass(frozen=True, slots=True)
class ArchiveStatusView:
    """``GET /admin/v1/archive``."""

    directory: str
    tss: Mapping[str, TssArchiveView]
    files: int
    rejected: int
    bytes: int
    disk_use: int
    receipts: int
    bytes_per_10000_receipts: int | None
    disk_free: int
    disk_total: int
    bytes_per_day: int | None
    days_until_full: int | None
    disk_warning: bool
    run: RunView
    next_run: float | None
    archive_hour: int
    offbox: OffboxStatus


@dataclass(frozen=True, slots=True)
class VerifiedFile:
    file: str
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VerifyView:
    """``POST /admin/v1/archive/verify``."""

    ok: bool
    files: tuple[VerifiedFile, ...]
    gaps: Mapping[str, tuple[str, ...]]
    seconds: float

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> VerifyView:
        return cls(
            bool(data["ok"]),
            tuple(VerifiedFile(f["file"], tuple(f["problems"])) for f in data["files"]),
            MappingProxyType({k: tuple(v) for k, v in data["gaps"].items()}),
            float(data["seconds"]),
        )


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """One TAR of the auditor's directory, where it came from and what its checks found."""

    file: str
    tss_id: str
    tenant: str
    first_counter: int
    last_counter: int
    first_time: int | None
    last_time: int | None
    sha256: str
    problems: tuple[str, ...]
    source: str  # "local archive", "off-box copy (snapshot …)", or "missing"


def _exported(f: Mapping[str, Any]) -> ExportedFile:
    return ExportedFile(
        f["file"], f["tss_id"], f["tenant"], f["first_counter"], f["last_counter"],
        f["first_time"], f["last_time"], f["sha256"], tuple(f["problems"]), f["source"],
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExportView:
    """``POST /admin/v1/archive/export``: the report written next to the TAR files."""

    ok: bool
    complete: bool  # every file of the period is in the directory (ok: and verified)
    start: int
    end: int
    tenant: str | None
    source: str
    files: tuple[ExportedFile, ...]
    gaps: Mapping[str, tuple[str, ...]]
    written_at: float
    directory: str

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> ExportView:
        files = tuple(_exported(f) for f in data["files"])
        return cls(
            bool(data["ok"]), bool(data["complete"]), int(data["from"]), int(data["to"]),
            data["tenant"], str(data["source"]), files,
            MappingProxyType({k: tuple(v) for k, v in data["gaps"].items()}),
            float(data["written_at"]), str(data["directory"]),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "complete": self.complete,
            "from": self.start,
            "to": self.end,
            "tenant": self.tenant,
            "source": self.source,
            "files": self.files,
            "gaps": self.gaps,
            "written_at": self.written_at,
            "directory": self.directory,
        }


@dataclass(frozen=True, slots=True)
class OffboxPasswordView:
    """``PUT /admin/v1/archive/offbox-password``: stored (the password is never echoed)."""

    stored: bool
    repository: str | None  # the configured target, None while none is configured
