"""mDNS / DNS-SD: the unit announces itself as ``_tsed._tcp``; registers find it.

Instance name ``"<interface name> (<short id>)"``, TXT ``txtvers=1 api=1 id= mode= pair= fp=``
(``fp`` = first 16 hex of the certificate's key fingerprint). No secret ever goes into TXT:
:func:`build_txt` accepts only these keys. The record is updated when the mode or the pairing
state changes and when the host's addresses change (netlink events); a name conflict renames
the instance ``"<name> (<short id>) (2)"`` and logs the new name.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ifaddr
from zeroconf import DNSQuestionType, IPVersion, NonUniqueNameException, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)
SERVICE_TYPE = "_tsed._tcp.local."
TXT_KEYS = ("txtvers", "api", "id", "mode", "pair", "fp")
MAX_LABEL = 63
MAX_RENAMES = 20
_NETLINK_ROUTE = 0
_RTMGRP_LINK = 0x1
_RTMGRP_IPV4_IFADDR = 0x10
_DEBOUNCE = 0.5


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


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def host_addresses(interfaces: list[str] | None = None) -> list[str]:
    """IPv4 addresses to announce.

    Each entry of ``interfaces`` is an address (taken as is) or an interface name (its current
    IPv4 addresses); without entries, every non-loopback IPv4 address of the host.
    """
    if interfaces and all(_is_ipv4(entry) for entry in interfaces):
        return list(dict.fromkeys(interfaces))
    wanted = set(interfaces or ())
    found = [entry for entry in wanted if _is_ipv4(entry)]
    for adapter in ifaddr.get_adapters():
        if wanted and adapter.name not in wanted and adapter.nice_name not in wanted:
            continue
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                found.append(ip.ip)
    return sorted(set(found))


def _renamed(label: str, number: int) -> str:
    """``"<label> (<number>)"`` within the DNS label limit."""
    suffix = f" ({number})"
    room = MAX_LABEL - len(suffix.encode())
    return label.encode()[:room].decode("utf-8", errors="ignore").rstrip() + suffix


def _ignore(**_kwargs: Any) -> None:
    """Browse handler for probing: the cache is what counts."""


def _address_events() -> socket.socket | None:
    """A netlink socket that wakes up on link and IPv4 address changes (Linux), or None."""
    family = getattr(socket, "AF_NETLINK", None)
    if family is None:
        return None
    try:
        sock = socket.socket(
            family, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, _NETLINK_ROUTE
        )
    except OSError:
        return None
    try:
        sock.bind((0, _RTMGRP_LINK | _RTMGRP_IPV4_IFADDR))
    except OSError:
        sock.close()
        return None
    return sock


class Advertiser:
    """Announce the unit; ``update()`` on mode/pairing changes; follows address changes.

    ``interfaces`` lists addresses or interface names to announce on (default: every
    non-loopback IPv4 address). Address and link changes are noticed through netlink (with a
    poll every ``watch_interval`` seconds as a fallback); new addresses get their own mDNS
    socket and go into the A records. A name already taken on the LAN is renamed
    ``"<label> (2)"``, ``(3)``, ... and the new name is logged.
    """

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
        watch_interval: float = 30.0,
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
        # one change at a time: a TXT update while probing is published after the probe
        self._lock = asyncio.Lock()

    @property
    def instance_name(self) -> str:
        return self._info.name if self._info else f"{self.label}.{SERVICE_TYPE}"

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    def _build(self, name: str | None = None) -> AsyncServiceInfo:
        name = name or (self._info.name if self._info else f"{self.label}.{SERVICE_TYPE}")
        return AsyncServiceInfo(
            SERVICE_TYPE,
            name,
            port=self.port,
            properties=dict(self._txt),
            server=f"tsed-{self.short_id}.local.",
            addresses=[socket.inet_aton(a) for a in self._addresses],
        )

    async def start(self) -> None:
        if self._watcher is not None:
            return
        self._addresses = host_addresses(self._interfaces)
        if self._addresses:
            async with self._lock:
                await self._go_online()
        else:
            _LOGGER.warning(
                "no IPv4 address to announce on yet; announcing as soon as one appears",
                extra={"TSED_EVENT": "mdns_waiting"},
            )
        self._watcher = asyncio.create_task(self._watch(), name="tsed-mdns-watch")

    async def _go_online(self) -> None:
        self._zc = AsyncZeroconf(interfaces=list(self._addresses), ip_version=IPVersion.V4Only)
        txt = dict(self._txt)
        info = await self._register(self._zc)
        self._info = info
        if self._txt != txt:  # changed while probing
            await self._republish()
        _LOGGER.info(
            "announced %s on %s",
            info.name,
            ", ".join(self._addresses),
            extra={"TSED_EVENT": "mdns_announced", "TSED_MDNS_NAME": info.name},
        )

    async def _go_offline(self) -> None:
        zc, self._zc = self._zc, None
        info, self._info = self._info, None
        if zc is None:
            return
        if info is not None:
            with contextlib.suppress(OSError):
                await (await zc.async_unregister_service(info))
        await zc.async_close()

    async def _register(self, zc: AsyncZeroconf) -> AsyncServiceInfo:
        """Probe and register; on a conflict try ``"<label> (2)"``, ``(3)``, ...

        zeroconf's probe only sees a conflict when the other responder's PTR record is in its
        cache, so a browse for the service type runs during the probes: every unit already on
        the LAN answers it with its instance name.
        """
        # Multicast answers (QM), not unicast (QU): several responders may share one address
        # and port 5353 (SO_REUSEPORT), and a unicast answer reaches only one of them.
        browser = AsyncServiceBrowser(
            zc.zeroconf, [SERVICE_TYPE], handlers=[_ignore], question_type=DNSQuestionType.QM
        )
        try:
            for number in range(1, MAX_RENAMES + 2):
                label = self.label if number == 1 else _renamed(self.label, number)
                info = self._build(f"{label}.{SERVICE_TYPE}")
                try:
                    await (await zc.async_register_service(info))
                except NonUniqueNameException:
                    _LOGGER.info("mDNS name %r is taken on the LAN", label)
                    continue
                if number > 1:
                    _LOGGER.warning(
                        "mDNS name %r is taken on the LAN; announced as %r",
                        self.label,
                        label,
                        extra={"TSED_EVENT": "mdns_renamed", "TSED_MDNS_NAME": info.name},
                    )
                return info
        finally:
            await browser.async_cancel()
        raise NonUniqueNameException(f"{self.label}: {MAX_RENAMES} renames all taken")

    async def update(self, *, mode: str | None = None, pairing: bool | None = None) -> None:
        txt = dict(self._txt)
        if mode is not None:
            txt["mode"] = mode.lower()
        if pairing is not None:
            txt["pair"] = "1" if pairing else "0"
        if txt == self._txt:
            return
        self._txt = txt
        async with self._lock:
            await self._republish()

    async def _republish(self) -> None:
        if self._zc is None or self._info is None:
            return
        info = self._build()
        await (await self._zc.async_update_service(info))
        self._info = info

    async def refresh_addresses(self) -> bool:
        """Re-read the addresses; when they changed, re-announce. True if they changed."""
        async with self._lock:
            return await self._refresh_locked()

    async def _refresh_locked(self) -> bool:
        addresses = host_addresses(self._interfaces)
        if addresses == self._addresses:
            return False
        _LOGGER.info(
            "addresses changed: %s",
            ", ".join(addresses) or "-",
            extra={"TSED_EVENT": "mdns_addresses", "TSED_ADDRESSES": ",".join(addresses)},
        )
        self._addresses = addresses
        if not addresses:
            await self._go_offline()
        elif self._zc is None:
            await self._go_online()
        else:
            await self._zc.async_update_interfaces(list(addresses))
            await self._republish()
        return True

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        events = _address_events()

        def on_event() -> None:
            assert events is not None
            with contextlib.suppress(OSError):
                while events.recv(65536):
                    pass
            wake.set()

        if events is not None:
            loop.add_reader(events.fileno(), on_event)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self._watch_interval)
                if wake.is_set():
                    await asyncio.sleep(_DEBOUNCE)  # addresses and routes come in bursts
                    wake.clear()
                try:
                    await self.refresh_addresses()
                except (OSError, RuntimeError, NonUniqueNameException) as err:
                    _LOGGER.warning("mDNS address update failed: %s", err)
        finally:
            if events is not None:
                loop.remove_reader(events.fileno())
                events.close()

    async def stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        async with self._lock:
            await self._go_offline()


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
