"""Test helpers for the serial console: a pty "cable", the console process, a fake admin API.

The fake admin API stands in for the daemon where a test is about the line protocol only
(tests/security/test_console_auth.py drives the real daemon); it follows the contract in
tsed.net.admin: JSON bodies, errors as ``{"error": {"code", "message", "hint"}}``. It runs a
real aiohttp server on a Unix socket in a thread of its own.
"""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path
from typing import Any

from aiohttp import web

MIN_PASSWORD = 10
PAIRING_CODE = "K7QM-3X9T-PW4R-HN2C"
FINGERPRINT = "ab" * 32


class FakeAdmin:
    """The admin API contract on a Unix socket, recording what the console sent."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.password: str | None = None
        self.calls: list[tuple[str, str, Any]] = []
        self.resets = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def _app(self) -> web.Application:
        async def record(request: web.Request) -> Any:
            body = await request.json() if request.can_read_body else None
            self.calls.append((request.method, request.path, body))
            return body

        def error(status: int, code: str, message: str, hint: str) -> web.Response:
            body = {"error": {"code": code, "message": message, "hint": hint}}
            return web.json_response(body, status=status)

        async def status(request: web.Request) -> web.Response:
            await record(request)
            device = {"id": "dev-0123456789", "short_id": "ab12cd", "fingerprint": FINGERPRINT}
            tse = {"available": False, "since": "2026-01-02T03:04:05Z", "reason": "timeout"}
            return web.json_response(
                {
                    "mode": "TEST",
                    "device": device,
                    "tse": tse,
                    "registers": 3,
                    "open_transactions": 1,
                    "addresses": ["192.0.2.10", "fe80::1"],
                }
            )

        async def password_get(request: web.Request) -> web.Response:
            await record(request)
            return web.json_response({"set": self.password is not None})

        async def password_put(request: web.Request) -> web.Response:
            body = await record(request)
            password = body.get("password") if isinstance(body, dict) else None
            if not isinstance(password, str) or len(password) < MIN_PASSWORD:
                return error(
                    400,
                    "PASSWORD_TOO_SHORT",
                    f"the password needs at least {MIN_PASSWORD} characters",
                    "Choose a longer one; a short sentence works well.",
                )
            if self.password is not None and body.get("current") != self.password:
                return error(401, "UNAUTHORIZED", "the current admin password is wrong", "")
            self.password = password
            return web.json_response({"set": True})

        async def pairing(request: web.Request) -> web.Response:
            body = await record(request)
            minutes = (body or {}).get("minutes")
            if minutes is not None and (not isinstance(minutes, int) or not 1 <= minutes <= 60):
                return error(400, "INVALID_INPUT", f"minutes: {minutes!r} is not 1..60", "")
            if self.password is not None and (body or {}).get("password") != self.password:
                return error(403, "PASSWORD_WRONG", "the current admin password is wrong", "")
            return web.json_response(
                {"code": PAIRING_CODE, "expires_at": "2026-01-02T03:09:05Z",
                 "fingerprint": FINGERPRINT},
                status=201,
            )  # fmt: skip

        async def factory_reset(request: web.Request) -> web.Response:
            body = await record(request)
            if body != {"confirm": True}:
                return error(400, "INVALID_INPUT", "confirm must be true", "")
            self.resets += 1
            return web.json_response({"reset": True, "restarting": True})

        app = web.Application()
        app.router.add_get("/admin/v1/status", status)
        app.router.add_get("/admin/v1/password", password_get)
        app.router.add_put("/admin/v1/password", password_put)
        app.router.add_post("/admin/v1/pairing", pairing)
        app.router.add_post("/admin/v1/factory-reset", factory_reset)
        return app

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        await web.UnixSite(self._runner, str(self.socket_path)).start()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self.socket_path.unlink(missing_ok=True)


class Cable:
    """The installer's end of a pty pair; the console opens ``path`` (a symlink to the pty)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.output = b""
        self.transcript = b""  # everything the console ever sent
        self.master = -1
        self.connect()

    def connect(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        self.path.unlink(missing_ok=True)
        self.path.symlink_to(os.ttyname(slave))
        os.close(slave)
        self.master = master
        self.output = b""

    def unplug(self) -> None:
        os.close(self.master)
        self.master = -1

    def send(self, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        for start in range(0, len(raw), 512):
            os.write(self.master, raw[start : start + 512])

    def _pump(self, wait: float) -> None:
        ready, _, _ = select.select([self.master], [], [], wait)
        if ready:
            try:
                chunk = os.read(self.master, 65536)
                self.output += chunk
                self.transcript += chunk
            except OSError:
                time.sleep(wait)

    def expect(self, text: str, timeout: float = 30.0) -> str:
        """Everything received up to and including ``text``; consumes it."""
        needle = text.encode()
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from the console; got {self.output[-800:]!r}")
            self._pump(0.2)
        end = self.output.index(needle) + len(needle)
        seen, self.output = self.output[:end], self.output[end:]
        return seen.decode("utf-8", "replace")

    def command(self, line: str) -> str:
        """Send a command line and return its answer up to the next prompt."""
        self.send(line + "\r")
        return self.expect("\r\n> ")

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


def start_console(
    port: Path, socket_path: Path, *extra: str, lang: str = "en"
) -> subprocess.Popen[bytes]:
    """The console process on ``port``; its lines in ``lang`` (the suite reads English ones,
    tests/cli/test_console_commands.py the German)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSED_")}
    env.pop("NOTIFY_SOCKET", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tsed.cli.console", "--port", str(port), "--socket",
         str(socket_path), "--log-level", "DEBUG", "--lang", lang, *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def stop_console(proc: subprocess.Popen[bytes]) -> str:
    """Stop the console by its pid; its log (stderr) as text."""
    if proc.poll() is None:
        proc.terminate()
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode("utf-8", "replace")
