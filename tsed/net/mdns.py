"""mDNS / DNS-SD: the unit announces itself as ``_tsed._tcp``; registers find it.

Instance name ``"<interface name> (<short id>)"``, TXT ``txtvers=1 api=1 id= mode= pair= fp=``
(``fp`` = first 16 hex of the certificate's key fingerprint). No secret ever goes into TXT:
:func:`build_txt` accepts only these keys. The record is updated when the mode or the pairing
state changes and when the host's addresses change; a name conflict renames the instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ifaddr
from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)
SERVICE_TYPE = "_tsed._tcp.local."
TXT_KEYS = ("txtvers", "api", "id", "mode", "pair", "fp")
MAX_LABEL = 63


def instance_label(name: str, short_id: str) -> str:
    """``"<name> (<short id>)"`` within the 63-byte DNS label limit (name cut safely)."""
    suffix = f" ({short_id})"
    room = MAX_LABEL - len(suffix.encode())
    cut = name.encode()[:room].decode("utf-8", errors="ignore").rstrip()
    return (cut or "tsed") + suffix


def build_txt(*, short_id: str, mode: str, pairing: bool, fingerprint: str) -> dict[str, str]:
    return {
        "txtvers": "1",
        "api": "1",
        "id": short_id,
        "mode": mode.lower(),
        "pair": "1" if pairing else "0",
        "fp": fingerprint[:16],
    }


@dataclass(frozen=True, slots=True)
class DiscoveredUnit:
    name: str
    host: str | None
    addresses: tuple[str, ...]
    port: int
    id: str | None
    mode: str | None
    pair: bool
    fp: str | None
    api: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "addresses": list(self.addresses),
            "port": self.port,
            "id": self.id,
            "mode": self.mode,
            "pair": self.pair,
            "fp": self.fp,
            "api": self.api,
        }


def parse_txt(properties: Mapping[Any, Any]) -> dict[str, str]:
    """TXT properties as text; malformed or unknown entries are dropped, never fatal."""
    parsed: dict[str, str] = {}
    for key, value in properties.items():
        try:
            name = key.decode() if isinstance(key, bytes) else str(key)
            text = value.decode() if isinstance(value, bytes) else (value or "")
        except UnicodeDecodeError:
            continue
        if name in TXT_KEYS:
            parsed[name] = text
    return parsed


def host_addresses(interfaces: list[str] | None = None) -> list[str]:
    """IPv4 addresses to announce (the given ones, or every non-loopback address)."""
    if interfaces:
        return [a for a in interfaces if "." in a]
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                found.append(ip.ip)
    return sorted(set(found))


class Advertiser:
    """Announce the unit; ``update()`` on mode/pairing changes; follows address changes."""

    def __init__(
        self,
        name: str,
        short_id: str,
        port: int,
        *,
        mode: str,
        pairing: bool,
        fingerprint: str,
        interfaces: list[str] | None = None,
        watch_interval: float = 10.0,
    ) -> None:
        self.label = instance_label(name, short_id)
        self.short_id = short_id
        self.port = port
        self._txt = build_txt(
            short_id=short_id, mode=mode, pairing=pairing, fingerprint=fingerprint
        )
        self._interfaces = interfaces
        self._watch_interval = watch_interval
        self._zc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None
        self._addresses: list[str] = []
        self._watcher: asyncio.Task[None] | None = None

    @property
    def instance_name(self) -> str:
        return self._info.name if self._info else f"{self.label}.{SERVICE_TYPE}"

    def _build(self) -> AsyncServiceInfo:
        name = self._info.name if self._info else f"{self.label}.{SERVICE_TYPE}"
        return AsyncServiceInfo(
            SERVICE_TYPE,
            name,
            port=self.port,
            properties=dict(self._txt),
            server=f"tsed-{self.short_id}.local.",
            addresses=[socket.inet_aton(a) for a in self._addresses],
        )

    async def start(self) -> None:
        if self._zc is not None:
            return
        self._addresses = host_addresses(self._interfaces)
        self._zc = AsyncZeroconf(
            interfaces=self._interfaces or ["0.0.0.0"],  # noqa: S104
            ip_version=IPVersion.V4Only,
        )
        info = self._build()
        await (await self._zc.async_register_service(info, allow_name_change=True))
        self._info = info
        if info.name != f"{self.label}.{SERVICE_TYPE}":
            _LOGGER.warning(
                "mDNS name taken; announced as %s", info.name, extra={"TSED_EVENT": "mdns_renamed"}
            )
        _LOGGER.info(
            "announced %s on %s",
            info.name,
            ", ".join(self._addresses) or "-",
            extra={"TSED_EVENT": "mdns_announced"},
        )
        self._watcher = asyncio.create_task(self._watch(), name="tsed-mdns-watch")

    async def update(self, *, mode: str | None = None, pairing: bool | None = None) -> None:
        txt = dict(self._txt)
        if mode is not None:
            txt["mode"] = mode.lower()
        if pairing is not None:
            txt["pair"] = "1" if pairing else "0"
        if txt == self._txt:
            return
        self._txt = txt
        await self._republish()

    async def _republish(self) -> None:
        if self._zc is None or self._info is None:
            return
        info = self._build()
        await (await self._zc.async_update_service(info))
        self._info = info

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._watch_interval)
            addresses = host_addresses(self._interfaces)
            if addresses != self._addresses and self._zc is not None:
                _LOGGER.info(
                    "addresses changed: %s",
                    ", ".join(addresses),
                    extra={"TSED_EVENT": "mdns_addresses"},
                )
                self._addresses = addresses
                await self._zc.async_update_interfaces()
                await self._republish()

    async def stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        zc, self._zc = self._zc, None
        if zc is not None:
            if self._info is not None:
                await (await zc.async_unregister_service(self._info))
            await zc.async_close()
        self._info = None


async def discover(
    listen_seconds: float = 3.0, interfaces: list[str] | None = None
) -> list[DiscoveredUnit]:
    """Units that answer on the LAN within ``listen_seconds``."""
    zc = AsyncZeroconf(interfaces=interfaces or ["0.0.0.0"], ip_version=IPVersion.V4Only)  # noqa: S104
    names: set[str] = set()

    def on_change(
        zeroconf: Any, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            names.add(name)

    browser = AsyncServiceBrowser(zc.zeroconf, [SERVICE_TYPE], handlers=[on_change])
    units = []
    try:
        await asyncio.sleep(listen_seconds)
        for name in sorted(names):
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if not await info.async_request(zc.zeroconf, 3000):
                continue
            txt = parse_txt(info.properties)
            units.append(
                DiscoveredUnit(
                    name=name.removesuffix("." + SERVICE_TYPE),
                    host=info.server,
                    addresses=tuple(info.parsed_scoped_addresses()),
                    port=info.port or 0,
                    id=txt.get("id"),
                    mode=txt.get("mode"),
                    pair=txt.get("pair") == "1",
                    fp=txt.get("fp"),
                    api=txt.get("api"),
                )
            )
    finally:
        await browser.async_cancel()
        await zc.async_close()
    return units
