"""fiskaly SIGN DE API V2: client, Management API v0 client, models, errors and simulator.

This package is the lowest layer of tsed and imports nothing else of tsed, so that it could be
published on its own. The project's error root, :class:`TsedError`, therefore lives in
:mod:`tsed.fiskaly.errors` and is re-exported by :mod:`tsed.errors`.

Its face is this module: every name other domains use is importable from :mod:`tsed.fiskaly`
(``tests/fiskaly/test_public_api.py`` pins the list). The names load on first use, so that
importing :mod:`tsed.fiskaly.errors` (every command line does, through :mod:`tsed.errors`)
does not load the HTTP client, the TAR verifier or the simulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tsed.fiskaly import errors
    from tsed.fiskaly.calls import DEFAULT_BASE_URL
    from tsed.fiskaly.client import FiskalyClient
    from tsed.fiskaly.errors import (
        AccessDenied,
        AdminPinBlocked,
        AdminPinRejected,
        BadCredentials,
        ClientDeregistered,
        ClientLimitReached,
        DnsError,
        EnvironmentMismatch,
        FiskalyBusy,
        FiskalyError,
        FiskalyNotFound,
        FiskalyRateLimited,
        FiskalyRejected,
        FiskalyTimeout,
        FiskalyUnavailable,
        LimitReached,
        ProxyAuthRequired,
        ProxyError,
        RevisionConflict,
        TlsError,
        TransactionLimitReached,
        TsedError,
        TssLocked,
        TssNotReady,
        TssUnusable,
        UnsupportedApiVersion,
    )
    from tsed.fiskaly.management import (
        DEFAULT_MANAGEMENT_URL,
        ManagementClient,
    )
    from tsed.fiskaly.models import (
        ApiKey,
        AuthToken,
        Client,
        Export,
        ModelError,
        Organization,
        Transaction,
        Tss,
    )
    from tsed.fiskaly.processdata import (
        PROCESS_TYPE_RECEIPT,
        RECEIPT_TYPE_TO_VORGANGSTYP,
        VAT_RATES,
        ProcessDataError,
        receipt_process_data,
    )
    from tsed.fiskaly.session import check_v2_url
    from tsed.fiskaly.simulator import (
        Simulator,
        SimulatorServer,
    )
    from tsed.fiskaly.tarreport import (
        Finding,
        TarReport,
        report_lines,
    )
    from tsed.fiskaly.tarverify import AUD_NAME, CERT_NAME, SYS_NAME, TX_NAME, verify_tar
    from tsed.fiskaly.transport import (
        HttpCore,
        ProxySettings,
        RetryPolicy,
        Timeouts,
    )

# the submodules that are names of the face themselves
_SUBMODULES = frozenset({"errors"})
# where each other name lives: the submodule loaded on first use
_HOMES: dict[str, str] = {
    "FiskalyClient": "tsed.fiskaly.client",
    "DEFAULT_BASE_URL": "tsed.fiskaly.calls",
    "DEFAULT_MANAGEMENT_URL": "tsed.fiskaly.management",
    "ManagementClient": "tsed.fiskaly.management",
    "check_v2_url": "tsed.fiskaly.session",
    "ApiKey": "tsed.fiskaly.models",
    "AuthToken": "tsed.fiskaly.models",
    "Client": "tsed.fiskaly.models",
    "Export": "tsed.fiskaly.models",
    "ModelError": "tsed.fiskaly.models",
    "Organization": "tsed.fiskaly.models",
    "Transaction": "tsed.fiskaly.models",
    "Tss": "tsed.fiskaly.models",
    "AccessDenied": "tsed.fiskaly.errors",
    "AdminPinBlocked": "tsed.fiskaly.errors",
    "AdminPinRejected": "tsed.fiskaly.errors",
    "BadCredentials": "tsed.fiskaly.errors",
    "ClientDeregistered": "tsed.fiskaly.errors",
    "ClientLimitReached": "tsed.fiskaly.errors",
    "DnsError": "tsed.fiskaly.errors",
    "EnvironmentMismatch": "tsed.fiskaly.errors",
    "FiskalyBusy": "tsed.fiskaly.errors",
    "FiskalyError": "tsed.fiskaly.errors",
    "FiskalyNotFound": "tsed.fiskaly.errors",
    "FiskalyRateLimited": "tsed.fiskaly.errors",
    "FiskalyRejected": "tsed.fiskaly.errors",
    "FiskalyTimeout": "tsed.fiskaly.errors",
    "FiskalyUnavailable": "tsed.fiskaly.errors",
    "LimitReached": "tsed.fiskaly.errors",
    "ProxyAuthRequired": "tsed.fiskaly.errors",
    "ProxyError": "tsed.fiskaly.errors",
    "RevisionConflict": "tsed.fiskaly.errors",
    "TlsError": "tsed.fiskaly.errors",
    "TransactionLimitReached": "tsed.fiskaly.errors",
    "TsedError": "tsed.fiskaly.errors",
    "TssLocked": "tsed.fiskaly.errors",
    "TssNotReady": "tsed.fiskaly.errors",
    "TssUnusable": "tsed.fiskaly.errors",
    "UnsupportedApiVersion": "tsed.fiskaly.errors",
    "HttpCore": "tsed.fiskaly.transport",
    "ProxySettings": "tsed.fiskaly.transport",
    "RetryPolicy": "tsed.fiskaly.transport",
    "Timeouts": "tsed.fiskaly.transport",
    "PROCESS_TYPE_RECEIPT": "tsed.fiskaly.processdata",
    "RECEIPT_TYPE_TO_VORGANGSTYP": "tsed.fiskaly.processdata",
    "VAT_RATES": "tsed.fiskaly.processdata",
    "ProcessDataError": "tsed.fiskaly.processdata",
    "receipt_process_data": "tsed.fiskaly.processdata",
    "verify_tar": "tsed.fiskaly.tarverify",
    "AUD_NAME": "tsed.fiskaly.tarverify",
    "CERT_NAME": "tsed.fiskaly.tarverify",
    "SYS_NAME": "tsed.fiskaly.tarverify",
    "TX_NAME": "tsed.fiskaly.tarverify",
    "Finding": "tsed.fiskaly.tarreport",
    "TarReport": "tsed.fiskaly.tarreport",
    "report_lines": "tsed.fiskaly.tarreport",
    "Simulator": "tsed.fiskaly.simulator",
    "SimulatorServer": "tsed.fiskaly.simulator",
}

__all__ = [
    "AUD_NAME",
    "CERT_NAME",
    "DEFAULT_BASE_URL",
    "DEFAULT_MANAGEMENT_URL",
    "PROCESS_TYPE_RECEIPT",
    "RECEIPT_TYPE_TO_VORGANGSTYP",
    "SYS_NAME",
    "TX_NAME",
    "VAT_RATES",
    "AccessDenied",
    "AdminPinBlocked",
    "AdminPinRejected",
    "ApiKey",
    "AuthToken",
    "BadCredentials",
    "Client",
    "ClientDeregistered",
    "ClientLimitReached",
    "DnsError",
    "EnvironmentMismatch",
    "Export",
    "Finding",
    "FiskalyBusy",
    "FiskalyClient",
    "FiskalyError",
    "FiskalyNotFound",
    "FiskalyRateLimited",
    "FiskalyRejected",
    "FiskalyTimeout",
    "FiskalyUnavailable",
    "HttpCore",
    "LimitReached",
    "ManagementClient",
    "ModelError",
    "Organization",
    "ProcessDataError",
    "ProxyAuthRequired",
    "ProxyError",
    "ProxySettings",
    "RetryPolicy",
    "RevisionConflict",
    "Simulator",
    "SimulatorServer",
    "TarReport",
    "Timeouts",
    "TlsError",
    "Transaction",
    "TransactionLimitReached",
    "TsedError",
    "Tss",
    "TssLocked",
    "TssNotReady",
    "TssUnusable",
    "UnsupportedApiVersion",
    "check_v2_url",
    "errors",
    "receipt_process_data",
    "report_lines",
    "verify_tar",
]


if not TYPE_CHECKING:  # the type checker sees the imports above, and only those

    def __getattr__(name: str) -> Any:
        if name in _SUBMODULES:
            return importlib.import_module(f"{__name__}.{name}")
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
