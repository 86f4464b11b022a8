"""The unit's metrics as one Prometheus registry: the signing service's and the unit's own.

:class:`FleetMetrics` is what the admin ``/metrics`` route serves and what the telemetry push
(:mod:`tsed.unit.telemetry`) sends: the counters and gauges of :mod:`tsed.signing.metrics`
(receipts, TSE failures, latency, mode, TSE reachable) and the unit-level gauges of
:data:`FLEET_GAUGES` (version, TSS state per tenant, open outages, free disk, device
certificate days). Values that need the store are read by :meth:`FleetMetrics.refresh` on the
event loop; the registry then only reads that snapshot, so exposition never waits on I/O.

Adding a gauge is one line in :data:`FLEET_GAUGES`: a name, a help text, its label names and a
reader that takes the :class:`FleetSources` and returns ``{label values: value}`` (sync or
async; :func:`one` for an unlabelled value). A reader that fails leaves its gauge out of that
snapshot, with a warning in the journal, and never stops the others.
"""

from __future__ import annotations

import inspect
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from tsed import __version__
from tsed.net.identity import DeviceIdentity
from tsed.signing.service import SigningService
from tsed.state.store import Store
from tsed.tss.registry import UpstreamRegistry

_LOGGER = logging.getLogger(__name__)

Samples = Mapping[tuple[str, ...], float]


@dataclass(frozen=True, slots=True)
class FleetSources:
    """What the unit-level gauges read. The backend's parts are callables: a reload of the
    backend replaces them, and the gauges read the current ones."""

    signing: Callable[[], SigningService]
    upstreams: Callable[[], UpstreamRegistry]
    store: Store
    state_dir: Path
    identity: DeviceIdentity


Reader = Callable[[FleetSources], Samples | Awaitable[Samples]]


@dataclass(frozen=True, slots=True)
class FleetGauge:
    name: str
    help: str
    labels: tuple[str, ...]
    read: Reader


def one(value: float) -> Samples:
    """The samples of an unlabelled gauge."""
    return {(): float(value)}


def _tss_states(sources: FleetSources) -> Samples:
    return {(t, b.state): 1.0 for t, b in sources.upstreams().all_bindings().items()}


async def _open_outages(sources: FleetSources) -> Samples:
    return one(sum(1 for row in await sources.store.outages() if row.ended_at is None))


def _disk_free(sources: FleetSources) -> Samples:
    return one(shutil.disk_usage(sources.state_dir).free)


def _certificate_days(sources: FleetSources) -> Samples:
    cert = x509.load_pem_x509_certificate(sources.identity.cert_path.read_bytes())
    return one((cert.not_valid_after_utc.timestamp() - time.time()) / 86400)


# Archive lag and pending filings join here when their features arrive (one line each).
FLEET_GAUGES: tuple[FleetGauge, ...] = (
    FleetGauge("tsed_build_info", "The running tsed version", ("version",),
               lambda _s: {(__version__,): 1.0}),
    FleetGauge("tsed_tss_state", "1 for the state of each tenant's TSS", ("tenant", "state"),
               _tss_states),
    FleetGauge("tsed_open_outages", "Outages not over yet (fiskaly unreachable)", (),
               _open_outages),
    FleetGauge("tsed_state_dir_free_bytes", "Free bytes on the state directory's file system",
               (), _disk_free),
    FleetGauge("tsed_device_certificate_days_left", "Days until the device certificate expires",
               (), _certificate_days),
)  # fmt: skip


class _Snapshot:
    """A prometheus-client collector: the signing registry, then the unit-level gauges."""

    def __init__(self, signing: Callable[[], SigningService]) -> None:
        self._signing = signing
        self.families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        yield from self._signing().metrics.registry.collect()
        yield from self.families


class FleetMetrics:
    """The unit's registry (``registry``); :meth:`refresh` reads the values, then render."""

    def __init__(
        self, sources: FleetSources, gauges: tuple[FleetGauge, ...] = FLEET_GAUGES
    ) -> None:
        self._sources = sources
        self._gauges = gauges
        self._snapshot = _Snapshot(sources.signing)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self._snapshot)
        self._failing: set[str] = set()

    async def refresh(self) -> None:
        signing = self._sources.signing()
        signing.metrics.open_transactions.set(signing.open_transactions)
        signing.metrics.tse_available.set(1 if signing.breaker.available else 0)
        families: list[Metric] = []
        for gauge in self._gauges:
            try:
                samples = gauge.read(self._sources)
                if inspect.isawaitable(samples):
                    samples = await samples
            except Exception as err:  # one gauge failing never stops the others
                if gauge.name not in self._failing:
                    _LOGGER.warning(
                        "metric %s could not be read: %s",
                        gauge.name,
                        err,
                        extra={"TSED_EVENT": "metric_unreadable", "TSED_METRIC": gauge.name},
                    )
                self._failing.add(gauge.name)
                continue
            self._failing.discard(gauge.name)
            family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels))
            for values, value in samples.items():
                family.add_metric(list(values), value)
            families.append(family)
        self._snapshot.families = families

    async def render(self) -> tuple[bytes, str]:
        await self.refresh()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
