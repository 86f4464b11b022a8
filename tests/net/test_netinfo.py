"""The console's network view: parsers of /proc/net/route and resolv.conf, and real interfaces."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tsed.net import netinfo

ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0102A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
usb0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0002A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0
wlan0\t00000000\t0103A8C0\t0002\t0\t0\t1\t00000000\t0\t0\t0
"""


def test_default_route_is_the_up_route_with_the_lowest_metric() -> None:
    route = netinfo.parse_proc_route(ROUTE)
    assert route == netinfo.DefaultRoute("192.168.1.1", "usb0")  # wlan0's route is down
    assert netinfo.parse_proc_route(ROUTE.splitlines()[0]) is None


def test_resolv_conf_and_the_resolved_stub(tmp_path: Path) -> None:
    text = "# generated\nsearch shop.lan\nnameserver 192.168.1.1 # router\n"
    text += "nameserver fe80::1%eth0\n"
    text += "nameserver not-an-ip\noptions edns0\n"
    assert netinfo.parse_resolv_conf(text) == ["192.168.1.1", "fe80::1"]
    stub, uplink = tmp_path / "resolv.conf", tmp_path / "uplink.conf"
    stub.write_text("nameserver 127.0.0.53\noptions edns0 trust-ad\n")
    uplink.write_text("nameserver 10.0.2.3\n")
    assert netinfo.dns_servers(stub, uplink) == ["10.0.2.3"]
    assert netinfo.dns_servers(stub, tmp_path / "missing") == ["127.0.0.53"]
    assert netinfo.dns_servers(tmp_path / "missing", uplink) == []


def test_interfaces_include_loopback_last() -> None:
    found = netinfo.interfaces()
    assert found and found[-1].name == "lo"
    assert "127.0.0.1/8" in found[-1].addresses


@given(st.text(max_size=400))
def test_parsers_never_fail(text: str) -> None:
    netinfo.parse_proc_route(text)
    assert all(isinstance(s, str) for s in netinfo.parse_resolv_conf(text))
