"""The simulator's signed system and audit logs (TR-03151), and its certificate authority.

Each operation of the SMAERS that TR-03151 / TR-03153-1 logs consumes one signature counter
and leaves one signed log for exports, named as TR-03151 §5.1.2 prescribes:

==========================  =====================================================
simulator event             log (operationType, systemOperationData)
==========================  =====================================================
deploy (UNINITIALIZED)      audit log (``seAuditData``), then ``updateTime``
changeAdminPin (PUK)        ``unblockUser`` (user ``admin``, ok; a wrong PUK is not logged)
authenticateAdmin           ``authenticateUser`` (admin, result true / **false**)
logoutAdmin                 ``logOut`` (admin, cause user)
INITIALIZED                 ``initialize`` (the TSS description)
DISABLED                    ``disableSecureElement`` (time of deactivation)
client REGISTERED           ``registerClient`` (client serial number)
client DEREGISTERED         ``deregisterClient`` (client serial number)
==========================  =====================================================

A failed admin login is signed as well, so the counters of an export stay continuous. The
audit log at deploy takes counter 23 and the ``updateTime`` log 24, so a TSS answers the
signature counter fiskaly shows after deploy (reference §12.3). ``seAuditData`` is the
simulator's own: ``SEQUENCE { [0] IMPLICIT INTEGER time, [1] IMPLICIT PrintableString event }``
(TR-03151 leaves its content to the manufacturer).
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

from asn1crypto import core

from tsed.fiskaly.simulator.model import DEPLOY_SIGNATURE_COUNTER, LogEntry, Tss
from tsed.fiskaly.simulator.persist import SimPersistence
from tsed.fiskaly.simulator.support import SimCa, make_ca
from tsed.fiskaly.tr03151 import audit_log_data, sign_log, system_log_data
from tsed.fiskaly.tr03151_asn1 import encode_operation_data


class SimState(Protocol):
    """What the signed logs need of the simulator's state (the engine's ``SimState``)."""

    logs: dict[str, list[LogEntry]]
    persist: SimPersistence | None

    def now(self) -> int: ...


ADMIN_USER = "admin"


class SimAuditData(core.Sequence):
    """The simulator's ``seAuditData``."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("time", core.Integer, {"implicit": 0}),
        ("event", core.PrintableString, {"implicit": 1}),
    ]


def load_ca(persist: SimPersistence | None, now: float) -> SimCa:
    """The CA of a persistent simulator survives restarts (its TSS certificates must chain)."""
    if persist is not None:
        key_pem, cert = persist.setting("ca_key"), persist.setting("ca_certificate")
        if key_pem and cert:
            return SimCa.restore(key_pem, cert)
    ca = make_ca(now)
    if persist is not None:
        persist.set_setting("ca_key", ca.key_pem())
        persist.set_setting("ca_certificate", base64.b64encode(ca.certificate).decode())
    return ca


def _keep(state: SimState, entry: LogEntry) -> None:
    state.logs.setdefault(entry.tss_id, []).append(entry)
    if state.persist:
        state.persist.save_log(entry)


def system_log(state: SimState, tss: Tss, operation: str, **fields: Any) -> None:
    """Sign the system log of ``operation`` (consumes one signature counter)."""
    tss.signature_counter += 1
    now = state.now()
    data = system_log_data(
        operation=operation,
        event_data=encode_operation_data(operation, **fields),
        public_key=tss.public_key,
        signature_counter=tss.signature_counter,
        log_time=now,
    )
    name = f"Unixt_{now}_Sig-{tss.signature_counter}_Log-Sys_{operation}.log"
    _keep(state, LogEntry(tss.id, tss.signature_counter, now, name, data,
                          sign_log(tss.private_key, data)))  # fmt: skip


def audit_log(state: SimState, tss: Tss, event: str) -> None:
    """Sign an audit log (consumes one signature counter)."""
    tss.signature_counter += 1
    now = state.now()
    audit = SimAuditData({"time": now, "event": event}).dump()
    data = audit_log_data(
        audit_data=audit,
        public_key=tss.public_key,
        signature_counter=tss.signature_counter,
        log_time=now,
    )
    name = f"Unixt_{now}_Sig-{tss.signature_counter}_Log-Aud.log"
    _keep(state, LogEntry(tss.id, tss.signature_counter, now, name, data,
                          sign_log(tss.private_key, data)))  # fmt: skip


def deploy_logs(state: SimState, tss: Tss) -> None:
    """CREATED → UNINITIALIZED: the audit log and the first time setting of the SE."""
    tss.signature_counter = max(tss.signature_counter, DEPLOY_SIGNATURE_COUNTER - 2)
    audit_log(state, tss, "deploy")
    now = state.now()
    system_log(state, tss, "updateTime", time_before_update=now, time_after_update=now)
