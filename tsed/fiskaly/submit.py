"""fiskaly SUBMIT DE (formerly "SIGN DE x Submission API"): the filing of § 146a Abs. 4 AO.

SUBMIT DE keeps the taxpayer, the establishments (Betriebsstätten) and per SIGN DE client its
additional data (type, maker, model, software, dates); a submission per establishment is
validated (internally and by ERiC), turned into ELSTER XML by fiskaly and, with the
taxpayer's consent, transmitted to the tax authorities. Its states::

    CREATED → VALIDATION_TRIGGERED → VALIDATION_SUCCEEDED → XML_GENERATION_SUCCEEDED
        → READY_FOR_TRANSMISSION ─(PUT …/transmission, legal_consent)→ TRANSMISSION_PENDING
        → TRANSMISSION_IN_PROGRESS → TRANSMISSION_SUCCEEDED
    failures: INTERNAL_VALIDATION_FAILED, EXTERNAL_VALIDATION_FAILED, XML_GENERATION_FAILED,
              TRANSMISSION_FAILED, ERROR; DELETE …/transmission while pending → CANCELLED

Paths, fields and states as a public SUBMIT DE integration uses them (``docs/notification.md``
names the source and what is assumed: the API's base path, the date format of the answers'
time fields). Authentication is SIGN DE's: ``POST /auth`` with key and secret, a bearer token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from tsed.fiskaly.models import ModelError
from tsed.fiskaly.session import JsonSession

DEFAULT_SUBMIT_URL = "https://kassensichv.fiskaly.com"
SUBMIT_PREFIX = "/api/submission/v1"  # assumed (docs/notification.md)
SUBMISSION_STATES = (
    "CREATED", "VALIDATION_TRIGGERED", "INTERNAL_VALIDATION_FAILED",
    "EXTERNAL_VALIDATION_FAILED", "VALIDATION_SUCCEEDED", "XML_GENERATION_SUCCEEDED",
    "XML_GENERATION_FAILED", "READY_FOR_TRANSMISSION", "TRANSMISSION_PENDING",
    "TRANSMISSION_IN_PROGRESS", "TRANSMISSION_FAILED", "TRANSMISSION_SUCCEEDED",
    "TRANSMISSION_CANCELLED", "ERROR",
)  # fmt: skip
FINAL_SUBMISSION_STATES = frozenset(
    {"INTERNAL_VALIDATION_FAILED", "EXTERNAL_VALIDATION_FAILED", "XML_GENERATION_FAILED",
     "TRANSMISSION_FAILED", "TRANSMISSION_SUCCEEDED", "TRANSMISSION_CANCELLED", "ERROR"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Submission:
    """A submission as SUBMIT DE answers it."""

    id: str
    establishment_id: str
    state: str
    time_created: str | None = None
    time_generated: str | None = None
    time_transmitted: str | None = None
    time_error: str | None = None
    error_description: str | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_SUBMISSION_STATES

    @classmethod
    def parse(cls, data: Any) -> Submission:
        if not isinstance(data, dict):
            raise ModelError("submission: an object was expected")
        try:
            state = str(data["state"])
            sub = cls(
                str(data["id"]), str(data["establishment_id"]), state,
                *(None if data.get(k) is None else str(data[k]) for k in
                  ("time_created", "time_generated", "time_transmitted", "time_error",
                   "error_description")),
            )  # fmt: skip
        except KeyError as err:
            raise ModelError(f"submission: field {err} is missing") from None
        if state not in SUBMISSION_STATES:
            raise ModelError(f"submission: unknown state {state!r}")
        return sub


class SubmitClient(JsonSession):
    """The SUBMIT DE client (taxpayer, establishments, client data, submissions)."""

    DEFAULT_BASE_URL: ClassVar[str] = DEFAULT_SUBMIT_URL
    API_PREFIX: ClassVar[str] = SUBMIT_PREFIX

    async def upsert_taxpayer(self, body: dict[str, Any]) -> dict[str, Any]:
        data = await self._json("PUT", "/taxpayer", "upsert taxpayer", body)
        return dict(data)

    async def upsert_establishment(
        self, establishment_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        path = f"/establishment/{establishment_id}"
        return dict(await self._json("PUT", path, "upsert establishment", body))

    async def upsert_client_data(
        self, tss_id: str, client_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        path = f"/sign-de-v2/tss/{tss_id}/client/{client_id}/additional_data"
        return dict(await self._json("PUT", path, "upsert client additional data", body))

    async def create_submission(
        self, submission_id: str, establishment_id: str, metadata: dict[str, str] | None = None
    ) -> Submission:
        body: dict[str, Any] = {"establishment_id": establishment_id}
        if metadata:
            body["metadata"] = metadata
        data = await self._json("PUT", f"/submission/{submission_id}", "create submission", body)
        return Submission.parse(data)

    async def get_submission(self, submission_id: str) -> Submission:
        data = await self._json("GET", f"/submission/{submission_id}", "retrieve submission")
        return Submission.parse(data)

    async def trigger_transmission(self, submission_id: str) -> Submission:
        """Transmit to the tax authorities (the taxpayer has agreed: ``legal_consent``)."""
        data = await self._json(
            "PUT", f"/submission/{submission_id}/transmission", "trigger transmission",
            {"legal_consent": True},
        )  # fmt: skip
        return Submission.parse(data)

    async def cancel_transmission(self, submission_id: str) -> Submission:
        data = await self._json(
            "DELETE", f"/submission/{submission_id}/transmission", "cancel transmission"
        )
        return Submission.parse(data)
