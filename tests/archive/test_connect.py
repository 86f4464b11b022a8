"""ssh's ProxyCommand: an HTTP CONNECT tunnel through the shop's proxy, run as ssh runs it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import tsed.archive.connect as connect_module
from tests.support.proxyserver import ProxyServer


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-echo\r\n")  # a server speaks first, as sshd does
    writer.write(await reader.readline())
    await writer.drain()
    writer.close()


async def _run(*args: str, data: bytes = b"") -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, connect_module.__file__, *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    out = b""
    if data:  # like ssh: talk, read the answer, then hang up
        proc.stdin.write(data)
        out = await asyncio.wait_for(proc.stdout.readexactly(len(data) + 14), 20)
    proc.stdin.close()
    rest, err = await asyncio.wait_for(proc.communicate(), 20)
    return proc.returncode or 0, out + rest, err


async def test_tunnel_and_refusals(tmp_path: Path) -> None:
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = str(echo.sockets[0].getsockname()[1])
    proxy = ProxyServer(
        username="shop", password="tunnel-secret-1", hosts={"nas.invalid": "127.0.0.1"}
    )
    await proxy.start()
    try:
        auth = tmp_path / "auth"
        auth.write_text("shop:tunnel-secret-1")
        code, out, _ = await _run("127.0.0.1", str(proxy.port), "nas.invalid", port, str(auth),
                                  data=b"SSH-2.0-test\r\n")  # fmt: skip
        assert code == 0 and out == b"SSH-2.0-echo\r\nSSH-2.0-test\r\n"
        auth.write_text("shop:wrong")
        code, _, err = await _run("127.0.0.1", str(proxy.port), "nas.invalid", port, str(auth))
        assert code == 1 and b"proxyconnect" in err and b"407" in err and b"wrong" not in err
        await proxy.stop()
        code, _, err = await _run("127.0.0.1", str(proxy.port), "nas.invalid", port)
        assert code == 1 and b"proxyconnect" in err
        code, _, err = await _run("too", "few")
        assert code == 2
    finally:
        await proxy.stop()
        echo.close()
        await echo.wait_closed()
