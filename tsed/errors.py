"""The service-level errors of tsed.

One root, :class:`TsedError` (defined in :mod:`tsed.fiskaly.errors`, the lowest layer, and
re-exported here). Each leaf carries an HTTP ``status``, a stable ``code`` and a ``hint`` for
the person who has to act::

    TsedError
    ├── FiskalyError ...            (see tsed.fiskaly.errors)
    ├── ConfigError                 400  a configuration value breaks a rule
    ├── InputError                  400  a request body or parameter is malformed
    ├── NotFoundError               404  an unknown id
    ├── ConflictError               409  wrong order of calls, state does not allow it
    ├── AuthError                   401  missing/wrong token, session or pairing code
    │   └── LockedOut               429  too many failures, wait
    ├── ForbiddenError              403  authenticated but not allowed
    │   └── TenantMismatch          403  a register asks for another tenant than it is bound to
    ├── ModeError                   409  TEST/LIVE rules (activation missing, mismatch)
    │   └── ModeMismatch            403  a register's TEST state used in LIVE (the seed's 403)
    ├── StorageError                507  the state directory cannot be written
    │   └── StorageFull             507  its file system is full (what to free is in the hint)
    └── OffboxError                 502  the archive's off-box copy (restic) failed
        ├── OffboxUnreachable       503  the backup target does not answer (network, DNS, TLS)
        ├── OffboxProxyFailed       502  the shop's proxy is down or refuses the target
        ├── OffboxAuthFailed        502  the target refuses the user or its credential
        ├── OffboxWrongPassword     502  the repository password does not open the repository
        ├── OffboxMissing           404  no repository at the configured location
        ├── OffboxFull              507  the target's disk is full
        └── ResticMissing           503  the restic program is not installed
"""

from __future__ import annotations

from typing import ClassVar

from tsed.fiskaly.errors import TsedError

__all__ = [
    "AuthError",
    "ConfigError",
    "ConflictError",
    "ForbiddenError",
    "InputError",
    "LockedOut",
    "ModeError",
    "ModeMismatch",
    "NotFoundError",
    "OffboxAuthFailed",
    "OffboxError",
    "OffboxFull",
    "OffboxMissing",
    "OffboxProxyFailed",
    "OffboxUnreachable",
    "OffboxWrongPassword",
    "ResticMissing",
    "StorageError",
    "StorageFull",
    "TenantMismatch",
    "TsedError",
]


class ConfigError(TsedError):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "CONFIG_INVALID"
    default_hint: ClassVar[str] = "Correct the named setting and save again."


class InputError(TsedError):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "INVALID_REQUEST"
    default_hint: ClassVar[str] = (
        "Fix the request as described; the register API is documented in docs/register-api.md."
    )


class NotFoundError(TsedError):
    status: ClassVar[int] = 404
    code: ClassVar[str] = "NOT_FOUND"
    default_hint: ClassVar[str] = "Check the id; it may belong to another register or unit."


class ConflictError(TsedError):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "CONFLICT"
    default_hint: ClassVar[str] = "The current state does not allow this call; see the message."


class AuthError(TsedError):
    status: ClassVar[int] = 401
    code: ClassVar[str] = "UNAUTHORIZED"
    default_hint: ClassVar[str] = "Send 'Authorization: Bearer <token>' with a valid token."


class LockedOut(AuthError):
    status: ClassVar[int] = 429
    code: ClassVar[str] = "LOCKED_OUT"
    default_hint: ClassVar[str] = "Too many failed attempts; wait and try again."


class ForbiddenError(TsedError):
    status: ClassVar[int] = 403
    code: ClassVar[str] = "FORBIDDEN"
    default_hint: ClassVar[str] = "This credential may not do that."


class TenantMismatch(ForbiddenError):
    """The installer bound the register to one tenant (pairing window or workplace setting);
    the register asked for another. The register never chooses the company it signs for."""

    code: ClassVar[str] = "TENANT_MISMATCH"
    default_hint: ClassVar[str] = (
        "Leave 'tenant' out of the pairing request (the unit binds the register as the "
        "installer decided), or ask the installer to open the window for the right tenant "
        "(tsectl pair --tenant ID, the setup page or the console)."
    )


class ModeError(TsedError):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "MODE_MISMATCH"
    default_hint: ClassVar[str] = (
        "TEST and LIVE never mix; reset the register (tsectl reset) and re-initialize."
    )


class ModeMismatch(ModeError):
    """A register uses state from the other environment (a TEST transaction after the switch
    to LIVE): caught by the unit before fiskaly would answer 403 "You may not access this TSS"."""

    status: ClassVar[int] = 403
    code: ClassVar[str] = "MODE_MISMATCH"
    default_hint: ClassVar[str] = (
        "This register still holds TEST state: reset it (setup page or tsectl reset "
        "--register ID) and start a new transaction; TEST transactions cannot be finished "
        "in LIVE."
    )


class StorageError(TsedError):
    status: ClassVar[int] = 507
    code: ClassVar[str] = "STORAGE_FAILED"
    default_hint: ClassVar[str] = (
        "The unit cannot write its state directory (disk full or read-only); free space or "
        "call service. No transaction was accepted."
    )


class StorageFull(StorageError):
    """The state directory's file system is full: new work is refused, nothing is lost."""

    code: ClassVar[str] = "STORAGE_FULL"
    default_hint: ClassVar[str] = (
        "The file system of the unit's state directory is full. Free space there: remove TSE "
        "exports or backups copied onto it, shrink the journal (journalctl --vacuum-size=50M), "
        "or enlarge the partition. The unit takes receipts again as soon as space is free; "
        "no restart is needed. No transaction was accepted by this call."
    )


class OffboxError(TsedError):
    """The off-box copy of the archive failed; the local archive and signing are untouched."""

    status: ClassVar[int] = 502
    code: ClassVar[str] = "OFFBOX_FAILED"
    default_hint: ClassVar[str] = (
        "The local archive is unaffected. Check the backup target and run tsectl archive "
        "copy again; the journal (TSED_EVENT=offbox_*) has restic's message."
    )


class OffboxUnreachable(OffboxError):
    status: ClassVar[int] = 503
    code: ClassVar[str] = "OFFBOX_UNREACHABLE"
    default_hint: ClassVar[str] = (
        "The backup target does not answer: check that it is switched on, its address and "
        "port (offbox.repository), the network and, for REST, its TLS certificate. The unit "
        "retries at the next archive run; the local archive is unaffected."
    )


class OffboxProxyFailed(OffboxError):
    code: ClassVar[str] = "OFFBOX_PROXY_FAILED"
    default_hint: ClassVar[str] = (
        "The shop's proxy (proxy.host, proxy.port) does not answer or refuses the backup "
        "target: check the proxy settings and its password, and ask the network administrator "
        "to allow the target's host and port."
    )


class OffboxAuthFailed(OffboxError):
    code: ClassVar[str] = "OFFBOX_AUTH_FAILED"
    default_hint: ClassVar[str] = (
        "The backup target refuses the unit: check offbox.user and the credential in the vault "
        "(the REST password, or the SSH key the target must list in authorized_keys)."
    )


class OffboxWrongPassword(OffboxError):
    code: ClassVar[str] = "OFFBOX_WRONG_PASSWORD"
    default_hint: ClassVar[str] = (
        "The repository password in the vault does not open this repository: enter the "
        "password the repository was created with (it is on the installer's record sheet). "
        "Without it the copy cannot be read by anyone."
    )


class OffboxMissing(OffboxError):
    status: ClassVar[int] = 404
    code: ClassVar[str] = "OFFBOX_MISSING"
    default_hint: ClassVar[str] = (
        "There is no repository at offbox.repository: check the path; tsectl archive copy "
        "creates it on first use."
    )


class OffboxFull(OffboxError):
    status: ClassVar[int] = 507
    code: ClassVar[str] = "OFFBOX_FULL"
    default_hint: ClassVar[str] = (
        "The backup target's disk is full: free space there or enlarge it. Nothing was "
        "removed from the local archive."
    )


class ResticMissing(OffboxError):
    status: ClassVar[int] = 503
    code: ClassVar[str] = "RESTIC_MISSING"
    default_hint: ClassVar[str] = (
        "The restic program is not installed: apt-get install restic (Debian 12), or use the "
        "unit's image, which has it."
    )
