"""The checks of the power-cut test (``image/powercut.py``): what the host verifies after
each boot. Receipts through the register API as a register would ask; the guest's report of
the state it found (``powercut_guest.py``) against what was acknowledged before the cut.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Answer:
    key: str
    token: str
    body: dict[str, Any]
    data: dict[str, Any] | None  # None: sent, no answer before the cut
    boot: int



def headers(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


class Retrying(httpx.Client):
    """A register's client: a dropped keep-alive connection is retried, a few times."""

    def request(self, *args: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        for attempt in range(5):
            try:
                return super().request(*args, **kwargs)
            except httpx.TransportError:
                if attempt == 4:
                    raise
                time.sleep(1.0)
        raise AssertionError("unreachable")


def verify_receipts(port: int, answers: list[Answer], boot: int) -> list[str]:
    """Every answered receipt by id and by replay; the unanswered ones replayed twice."""
    problems: list[str] = []
    with Retrying(base_url=f"https://127.0.0.1:{port}", verify=False, timeout=60.0,
                   trust_env=False) as client:  # fmt: skip
        for answer in answers:
            if answer.data is None:
                first = client.post("/api/v1/receipts", json=answer.body,
                                    headers=headers(answer.token, answer.key))  # fmt: skip
                again = client.post("/api/v1/receipts", json=answer.body,
                                    headers=headers(answer.token, answer.key))  # fmt: skip
                if first.status_code in (200, 201) and first.json() == again.json():
                    answer.data = first.json()
                elif first.status_code not in (200, 201):
                    problems.append(f"{answer.key} (unanswered): replay {first.status_code}")
                else:
                    problems.append(f"{answer.key} (unanswered): two replays differ")
                continue
            if answer.boot != boot - 1 and zlib.crc32(answer.key.encode()) % 10:
                continue  # older cuts' receipts: a sample, they were checked already
            tx = client.get(f"/api/v1/transactions/{answer.data['id']}",
                            headers=headers(answer.token))  # fmt: skip
            replay = client.post("/api/v1/receipts", json=answer.body,
                                 headers=headers(answer.token, answer.key))  # fmt: skip
            if answer.data.get("tse_failure"):  # the key keeps that answer; the receipt itself
                got = tx.json() if tx.status_code == 200 else {}  # is signed late (or not yet)
                if replay.status_code not in (200, 201) or replay.json() != answer.data:
                    problems.append(f"{answer.key} (TSE failure answer): replay "
                                    f"{replay.status_code} differs")  # fmt: skip
                if tx.status_code != 200 or (got.get("result") and not got.get("signed_late")):
                    problems.append(f"{answer.key} (TSE failure answer): GET by id "
                                    f"{tx.status_code} {got.get('state')}")  # fmt: skip
                continue
            if tx.status_code != 200 or tx.json().get("result") != answer.data.get("result"):
                problems.append(f"{answer.key}: GET by id {tx.status_code} differs")
            if replay.status_code not in (200, 201) or replay.json() != answer.data:
                problems.append(f"{answer.key}: replay {replay.status_code} differs")
    seen: dict[tuple[str, str, object], str] = {}
    for answer in answers:
        result = (answer.data or {}).get("result") or {}
        for name in ("signature_counter", "transaction_number"):
            if name in result:
                mark = (str(result.get("tss_serial_number")), name, result[name])
                if mark in seen and seen[mark] != answer.key:
                    problems.append(f"{name} {result[name]} given to {seen[mark]} and {answer.key}")
                seen[mark] = answer.key
    return problems


def check_state(lines: dict[str, str], acked: dict[str, Any], downloads: dict[str, str],
                 pinned: str | None) -> list[str]:  # fmt: skip
    problems = []
    for db in ("integrity_store", "integrity_simulator"):
        if lines.get(db) not in ("ok", "missing"):
            problems.append(f"{db}: {lines.get(db)}")
    if lines.get("simulator_active") != "0":
        problems.append(f"{lines.get('simulator_active')} transaction(s) ACTIVE at the simulator")
    if acked["config"] is None:
        acked["config"] = lines.get("config_name")  # the first boot: what the unit had
    allowed = {acked["config"], acked.get("config_next", acked["config"])}
    if lines.get("config_name") not in allowed:
        problems.append(f"configuration name {lines.get('config_name')}, not one of {allowed}")
    acked["config"] = lines.get("config_name")
    acked.pop("config_next", None)
    vault = lines.get("vault_password")
    if acked["vault"] >= 0 and vault not in (str(acked["vault"]), str(acked.get("vault_next"))):
        problems.append(f"admin password {vault}, acknowledged was {acked['vault']}")
    if vault and vault.isdigit():  # the write under way at the cut may have made it: from now
        acked["vault"] = int(vault)  # on this is the password the vault must keep
    acked["vault_next"] = -1
    if lines.get("exports_bad") not in ("0", None):
        problems.append(f"{lines.get('exports_bad')} export job(s) done with a broken file")
    if lines.get("downloads_broken") not in ("0", None):
        problems.append(f"{lines.get('downloads_broken')} downloaded export(s) cut short")
    have = dict(item.partition(":")[::2] for item in _values(lines, "download"))
    for name, digest in downloads.items():
        if have.get(name) != digest:
            problems.append(f"downloaded {name}: {have.get(name, 'missing')} != {digest}")
    problems += check_archive(lines, acked)
    if pinned and lines.get("fingerprint") != pinned:
        problems.append(f"tsectl status fingerprint {lines.get('fingerprint')} != pinned")
    return problems


def _values(lines: dict[str, str], key: str) -> list[str]:
    return lines.get(f"_all_{key}", "").split(",") if lines.get(f"_all_{key}") else []


def archived(text: str) -> dict[str, int]:
    """The guest's ``archive_to`` (``<tss>:<last counter>,...`` or ``-``) as a mapping."""
    pairs = (item.partition(":") for item in text.split(",") if ":" in item)
    return {tss: int(last) for tss, _, last in pairs if last.isdigit()}


def check_archive(lines: dict[str, str], acked: dict[str, Any]) -> list[str]:
    """No archive file counted as done unless whole; no gap, overlap or step back.

    A file counts once its index row is committed: it must then be there whole, with the
    row's SHA-256 and listed so in ``MANIFEST.sha256`` (``archive_bad``). A file a cut left
    without its row must have been set aside to ``unrecorded/`` at the start, not left among
    the counted ones (``archive_stray``). Each TSS's archived ranges follow one another
    (``archive_chain``), and every run that ended before the cut is still there: the archive
    reaches at least as far as it did (``archive_to``); what it reaches now it must keep.
    """
    problems = []
    if lines.get("archive_bad") != "0":
        problems.append(f"{lines.get('archive_bad')} archive file(s) counted as done but not "
                        f"whole: {lines.get('archive_bad_files')}")  # fmt: skip
    if lines.get("archive_stray") != "0":
        problems.append(f"{lines.get('archive_stray')} archive file(s) without an index row "
                        "not set aside")  # fmt: skip
    if lines.get("archive_chain") != "ok":
        problems.append(f"archive ranges with a gap or overlap: {lines.get('archive_chain')}")
    have = archived(lines.get("archive_to", "-"))
    for tss, last in dict(acked.get("archive") or {}).items():
        if have.get(tss, -1) < last:
            problems.append(f"archive of TSS {tss} ends at {have.get(tss)}, it reached {last}")
    acked["archive"] = have
    return problems


def note_acks(guest: Any, cut: Any, acked: dict[str, Any], downloads: dict[str, str]) -> None:
    """What the guest was told was saved before the cut: it must be there after it."""
    cut.in_flight = guest.under_way()  # the disk answers nothing after the cut: still under way
    configs = guest.all_values("config_acked")
    if configs:
        acked["config"] = f"Powercut_{configs[-1]}"
    began = guest.all_values("config_started")
    if began:  # the save under way at the cut: its name may be there too
        acked["config_next"] = f"Powercut_{began[-1]}"
    vaults = guest.all_values("vault_acked")
    if vaults:
        acked["vault"] = int(vaults[-1])
    began = guest.all_values("vault_started")
    acked["vault_next"] = int(began[-1]) if began else -1
    for item in guest.all_values("export_acked"):
        name, _, digest = item.partition(":")
        downloads[name] = digest
    reached = guest.all_values("archive_to")  # after the boot's report and each run that ended
    if reached:
        acked["archive"] = archived(reached[-1])
