"""The certificate and certification watch of every TSS the unit uses.

fiskaly's TSS object carries ``certificate`` (base64 DER X.509 of the TSS signing key; fiskaly
signs nothing with a TSS whose certificate expired: ``E_CERTIFICATE_EXPIRED``) and
``bsi_certification_id`` (the BSI certification of the SMAERS, shown in UNINITIALIZED,
INITIALIZED and DISABLED). The watch reads both for each TSS in use:

* the certificate's ``notAfter`` and the days left; at 180, 90 and 30 days (and once expired)
  a warning in the journal (``TSED_EVENT=certificate_expiry``, once per threshold), and, for as
  long as it lasts, a German text naming what to do (``tsectl status``, the setup page's
  banner, the gauge ``tsed_certificate_days_left``);
* the certification id: the first one seen is kept with its date; a different one later is a
  **reportable event** (:class:`CertificationEvent`, ``TSED_EVENT=certification_changed``),
  kept for good in ``certification.json`` for the notification duty (§ 146a Abs. 4 AO) to
  report: :meth:`CertificationLog.events` lists them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from tsed.errors import TsedError
from tsed.fiskaly.models import Tss
from tsed.state.files import atomic_write
from tsed.tss.registry import UpstreamRegistry

_LOGGER = logging.getLogger(__name__)
THRESHOLDS = (180, 90, 30)  # days before expiry the watch warns at
DAY = 86400.0
KEEP_EVENTS = 200


def _day(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).date().isoformat()


def german_day(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%d.%m.%Y")


def certificate_expiry(certificate: str) -> float:
    """The ``notAfter`` of a base64 DER X.509 certificate, as a Unix time."""
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(certificate, validate=True))
    except (ValueError, binascii.Error) as err:
        raise ValueError(f"the TSS certificate cannot be read: {err}") from None
    return cert.not_valid_after_utc.timestamp()


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    """One TSS's certificate and certification, as the watch read them."""

    tenant: str
    tss_id: str
    not_after: float | None  # the certificate's notAfter (Unix time)
    days_left: int | None  # whole days until then (negative: expired)
    threshold: int | None  # the smallest warning threshold reached (180, 90, 30), or 0: expired
    certification_id: str | None
    error: str | None = None  # why the TSS or its certificate could not be read

    @property
    def level(self) -> str:
        """``ok``, ``warn`` (180 or 90 days), ``critical`` (30 days or expired), ``unknown``."""
        if self.threshold is None:
            return "unknown" if self.days_left is None else "ok"
        return "critical" if self.threshold <= 30 else "warn"

    @property
    def text(self) -> str | None:
        """What to do, in German (the installers' language); None while nothing is due."""
        if self.error is not None:
            return (
                f"Das Zertifikat der TSE {self.tss_id} (Mandant {self.tenant}) konnte nicht "
                f"gelesen werden: {self.error}. Verbindungstest ausführen (tsectl test)."
            )
        if self.threshold is None or self.not_after is None or self.days_left is None:
            return None
        todo = (
            "Eine neue TSE einrichten (tsectl tss setup --new; die Signaturen der alten TSE "
            "werden vorher archiviert) und die Außerbetriebnahme der alten sowie die "
            "Inbetriebnahme der neuen TSE dem Finanzamt mitteilen (§ 146a Abs. 4 AO)."
        )
        left = "1 Tag" if self.days_left == 1 else f"{self.days_left} Tage"
        if self.days_left < 0:
            return (
                f"Das Zertifikat der TSE {self.tss_id} (Mandant {self.tenant}) ist am "
                f"{german_day(self.not_after)} abgelaufen: fiskaly signiert mit dieser TSE "
                f"nicht mehr. Sofort handeln: {todo}"
            )
        return (
            f"Das Zertifikat der TSE {self.tss_id} (Mandant {self.tenant}) läuft am "
            f"{german_day(self.not_after)} ab (noch {left}). Rechtzeitig "
            f"handeln: {todo}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "tss_id": self.tss_id,
            "not_after": self.not_after,
            "days_left": self.days_left,
            "threshold": self.threshold,
            "level": self.level,
            "certification_id": self.certification_id,
            "error": self.error,
            "text": self.text,
        }


def threshold_for(days_left: int) -> int | None:
    """The smallest of :data:`THRESHOLDS` reached, 0 once expired, None before 180 days."""
    if days_left < 0:
        return 0
    reached = [t for t in THRESHOLDS if days_left <= t]
    return min(reached) if reached else None


def status_of(tenant: str, tss: Tss, now: float) -> CertificateStatus:
    """The watch's reading of one TSS object from fiskaly (or the simulator)."""
    try:
        not_after = certificate_expiry(tss.certificate)
    except ValueError as err:
        return CertificateStatus(tenant, tss.id, None, None, None, tss.bsi_certification_id,
                                 error=str(err))  # fmt: skip
    days = int((not_after - now) // DAY)
    return CertificateStatus(
        tenant, tss.id, not_after, days, threshold_for(days), tss.bsi_certification_id
    )


@dataclass(frozen=True, slots=True)
class CertificationEvent:
    """A reportable event: the BSI certification id of a TSS changed. The notification
    duty consumes these (:meth:`CertificationLog.events`, or
    :attr:`WatchResult.events` right after a watch)."""

    tss_id: str
    tenant: str
    previous: str
    current: str
    at: float  # when the unit saw the new id
    kind: str = "certification_changed"

    @property
    def day(self) -> str:
        return _day(self.at)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "tss_id": self.tss_id, "tenant": self.tenant,
                "previous": self.previous, "current": self.current, "at": self.at,
                "day": self.day}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CertificationEvent:
        return cls(str(data["tss_id"]), str(data["tenant"]), str(data["previous"]),
                   str(data["current"]), float(data["at"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class WatchResult:
    """One watch over every TSS in use."""

    at: float
    tss: tuple[CertificateStatus, ...]
    events: tuple[CertificationEvent, ...] = ()  # certification changes seen by this watch
    warned: tuple[CertificateStatus, ...] = field(default=())  # thresholds newly reached

    @property
    def ok(self) -> bool:
        return all(s.error is None for s in self.tss)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "ok": self.ok, "tss": [s.to_json() for s in self.tss],
                "events": [e.to_json() for e in self.events]}  # fmt: skip


class CertificationLog:
    """``certification.json``: per TSS the certification id seen (with its date) and the
    thresholds already warned; the certification changes, kept for good (the newest
    :data:`KEEP_EVENTS`). Written atomically; a damaged file is set aside, never trusted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"tss": {}, "events": []}
        except (OSError, ValueError) as err:
            aside = self.path.with_name(self.path.name + ".damaged")
            _LOGGER.error("the certificate watch's file is damaged (%s); kept as %s", err, aside,
                          extra={"TSED_EVENT": "certification_file_damaged"})  # fmt: skip
            self.path.replace(aside)
            return {"tss": {}, "events": []}
        if not isinstance(data, dict):
            return {"tss": {}, "events": []}
        data.setdefault("tss", {})
        data.setdefault("events", [])
        return data

    def events(self) -> tuple[CertificationEvent, ...]:
        """Every certification change recorded, oldest first (for the notification duty)."""
        with self._lock:
            return tuple(CertificationEvent.from_json(e) for e in self._load()["events"])

    def observe(
        self, statuses: list[CertificateStatus], now: float
    ) -> tuple[list[CertificationEvent], list[CertificateStatus]]:
        """Record what the watch read: the new certification events and the statuses that
        reached a threshold not warned before (blocking: run it in a thread)."""
        with self._lock:
            data = self._load()
            events: list[CertificationEvent] = []
            warned: list[CertificateStatus] = []
            for status in statuses:
                item = data["tss"].setdefault(status.tss_id, {"tenant": status.tenant})
                current = status.certification_id
                previous = item.get("certification_id")
                if current is not None and previous is not None and current != previous:
                    event = CertificationEvent(status.tss_id, status.tenant, previous, current, now)
                    events.append(event)
                    data["events"].append(event.to_json())
                if current is not None and current != previous:
                    item["certification_id"] = current
                    item["certification_seen_at"] = now
                if status.not_after is not None:
                    if item.get("not_after") != status.not_after:  # a new certificate
                        item["warned"] = []
                    item["not_after"] = status.not_after
                if status.threshold is not None and status.threshold not in item.get("warned", []):
                    item["warned"] = sorted({*item.get("warned", []), status.threshold})
                    warned.append(status)
            del data["events"][:-KEEP_EVENTS]
            atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True).encode(), mode=0o600)
            return events, warned


async def watch_certificates(
    upstreams: UpstreamRegistry, log: CertificationLog, now: float
) -> WatchResult:
    """Read every TSS in use from fiskaly, record and journal what is due."""
    statuses: list[CertificateStatus] = []
    for tenant, binding in sorted(upstreams.all_bindings().items()):
        if binding.state not in ("INITIALIZED", "DISABLED", "UNINITIALIZED"):
            continue
        try:
            tss = await upstreams.client(tenant).get_tss(binding.tss_id)
        except TsedError as err:
            statuses.append(CertificateStatus(tenant, binding.tss_id, None, None, None, None,
                                              error=err.message))  # fmt: skip
            continue
        statuses.append(status_of(tenant, tss, now))
    readable = [s for s in statuses if s.error is None]
    events, warned = await asyncio.to_thread(log.observe, readable, now)
    for status in warned:
        level = logging.ERROR if status.level == "critical" else logging.WARNING
        _LOGGER.log(
            level, "%s", status.text,
            extra={"TSED_EVENT": "certificate_expiry", "TSED_TSS": status.tss_id,
                   "TSED_TENANT": status.tenant, "TSED_DAYS_LEFT": status.days_left,
                   "TSED_THRESHOLD": status.threshold},
        )  # fmt: skip
    for event in events:
        _LOGGER.warning(
            "the BSI certification id of TSS %s changed from %s to %s (a reportable event: "
            "the notification to the tax office names the TSE's certification id)",
            event.tss_id, event.previous, event.current,
            extra={"TSED_EVENT": "certification_changed", "TSED_TSS": event.tss_id,
                   "TSED_TENANT": event.tenant, "TSED_CERTIFICATION_ID": event.current},
        )  # fmt: skip
    return WatchResult(now, tuple(statuses), tuple(events), tuple(warned))
