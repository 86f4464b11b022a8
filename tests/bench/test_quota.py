"""The CPU quota of a benchmark process: the control-group files it writes (v1 and v2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.quota import CpuQuota


def _empty(path: Path) -> None:
    for child in path.iterdir():  # a real group's files go with it; a directory's do not
        child.unlink()


def test_a_v2_group_gets_cpu_max_and_the_process(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    group = CpuQuota(25, "bench-unit", root=tmp_path)
    assert group.path == tmp_path / "bench-unit"
    assert (group.path / "cpu.max").read_text() == "25000 100000\n"
    group.add(4242)
    assert (group.path / "cgroup.procs").read_text() == "4242\n"
    (group.path / "cpu.stat").write_text("usage_usec 90\nthrottled_usec 1500000\n")
    assert group.throttled_s() == 1.5
    _empty(group.path)
    group.remove()
    assert not group.path.exists()


def test_a_v1_group_lives_in_the_cpu_hierarchy(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    group = CpuQuota(33, "bench-unit", root=tmp_path)
    assert group.path == tmp_path / "cpu" / "bench-unit"
    assert (group.path / "cpu.cfs_quota_us").read_text() == "33000\n"
    assert (group.path / "cpu.cfs_period_us").read_text() == "100000\n"
    (group.path / "cpu.stat").write_text("nr_periods 9\nthrottled_time 250000000\n")
    assert group.throttled_s() == 0.25
    _empty(group.path)
    group.remove()


def test_a_quota_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="out of range"):
        CpuQuota(0.5, "bench-unit", root=tmp_path)
    assert not (tmp_path / "cpu" / "bench-unit").exists()
