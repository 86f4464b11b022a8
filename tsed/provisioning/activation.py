"""Vendor activation: accepting the signed document that unlocks "Anlegen" and LIVE mode.

Only the vendor switches a unit to LIVE. The document format, the vendor keys and the signature
check live in :mod:`tsed.provisioning.document`; this module holds the unit's side.

Accepting a document stores the management credentials in the vault (never in the
configuration), the activation record without secrets in ``<state_dir>/activation.json``, and
sets the unit's mode (:mod:`tsed.state.mode`) to the document's environment ("mode becomes the
allowed environment"; :func:`tsed.provisioning.modeswitch.switch_mode` then archives the TEST
bindings and sets up the LIVE TSS). A LIVE unit never goes back to TEST. Expiry only limits
*acceptance*: an accepted activation stays in force.

A document is accepted once: the record keeps its ``document_id`` and ``issued_at`` (written
atomically), and a later document must carry another id and a strictly later ``issued_at``
(:class:`ActivationReplayed` otherwise), so replaying an old file cannot roll the management
credentials back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tsed.errors import ModeError
from tsed.provisioning.document import (
    CLOCK_TOLERANCE,
    FORMAT,
    ActivationBadSignature,
    ActivationDocument,
    ActivationExpired,
    ActivationKeyMissing,
    ActivationMalformed,
    ActivationNotYetValid,
    ActivationOrganization,
    ActivationOtherDevice,
    ActivationReplayed,
    ManagementCredentials,
    generate_vendor_key,
    key_id,
    load_private_key,
    load_public_key,
    mode_from_json,
    organization_from_json,
    parse_payload,
    sign_document,
    verify_document,
)
from tsed.state.files import atomic_write
from tsed.state.mode import Mode, read_mode, write_mode
from tsed.state.paths import StatePaths
from tsed.state.vault import Vault

__all__ = [
    "CLOCK_TOLERANCE",
    "FORMAT",
    "ActivationBadSignature",
    "ActivationDocument",
    "ActivationDowngrade",
    "ActivationExpired",
    "ActivationKeyMissing",
    "ActivationMalformed",
    "ActivationMissing",
    "ActivationNotYetValid",
    "ActivationOrganization",
    "ActivationOtherDevice",
    "ActivationRecord",
    "ActivationReplayed",
    "ActivationResult",
    "ManagementCredentials",
    "accept_activation",
    "generate_vendor_key",
    "key_id",
    "load_activation",
    "load_private_key",
    "load_public_key",
    "management_credentials",
    "parse_payload",
    "require_activation",
    "sign_document",
    "verify_document",
]

_LOGGER = logging.getLogger(__name__)

VAULT_MGMT_KEY = "activation.management.api_key"
VAULT_MGMT_SECRET = "activation.management.api_secret"  # noqa: S105 - a vault entry name


class ActivationDowngrade(ModeError, code="ACTIVATION_DOWNGRADE"):
    default_hint = (
        "A LIVE unit never goes back to TEST (TEST and LIVE never mix). Ask the vendor for a "
        "LIVE document if management credentials must be renewed."
    )


class ActivationMissing(ModeError, code="ACTIVATION_MISSING"):
    default_hint = (
        "Die Freischaltung durch den Hersteller fehlt noch (vendor activation missing): the "
        "vendor must activate this unit first (import the activation document with "
        "tsectl activate FILE)."
    )


@dataclass(frozen=True, slots=True)
class ActivationRecord:
    """What the unit keeps of an accepted activation (no secrets)."""

    document_id: str
    device_id: str
    environment: Mode
    organization: ActivationOrganization
    management_api_key: str
    issued_at: str
    expires_on: str
    accepted_at: str
    vendor_key_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "device_id": self.device_id,
            "environment": self.environment,
            "organization": self.organization.to_json(),
            "management_api_key": self.management_api_key,
            "issued_at": self.issued_at,
            "expires_on": self.expires_on,
            "accepted_at": self.accepted_at,
            "vendor_key_id": self.vendor_key_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ActivationRecord:
        return cls(
            document_id=str(data["document_id"]),
            device_id=str(data["device_id"]),
            environment=mode_from_json(data["environment"], "environment"),
            organization=organization_from_json(data["organization"]),
            management_api_key=str(data["management_api_key"]),
            issued_at=str(data["issued_at"]),
            expires_on=str(data["expires_on"]),
            accepted_at=str(data["accepted_at"]),
            vendor_key_id=str(data["vendor_key_id"]),
        )


@dataclass(frozen=True, slots=True)
class ActivationResult:
    record: ActivationRecord
    mode: Mode
    previous_mode: Mode

    @property
    def mode_changed(self) -> bool:
        return self.mode != self.previous_mode

    def to_json(self) -> dict[str, Any]:
        return {
            "activation": self.record.to_json(),
            "mode": self.mode,
            "previous_mode": self.previous_mode,
            "mode_changed": self.mode_changed,
        }


# -- the unit's state -------------------------------------------------------------------------


def load_activation(state_dir: Path) -> ActivationRecord | None:
    """The accepted activation, or None when the vendor has not activated the unit yet."""
    path = StatePaths(state_dir).activation
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ActivationRecord.from_json(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, ActivationMalformed) as err:
        raise ActivationMalformed(
            f"the stored activation record {path} is damaged ({err})",
            hint="Import the activation document again (tsectl activate FILE).",
        ) from None


def require_activation(state_dir: Path, what: str = "this") -> ActivationRecord:
    """The accepted activation, or :class:`ActivationMissing` explaining that it is missing."""
    record = load_activation(state_dir)
    if record is None:
        raise ActivationMissing(
            f"the vendor has not activated this unit yet, so {what} is not possible "
            "(Freischaltung durch den Hersteller fehlt)"
        )
    return record


def management_credentials(vault: Vault) -> ManagementCredentials | None:
    key, secret = vault.get(VAULT_MGMT_KEY), vault.get(VAULT_MGMT_SECRET)
    if key is None or secret is None:
        return None
    return ManagementCredentials(key, secret)


def _accepted_before(state_dir: Path) -> ActivationRecord | None:
    try:
        return load_activation(state_dir)
    except ActivationMalformed as err:
        # Only root or the service user can damage the record; let a new document repair it.
        _LOGGER.warning(
            "%s: accepting a new activation document without the replay check",
            err.message,
            extra={"TSED_EVENT": "activation_record_damaged"},
        )
        return None


def _refuse_replay(document: ActivationDocument, accepted: ActivationRecord | None) -> None:
    if accepted is None:
        return
    if document.document_id == accepted.document_id:
        raise ActivationReplayed(
            f"activation document {document.document_id} was accepted already "
            f"(on {accepted.accepted_at})"
        )
    try:
        before = datetime.fromisoformat(accepted.issued_at.replace("Z", "+00:00"))
    except ValueError:
        _LOGGER.warning(
            "the stored activation record has no readable issued_at; accepting a new document",
            extra={"TSED_EVENT": "activation_record_damaged"},
        )
        return
    if document.issued_at <= before:
        raise ActivationReplayed(
            f"activation document {document.document_id} was issued "
            f"{document.issued_at.strftime('%Y-%m-%dT%H:%M:%SZ')}, not after the document in "
            f"force ({accepted.document_id}, issued {accepted.issued_at})"
        )


def accept_activation(
    data: bytes,
    *,
    public_key_path: Path,
    device_id: str,
    state_dir: Path,
    vault: Vault,
    now: datetime | None = None,
) -> ActivationResult:
    """Verify and accept an activation document (see the module docstring for the effects)."""
    public_key = load_public_key(public_key_path)
    document = verify_document(data, public_key, device_id=device_id, now=now)
    _refuse_replay(document, _accepted_before(state_dir))
    previous = read_mode(state_dir)
    if previous == "LIVE" and document.environment == "TEST":
        raise ActivationDowngrade(
            f"activation document {document.document_id} allows TEST, but the unit is LIVE"
        )
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    record = ActivationRecord(
        document_id=document.document_id,
        device_id=document.device_id,
        environment=document.environment,
        organization=document.organization,
        management_api_key=document.management.api_key,
        issued_at=document.issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        expires_on=document.expires_on.isoformat(),
        accepted_at=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        vendor_key_id=key_id(public_key),
    )
    vault.update(
        {
            VAULT_MGMT_KEY: document.management.api_key,
            VAULT_MGMT_SECRET: document.management.api_secret,
        }
    )
    atomic_write(
        StatePaths(state_dir).activation,
        (json.dumps(record.to_json(), indent=1, sort_keys=True) + "\n").encode(),
        mode=0o640,
    )
    if previous != document.environment:
        write_mode(state_dir, document.environment)
    _LOGGER.warning(
        "vendor activation %s accepted: %s mode allowed (was %s), organization %s",
        document.document_id,
        document.environment,
        previous,
        document.organization.name,
        extra={
            "TSED_EVENT": "activation_accepted",
            "TSED_MODE": document.environment,
            "TSED_DOCUMENT": document.document_id,
        },
    )
    return ActivationResult(record, document.environment, previous)
