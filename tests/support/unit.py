"""A real unit (the daemon, in process) on loopback TLS, and a register client for it."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from tsed.cli import tsectl
from tsed.unit.daemon import Daemon
from tsed.unit.options import DaemonOptions, ListenAddress

KEY, SECRET = "test_crashtestcrashtestcrashte_sim", "C" * 43
RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Register:
    http: httpx.AsyncClient
    token: str = ""
    register_id: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(
        self, method: str, path: str, body: Any = None, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(self.auth)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.http.request(method, path, json=body, headers=headers, **kwargs)

    async def receipt(self, body: Any = None, key: str | None = None) -> dict[str, Any]:
        response = await self.call("POST", "/api/v1/receipts", body or RECEIPT, key)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data


@dataclass
class Unit:
    daemon: Daemon
    port: int
    state_dir: Path
    registers: list[Register] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.daemon.identity.cert_path))
        return context

    def presented_fingerprint(self) -> str:
        """SHA-256 of the DER certificate the TLS listener really presents (a real handshake,
        no trust decision), in the browsers' form: ``A8:C8:…``. Computed here, independently of
        :mod:`tsed.net.identity`."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with (
            socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert der
        return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())

    async def tsectl(self, *args: str) -> tuple[int, str]:
        import io

        out = io.StringIO()
        argv = ["--socket", str(self.daemon.options.admin_socket), *args]
        code = await asyncio.to_thread(tsectl.main, argv, out=out)
        return code, out.getvalue()

    async def pair(self, serial: str = "ERS kasse-1", **extra: Any) -> Register:
        """Pair a register; a ``tenant`` given opens the window for it (the installer binds)."""
        import json

        tenant = ["--tenant", extra["tenant"]] if extra.get("tenant") else []
        code, out = await self.tsectl("--json", "pair", *tenant)
        assert code == 0, out
        pairing_code = json.loads(out)["code"]
        http = httpx.AsyncClient(base_url=self.base_url, verify=self.ssl_context(), timeout=20)
        response = await http.post(
            "/api/v1/pairings",
            json={"code": pairing_code, "register_serial": serial, **extra},
        )
        assert response.status_code == 201, response.text
        register = Register(http, response.json()["token"], response.json()["register_id"])
        self.registers.append(register)
        return register


@asynccontextmanager
async def running_unit(
    state_dir: Path,
    *,
    environ: dict[str, str] | None = None,
    config: str | None = None,
    clock: Callable[[], float] = time.time,
    vendor_key: Path | None = None,
) -> AsyncIterator[Unit]:
    """The daemon in process; ``vendor_key`` replaces the image's fixed vendor public key."""
    state_dir.mkdir(parents=True, exist_ok=True)
    config_path = state_dir / "tsed.toml"
    if config is not None:
        config_path.write_text(config)
    port = free_port()
    options = DaemonOptions(state_dir, config_path, ListenAddress("127.0.0.1", port))
    if vendor_key is not None:
        options = replace(options, vendor_key=vendor_key)
    daemon = Daemon(options, environ={"TSED_MDNS": "off", **(environ or {})}, clock=clock)
    await daemon.start()
    unit = Unit(daemon, port, state_dir)
    try:
        yield unit
    finally:
        for register in unit.registers:
            await register.http.aclose()
        await daemon.stop()


def start_sim(state: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tsed.fiskaly.simulator",
            "--listen",
            f"127.0.0.1:{port}",
            "--state-dir",
            str(state),
            "--api-key",
            KEY,
            "--api-secret",
            SECRET,
            "--env",
            "TEST",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline()
    return proc


def serve_argv(
    state: Path, port: int, log_level: str = "WARNING", vendor_key: Path | None = None
) -> list[str]:
    """``tsed serve`` on loopback with its state (and configuration) in ``state``.

    With ``vendor_key`` through :mod:`tests.support.unit_process` (the only way to replace the
    image's
    vendor key).
    """
    entry = ["-m", "tsed.cli.tsed"]
    if vendor_key is not None:
        entry = ["-m", "tests.support.unit_process", "--vendor-key", str(vendor_key)]
    return [
        *entry, "serve", "--state-dir", str(state), "--config",
        str(state / "tsed.toml"), "--listen", f"127.0.0.1:{port}", "--log-level", log_level,
    ]  # fmt: skip


def start_unit_process(state: Path, port: int, sim_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TSED_FISKALY_BASE_URL": f"http://127.0.0.1:{sim_port}",
        "TSED_MDNS": "off",
    }
    env.pop("NOTIFY_SOCKET", None)
    return subprocess.Popen(
        [sys.executable, *serve_argv(state, port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
