"""SUBMIT DE's data in the simulator and its state machine, kept in the simulator's SQLite.

Taxpayers, establishments, client data and submissions live in memory and, with a state
directory, each change is written through in one commit (:func:`~.persist.one_commit`, the
same database and discipline as SIGN DE's objects). A submission's state is never stored: it
follows from its stored timestamps (created, transmission triggered, cancelled) and its pace
(``step``, the seconds per state when it was created), so a simulator restarted at any moment
answers the state the submission has reached by then, as fiskaly's would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tsed.fiskaly.simulator.persist import SimPersistence, one_commit

TAXPAYER, ESTABLISHMENT, CLIENT_DATA, SUBMISSION = (
    "submit_taxpayer", "submit_establishment", "submit_client", "submit_submission",
)  # fmt: skip


@dataclass(slots=True)
class SimSubmission:
    id: str
    organization_id: str
    establishment_id: str
    created: float
    outcome: tuple[str, str | None]  # the validation's state and error
    metadata: dict[str, str] = field(default_factory=dict)
    transmission: float | None = None
    cancelled: float | None = None
    transmission_result: str = "TRANSMISSION_SUCCEEDED"
    step: float = 0.05  # seconds per state, fixed when it was created
    xml_failed: bool = False  # the fault ``xml`` was on when it was created

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimSubmission:
        state, error = data.pop("outcome")
        return cls(outcome=(str(state), None if error is None else str(error)), **data)


@dataclass(slots=True)
class SubmitState:
    """The simulator's SUBMIT DE data and switches (``step``: seconds per state of a new
    submission; ``persist``: the simulator's database, ``None`` in memory only)."""

    clock: Callable[[], float] = time.time
    step: float = 0.05
    faults: dict[str, str | None] = field(default_factory=dict)
    taxpayers: dict[str, dict[str, Any]] = field(default_factory=dict)
    establishments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    client_data: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    submissions: dict[str, SimSubmission] = field(default_factory=dict)
    persist: SimPersistence | None = None

    @classmethod
    def opened(cls, clock: Callable[[], float], persist: SimPersistence | None) -> SubmitState:
        """The state as the database holds it (empty without one)."""
        state = cls(clock, persist=persist)
        if persist is None:
            return state
        for row in persist.load(TAXPAYER):
            state.taxpayers[row["owner"]] = row["body"]
        for row in persist.load(ESTABLISHMENT):
            state.establishments[(row["owner"], row["id"])] = row["body"]
        for row in persist.load(CLIENT_DATA):
            state.client_data[(row["owner"], row["tss_id"], row["client_id"])] = row["body"]
        subs = [SimSubmission.from_json(row) for row in persist.load(SUBMISSION)]
        state.submissions = {s.id: s for s in sorted(subs, key=lambda s: (s.created, s.id))}
        return state

    # -- changes: one commit each -----------------------------------------------------------

    @one_commit
    def put_taxpayer(self, owner: str, body: dict[str, Any]) -> dict[str, Any]:
        self.taxpayers[owner] = body
        if self.persist:
            self.persist.save_object(TAXPAYER, owner, {"owner": owner, "body": body})
        return body

    @one_commit
    def put_establishment(self, owner: str, est_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.establishments[(owner, est_id)] = body
        if self.persist:
            row = {"owner": owner, "id": est_id, "body": body}
            self.persist.save_object(ESTABLISHMENT, f"{owner}/{est_id}", row)
        return body

    @one_commit
    def put_client_data(self, key: tuple[str, str, str], body: dict[str, Any]) -> dict[str, Any]:
        self.client_data[key] = body
        if self.persist:
            owner, tss_id, client_id = key
            row = {"owner": owner, "tss_id": tss_id, "client_id": client_id, "body": body}
            self.persist.save_object(CLIENT_DATA, "/".join(key), row)
        return body

    @one_commit
    def save_submission(self, sub: SimSubmission) -> SimSubmission:
        """A new submission, or a change of one (its transmission, its cancellation)."""
        self.submissions[sub.id] = sub
        if self.persist:
            self.persist.save_object(SUBMISSION, sub.id, asdict(sub))
        return sub

    # -- what a submission is now -----------------------------------------------------------

    def state_of(self, sub: SimSubmission) -> tuple[str, str | None]:
        ran = (self.clock() - sub.created) / sub.step
        if ran < 1:
            return "CREATED", None
        if ran < 2:
            return "VALIDATION_TRIGGERED", None
        if sub.outcome[0] != "VALIDATION_SUCCEEDED" or ran < 3:
            return sub.outcome
        if sub.xml_failed:
            return "XML_GENERATION_FAILED", "the XML could not be generated (simulated)"
        if ran < 4:
            return "XML_GENERATION_SUCCEEDED", None
        if sub.transmission is None:
            return "READY_FOR_TRANSMISSION", None
        if sub.cancelled is not None:
            return "TRANSMISSION_CANCELLED", None
        sent = (self.clock() - sub.transmission) / sub.step
        if sent < 1:
            return "TRANSMISSION_PENDING", None
        if sent < 2:
            return "TRANSMISSION_IN_PROGRESS", None
        if sub.transmission_result != "TRANSMISSION_SUCCEEDED":
            return sub.transmission_result, "ELSTER refused the transmission (simulated)"
        return "TRANSMISSION_SUCCEEDED", None

    def view(self, sub: SimSubmission) -> dict[str, Any]:
        state, error = self.state_of(sub)
        view: dict[str, Any] = {
            "_type": "SUBMISSION", "id": sub.id, "establishment_id": sub.establishment_id,
            "state": state, "time_created": iso(sub.created), "metadata": sub.metadata,
        }  # fmt: skip
        if (
            state in ("XML_GENERATION_SUCCEEDED", "READY_FOR_TRANSMISSION")
            or "TRANSMISSION" in state
        ):
            view["time_generated"] = iso(sub.created + 3 * sub.step)
        if state == "TRANSMISSION_SUCCEEDED" and sub.transmission is not None:
            view["time_transmitted"] = iso(sub.transmission + 2 * sub.step)
        if error is not None:
            view["time_error"] = iso(self._failed_at(sub, state))
            view["error_description"] = error
        return view

    def _failed_at(self, sub: SimSubmission, state: str) -> float:
        """When the failure happened (from the stored times, the same after a restart)."""
        if sub.transmission is not None and state in ("TRANSMISSION_FAILED", "ERROR"):
            return sub.transmission + 2 * sub.step
        if state == "XML_GENERATION_FAILED":
            return sub.created + 3 * sub.step
        return sub.created + 2 * sub.step


def iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
