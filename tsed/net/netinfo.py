"""What the serial console shows under ``network``: interfaces, default route, DNS servers.

Read-only views of the host: addresses via ``getifaddrs`` (ifaddr), the default route from
``/proc/net/route``, DNS servers from ``resolv.conf`` (and, behind systemd-resolved's stub
``127.0.0.53``, from the uplink file resolved writes). The parsers are pure functions; bad
or missing files give empty answers, never errors.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

import ifaddr

_LOGGER = logging.getLogger(__name__)

PROC_ROUTE = Path("/proc/net/route")
RESOLV_CONF = Path("/etc/resolv.conf")
RESOLVED_UPLINK = Path("/run/systemd/resolve/resolv.conf")
RESOLVED_STUB = "127.0.0.53"


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    addresses: tuple[str, ...]  # "10.0.0.2/24", "fe80::1/64"


@dataclass(frozen=True, slots=True)
class DefaultRoute:
    gateway: str
    interface: str


def interfaces() -> list[Interface]:
    """Every interface with its addresses (loopback last), sorted by name."""
    try:
        adapters = ifaddr.get_adapters()
    except OSError as err:
        _LOGGER.warning("cannot list interfaces: %s", err)
        return []
    found: list[Interface] = []
    for adapter in adapters:
        addresses = []
        for ip in adapter.ips:
            if isinstance(ip.ip, tuple):
                addresses.append(f"{ip.ip[0]}/{ip.network_prefix}")
            else:
                addresses.append(f"{ip.ip}/{ip.network_prefix}")
        found.append(Interface(str(adapter.nice_name), tuple(addresses)))
    return sorted(found, key=lambda i: (i.name == "lo", i.name))


def parse_proc_route(text: str) -> DefaultRoute | None:
    """The IPv4 default route from the text of ``/proc/net/route`` (lowest metric wins)."""
    best: tuple[int, DefaultRoute] | None = None
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        iface, destination, gateway, flags, metric = (
            fields[0],
            fields[1],
            fields[2],
            fields[3],
            fields[6],
        )
        try:
            if int(destination, 16) != 0 or not int(flags, 16) & 0x1:  # RTF_UP
                continue
            address = socket.inet_ntoa(struct.pack("<L", int(gateway, 16)))
            rank = int(metric)
        except (ValueError, struct.error):
            continue
        if best is None or rank < best[0]:
            best = (rank, DefaultRoute(address, iface))
    return best[1] if best else None


def parse_resolv_conf(text: str) -> list[str]:
    """``nameserver`` addresses in order; comments and malformed lines are skipped."""
    servers: list[str] = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                servers.append(str(ipaddress.ip_address(fields[1].split("%", 1)[0])))
            except ValueError:
                continue
    return servers


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def default_route(path: Path = PROC_ROUTE) -> DefaultRoute | None:
    return parse_proc_route(_read(path))


def dns_servers(
    resolv_conf: Path = RESOLV_CONF, resolved_uplink: Path = RESOLVED_UPLINK
) -> list[str]:
    """The DNS servers in use; behind the systemd-resolved stub, the ones resolved uses."""
    servers = parse_resolv_conf(_read(resolv_conf))
    if servers == [RESOLVED_STUB]:
        upstream = parse_resolv_conf(_read(resolved_uplink))
        if upstream:
            return upstream
    return servers
