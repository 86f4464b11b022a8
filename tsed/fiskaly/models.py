"""Typed, frozen models of fiskaly SIGN DE V2 resources, parsed once at the edge.

Unknown extra fields are tolerated (fiskaly adds fields in minor versions); a missing required
field raises :class:`ModelError` naming it. Counters are accepted as string or number (fiskaly
documents strings but returns numbers for transaction signatures).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tsed.fiskaly.errors import FiskalyError


class ModelError(FiskalyError, code="FISKALY_BAD_RESPONSE"):
    default_hint = "fiskaly answered with an unexpected document; check the journal."


def _req(data: Mapping[str, Any], key: str, kind: str) -> Any:
    if key not in data or data[key] is None:
        raise ModelError(f"fiskaly {kind}: field {key!r} is missing")
    return data[key]


def _int(value: Any, key: str, kind: str) -> int:
    if isinstance(value, bool):
        raise ModelError(f"fiskaly {kind}: {key} is not a number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ModelError(f"fiskaly {kind}: {key} {value!r} is not a number") from None


def _given(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _opt_int(data: Mapping[str, Any], key: str, kind: str) -> int | None:
    value = data.get(key)
    return None if value is None else _int(value, key, kind)


@dataclass(frozen=True, slots=True)
class AuthToken:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    env: str
    organization_id: str | None
    access_expires_at: float
    refresh_expires_at: float | None
    issued_at: float

    @classmethod
    def parse(cls, data: Mapping[str, Any], now: float) -> AuthToken:
        token = _req(data, "access_token", "auth")
        claims = data.get("access_token_claims") or {}
        env = claims.get("env")
        if env not in ("TEST", "LIVE"):
            raise ModelError("fiskaly auth: access_token_claims.env is missing")

        def expiry(prefix: str) -> float | None:
            if data.get(f"{prefix}_expires_at") is not None:
                return float(data[f"{prefix}_expires_at"])
            if data.get(f"{prefix}_expires_in") is not None:
                return now + float(data[f"{prefix}_expires_in"])
            return None

        access_exp = expiry("access_token")
        if access_exp is None:
            raise ModelError("fiskaly auth: no access token expiry")
        refresh_exp = expiry("refresh_token")
        # Prefer expires_in (relative) when both are given and the clocks disagree.
        if data.get("access_token_expires_in") is not None:
            access_exp = now + float(data["access_token_expires_in"])
        if data.get("refresh_token_expires_in") is not None:
            refresh_exp = now + float(data["refresh_token_expires_in"])
        return cls(
            access_token=str(token),
            refresh_token=data.get("refresh_token"),
            env=str(env),
            organization_id=claims.get("organization_id"),
            access_expires_at=access_exp,
            refresh_expires_at=refresh_exp,
            issued_at=now,
        )

    def refresh_due(self, now: float, fraction: float = 0.9) -> bool:
        """True once ``fraction`` of the access token's lifetime has passed."""
        lifetime = max(0.0, self.access_expires_at - self.issued_at)
        return now >= self.issued_at + lifetime * fraction


@dataclass(frozen=True, slots=True)
class Tss:
    id: str
    state: str
    env: str
    serial_number: str
    public_key: str
    certificate: str
    time_creation: int
    signature_counter: int | None = None
    transaction_counter: int | None = None
    description: str | None = None
    max_clients: int | None = None
    max_active_transactions: int | None = None
    number_registered_clients: int | None = None
    number_active_transactions: int | None = None
    admin_puk: str | None = field(default=None, repr=False)
    metadata: Mapping[str, str] = field(default_factory=dict)
    bsi_certification_id: str | None = None  # UNINITIALIZED, INITIALIZED, DISABLED only

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Tss:
        k = "TSS"
        return cls(
            id=str(_req(data, "_id", k)),
            state=str(_req(data, "state", k)),
            env=str(data.get("_env", "")),
            serial_number=str(data.get("serial_number", "")),
            public_key=str(data.get("public_key", "")),
            certificate=str(data.get("certificate", "")),
            time_creation=_int(data.get("time_creation", 0), "time_creation", k),
            signature_counter=_opt_int(data, "signature_counter", k),
            transaction_counter=_opt_int(data, "transaction_counter", k),
            description=data.get("description"),
            max_clients=_opt_int(data, "max_number_registered_clients", k),
            max_active_transactions=_opt_int(data, "max_number_active_transactions", k),
            number_registered_clients=_opt_int(data, "number_registered_clients", k),
            number_active_transactions=_opt_int(data, "number_active_transactions", k),
            admin_puk=data.get("admin_puk"),
            metadata=dict(data.get("metadata") or {}),
            bsi_certification_id=_opt_str(data.get("bsi_certification_id")),
        )


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    tss_id: str
    serial_number: str
    state: str
    env: str
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Client:
        k = "client"
        return cls(
            id=str(_req(data, "_id", k)),
            tss_id=str(_req(data, "tss_id", k)),
            serial_number=str(_req(data, "serial_number", k)),
            state=str(_req(data, "state", k)),
            env=str(data.get("_env", "")),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True, slots=True)
class Transaction:
    id: str
    tss_id: str
    tss_serial_number: str
    client_id: str
    client_serial_number: str
    state: str
    number: int
    revision: int
    latest_revision: int
    time_start: int
    time_end: int | None
    process_type: str | None
    process_data: str | None
    log_operation: str
    log_timestamp: int
    log_timestamp_format: str
    signature_value: str
    signature_algorithm: str
    signature_counter: int
    public_key: str
    qr_code_data: str | None
    env: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    pending: bool = False  # fiskaly has not signed this revision yet: no signature, no log time

    @property
    def ended(self) -> bool:
        return self.state in ("FINISHED", "CANCELLED")

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Transaction:
        """A transaction answer; a pending one (the contract's ``MiddlewarePendingTxResponse``:
        no signature value and no ``log.timestamp`` yet) parses with ``pending`` set and empty
        signature fields, for the client to poll until it is signed."""
        k = "transaction"
        given_log = data.get("log")
        log: Mapping[str, Any] = given_log if isinstance(given_log, Mapping) else {}
        raw_signature = data.get("signature")
        pending = (
            not isinstance(raw_signature, Mapping)
            or raw_signature.get("value") is None
            or log.get("timestamp") is None
        )
        signature: Mapping[str, Any] = raw_signature if isinstance(raw_signature, Mapping) else {}
        if pending:
            signature = {"value": "", "counter": 0, "public_key": ""} | _given(signature)
            log = {"operation": "", "timestamp": 0} | _given(log)
        raw = (data.get("schema") or {}).get("raw") or {}
        process_data: str | None = None
        if raw.get("process_data") is not None:
            try:
                process_data = base64.b64decode(raw["process_data"]).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise ModelError("fiskaly transaction: schema.raw.process_data") from None
        return cls(
            id=str(_req(data, "_id", k)),
            tss_id=str(_req(data, "tss_id", k)),
            tss_serial_number=str(_req(data, "tss_serial_number", k)),
            client_id=str(_req(data, "client_id", k)),
            client_serial_number=str(_req(data, "client_serial_number", k)),
            state=str(_req(data, "state", k)),
            number=_int(_req(data, "number", k), "number", k),
            revision=_int(_req(data, "revision", k), "revision", k),
            latest_revision=_int(_req(data, "latest_revision", k), "latest_revision", k),
            time_start=_int(_req(data, "time_start", k), "time_start", k),
            time_end=_opt_int(data, "time_end", k),
            process_type=raw.get("process_type"),
            process_data=process_data,
            log_operation=str(_req(log, "operation", k)),
            log_timestamp=_int(_req(log, "timestamp", k), "log.timestamp", k),
            log_timestamp_format=str(log.get("timestamp_format", "unixTime")),
            signature_value=str(_req(signature, "value", k)),
            signature_algorithm=str(signature.get("algorithm", "ecdsa-plain-SHA256")),
            signature_counter=_int(_req(signature, "counter", k), "signature.counter", k),
            public_key=str(_req(signature, "public_key", k)),
            qr_code_data=data.get("qr_code_data"),
            env=str(data.get("_env", "")),
            metadata=dict(data.get("metadata") or {}),
            pending=pending,
        )


@dataclass(frozen=True, slots=True)
class Export:
    id: str
    tss_id: str
    state: str
    time_request: int
    time_end: int | None = None
    time_expiration: int | None = None
    exception: str | None = None
    estimated_time_of_completion: int | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("COMPLETED", "CANCELLED", "ERROR")

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Export:
        k = "export"
        return cls(
            id=str(_req(data, "_id", k)),
            tss_id=str(_req(data, "tss_id", k)),
            state=str(_req(data, "state", k)),
            time_request=_int(_req(data, "time_request", k), "time_request", k),
            time_end=_opt_int(data, "time_end", k),
            time_expiration=_opt_int(data, "time_expiration", k),
            exception=data.get("exception"),
            estimated_time_of_completion=_opt_int(data, "estimated_time_of_completion", k),
        )


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    vat_id: str | None
    managed_by: str | None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Organization:
        return cls(
            id=str(_req(data, "_id", "organization")),
            name=str(data.get("name", "")),
            vat_id=data.get("vat_id"),
            managed_by=data.get("managed_by_organization_id"),
        )


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    key: str
    name: str
    env: str | None
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ApiKey:
        envs = data.get("_envs") or []
        return cls(
            id=str(_req(data, "_id", "API key")),
            key=str(_req(data, "key", "API key")),
            name=str(data.get("name", "")),
            env=str(envs[0]) if envs else None,
            secret=data.get("secret"),
        )
