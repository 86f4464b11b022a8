"""Prometheus metrics of the unit (served on the admin socket only: tsectl / technicians)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.receipts = Counter(
            "tsed_receipts",
            "Register calls that ended a transaction, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.failures = Counter(
            "tsed_tse_failures",
            "Answers with tse_failure, by code",
            ["code"],
            registry=self.registry,
        )
        self.signed_late = Counter(
            "tsed_signed_late", "Transactions signed after an outage", registry=self.registry
        )
        self.latency = Histogram(
            "tsed_sign_seconds",
            "Time a register waited for a signed (or failed) answer",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
            registry=self.registry,
        )
        self.open_transactions = Gauge(
            "tsed_open_transactions",
            "Transactions started and not yet ended",
            registry=self.registry,
        )
        self.tse_available = Gauge(
            "tsed_tse_available",
            "1 when fiskaly answers, 0 during an outage",
            registry=self.registry,
        )
        self.mode = Gauge(
            "tsed_mode_info", "Mode and backend", ["mode", "backend"], registry=self.registry
        )

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
