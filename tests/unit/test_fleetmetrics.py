"""The unit's registry: the signing metrics and the unit-level gauges, on the admin socket."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.unit import running_unit
from tsed import __version__
from tsed.unit.fleetmetrics import FLEET_GAUGES, FleetGauge, FleetMetrics, FleetSources, one


def _samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def test_admin_metrics_show_the_unit_level_gauges(tmp_path: Path) -> None:
    async with running_unit(tmp_path) as unit:
        register = await unit.pair()
        await register.receipt()
        transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
        async with httpx.AsyncClient(transport=transport, base_url="http://unit") as admin:
            text = (await admin.get("/admin/metrics")).text
    samples = _samples(text)
    assert samples["tsed_build_info"] == {(("version", __version__),): 1.0}
    assert samples["tsed_receipts_total"] == {(("outcome", "signed"),): 1.0}
    assert samples["tsed_tss_state"] == {(("state", "INITIALIZED"), ("tenant", "default")): 1.0}
    assert samples["tsed_open_outages"] == {(): 0.0}
    assert samples["tsed_tse_available"] == {(): 1.0}
    assert {name for name in samples} >= {g.name for g in FLEET_GAUGES}


async def test_a_gauge_is_one_line_and_a_failing_one_never_stops_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_sources: FleetSources) -> dict[tuple[str, ...], float]:
        raise OSError("archive index unreadable")

    gauges = (
        *FLEET_GAUGES,
        FleetGauge("tsed_archive_lag_seconds", "Archive lag", (), broken),
        FleetGauge("tsed_filings_pending", "Filings due", (), lambda _s: one(2)),
    )
    async with running_unit(tmp_path) as unit:
        d = unit.daemon
        sources = FleetSources(
            lambda: d.signing, lambda: d.upstreams, d.store, d.state_dir, d.identity
        )
        metrics = FleetMetrics(sources, gauges)
        with caplog.at_level(logging.WARNING):
            body, _ = await metrics.render()
            await metrics.render()  # the same failure is told once
    samples = _samples(body.decode())
    assert samples["tsed_filings_pending"] == {(): 2.0}
    assert "tsed_archive_lag_seconds" not in samples
    assert "tsed_build_info" in samples
    told = [
        r for r in caplog.records if getattr(r, "TSED_METRIC", "") == "tsed_archive_lag_seconds"
    ]
    assert len(told) == 1 and "archive index unreadable" in told[0].getMessage()
