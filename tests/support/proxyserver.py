"""A small HTTP proxy on 127.0.0.1 for tests: absolute-URI forwarding, CONNECT, Basic auth.

It can map host names to loopback addresses (``hosts``), so a client configured with an
address that does not resolve can only succeed by going through the proxy: proof that every
request goes via the proxy.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class ProxyServer:
    username: str | None = None
    password: str | None = None
    hosts: dict[str, str] = field(default_factory=dict)
    port: int = 0
    connections: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    requests: list[str] = field(default_factory=list)  # the access log: each request line
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def total(self) -> int:
        return sum(self.connections.values())

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.username is None:
            return True
        value = headers.get("proxy-authorization", "")
        expected = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
        return value == f"Basic {expected}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        self.requests.append(f"{method} {target}")
        if not self._authorized(headers):
            self.refused += 1
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n'
                b"Connection: close\r\n\r\n"
            )
            await writer.drain()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
        else:
            parts = urlsplit(target)
            host, port = parts.hostname or "", str(parts.port or 80)
        self.connections[f"{host}:{port}"] += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.hosts.get(host, host), int(port)
            )
        except OSError:  # as real proxies do: the way on is closed, the proxy itself answers
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        if method == "CONNECT":
            writer.write(f"{version} 200 Connection established\r\n\r\n".encode())
            await writer.drain()
        else:
            kept = [
                line for line in lines[1:] if not line.lower().startswith("proxy-authorization")
            ]
            up_writer.write("\r\n".join([lines[0], *kept]).encode("latin-1"))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()
