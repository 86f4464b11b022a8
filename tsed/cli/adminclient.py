"""The admin socket's client, shared by ``tsectl`` and the serial console.

:class:`AdminClient` talks HTTP over the daemon's admin Unix socket; every failure (daemon not
running, no permission, an error answer) becomes a :class:`CommandFailed` with the daemon's
message, hint and code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from tsed.cli.say import os_reason
from tsed.errors import TsedError


class CommandFailed(TsedError, code="FAILED"):
    """A command failed: the message and the hint are printed, exit code 1.

    An error answer of the daemon is relayed with the daemon's own message, hint and code;
    the failures tsectl finds by itself have a class of their own below.
    """

    default_hint = ""
    relayed: Mapping[str, Any] | None = None  # the daemon's error.text (per language)

    def __init__(
        self,
        message: str,
        hint: str = "",
        code: str | None = None,
        relayed: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        if code is not None:
            self.code = code  # the daemon's code of the answer this relays
        if relayed is not None:
            self.relayed = relayed


class UsageError(CommandFailed, code="USAGE"):
    """The command line is wrong (a missing or contradictory argument): exit code 2."""


class NotConfirmed(CommandFailed, code="ABORTED"):
    """The person answered no to a confirmation: nothing was done."""


class NotRunning(CommandFailed, code="NOT_RUNNING"):
    """The daemon's admin socket is missing or does not answer."""


class SocketDenied(CommandFailed, code="PERMISSION_DENIED"):
    """The admin socket exists, but this user may not use it."""


class AdminClient:
    """A small synchronous client for the daemon's admin API on its Unix socket."""

    def __init__(self, socket_path: Path, *, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self._client = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(socket_path)),
            base_url="http://tsed",
            timeout=timeout,
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def download(self, path: str, dest: Path) -> None:
        """Stream a file answer (an export) to ``dest`` (written whole, then renamed)."""
        partial = dest.with_name(dest.name + ".partial")
        try:
            with self._client.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    error = response.json().get("error", {})
                    raise CommandFailed(str(error.get("message", "download failed")),
                                        str(error.get("hint", "")),
                                        relayed=error.get("text"))  # fmt: skip
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())  # whole on the disk once it says "written"
            partial.replace(dest)
            folder = os.open(dest.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as err:
            partial.unlink(missing_ok=True)
            raise CommandFailed(
                f"cannot write {dest}: {err.strerror}", "Choose another -o FILE."
            ).localized("cli.cannot_write", path=dest, reason=os_reason(err)) from err
        except httpx.TransportError as err:
            partial.unlink(missing_ok=True)
            raise CommandFailed(
                f"the download stopped: {type(err).__name__}", "Try again."
            ).localized("cli.download_stopped") from err

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        raw: bytes | None = None,
    ) -> Any:
        if not self.socket_path.exists():
            raise NotRunning(
                f"tsed is not running: no admin socket at {self.socket_path}",
                "Start the service (systemctl start tsed) or pass --socket / --state-dir.",
            ).localized("cli.not_running", path=self.socket_path)
        try:
            if raw is not None:
                response = self._client.request(method, path, content=raw)
            else:
                response = self._client.request(method, path, json=body)
        except PermissionError as err:
            raise SocketDenied(
                f"no permission to use {self.socket_path}",
                "Run tsectl as root or as the service user tsed.",
            ).localized("cli.denied", path=self.socket_path) from err
        except httpx.TransportError as err:
            if isinstance(err.__context__, PermissionError) or "Permission denied" in str(err):
                raise SocketDenied(
                    f"no permission to use {self.socket_path}",
                    "Run tsectl as root or as the service user tsed.",
                ).localized("cli.denied", path=self.socket_path) from err
            raise NotRunning(
                f"cannot talk to tsed over {self.socket_path}: {type(err).__name__}",
                "Check that the service runs: systemctl status tsed; journalctl -u tsed.",
            ).localized("cli.no_talk", path=self.socket_path) from err
        try:
            data = response.json()
        except ValueError as err:
            raise CommandFailed(
                f"tsed answered {response.status_code} without JSON",
                "Check the journal: journalctl -u tsed.",
            ).localized("cli.no_json", status=response.status_code) from err
        if response.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise CommandFailed(
                str(error.get("message", f"tsed answered {response.status_code}")),
                str(error.get("hint", "")),
                str(error.get("code", CommandFailed.code)),
                error.get("text") if isinstance(error.get("text"), dict) else None,
            )
        return data
