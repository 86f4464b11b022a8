"""The errors of tsed: one tree, drawn here whole.

One root, :class:`TsedError` (defined in :mod:`tsed.fiskaly.errors`, the lowest layer, and
re-exported here together with the service-level classes every domain uses). A class lives in
the module that raises it; every class of tsed that is an exception is in this tree, except a
few that never leave their module (``tests/test_errors.py`` names them, with the reason).

Each class carries an HTTP ``status``, a stable ``code`` (unique in the tree, part of the API
contracts) and a ``default_hint`` for the person who has to act; status and code are stated
once, in the class header (``class StorageFull(StorageError, code="STORAGE_FULL")``). The codes
the register API answers are listed in ``docs/register-api.md`` (section "9. Errors").

The ``cli.*`` classes are never answered over HTTP: the command prints message and hint and
exits with 1 (:class:`~tsed.cli.adminclient.UsageError`: 2). Two classes relay what another
side said, per instance: :class:`~tsed.cli.adminclient.CommandFailed` the code of the daemon's
error answer, :class:`~tsed.net.http.HttpRefused` the status of the HTTP library's refusal.

Class, status, code and module (below ``tsed.``); ``tests/test_errors.py`` checks the drawing::

    TsedError                           500 INTERNAL                        fiskaly.errors
    ├─ AuthError                        401 UNAUTHORIZED                    errors
    │  ├─ LockedOut                     429 LOCKED_OUT                      errors
    │  │  ├─ AttemptInFlight            429 ATTEMPT_IN_PROGRESS             net.lockout
    │  │  ├─ RateLimited                429 RATE_LIMITED                    net.lockout
    │  │  └─ HasherBusy                 429 BUSY                            net.passwords
    │  └─ SetupCodeWrong                401 SETUP_CODE_WRONG                net.setupcode
    ├─ ConfigError                      400 CONFIG_INVALID                  errors
    │  ├─ MultiTenantLocked             400 MULTI_TENANT_LOCKED             provisioning.credentials
    │  ├─ ActivationKeyMissing          400 ACTIVATION_NO_VENDOR_KEY        provisioning.document
    │  └─ ActivationMalformed           400 ACTIVATION_MALFORMED            provisioning.document
    ├─ ConflictError                    409 CONFLICT                        errors
    │  ├─ ArchiveConflict               409 ARCHIVE_CONFLICT                archive.store
    │  ├─ ArchiveIncomplete             409 ARCHIVE_INCOMPLETE              archive.service
    │  ├─ ArchiveShrank                 409 ARCHIVE_SHRANK                  archive.offboxsync
    │  ├─ ConfigNotSaved                409 CONFIG_NOT_SAVED                provisioning.anlegen
    │  ├─ CredentialsExist              409 CREDENTIALS_EXIST               provisioning.anlegen
    │  ├─ TooManyOpen                   409 TOO_MANY_OPEN_TRANSACTIONS      signing.opencap
    │  ├─ ExportFailed                  409 EXPORT_FAILED                   tss.exports
    │  ├─ FilingIncomplete              409 FILING_INCOMPLETE               filing.errors
    │  ├─ SubmissionFailed              409 SUBMISSION_FAILED               filing.errors
    │  ├─ SubmissionOpen                409 SUBMISSION_OPEN                 filing.errors
    │  └─ ExportTimeout                 504 EXPORT_TIMEOUT                  tss.exports
    ├─ ForbiddenError                   403 FORBIDDEN                       errors
    │  ├─ TenantMismatch                403 TENANT_MISMATCH                 errors
    │  ├─ ManagementRejected            403 MANAGEMENT_CREDENTIALS_REJECTED provisioning.anlegen
    │  ├─ ActivationBadSignature        403 ACTIVATION_BAD_SIGNATURE        provisioning.document
    │  ├─ ActivationExpired             403 ACTIVATION_EXPIRED              provisioning.document
    │  ├─ ActivationNotYetValid         403 ACTIVATION_NOT_YET_VALID        provisioning.document
    │  ├─ ActivationOtherDevice         403 ACTIVATION_OTHER_DEVICE         provisioning.document
    │  ├─ ActivationReplayed            403 ACTIVATION_REPLAYED             provisioning.document
    │  └─ WrongPassword                 403 PASSWORD_WRONG                  unit.setup_ops
    ├─ InputError                       400 INVALID_REQUEST                 errors
    │  ├─ VendorToolError               400 VENDOR_TOOL                     cli.vendor
    │  ├─ BodyTooLarge                  413 BODY_TOO_LARGE                  net.http
    │  ├─ MethodNotAllowed              405 METHOD_NOT_ALLOWED              net.http
    │  ├─ BodyTimeout                   408 BODY_TIMEOUT                    net.limits
    │  ├─ AddressMissing                400 ORGANIZATION_ADDRESS_MISSING    provisioning.anlegen
    │  ├─ FilingInvalid                 400 FILING_INVALID                  filing.errors
    │  ├─ ConfirmationRequired          400 CONFIRMATION_REQUIRED           provisioning.anlegen
    │  ├─ CredentialsRejected           400 CREDENTIALS_REJECTED            provisioning.anlegen
    │  ├─ WeakPassword                  400 PASSWORD_TOO_WEAK               unit.setup_ops
    │  └─ BackupError                   400 BACKUP_FAILED                   state.backupfile
    │     ├─ BackupDamaged              400 BACKUP_DAMAGED                  state.backupfile
    │     ├─ BackupPasswordWeak         400 BACKUP_PASSWORD_TOO_WEAK        state.backupfile
    │     ├─ BackupTooNew               409 BACKUP_TOO_NEW                  state.backupfile
    │     ├─ BackupWrongPassword        403 BACKUP_WRONG_PASSWORD           state.backupfile
    │     ├─ DaemonRunning              409 BACKUP_DAEMON_RUNNING           state.restore
    │     └─ RestoreRefused             409 BACKUP_UNIT_HOLDS_DATA          state.restore
    ├─ ModeError                        409 MODE_CONFLICT                   errors
    │  ├─ ModeMismatch                  403 MODE_MISMATCH                   errors
    │  ├─ ActivationDowngrade           409 ACTIVATION_DOWNGRADE            provisioning.activation
    │  ├─ ActivationMissing             409 ACTIVATION_MISSING              provisioning.activation
    │  └─ CredentialsTestOnly           409 CREDENTIALS_TEST_ONLY           provisioning.anlegen
    ├─ NotFoundError                    404 NOT_FOUND                       errors
    │  ├─ NoSuchRoute                   404 NO_SUCH_ROUTE                   net.http
    │  └─ PremisesUnknown               404 PREMISES_UNKNOWN                filing.errors
    ├─ StorageError                     507 STORAGE_FAILED                  errors
    │  ├─ StorageFull                   507 STORAGE_FULL                    errors
    │  ├─ StoreTooNew                   507 STORE_TOO_NEW                   state.store
    │  ├─ SwapPlanUnreadable            507 RESTORE_PLAN_UNREADABLE         state.swapplan
    │  └─ SwapUnfinished                507 RESTORE_UNFINISHED              state.restoreswap
    ├─ CommandFailed                    500 FAILED                          cli.adminclient
    │  ├─ NotConfirmed                  500 ABORTED                         cli.adminclient
    │  ├─ NotRunning                    500 NOT_RUNNING                     cli.adminclient
    │  ├─ SocketDenied                  500 PERMISSION_DENIED               cli.adminclient
    │  └─ UsageError                    500 USAGE                           cli.adminclient
    ├─ HttpRefused                      400 HTTP_ERROR                      net.http
    ├─ TelemetryFailed                  502 TELEMETRY_FAILED                unit.telemetry
    ├─ UpdateFailed                     500 UPDATE_FAILED                   unit.rauc
    │  ├─ UpdateBadSignature            403 UPDATE_BAD_SIGNATURE            unit.rauc
    │  ├─ UpdateDowngrade               409 UPDATE_DOWNGRADE                unit.rauc
    │  ├─ UpdateDownloadFailed          502 UPDATE_DOWNLOAD_FAILED          unit.rauc
    │  ├─ UpdateOtherDevice             409 UPDATE_OTHER_DEVICE_CLASS       unit.rauc
    │  └─ UpdateUnavailable             503 UPDATE_UNAVAILABLE              unit.rauc
    ├─ OffboxError                      502 OFFBOX_FAILED                   errors
    │  ├─ OffboxAuthFailed              502 OFFBOX_AUTH_FAILED              errors
    │  ├─ OffboxFull                    507 OFFBOX_FULL                     errors
    │  ├─ OffboxMissing                 404 OFFBOX_MISSING                  errors
    │  ├─ OffboxProxyFailed             502 OFFBOX_PROXY_FAILED             errors
    │  ├─ OffboxUnreachable             503 OFFBOX_UNREACHABLE              errors
    │  ├─ OffboxWrongPassword           502 OFFBOX_WRONG_PASSWORD           errors
    │  └─ ResticMissing                 503 RESTIC_MISSING                  errors
    ├─ FiskalyError                     502 FISKALY_ERROR                   fiskaly.errors
    │  ├─ FiskalyRejected               502 FISKALY_REJECTED                fiskaly.errors
    │  │  ├─ AccessDenied               403 FISKALY_ACCESS_DENIED           fiskaly.errors
    │  │  │  └─ EnvironmentMismatch     409 TEST_LIVE_MISMATCH              fiskaly.errors
    │  │  ├─ AdminPinBlocked            409 ADMIN_PIN_BLOCKED               fiskaly.errors
    │  │  ├─ AdminPinRejected           409 ADMIN_PIN_REJECTED              fiskaly.errors
    │  │  ├─ BadCredentials             502 FISKALY_BAD_CREDENTIALS         fiskaly.errors
    │  │  ├─ ClientDeregistered         409 CLIENT_DEREGISTERED             fiskaly.errors
    │  │  ├─ FiskalyNotFound            404 FISKALY_NOT_FOUND               fiskaly.errors
    │  │  ├─ LimitReached               409 FISKALY_LIMIT_REACHED           fiskaly.errors
    │  │  │  ├─ ClientLimitReached      409 CLIENT_LIMIT_REACHED            fiskaly.errors
    │  │  │  └─ TransactionLimitReached 409 OPEN_TRANSACTION_LIMIT_REACHED  fiskaly.errors
    │  │  ├─ RevisionConflict           409 TX_REVISION_CONFLICT            fiskaly.errors
    │  │  └─ TssNotReady                503 TSS_NOT_READY                   fiskaly.errors
    │  │     ├─ TssLocked               503 TSS_LOCKED                      fiskaly.errors
    │  │     └─ TssUnusable             503 TSS_UNUSABLE                    fiskaly.errors
    │  ├─ FiskalyUnavailable            503 FISKALY_UNAVAILABLE             fiskaly.errors
    │  │  ├─ DnsError                   503 DNS_FAILED                      fiskaly.errors
    │  │  ├─ FiskalyBusy                503 FISKALY_BUSY                    fiskaly.errors
    │  │  ├─ FiskalyRateLimited         503 FISKALY_RATE_LIMITED            fiskaly.errors
    │  │  ├─ FiskalyTimeout             504 FISKALY_TIMEOUT                 fiskaly.errors
    │  │  ├─ ProxyError                 503 PROXY_FAILED                    fiskaly.errors
    │  │  │  └─ ProxyAuthRequired       503 PROXY_AUTH_REQUIRED             fiskaly.errors
    │  │  └─ TlsError                   503 TLS_FAILED                      fiskaly.errors
    │  └─ ModelError                    502 FISKALY_BAD_RESPONSE            fiskaly.models
    ├─ UnsupportedApiVersion            400 FISKALY_V1_NOT_SUPPORTED        fiskaly.errors
    └─ ProcessDataError                 400 PROCESS_DATA_INVALID            fiskaly.processdata
"""

from __future__ import annotations

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


class ConfigError(TsedError, status=400, code="CONFIG_INVALID"):
    default_hint = "Correct the named setting and save again."


class InputError(TsedError, status=400, code="INVALID_REQUEST"):
    default_hint = (
        "Fix the request as described; the register API is documented in docs/register-api.md."
    )


class NotFoundError(TsedError, status=404, code="NOT_FOUND"):
    default_hint = "Check the id; it may belong to another register or unit."


class ConflictError(TsedError, status=409, code="CONFLICT"):
    default_hint = "The current state does not allow this call; see the message."


class AuthError(TsedError, status=401, code="UNAUTHORIZED"):
    default_hint = "Send 'Authorization: Bearer <token>' with a valid token."


class LockedOut(AuthError, status=429, code="LOCKED_OUT"):
    default_hint = "Too many failed attempts; wait and try again."


class ForbiddenError(TsedError, status=403, code="FORBIDDEN"):
    default_hint = "This credential may not do that."


class TenantMismatch(ForbiddenError, code="TENANT_MISMATCH"):
    """The installer bound the register to one tenant (pairing window or workplace setting);
    the register asked for another. The register never chooses the company it signs for."""

    default_hint = (
        "Leave 'tenant' out of the pairing request (the unit binds the register as the "
        "installer decided), or ask the installer to open the window for the right tenant "
        "(tsectl pair --tenant ID, the setup page or the console)."
    )


class ModeError(TsedError, status=409, code="MODE_CONFLICT"):
    """A TEST/LIVE rule forbids the call: credentials, TSS or activation of the other mode."""

    default_hint = "TEST and LIVE never mix; reset the register (tsectl reset) and re-initialize."


class ModeMismatch(ModeError, status=403, code="MODE_MISMATCH"):
    """A register uses state from the other environment (a TEST transaction after the switch
    to LIVE): caught by the unit before fiskaly would answer 403 "You may not access this TSS"."""

    default_hint = (
        "This register still holds TEST state: reset it (setup page or tsectl reset "
        "--register ID) and start a new transaction; TEST transactions cannot be finished "
        "in LIVE."
    )


class StorageError(TsedError, status=507, code="STORAGE_FAILED"):
    default_hint = (
        "The unit cannot write its state directory (disk full or read-only); free space or "
        "call service. No transaction was accepted."
    )


class StorageFull(StorageError, code="STORAGE_FULL"):
    """The state directory's file system is full: new work is refused, nothing is lost."""

    default_hint = (
        "The file system of the unit's state directory is full. Free space there: remove TSE "
        "exports or backups copied onto it, shrink the journal (journalctl --vacuum-size=50M), "
        "or enlarge the partition. The unit takes receipts again as soon as space is free; "
        "no restart is needed. No transaction was accepted by this call."
    )


class OffboxError(TsedError, status=502, code="OFFBOX_FAILED"):
    """The off-box copy of the archive failed; the local archive and signing are untouched."""

    default_hint = (
        "The local archive is unaffected. Check the backup target and run tsectl archive "
        "copy again; the journal (TSED_EVENT=offbox_*) has restic's message."
    )


class OffboxUnreachable(OffboxError, status=503, code="OFFBOX_UNREACHABLE"):
    default_hint = (
        "The backup target does not answer: check that it is switched on, its address and "
        "port (offbox.repository), the network and, for REST, its TLS certificate. The unit "
        "retries at the next archive run; the local archive is unaffected."
    )


class OffboxProxyFailed(OffboxError, code="OFFBOX_PROXY_FAILED"):
    default_hint = (
        "The shop's proxy (proxy.host, proxy.port) does not answer or refuses the backup "
        "target: check the proxy settings and its password, and ask the network administrator "
        "to allow the target's host and port."
    )


class OffboxAuthFailed(OffboxError, code="OFFBOX_AUTH_FAILED"):
    default_hint = (
        "The backup target refuses the unit: check offbox.user and the credential in the vault "
        "(the REST password, or the SSH key the target must list in authorized_keys)."
    )


class OffboxWrongPassword(OffboxError, code="OFFBOX_WRONG_PASSWORD"):
    default_hint = (
        "The repository password in the vault does not open this repository: enter the "
        "password the repository was created with (it is on the installer's record sheet). "
        "Without it the copy cannot be read by anyone."
    )


class OffboxMissing(OffboxError, status=404, code="OFFBOX_MISSING"):
    default_hint = (
        "There is no repository at offbox.repository: check the path; tsectl archive copy "
        "creates it on first use."
    )


class OffboxFull(OffboxError, status=507, code="OFFBOX_FULL"):
    default_hint = (
        "The backup target's disk is full: free space there or enlarge it. Nothing was "
        "removed from the local archive."
    )


class ResticMissing(OffboxError, status=503, code="RESTIC_MISSING"):
    default_hint = (
        "The restic program is not installed: apt-get install restic (Debian 12), or use the "
        "unit's image, which has it."
    )
