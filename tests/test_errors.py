"""One error tree: every exception class of tsed, its status and code, and where it is drawn.

:mod:`tsed.errors` draws the whole tree in its docstring (class, status, code, module), in the
way ``httpx/_exceptions.py`` does. This test imports every module of :mod:`tsed`, collects every
exception class defined there and holds it to :data:`TREE`: a new class without an entry, a
changed status or code, a shared code, or an exception outside the tree fails, and so does a
drawing that differs from the classes. The few classes outside the tree are internal signals
that never leave their module; :data:`OUTSIDE` names each with the reason, and the test checks
that no other module of tsed mentions them.

The codes the register API answers are listed in ``docs/register-api.md`` (section 9); the
last tests derive them from the modules on the register API's path and compare.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
import re
from functools import cache
from pathlib import Path
from types import ModuleType

import tsed
import tsed.errors
from tests.support.register_errors import documented_register_errors, status_matches
from tsed.errors import TsedError
from tsed.net.openapi import ERRORS, openapi_document

# class path: (HTTP status, stable code)
TREE: dict[str, tuple[int, str]] = {
    "tsed.cli.adminclient.CommandFailed": (500, "FAILED"),
    "tsed.cli.adminclient.NotConfirmed": (500, "ABORTED"),
    "tsed.cli.adminclient.NotRunning": (500, "NOT_RUNNING"),
    "tsed.cli.adminclient.SocketDenied": (500, "PERMISSION_DENIED"),
    "tsed.cli.adminclient.UsageError": (500, "USAGE"),
    "tsed.cli.vendor.VendorToolError": (400, "VENDOR_TOOL"),
    "tsed.errors.AuthError": (401, "UNAUTHORIZED"),
    "tsed.errors.ConfigError": (400, "CONFIG_INVALID"),
    "tsed.errors.ConflictError": (409, "CONFLICT"),
    "tsed.errors.ForbiddenError": (403, "FORBIDDEN"),
    "tsed.errors.InputError": (400, "INVALID_REQUEST"),
    "tsed.errors.LockedOut": (429, "LOCKED_OUT"),
    "tsed.errors.ModeError": (409, "MODE_CONFLICT"),
    "tsed.errors.ModeMismatch": (403, "MODE_MISMATCH"),
    "tsed.errors.NotFoundError": (404, "NOT_FOUND"),
    "tsed.errors.StorageError": (507, "STORAGE_FAILED"),
    "tsed.state.backupfile.BackupError": (400, "BACKUP_FAILED"),
    "tsed.state.backupfile.BackupDamaged": (400, "BACKUP_DAMAGED"),
    "tsed.state.backupfile.BackupPasswordWeak": (400, "BACKUP_PASSWORD_TOO_WEAK"),
    "tsed.state.backupfile.BackupTooNew": (409, "BACKUP_TOO_NEW"),
    "tsed.state.backupfile.BackupWrongPassword": (403, "BACKUP_WRONG_PASSWORD"),
    "tsed.state.restore.DaemonRunning": (409, "BACKUP_DAEMON_RUNNING"),
    "tsed.state.restore.RestoreRefused": (409, "BACKUP_UNIT_HOLDS_DATA"),
    "tsed.errors.StorageFull": (507, "STORAGE_FULL"),
    "tsed.state.store.StoreTooNew": (507, "STORE_TOO_NEW"),
    "tsed.state.swapplan.SwapPlanUnreadable": (507, "RESTORE_PLAN_UNREADABLE"),
    "tsed.state.restoreswap.SwapUnfinished": (507, "RESTORE_UNFINISHED"),
    "tsed.unit.telemetry.TelemetryFailed": (502, "TELEMETRY_FAILED"),
    "tsed.unit.rauc.UpdateFailed": (500, "UPDATE_FAILED"),
    "tsed.unit.rauc.UpdateBadSignature": (403, "UPDATE_BAD_SIGNATURE"),
    "tsed.unit.rauc.UpdateDowngrade": (409, "UPDATE_DOWNGRADE"),
    "tsed.unit.rauc.UpdateDownloadFailed": (502, "UPDATE_DOWNLOAD_FAILED"),
    "tsed.unit.rauc.UpdateOtherDevice": (409, "UPDATE_OTHER_DEVICE_CLASS"),
    "tsed.unit.rauc.UpdateUnavailable": (503, "UPDATE_UNAVAILABLE"),
    "tsed.archive.store.ArchiveConflict": (409, "ARCHIVE_CONFLICT"),
    "tsed.archive.service.ArchiveIncomplete": (409, "ARCHIVE_INCOMPLETE"),
    "tsed.archive.offboxsync.ArchiveShrank": (409, "ARCHIVE_SHRANK"),
    "tsed.errors.OffboxError": (502, "OFFBOX_FAILED"),
    "tsed.errors.OffboxAuthFailed": (502, "OFFBOX_AUTH_FAILED"),
    "tsed.errors.OffboxFull": (507, "OFFBOX_FULL"),
    "tsed.errors.OffboxMissing": (404, "OFFBOX_MISSING"),
    "tsed.errors.OffboxProxyFailed": (502, "OFFBOX_PROXY_FAILED"),
    "tsed.errors.OffboxUnreachable": (503, "OFFBOX_UNREACHABLE"),
    "tsed.errors.OffboxWrongPassword": (502, "OFFBOX_WRONG_PASSWORD"),
    "tsed.errors.ResticMissing": (503, "RESTIC_MISSING"),
    "tsed.errors.TenantMismatch": (403, "TENANT_MISMATCH"),
    "tsed.fiskaly.errors.AccessDenied": (403, "FISKALY_ACCESS_DENIED"),
    "tsed.fiskaly.errors.AdminPinBlocked": (409, "ADMIN_PIN_BLOCKED"),
    "tsed.fiskaly.errors.AdminPinRejected": (409, "ADMIN_PIN_REJECTED"),
    "tsed.fiskaly.errors.BadCredentials": (502, "FISKALY_BAD_CREDENTIALS"),
    "tsed.fiskaly.errors.ClientDeregistered": (409, "CLIENT_DEREGISTERED"),
    "tsed.fiskaly.errors.ClientLimitReached": (409, "CLIENT_LIMIT_REACHED"),
    "tsed.fiskaly.errors.DnsError": (503, "DNS_FAILED"),
    "tsed.fiskaly.errors.EnvironmentMismatch": (409, "TEST_LIVE_MISMATCH"),
    "tsed.fiskaly.errors.FiskalyBusy": (503, "FISKALY_BUSY"),
    "tsed.fiskaly.errors.FiskalyError": (502, "FISKALY_ERROR"),
    "tsed.fiskaly.errors.FiskalyNotFound": (404, "FISKALY_NOT_FOUND"),
    "tsed.fiskaly.errors.FiskalyRateLimited": (503, "FISKALY_RATE_LIMITED"),
    "tsed.fiskaly.errors.FiskalyRejected": (502, "FISKALY_REJECTED"),
    "tsed.fiskaly.errors.FiskalyTimeout": (504, "FISKALY_TIMEOUT"),
    "tsed.fiskaly.errors.FiskalyUnavailable": (503, "FISKALY_UNAVAILABLE"),
    "tsed.fiskaly.errors.LimitReached": (409, "FISKALY_LIMIT_REACHED"),
    "tsed.fiskaly.errors.ProxyAuthRequired": (503, "PROXY_AUTH_REQUIRED"),
    "tsed.fiskaly.errors.ProxyError": (503, "PROXY_FAILED"),
    "tsed.fiskaly.errors.RevisionConflict": (409, "TX_REVISION_CONFLICT"),
    "tsed.fiskaly.errors.TlsError": (503, "TLS_FAILED"),
    "tsed.fiskaly.errors.TransactionLimitReached": (409, "OPEN_TRANSACTION_LIMIT_REACHED"),
    "tsed.fiskaly.errors.TsedError": (500, "INTERNAL"),
    "tsed.fiskaly.errors.TssLocked": (503, "TSS_LOCKED"),
    "tsed.fiskaly.errors.TssNotReady": (503, "TSS_NOT_READY"),
    "tsed.fiskaly.errors.TssUnusable": (503, "TSS_UNUSABLE"),
    "tsed.fiskaly.errors.UnsupportedApiVersion": (400, "FISKALY_V1_NOT_SUPPORTED"),
    "tsed.fiskaly.models.ModelError": (502, "FISKALY_BAD_RESPONSE"),
    "tsed.fiskaly.processdata.ProcessDataError": (400, "PROCESS_DATA_INVALID"),
    "tsed.net.http.BodyTooLarge": (413, "BODY_TOO_LARGE"),
    "tsed.net.http.HttpRefused": (400, "HTTP_ERROR"),
    "tsed.net.http.MethodNotAllowed": (405, "METHOD_NOT_ALLOWED"),
    "tsed.net.http.NoSuchRoute": (404, "NO_SUCH_ROUTE"),
    "tsed.net.limits.BodyTimeout": (408, "BODY_TIMEOUT"),
    "tsed.net.lockout.AttemptInFlight": (429, "ATTEMPT_IN_PROGRESS"),
    "tsed.net.lockout.RateLimited": (429, "RATE_LIMITED"),
    "tsed.net.passwords.HasherBusy": (429, "BUSY"),
    "tsed.provisioning.activation.ActivationDowngrade": (409, "ACTIVATION_DOWNGRADE"),
    "tsed.provisioning.activation.ActivationMissing": (409, "ACTIVATION_MISSING"),
    "tsed.provisioning.anlegen.AddressMissing": (400, "ORGANIZATION_ADDRESS_MISSING"),
    "tsed.provisioning.anlegen.ConfigNotSaved": (409, "CONFIG_NOT_SAVED"),
    "tsed.provisioning.anlegen.ConfirmationRequired": (400, "CONFIRMATION_REQUIRED"),
    "tsed.provisioning.anlegen.CredentialsExist": (409, "CREDENTIALS_EXIST"),
    "tsed.provisioning.anlegen.CredentialsRejected": (400, "CREDENTIALS_REJECTED"),
    "tsed.provisioning.anlegen.CredentialsTestOnly": (409, "CREDENTIALS_TEST_ONLY"),
    "tsed.provisioning.anlegen.ManagementRejected": (403, "MANAGEMENT_CREDENTIALS_REJECTED"),
    "tsed.provisioning.credentials.MultiTenantLocked": (400, "MULTI_TENANT_LOCKED"),
    "tsed.provisioning.document.ActivationBadSignature": (403, "ACTIVATION_BAD_SIGNATURE"),
    "tsed.provisioning.document.ActivationExpired": (403, "ACTIVATION_EXPIRED"),
    "tsed.provisioning.document.ActivationKeyMissing": (400, "ACTIVATION_NO_VENDOR_KEY"),
    "tsed.provisioning.document.ActivationMalformed": (400, "ACTIVATION_MALFORMED"),
    "tsed.provisioning.document.ActivationNotYetValid": (403, "ACTIVATION_NOT_YET_VALID"),
    "tsed.provisioning.document.ActivationOtherDevice": (403, "ACTIVATION_OTHER_DEVICE"),
    "tsed.provisioning.document.ActivationReplayed": (403, "ACTIVATION_REPLAYED"),
    "tsed.signing.opencap.TooManyOpen": (409, "TOO_MANY_OPEN_TRANSACTIONS"),
    "tsed.tss.exports.ExportFailed": (409, "EXPORT_FAILED"),
    "tsed.filing.errors.FilingIncomplete": (409, "FILING_INCOMPLETE"),
    "tsed.filing.errors.FilingInvalid": (400, "FILING_INVALID"),
    "tsed.filing.errors.PremisesUnknown": (404, "PREMISES_UNKNOWN"),
    "tsed.filing.errors.SubmissionFailed": (409, "SUBMISSION_FAILED"),
    "tsed.filing.errors.SubmissionOpen": (409, "SUBMISSION_OPEN"),
    "tsed.tss.exports.ExportTimeout": (504, "EXPORT_TIMEOUT"),
    "tsed.net.setupcode.SetupCodeWrong": (401, "SETUP_CODE_WRONG"),
    "tsed.unit.setup_ops.WeakPassword": (400, "PASSWORD_TOO_WEAK"),
    "tsed.unit.setup_ops.WrongPassword": (403, "PASSWORD_WRONG"),
}

# class path: (where it may be mentioned, why it is not part of the tree)
OUTSIDE: dict[str, tuple[str, str]] = {
    "tsed.cli.update_health.Unhealthy": (
        "tsed.cli.update_health",
        "one failed step of the health check of a new root slot; it becomes the recorded "
        "reason of the rollback and never leaves the command",
    ),
    "tsed.cli.console.LineTooLong": (
        "tsed.cli.console",
        "LineIO's signal to the console loop that it dropped an overlong line; the loop "
        "answers the person at the serial port itself",
    ),
    "tsed.cli.console.PortClosed": (
        "tsed.cli.console",
        "LineIO's signal that the console is stopping; it ends the console loop",
    ),
    "tsed.fiskaly.simulator.model.SimError": (
        "tsed.fiskaly.simulator",
        "the simulator's model of fiskaly's own error answers (fiskaly's status and E_ code "
        "per instance); its app answers it as fiskaly's JSON, tsed meets it only as an HTTP "
        "answer of fiskaly",
    ),
    "tsed.fiskaly.simulator.persist.SimStateTooNew": (
        "tsed.fiskaly.simulator",
        "the simulator's refusal of a state directory a newer simulator wrote; "
        "tsed-fiskaly-sim prints it and exits (the unit's backend checks the version first "
        "and refuses with StoreTooNew)",
    ),
    "tsed.fiskaly.tarverify._Truncated": (
        "tsed.fiskaly.tarverify",
        "the archive reader's signal that the file was cut off; it becomes a finding",
    ),
    "tsed.net.http._DuplicateKey": (
        "tsed.net.http",
        "the JSON parser's signal for a key twice in one object; it becomes an InputError",
    ),
    "tsed.signing.idempotency.Resume": (
        "tsed.signing",
        "an idempotent finish/cancel recorded but never carried out: resumed by the caller",
    ),
}

# The modules whose errors reach a register (the register API's handlers, the plumbing of its
# server and the implementations of its dependencies): every class they build is answerable.
REGISTER_PATH = (
    "tsed.net.api",
    "tsed.net.auth",
    "tsed.net.http",
    "tsed.net.limits",
    "tsed.net.lockout",
    "tsed.signing",
    "tsed.config.tenancy",
    "tsed.unit.registers",
    "tsed.unit.signing_ops",
    "tsed.unit.simswitches",
    "tsed.state.store",
)
# documented statuses the OpenAPI document does not declare per operation, and why
NOT_PER_OPERATION = {
    "408": "a body that trickles in is refused by the connection layer, before any operation",
    "4xx": "HTTP_ERROR: a refusal of the HTTP library, not of an operation",
    "500": "a bug; the fuzz test (tests/net/test_api_fuzz.py) asserts it never happens",
}
_DRAWN = re.compile(
    r"^    (?P<lead>(?:[│ ]  )*(?:[├└]─ )?)(?P<name>\w+) +(?P<status>\d{3}) "
    r"(?P<code>[A-Z0-9_]+) +(?P<module>[\w.]+)$"
)


@cache
def _modules() -> tuple[ModuleType, ...]:
    found = [tsed]
    for info in pkgutil.walk_packages(tsed.__path__, "tsed."):
        found.append(importlib.import_module(info.name))
    return tuple(found)


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@cache
def _exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of tsed, by its path."""
    found: dict[str, type[BaseException]] = {}
    for module in _modules():
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[_path(value)] = value
    pending = [TsedError]  # and every subclass, wherever it hides
    while pending:
        cls = pending.pop()
        found[_path(cls)] = cls
        pending.extend(cls.__subclasses__())
    return found


def _tree() -> dict[str, type[TsedError]]:
    return {path: cls for path, cls in _exceptions().items() if issubclass(cls, TsedError)}


def _source(module: ModuleType) -> str:
    assert module.__file__ is not None
    return Path(module.__file__).read_text(encoding="utf-8")


def test_every_error_class_is_in_the_table_with_its_status_and_code() -> None:
    tree = _tree()
    actual = {path: (cls.status, cls.code) for path, cls in tree.items()}
    assert set(actual) - set(TREE) == set(), "a new error class: add it to TREE and the drawing"
    assert set(TREE) - set(actual) == set(), "an error class is gone: remove it from TREE"
    changed = {path: (TREE[path], now) for path, now in actual.items() if TREE[path] != now}
    assert changed == {}, "status or code changed (table, found): codes are a contract"


def test_no_exception_class_stands_outside_the_tree_unless_listed() -> None:
    outside = {path for path, cls in _exceptions().items() if not issubclass(cls, TsedError)}
    assert outside == set(OUTSIDE), "derive it from TsedError, or list it in OUTSIDE with why"


def test_every_error_class_is_defined_at_module_level() -> None:
    """A class inside a function or class would escape the walk above."""
    names = {name for name, value in vars(builtins).items() if inspect.isclass(value)}
    names = {name for name in names if issubclass(getattr(builtins, name), BaseException)}
    names |= {cls.__name__ for cls in _exceptions().values()}
    hidden = []
    for module in _modules():
        tree = ast.parse(_source(module))
        top = set(tree.body)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef) or node in top:
                continue
            bases = {
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            }
            if bases & names:
                hidden.append(f"{module.__name__}: {node.name}")
    assert hidden == []


def test_codes_are_unique_and_upper_snake() -> None:
    by_code: dict[str, list[str]] = {}
    for path, cls in _tree().items():
        by_code.setdefault(cls.code, []).append(path)
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*", cls.code), path
    assert {code: paths for code, paths in by_code.items() if len(paths) > 1} == {}


def test_statuses_are_error_statuses() -> None:
    assert all(400 <= cls.status <= 599 for cls in _tree().values())


def test_the_classes_outside_the_tree_stay_where_they_are_listed() -> None:
    for path, (scope, reason) in OUTSIDE.items():
        assert reason
        name = path.rsplit(".", 1)[1]
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        strays = [
            module.__name__
            for module in _modules()
            if module.__name__ != scope
            and not module.__name__.startswith(f"{scope}.")
            and pattern.search(_source(module))
        ]
        assert strays == [], f"{path} is used outside {scope}: make it part of the tree"


def _drawing() -> list[tuple[str, str | None, int, str, str]]:
    """(class, parent, status, code, module) for each line of the drawing, in order."""
    doc = tsed.errors.__doc__ or ""
    block = doc[doc.index("::\n\n") + 4 :]
    rows: list[tuple[str, str | None, int, str, str]] = []
    parents: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        drawn = _DRAWN.match(line)
        assert drawn, f"a line of the drawing does not read as class, status, code, module: {line}"
        depth = len(drawn["lead"]) // 3
        assert depth <= len(parents), f"a line skips a level: {line}"
        del parents[depth:]
        parent = parents[-1] if parents else None
        rows.append((drawn["name"], parent, int(drawn["status"]), drawn["code"], drawn["module"]))
        parents.append(drawn["name"])
    return rows


def test_the_docstring_draws_exactly_the_tree() -> None:
    rows = _drawing()
    names = [row[0] for row in rows]
    assert len(names) == len(set(names)), "a class is drawn twice"
    assert rows[0][:2] == ("TsedError", None) and [r for r in rows if r[1] is None] == rows[:1]
    actual = set()
    for cls in _tree().values():
        parent = next((b for b in cls.__bases__ if issubclass(b, TsedError)), None)
        module = cls.__module__.removeprefix("tsed.")
        actual.add((cls.__name__, parent and parent.__name__, cls.status, cls.code, module))
    assert set(rows) - actual == set(), "drawn, but no such class (or another status/code)"
    assert actual - set(rows) == set(), "a class the drawing misses"


def test_the_drawing_fits_the_line_length() -> None:
    doc = tsed.errors.__doc__ or ""
    assert max(len(line) for line in doc.splitlines()) <= 100


@cache
def _register_classes() -> dict[str, type[TsedError]]:
    """Every error class a module on the register API's path builds (raises or returns)."""
    modules = []
    for name in REGISTER_PATH:
        module = importlib.import_module(name)
        modules.append(module)
        if hasattr(module, "__path__"):
            modules += [
                importlib.import_module(info.name)
                for info in pkgutil.walk_packages(module.__path__, f"{name}.")
            ]
    found: dict[str, type[TsedError]] = {}
    for module in modules:
        space = vars(module)
        for node in ast.walk(ast.parse(_source(module))):
            if not isinstance(node, ast.Call):
                continue
            target: object = None
            if isinstance(node.func, ast.Name):
                target = space.get(node.func.id)
            elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                owner = space.get(node.func.value.id)
                if inspect.ismodule(owner):
                    target = getattr(owner, node.func.attr, None)
            if inspect.isclass(target) and issubclass(target, TsedError):
                found[_path(target)] = target
    return found


def test_the_register_api_error_table_is_complete_and_matches_the_classes() -> None:
    documented = documented_register_errors()
    answerable = {cls.code: cls for cls in _register_classes().values()}
    assert "MODE_MISMATCH" in answerable and "NO_SUCH_ROUTE" in answerable  # the scan works
    assert set(answerable) - set(documented) == set(), "answerable, but not in the docs' table"
    assert set(documented) - set(answerable) == set(), "in the docs' table, but never built"
    wrong = {
        code: (documented[code], cls.status)
        for code, cls in answerable.items()
        if not status_matches(documented[code], cls.status)
    }
    assert wrong == {}, "the docs' table states another status than the class"


def test_the_openapi_document_declares_the_documented_statuses() -> None:
    declared = set(ERRORS)
    documented = set(documented_register_errors().values())
    assert declared == documented - set(NOT_PER_OPERATION)
    # The code is a free string in the OpenAPI document (no enum): a generated client keeps
    # working when a code is added; the table in docs/register-api.md is the list.
    error = openapi_document()["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["properties"]["code"] == {"type": "string"}
