"""Issue 13, item 13: TLS without CBC suites, and no ``Server`` banner naming Python/aiohttp.

A real TLS client (Python's ssl, i.e. OpenSSL, and the ``openssl s_client`` program) offers
suite by suite against a running unit on loopback; the unit must accept only TLS 1.3 and
TLS 1.2 ECDHE with an AEAD cipher. Every listener (register API, setup page, the admin socket,
and aiohttp's own answer to a malformed request) is checked for the banner.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
import warnings
from pathlib import Path

import httpx
import pytest

from tests.support.unit import Unit, running_unit

CBC_SUITES = (
    "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:"
    "ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:AES128-SHA256:"
    "AES256-SHA256:AES128-SHA:AES256-SHA"
)
AEAD_ECDHE = {
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
}


def _client(version: ssl.TLSVersion, ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the suite is under test here, not the pinning
    context.minimum_version = context.maximum_version = version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


def _handshake(port: int, context: ssl.SSLContext) -> tuple[str, str] | None:
    """(protocol, suite) the unit agreed to, or None when it refused the handshake."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="tsed") as tls:
                cipher = tls.cipher()
                assert cipher is not None
                return str(tls.version()), cipher[0]
        except (ssl.SSLError, ConnectionResetError):
            return None


def _all_tls12_suites() -> list[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return sorted({c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"})


async def test_only_tls13_and_tls12_ecdhe_aead_suites_are_accepted(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        port = unit.port
        cbc = await asyncio.to_thread(_handshake, port, _client(ssl.TLSVersion.TLSv1_2, CBC_SUITES))
        assert cbc is None, f"a client offering only CBC suites got {cbc}"
        accepted = set()
        for suite in _all_tls12_suites():  # bounded: the suites this OpenSSL knows (< 200)
            try:
                context = _client(ssl.TLSVersion.TLSv1_2, suite)
            except ssl.SSLError:
                continue  # this OpenSSL build cannot offer it at all
            agreed = await asyncio.to_thread(_handshake, port, context)
            if agreed is not None:
                accepted.add(agreed[1])
        print(f"TLS 1.2 suites accepted: {sorted(accepted)}")
        assert accepted and accepted <= AEAD_ECDHE, accepted
        tls13 = await asyncio.to_thread(_handshake, port, _client(ssl.TLSVersion.TLSv1_3))
        assert tls13 is not None and tls13[0] == "TLSv1.3", tls13
        print(f"TLS 1.3 suite agreed by default: {tls13[1]}")
        for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
                    context = _client(old, "ALL:@SECLEVEL=0")
            except (ssl.SSLError, ValueError):
                continue
            assert await asyncio.to_thread(_handshake, port, context) is None


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is installed by Debian")
async def test_openssl_s_client_offering_cbc_only_is_refused(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:

        def s_client(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["openssl", "s_client", "-connect", f"127.0.0.1:{unit.port}", *args],
                input="", capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip

        refused = await asyncio.to_thread(s_client, "-tls1_2", "-cipher", CBC_SUITES)
        assert refused.returncode != 0, refused.stdout[-2000:]
        assert "Cipher is (NONE)" in refused.stdout or "handshake failure" in refused.stderr
        agreed = await asyncio.to_thread(
            s_client, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"
        )
        assert "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" in agreed.stdout, agreed.stdout[-2000:]


def _banner_ok(headers: httpx.Headers | dict[str, str]) -> None:
    server = headers.get("Server") or headers.get("server")
    assert server == "tsed", server


def _raw_tls_request(port: int, data: bytes) -> bytes:
    context = _client(ssl.TLSVersion.TLSv1_3)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="tsed") as tls,
    ):
        tls.sendall(data)
        chunks = []
        while True:
            try:
                chunk = tls.recv(65536)
            except (ssl.SSLError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


async def test_no_listener_names_python_or_aiohttp(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        async with httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context()) as http:
            for path in ("/api/v1/status", "/api/v1/receipts", "/nope", "/setup/", "/setup/x"):
                answer = await http.get(path)
                _banner_ok(answer.headers)
                assert "aiohttp" not in answer.text.lower() and "python" not in answer.text.lower()
        # aiohttp answers a malformed request itself, before any middleware of the unit
        for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
            answer = await asyncio.to_thread(_raw_tls_request, unit.port, raw)
            head = answer.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
            assert head.startswith(("HTTP/1.0 4", "HTTP/1.1 4")), head
            assert "Server: tsed" in head and "aiohttp" not in head.lower(), head
        await _admin_banner(unit)


async def _admin_banner(unit: Unit) -> None:
    transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://tsed") as admin:
        for path in ("/admin/v1/status", "/admin/v1/nope"):
            _banner_ok((await admin.get(path)).headers)


async def test_tls_handshake_cost(tmp_path: Path) -> None:
    """Figures for docs/security.md (printed, not asserted): full handshakes per version."""
    async with running_unit(tmp_path / "state") as unit:
        for label, context in (
            ("TLS 1.3", _client(ssl.TLSVersion.TLSv1_3)),
            ("TLS 1.2 ECDHE-ECDSA-AES128-GCM", _client(ssl.TLSVersion.TLSv1_2, "ECDHE+AESGCM")),
        ):
            count = 50
            began = time.perf_counter()
            for _ in range(count):
                assert await asyncio.to_thread(_handshake, unit.port, context) is not None
            spent = (time.perf_counter() - began) / count * 1000
            print(f"{label}: {spent:.2f} ms per full handshake (client and unit on one host)")
