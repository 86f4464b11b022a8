"""A real Prometheus Pushgateway (Debian's ``prometheus-pushgateway``) on a loopback port.

Started and stopped by the test; TLS with a test CA (``--web.config.file``: the gateway's own
TLS, Debian 12 ships 1.5.1 which has it) and Basic auth for the unit's user. Its
``/api/v1/metrics`` answer is what arrived; :func:`pushed` turns it into plain samples.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trustme

from tests.support.unit import free_port

BINARY = "prometheus-pushgateway"
# The unit's credential in these tests and its bcrypt hash (cost 5) for the gateway's config.
TOKEN = "fleet-token-5d1c9a7e3b2f4086"
TOKEN_BCRYPT = "$2b$05$e84gedhaJFOJwLawUEY5k.5KsvuyO83GhHouIxzO2cJsMZEhQRZ0S"
START_TIMEOUT = 10.0


@dataclass
class Pushgateway:
    port: int
    ca: trustme.CA
    ca_file: Path
    user: str
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def client(self) -> httpx.AsyncClient:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{self.port}",
            verify=context,
            auth=(self.user, TOKEN),
            timeout=5,
            trust_env=False,
        )

    async def groups(self) -> list[dict[str, Any]]:
        """``GET /api/v1/metrics``: one entry per pushed group."""
        async with self.client() as http:
            response = await http.get("/api/v1/metrics")
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data


def pushed(group: dict[str, Any], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of metric family ``name`` in a group: {sorted labels: value}, each with the
    group's labels (the grouping key, which every sample carries) taken off."""
    family = group.get(name)
    if family is None:
        return {}
    out = {}
    for metric in family["metrics"]:
        own = dict(metric.get("labels", {}))
        for key, value in group["labels"].items():
            assert own.pop(key) == value, (name, key)  # every sample has the grouping key
        if own.get("instance") == "":
            del own["instance"]  # the gateway's empty default
        labels = tuple(sorted(own.items()))
        value = metric.get("value")
        out[labels] = float(value) if value is not None else float("nan")
    return out


@asynccontextmanager
async def pushgateway(
    tmp: Path, *, user: str, hostname: str = "127.0.0.1", ca: trustme.CA | None = None
) -> AsyncIterator[Pushgateway]:
    """A Pushgateway on 127.0.0.1 with TLS (a certificate for ``hostname`` and 127.0.0.1 from
    ``ca`` or a new test CA) and Basic auth for ``user`` with :data:`TOKEN`."""
    binary = shutil.which(BINARY)
    assert binary, f"{BINARY} is missing: run scripts/bootstrap (Debian package {BINARY})"
    ca = ca or trustme.CA()
    names = sorted({hostname, "127.0.0.1"})
    cert = ca.issue_cert(*names)
    tmp.mkdir(parents=True, exist_ok=True)
    cert_file, key_file, ca_file = tmp / "gw.crt", tmp / "gw.key", tmp / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    web_config = tmp / "web.yml"
    web_config.write_text(
        "tls_server_config:\n"
        f"  cert_file: {cert_file}\n"
        f"  key_file: {key_file}\n"
        "basic_auth_users:\n"
        f'  "{user}": "{TOKEN_BCRYPT}"\n'
    )
    port = free_port()
    log = (tmp / "pushgateway.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.config.file={web_config}",
            f"--persistence.file={tmp / 'pushgateway.data'}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    gateway = Pushgateway(port, ca, ca_file, user, process, hostname)
    try:
        await _wait_ready(gateway)
        yield gateway
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 5)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait, 5)
        log.close()


async def _wait_ready(gateway: Pushgateway) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    async with gateway.client() as http:
        while True:
            assert gateway.process.poll() is None, "the Pushgateway exited at start"
            try:
                if (await http.get("/-/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert loop.time() < deadline, "the Pushgateway did not become ready"
            await asyncio.sleep(0.05)


@dataclass
class SilentServer:
    """A TCP server on loopback that accepts connections and never answers (a hung gateway)."""

    port: int = 0
    accepted: int = 0
    open_now: int = 0
    most_open: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        self._writers.append(writer)
        try:
            while await reader.read(65536):  # read what comes, answer nothing
                pass
        except ConnectionError:
            pass
        finally:
            self.open_now -= 1
            writer.close()

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()  # the handlers see the end of their stream and return
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
