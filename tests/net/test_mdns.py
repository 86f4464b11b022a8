"""mDNS in a private network namespace that has only loopback (never the real network)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsed.net.mdns import TXT_KEYS, _renamed, build_txt, instance_label, parse_txt

HELPER = Path(__file__).parents[1] / "support" / "mdns_helper.py"


def test_labels_fit_dns_and_keep_the_id() -> None:
    assert instance_label("KassenSichV-Fiskaly", "ab12cd") == "KassenSichV-Fiskaly (ab12cd)"
    long = instance_label("Ä" * 80, "ab12cd")
    assert len(long.encode()) <= 63 and long.endswith(" (ab12cd)")


def test_txt_has_only_public_keys() -> None:
    txt = build_txt(short_id="ab12cd", mode="TEST", pairing=True, fingerprint="a" * 64)
    assert list(txt) == list(TXT_KEYS)
    assert txt == {"txtvers": "1", "api": "1", "id": "ab12cd", "mode": "test", "pair": "1",
                   "fp": "a" * 16}  # fmt: skip
    assert len("".join(f"{k}={v}" for k, v in txt.items())) < 200


@given(st.dictionaries(st.binary(max_size=12), st.one_of(st.none(), st.binary(max_size=40))))
def test_txt_parser_never_fails(properties) -> None:
    parsed = parse_txt(properties)
    assert set(parsed) <= set(TXT_KEYS)


def _in_private_namespace(*args: str) -> dict:
    script = (
        "ip link set lo up && ip link set lo multicast on && "
        'ip route add 224.0.0.0/4 dev lo && exec "$0" "$@"'
    )
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", script, sys.executable, str(HELPER), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(HELPER.parents[2])},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data: dict = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_renamed_labels_fit_dns() -> None:
    assert _renamed("Kasse (ab12cd)", 2) == "Kasse (ab12cd) (2)"
    long = _renamed(instance_label("Ä" * 80, "ab12cd"), 12)
    assert len(long.encode()) <= 63 and long.endswith(" (12)")


def test_a_name_conflict_renames_with_a_number_and_logs_it() -> None:
    data = _in_private_namespace("conflict")
    base = "Kasse Filiale 7 (ab12cd)._tsed._tcp.local."
    assert data["names"] == [
        base,
        "Kasse Filiale 7 (ab12cd) (2)._tsed._tcp.local.",
        "Kasse Filiale 7 (ab12cd) (3)._tsed._tcp.local.",
    ]
    assert data["found"] == [
        ["Kasse Filiale 7 (ab12cd)", 8443],
        ["Kasse Filiale 7 (ab12cd) (2)", 9443],
        ["Kasse Filiale 7 (ab12cd) (3)", 10443],
    ]
    assert len(data["renamed_logs"]) == 2
    assert "announced as 'Kasse Filiale 7 (ab12cd) (2)'" in data["renamed_logs"][0]


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_announce_update_rename_and_goodbye_in_a_private_namespace() -> None:
    data = _in_private_namespace()
    first = {u["port"]: u for u in data["first"]}
    assert set(first) == {8443, 9443}  # two units on one network
    assert first[8443]["name"] != first[9443]["name"]
    unit = first[8443]
    assert unit["mode"] == "test" and unit["pair"] is False
    assert unit["fp"] == "0123456789abcdef" and unit["id"] == "ab12cd"
    assert unit["addresses"] == ["127.0.0.1"]
    second = {u["port"]: u for u in data["second"]}
    assert second[8443]["pair"] is True and second[8443]["mode"] == "live"
    assert second[9443]["pair"] is False
    assert data["third"] == []  # goodbye packets on stop
    assert data["cli"]["code"] == 0  # tsectl discover sees what a register sees
    assert {u["port"] for u in data["cli"]["units"]} == {8443, 9443}
