"""The auditor's export: one new directory with the archived TAR files of a period and a
verification report saying, for each file, where it came from and what its checks found.

Blocking functions (they read and copy files): call them through ``asyncio.to_thread``.

Each file of the period is taken from the local archive when it is there and passes its
checks (SHA-256 against the index and the manifest, the TAR verifier, its counter range);
else from the off-box copy, restored beforehand into a private folder (``restored``), where
the same checks apply (the SHA-256 of the local index when the box still has it, else that
of the restored index and manifest). A file neither has is named in the report as missing:
the directory is always written, ``complete`` and ``ok`` say whether anything is missing or
has a finding, and the export never stops at the first bad file.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tsed.archive.audit import counter_gaps, report_lines
from tsed.archive.store import ArchiveStore, Entry, sha256_file
from tsed.errors import ConflictError
from tsed.fiskaly.tarverify import verify_tar
from tsed.state.files import atomic_write

_LOGGER = logging.getLogger(__name__)
LOCAL = "local archive"
MISSING = "missing"


@dataclass(frozen=True, slots=True)
class Restored:
    """The off-box copy restored for this export (a private folder, removed afterwards)."""

    store: ArchiveStore
    snapshot: str  # short id


def chosen(store: ArchiveStore, start: int, end: int, tenant: str | None) -> list[Entry]:
    """The archived files whose logs touch ``start``..``end`` (``[]`` if the index is gone)."""
    try:
        entries = store.entries(state="archived")
    except (OSError, sqlite3.Error):
        return []
    return [
        e
        for e in entries
        if (tenant is None or e.tenant == tenant)
        and (e.first_time is None or e.first_time <= end)
        and (e.last_time is None or e.last_time >= start)
    ]


def local_problems(store: ArchiveStore, entry: Entry, manifest: dict[str, str]) -> list[str]:
    """Why the local file cannot be handed out as it is ([] when it can)."""
    return file_problems(store.path(entry), entry, manifest)


def file_problems(path: Path, entry: Entry, manifest: dict[str, str] | None) -> list[str]:
    """Every check of one archived file: present, readable, its SHA-256, the TAR verifier."""
    try:
        if not path.exists():
            return ["the file is missing"]
        if not path.is_file():
            return ["the file cannot be read: it is not a regular file"]
        digest = sha256_file(path)
        problems = []
        if digest != entry.sha256:
            problems.append("its SHA-256 is not the one in the index")
        if manifest is not None and manifest.get(entry.path) != entry.sha256:
            problems.append("the manifest does not list it with its SHA-256")
        report = verify_tar(path, start_counter=entry.first_counter,
                            end_counter=entry.last_counter, name=entry.path)  # fmt: skip
    except OSError as err:
        return [f"the file cannot be read: {err.strerror or err}"]
    problems += [f"{f.code}: {f.message}" for f in report.findings]
    if (report.first_counter, report.last_counter) != (entry.first_counter, entry.last_counter):
        problems.append(
            f"it holds counters {report.first_counter}..{report.last_counter}, the index says "
            f"{entry.first_counter}..{entry.last_counter}"
        )
    return problems


def needs_restore(store: ArchiveStore, start: int, end: int, tenant: str | None) -> bool:
    """Whether the local archive lacks something of the period (or has nothing for it)."""
    entries = chosen(store, start, end, tenant)
    if not entries:
        return True
    manifest = _manifest(store)
    return any(local_problems(store, e, manifest) for e in entries)


def _manifest(store: ArchiveStore) -> dict[str, str]:
    try:
        return store.manifest()
    except OSError:
        return {}


def export_period(
    store: ArchiveStore,
    dest: Path,
    start: int,
    end: int,
    tenant: str | None = None,
    restored: Restored | None = None,
) -> dict[str, Any]:
    """Write the auditor's directory ``dest`` (must not exist yet) for ``start``..``end``."""
    if dest.exists():
        raise ConflictError(f"{dest} exists already", hint="Name a new directory.")
    entries = {(e.tss_id, e.first_counter, e.last_counter): e
               for e in chosen(store, start, end, tenant)}  # fmt: skip
    if restored is not None:  # what the box's index lost, the copy's index still knows
        for entry in chosen(restored.store, start, end, tenant):
            entries.setdefault((entry.tss_id, entry.first_counter, entry.last_counter), entry)
    manifest = _manifest(store)
    copy_manifest = _manifest(restored.store) if restored is not None else {}
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, mode=0o750)
    files, sums = [], []
    for key in sorted(entries):
        entry = entries[key]
        item = _export_file(store, entry, manifest, restored, copy_manifest, tmp)
        if item["source"] != MISSING:
            sums.append(f"{entry.sha256}  {item['file']}\n")
        files.append(item)
    by_tss: dict[str, list[Entry]] = defaultdict(list)
    for key in sorted(entries):
        by_tss[key[0]].append(entries[key])
    gaps = {tss_id: counter_gaps(items) for tss_id, items in by_tss.items()}
    complete = all(f["source"] != MISSING for f in files) and all(not g for g in gaps.values())
    ok = complete and all(not f["problems"] for f in files)
    sources = sorted({str(f["source"]).split(",")[0] for f in files if f["source"] != MISSING})
    report = {
        "ok": ok, "complete": complete, "from": start, "to": end, "tenant": tenant,
        "source": " and ".join(sources) or LOCAL, "files": files, "gaps": gaps,
        "written_at": time.time(),
    }  # fmt: skip
    atomic_write(tmp / "SHA256SUMS", "".join(sums).encode())
    atomic_write(tmp / "report.json", json.dumps(report, indent=1).encode())
    atomic_write(tmp / "report.txt", "\n".join(report_lines(report)).encode() + b"\n")
    os.rename(tmp, dest)
    _LOGGER.log(
        logging.INFO if ok else logging.ERROR,
        "auditor export of %d file(s) to %s (%s): %s", len(files), dest, report["source"],
        "OK" if ok else ("PROBLEMS" if complete else "INCOMPLETE"),
        extra={"TSED_EVENT": "archive_exported"},
    )  # fmt: skip
    return {**report, "directory": str(dest)}


def _export_file(
    store: ArchiveStore,
    entry: Entry,
    manifest: dict[str, str],
    restored: Restored | None,
    copy_manifest: dict[str, str],
    tmp: Path,
) -> dict[str, Any]:
    name = Path(entry.path).name
    local = store.path(entry)
    problems = local_problems(store, entry, manifest)
    source: str = LOCAL
    chosen_path: Path | None = local
    if problems and restored is not None:
        copy = restored.store.path(entry)
        copy_problems = file_problems(copy, entry, copy_manifest or None)
        offbox = f"off-box copy, snapshot {restored.snapshot}"
        if not copy_problems:
            source, chosen_path = f"{offbox} (local: {'; '.join(problems)})", copy
            problems = []
        else:  # neither is good: hand out what can be read, with what was found
            problems = [f"local: {p}" for p in problems] + [
                f"off-box copy: {p}" for p in copy_problems
            ]
            chosen_path = next((c for c in (local, copy) if _usable(c)), None)
            source = offbox if chosen_path == copy else LOCAL
    elif problems and not _usable(local):
        chosen_path = None
    if chosen_path is None:
        source = MISSING
    else:
        try:
            shutil.copyfile(chosen_path, tmp / name)
            if sha256_file(tmp / name) != entry.sha256:
                problems.append("the copy differs from the archived file")
        except OSError as err:
            source = MISSING
            problems.append(f"the file could not be copied: {err.strerror or err}")
            (tmp / name).unlink(missing_ok=True)
    return {"file": name, "tss_id": entry.tss_id, "tenant": entry.tenant,
            "first_counter": entry.first_counter, "last_counter": entry.last_counter,
            "first_time": entry.first_time, "last_time": entry.last_time,
            "sha256": entry.sha256, "problems": problems, "source": source}  # fmt: skip


def _usable(path: Path) -> bool:
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False
