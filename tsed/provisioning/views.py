"""The admin API's answers to provisioning: an activation, credentials, a factory reset.

Each wraps the domain's own result (:class:`~tsed.provisioning.activation.ActivationResult`,
:class:`~tsed.provisioning.credentials.CredentialsResult`,
:class:`~tsed.provisioning.modeswitch.ModeSwitchResult`) with what the running unit did next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the results' modules load when their step runs (as before)
    from tsed.archive.run import RunState
    from tsed.provisioning.activation import ActivationResult
    from tsed.provisioning.credentials import CredentialsResult
    from tsed.provisioning.modeswitch import ModeSwitchResult


@dataclass(frozen=True, slots=True)
class ActivationAnswer:
    """An accepted vendor activation; ``switch``: the re-binding when the mode changed and the
    credentials of the new mode were there, ``hint``: what to do when they were not."""

    result: ActivationResult
    switch: ModeSwitchResult | None = None
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        answer = self.result.to_json()
        answer["switch"] = self.switch.to_json() if self.switch else None
        if self.hint is not None:
            answer["hint"] = self.hint
        return answer


@dataclass(frozen=True, slots=True)
class CredentialsSet:
    """Own fiskaly TEST credentials entered (the secret is never in the answer)."""

    result: CredentialsResult
    backend: str

    def to_json(self) -> dict[str, Any]:
        return {**self.result.to_json(), "backend": self.backend}


@dataclass(frozen=True, slots=True)
class CredentialsCreated:
    """The answer to "Anlegen": the one answer that shows the new API secret, once."""

    result: CredentialsResult
    switch: ModeSwitchResult | None
    backend: str
    notice: str

    def to_json(self) -> dict[str, Any]:
        answer = self.result.to_json(reveal_secret=True)
        answer["switch"] = self.switch.to_json() if self.switch else None
        answer["backend"] = self.backend
        answer["notice"] = self.notice
        return answer


@dataclass(frozen=True, slots=True)
class FactoryResetResult:
    reset: bool
    archived_bindings: int  # TSS bindings archived (their journal stays)
    mode: str  # kept: a LIVE unit stays LIVE
    archive_run: RunState  # the archive run before the reset (the TSS's last logs)
