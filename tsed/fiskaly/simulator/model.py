"""Domain objects, limits and the error type of the simulator."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

API_VERSION = "2.2.2"
MANAGEMENT_VERSION = "0.12.0"
Env = Literal["TEST", "LIVE"]
ENVS: tuple[Env, ...] = ("TEST", "LIVE")

MAX_CLIENTS = 199
MAX_ACTIVE_TX = 2000
MAX_TEST_TSS = 5
MAX_TSS_PER_DAY = 500
MAX_BODY = 1024 * 1024
MAX_EXPORTS_RUNNING = 10
MAX_EXPORT_RECORDS = 1_000_000
LIST_TX_PER_MINUTE = 20
EXPORT_POLLS_PER_MINUTE = 12
DEPLOY_SIGNATURE_COUNTER = 24
BSI_CERTIFICATION_ID = "BSI-K-TR-0717-2025"

TSS_STATES = (
    "CREATED",
    "UNINITIALIZED",
    "INITIALIZED",
    "DISABLED",
    "DELETED",
    "DEFECTIVE",
    "EVICTED",
)
CLIENT_SERIAL_RE = re.compile(r"^(?!\s)[A-Za-z0-9 '()+,\-.:=?]{1,70}(?<!\s)$")
DESCRIPTION_RE = re.compile(r"^[A-Za-z0-9 '()+,\-./:=?]{0,100}$")


class SimError(Exception):
    """An error answered exactly as fiskaly shapes it: ``{status_code, error, code, message}``."""

    def __init__(
        self, status: int, code: str | None, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status_code": self.status,
            "error": reason_phrase(self.status),
            "message": self.message,
        }
        if self.code is not None:
            body["code"] = self.code
        return body


def reason_phrase(status: int) -> str:
    extra = {
        432: "Use Middleware",
        444: "Middleware Pending Request",
        499: "Client Closed Request",
    }
    if status in extra:
        return extra[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def schema_error(message: str) -> SimError:
    return SimError(400, "E_FAILED_SCHEMA_VALIDATION", message)


def parse_uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise schema_error(f"{what} must be a UUID, got {value!r}") from None


@dataclass(slots=True)
class Organization:
    id: str
    name: str
    created_at: int
    managed_by: str | None = None
    vat_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ApiKey:
    id: str
    key: str
    secret: str = field(repr=False)
    env: Env
    organization_id: str
    name: str
    created_at: int
    status: str = "enabled"


@dataclass(slots=True)
class Tss:
    id: str
    env: Env
    organization_id: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    public_key: bytes
    serial_number: str
    certificate: str
    time_creation: int
    admin_puk: str = field(repr=False)
    state: str = "CREATED"
    metadata: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    admin_pin: str | None = field(default=None, repr=False)
    pin_blocked: bool = True
    failed_logins: int = 0
    admin_sessions: set[str] = field(default_factory=set)
    signature_counter: int = 0
    transaction_counter: int = 0
    times: dict[str, int] = field(default_factory=dict)
    locked: bool = False
    # the BSI certification id the TSS shows (None: the current one, BSI_CERTIFICATION_ID);
    # a simulator switch changes it, like fiskaly after a re-certification of its SMAERS
    bsi_certification_id: str | None = None


@dataclass(slots=True)
class Client:
    id: str
    tss_id: str
    serial_number: str
    env: Env
    time_creation: int
    state: str = "REGISTERED"
    metadata: dict[str, str] = field(default_factory=dict)
    time_update: int | None = None


@dataclass(slots=True)
class Revision:
    """One signed revision of a transaction, with the request that produced it."""

    revision: int
    state: str
    client_id: str
    client_serial: str
    request_fingerprint: str
    operation: str
    log_time: int
    signature: str
    counter: int
    process_type: str
    process_data: str
    schema: dict[str, Any]


@dataclass(slots=True)
class Transaction:
    id: str
    tss_id: str
    env: Env
    number: int
    time_start: int
    revisions: list[Revision] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    process_type: str | None = None
    time_end: int | None = None

    @property
    def latest(self) -> Revision:
        return self.revisions[-1]

    @property
    def state(self) -> str:
        return self.latest.state


@dataclass(slots=True)
class Export:
    id: str
    tss_id: str
    env: Env
    time_request: int
    params: dict[str, str]
    requested_at: float
    state: str = "PENDING"
    time_start: int | None = None
    time_end: int | None = None
    time_error: int | None = None
    time_expiration: int | None = None
    exception: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    polls: list[float] = field(default_factory=list)


@dataclass(slots=True)
class LogEntry:
    """A signed log message kept for exports."""

    tss_id: str
    counter: int
    log_time: int
    file_name: str
    data: bytes
    signature: bytes
    tx_number: int | None = None
    client_id: str | None = None
