"""The provisioning answers: the new API secret is shown by the answer to "Anlegen" only."""

from __future__ import annotations

import json

from tsed.provisioning.activation import ActivationRecord, ActivationResult
from tsed.provisioning.credentials import CredentialsResult, TenantCredentials
from tsed.provisioning.document import ActivationOrganization
from tsed.provisioning.modeswitch import ModeSwitchResult, TssBinding
from tsed.provisioning.views import ActivationAnswer, CredentialsCreated, CredentialsSet

SECRET = "S" * 43


def _credentials() -> CredentialsResult:
    created = TenantCredentials("default", "org-1", "live_key", "LIVE", api_secret=SECRET)
    return CredentialsResult("LIVE", "anlegen", (created,), verified=True)


def _switch() -> ModeSwitchResult:
    return ModeSwitchResult("TEST", "LIVE", (TssBinding("default", "t", "s", "INITIALIZED"),),
                            (), 1)  # fmt: skip


def test_anlegen_shows_the_secret_once_and_setting_credentials_never() -> None:
    created = CredentialsCreated(_credentials(), _switch(), "fiskaly", "Note it now.")
    data = created.to_json()
    assert data["credentials"][0]["api_secret"] == SECRET and data["secret_shown_once"] is True
    assert data["switch"] == _switch().to_json()
    assert list(data)[-3:] == ["switch", "backend", "notice"]
    assert SECRET not in repr(created)
    entered = CredentialsSet(_credentials(), "fiskaly").to_json()
    assert SECRET not in json.dumps(entered) and entered["backend"] == "fiskaly"


def test_an_activation_that_changed_the_mode_says_what_comes_next() -> None:
    org = ActivationOrganization("Optik Muster GmbH", "org-1")
    record = ActivationRecord("doc-1", "device", "LIVE", org, "mgmt_key", "2026-12-01T00:00:00Z",
                              "2027-01-01", "2026-12-01T00:01:00Z", "key-1")  # fmt: skip
    result = ActivationResult(record, "LIVE", "TEST")
    waiting = ActivationAnswer(result, None, "create the LIVE credentials").to_json()
    assert waiting["switch"] is None and waiting["hint"] == "create the LIVE credentials"
    switched = ActivationAnswer(result, _switch()).to_json()
    assert "hint" not in switched and switched["switch"]["mode"] == "LIVE"
    assert list(switched)[:4] == ["activation", "mode", "previous_mode", "mode_changed"]
