"""A guided decommissioning: of a register, of a TSS, of the whole unit, or a TSS exchange.

Every kind is a fixed list of steps. The fiscal ones come first and in this order: the final
archive run, its verification, the off-box copy; only then the irreversible step (a register's
client deregistered, a TSS disabled, a TSS replaced), then for a TSS one more archive run (its
disabling is itself a signed system log: the archive ends where the TSS ends), the record
(date, reason, the reportable event for the notification to the tax office), and what is left
to do.

The plan is one JSON file in the state directory (:attr:`StatePaths.decommission`), written
atomically before and after every step, so a crash or a power cut at any moment resumes where
it stood. An irreversible step is marked ``running`` before its call goes out; when a resumed
run finds it ``running`` it first asks fiskaly whether the call took effect and does not send
it again if it did (:mod:`tsed.unit.decommission_ops` carries the steps out).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from tsed.errors import ConflictError, InputError
from tsed.state.files import atomic_write

STEPS: dict[str, tuple[str, ...]] = {
    "register": ("archive", "verify", "offbox", "deregister", "record"),
    "tss": ("archive", "verify", "offbox", "disable", "seal", "record"),
    "exchange": ("archive", "verify", "offbox", "replace", "disable", "seal", "record"),
    "unit": ("archive", "verify", "offbox", "deregister", "disable", "seal", "record"),
}
IRREVERSIBLE = frozenset({"deregister", "disable", "replace"})
STEP_TEXT = {
    "archive": "letzter Archivlauf",
    "verify": "Archiv geprüft",
    "offbox": "Kopie außer Haus",
    "deregister": "Kasse(n) bei fiskaly abgemeldet",
    "disable": "TSS außer Betrieb genommen",
    "replace": "neue TSS angelegt, Kassen umgezogen",
    "seal": "letzte Signaturen der TSS archiviert",
    "record": "Datum und Grund festgehalten, Meldung vorgemerkt",
}
REASON_MAX = 200


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    state: str = "pending"  # pending, running, done, failed
    started_at: float | None = None
    finished_at: float | None = None
    detail: str = ""
    attempts: int = 0  # calls sent for an irreversible step (at most one took effect)

    @property
    def irreversible(self) -> bool:
        return self.name in IRREVERSIBLE

    @property
    def text(self) -> str:
        return STEP_TEXT[self.name]


@dataclass(frozen=True, slots=True)
class Plan:
    """One decommissioning, as the plan file keeps it."""

    id: str
    kind: str
    tenant: str | None
    register_id: str | None
    tss_ids: tuple[str, ...]  # the TSS it takes out of service (exchange: the old one)
    reason: str
    day: str  # the decommissioning date (YYYY-MM-DD), for the notification
    created_at: float
    steps: tuple[Step, ...]
    state: str = "running"  # running, failed (resumable), done
    finished_at: float | None = None
    left: tuple[str, ...] = ()  # what the shop still has to do

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)

    def with_step(self, step: Step) -> Plan:
        return replace(self, steps=tuple(step if s.name == step.name else s for s in self.steps))

    @property
    def current(self) -> Step | None:
        return next((step for step in self.steps if step.state != "done"), None)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = [
            {**asdict(s), "text": s.text, "irreversible": s.irreversible} for s in self.steps
        ]
        data["current"] = self.current.name if self.current else None
        return data


def _plan_from(data: dict[str, Any]) -> Plan:
    steps = tuple(
        Step(**{k: v for k, v in s.items() if k in Step.__slots__}) for s in data["steps"]
    )
    fields = {k: v for k, v in data.items() if k in Plan.__slots__ and k != "steps"}
    fields["tss_ids"] = tuple(fields.get("tss_ids", ()))
    fields["left"] = tuple(fields.get("left", ()))
    return Plan(steps=steps, **fields)


class PlanFile:
    """The plan on disk: read at start, written whole and atomically after every change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Plan | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return _plan_from(json.loads(raw))
        except (ValueError, KeyError, TypeError) as err:
            raise ConflictError(
                f"{self.path} cannot be read ({err})",
                hint="Keep the file for the vendor's service; it records a decommissioning.",
            ) from err

    def save(self, plan: Plan) -> Plan:
        atomic_write(self.path, json.dumps(plan.to_json(), ensure_ascii=False).encode(), mode=0o600)
        return plan


def check_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise InputError(
            "reason: give the reason of the decommissioning (e.g. „Kasse verkauft“)",
            hint="It goes into the notification to the tax office.",
        )
    if len(text) > REASON_MAX:
        raise InputError(f"reason: at most {REASON_MAX} characters, got {len(text)}")
    return text


def check_day(day: str | None, today: date) -> str:
    if day is None:
        return today.isoformat()
    try:
        value = date.fromisoformat(day.strip())
    except ValueError:
        raise InputError(
            f"date: {day!r} is not a day (YYYY-MM-DD)",
            hint="Example: --date 2026-12-31; without it, today.",
        ) from None
    if value > today:
        raise InputError(
            f"date: {value} lies in the future",
            hint="Decommission on the day it happens, or name a past day.",
        )
    return value.isoformat()


def confirmation(kind: str, tss_ids: tuple[str, ...], register_id: str | None) -> str:
    """What the installer types to confirm an irreversible decommissioning."""
    if kind == "register":
        return f"Kasse {(register_id or '')[:8]} abmelden"
    if kind == "unit":
        return "Einheit stilllegen"
    short = ", ".join(tss_id[:8] for tss_id in tss_ids)
    return f"TSS {short} {'tauschen' if kind == 'exchange' else 'stilllegen'}"


def new_plan(
    kind: str,
    *,
    tenant: str | None,
    register_id: str | None,
    tss_ids: tuple[str, ...],
    reason: str,
    day: str,
    clock: Callable[[], float] = time.time,
) -> Plan:
    if kind not in STEPS:
        raise InputError(f"kind: {kind!r} is not one of {', '.join(STEPS)}")
    return Plan(
        id=str(uuid.uuid4()),
        kind=kind,
        tenant=tenant,
        register_id=register_id,
        tss_ids=tss_ids,
        reason=reason,
        day=day,
        created_at=clock(),
        steps=tuple(Step(name) for name in STEPS[kind]),
    )
