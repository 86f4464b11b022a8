"""Prometheus gauges of the archive: lag in signatures and hours per TSS, findings, bytes.

The gauges live in their own registry (the signing service's is rebuilt with the backend);
the admin route renders both one after the other, which is valid exposition format.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest


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
        self._last_log: dict[str, float] = {}

    def update(self, status: Mapping[str, Any]) -> None:
        """From the archive status (read by tsectl or the page, and after each run)."""
        for tss_id, item in status.get("tss", {}).items():
            if item.get("lag_signatures") is not None:
                self.lag_signatures.labels(tss_id).set(item["lag_signatures"])
            if item.get("last_log_time") is not None:
                self._last_log[tss_id] = float(item["last_log_time"])
        self.findings.set(sum(len(t.get("findings", [])) for t in status.get("tss", {}).values()))
        self.bytes.set(status.get("bytes", 0))

    def render(self, *, running: bool, now: float | None = None) -> bytes:
        """The lag in hours is computed now, from the last archived log of each TSS."""
        moment = time.time() if now is None else now
        for tss_id, last in self._last_log.items():
            self.lag_hours.labels(tss_id).set(round((moment - last) / 3600, 2))
        self.running.set(1 if running else 0)
        return generate_latest(self.registry)
