"""Prometheus gauges of the archive: lag in signatures and hours per TSS, findings, bytes, and
the off-box copy's age and last check.

The gauges live in their own registry (the signing service's is rebuilt with the backend);
the admin route renders both one after the other, which is valid exposition format.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, generate_latest

if TYPE_CHECKING:
    from tsed.archive.offbox import OffboxStatus
    from tsed.archive.views import ArchiveStatusView


class ArchiveMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.lag_signatures = Gauge(
            "tsed_archive_lag_signatures",
            "Signatures of the TSS not yet in the archive",
            ["tss"],
            registry=self.registry,
        )
        self.lag_hours = Gauge(
            "tsed_archive_lag_hours",
            "Hours since the last archived log of the TSS",
            ["tss"],
            registry=self.registry,
        )
        self.findings = Gauge(
            "tsed_archive_findings", "Exports the archive rejected (kept)", registry=self.registry
        )
        self.bytes = Gauge(
            "tsed_archive_bytes", "Bytes of archived TAR files", registry=self.registry
        )
        self.running = Gauge(
            "tsed_archive_running", "1 while an archive run runs", registry=self.registry
        )
        self.offbox_age = Gauge(
            "tsed_offbox_copy_age_seconds",
            "Seconds since the newest good off-box copy of the archive (NaN: none yet)",
            registry=self.registry,
        )
        self.offbox_failing = Gauge(
            "tsed_offbox_copy_failing",
            "1 while the last off-box copy or check failed",
            registry=self.registry,
        )
        self.offbox_check_age = Gauge(
            "tsed_offbox_check_age_seconds",
            "Seconds since the last check of the off-box copy (NaN: none yet)",
            registry=self.registry,
        )
        self._last_log: dict[str, float] = {}

    def update(self, status: ArchiveStatusView) -> None:
        """From the archive status (read by tsectl or the page, and after each run)."""
        for tss_id, item in status.tss.items():
            if item.lag_signatures is not None:
                self.lag_signatures.labels(tss_id).set(item.lag_signatures)
            if item.last_log_time is not None:
                self._last_log[tss_id] = float(item.last_log_time)
        self.findings.set(sum(len(t.findings) for t in status.tss.values()))
        self.bytes.set(status.bytes)

    def render(
        self, *, running: bool, now: float | None = None, offbox: OffboxStatus | None = None
    ) -> bytes:
        """The lag in hours and the off-box copy's age are computed now."""
        moment = time.time() if now is None else now
        for tss_id, last in self._last_log.items():
            self.lag_hours.labels(tss_id).set(round((moment - last) / 3600, 2))
        self.running.set(1 if running else 0)
        if offbox is not None and offbox.state != "off":
            nan = float("nan")
            copied, checked = offbox.last_copy_at, offbox.last_check_at
            self.offbox_age.set(nan if copied is None else max(0.0, moment - copied))
            self.offbox_check_age.set(nan if checked is None else max(0.0, moment - checked))
            self.offbox_failing.set(1 if offbox.state == "failing" else 0)
        return generate_latest(self.registry)
