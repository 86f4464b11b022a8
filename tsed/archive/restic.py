"""restic, the engine of the archive's off-box copy: one coroutine per restic command.

Every call runs the restic binary directly (no shell), in its own process group, bounded in
time (the group is killed when the bound passes), and reads restic's ``--json`` output where
restic has one. Secrets never reach a command line, the environment of a listed process or a
log: the repository password is in a private file (``RESTIC_PASSWORD_FILE``), the repository
itself, with the REST credential in it, in another (``RESTIC_REPOSITORY_FILE``), and the SSH
key in a third; the three live in a directory of mode 0700 that exists only while restic runs.

restic's failures are mapped by their message to the :class:`~tsed.errors.OffboxError`
leaves (restic 0.14, Debian 12, has no distinct exit codes for them); its text reaches the
error redacted.

The shop's proxy: for REST restic gets ``HTTPS_PROXY``/``HTTP_PROXY`` (Go's proxy rules:
a loopback target is never proxied; the proxy's password is then in restic's environment,
readable by its own user and root only). SFTP runs over ssh, which knows no HTTP proxy: its
``ProxyCommand`` is :mod:`tsed.archive.connect` (HTTP CONNECT, the password in a private
file); the proxy must allow CONNECT to the SFTP port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tsed.archive.resticout import args_name, classify, parse_time
from tsed.config.offbox import Repository
from tsed.errors import (
    OffboxAuthFailed,
    OffboxError,
    OffboxMissing,
    OffboxUnreachable,
    ResticMissing,
)
from tsed.fiskaly.transport import ProxySettings
from tsed.logs import redact, register_secret

_LOGGER = logging.getLogger(__name__)

RESTIC = "restic"
TAG = "tsed-archive"
SSH_CONNECT_TIMEOUT = 15
_STDERR_KEPT = 600  # characters of restic's message kept in an error


@dataclass(frozen=True, slots=True)
class Target:
    """Everything restic needs to open one repository. Holds secrets: never printed."""

    repository: Repository
    password: str = field(repr=False)
    login: str | None = None
    credential: str | None = field(default=None, repr=False)  # REST password or SSH key
    host_key: str | None = None  # SFTP: the pinned host key; None: first use (known_hosts)
    ca_file: str | None = None  # REST: the CA of a self-signed target
    proxy: ProxySettings | None = field(default=None, repr=False)
    known_hosts: Path | None = None  # SFTP: where a first-use host key is remembered
    cache_dir: Path | None = None

    def secrets(self) -> list[str]:
        found = [self.password, self.credential or ""]
        if self.proxy is not None and self.proxy.password:
            found.append(self.proxy.password)
        if self.credential and self.login:
            found.append(quote(self.credential, safe=""))
        return [s for s in found if s]


@dataclass(frozen=True, slots=True)
class BackupSummary:
    snapshot_id: str
    files_new: int
    files_changed: int
    files_unmodified: int
    data_added: int
    total_bytes: int
    duration: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    id: str
    short_id: str
    time: datetime
    hostname: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    subset: str | None
    message: str  # restic's last lines, redacted


@dataclass(frozen=True, slots=True)
class RepoStats:
    total_size: int  # bytes stored in the repository (raw data, after dedup and compression)
    blob_count: int
    snapshots: int


@dataclass(frozen=True, slots=True)
class _Output:
    code: int
    stdout: str
    stderr: str


def proxy_environment(target: Target) -> dict[str, str]:
    """``HTTPS_PROXY``/``HTTP_PROXY`` for a REST target behind the shop's proxy."""
    proxy = target.proxy
    if proxy is None or target.repository.kind != "rest":
        return {}
    auth = ""
    if proxy.username:
        auth = quote(proxy.username, safe="")
        if proxy.password:
            auth += ":" + quote(proxy.password, safe="")
        auth += "@"
    host = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
    url = f"http://{auth}{host}:{proxy.port}"
    return {"HTTPS_PROXY": url, "HTTP_PROXY": url, "NO_PROXY": ""}


def _repository_text(target: Target) -> str:
    repo = target.repository
    if repo.kind == "sftp":
        host = f"[{repo.host}]" if ":" in repo.host else repo.host
        return f"sftp:{host}:{repo.path}"
    scheme, rest = repo.url.split("://", 1)
    if target.login:
        auth = quote(target.login, safe="")
        if target.credential:
            auth += ":" + quote(target.credential, safe="")
        rest = f"{auth}@{rest}"
    return f"rest:{scheme}://{rest}"


class Restic:
    """One repository, driven through the restic binary. Not re-entrant: callers serialize."""

    def __init__(
        self,
        target: Target,
        *,
        binary: str = RESTIC,
        timeout: float = 3600.0,
        runtime_dir: Path | None = None,
    ) -> None:
        self.target = target
        self.binary = binary
        self.timeout = timeout
        self.runtime_dir = runtime_dir
        self.repository_id: str | None = None
        for secret in target.secrets():
            register_secret(secret)

    def __repr__(self) -> str:
        return f"Restic({self.target.repository.display!r})"

    # -- commands -------------------------------------------------------------------------

    async def init(self) -> bool:
        """Create the repository unless it exists (idempotent); True when it was created.
        :attr:`repository_id` is the repository's id afterwards."""
        try:
            await self._read_id()
            return False
        except OffboxMissing:
            pass
        try:
            await self._call(["init"], limit=min(self.timeout, 300.0))
        except OffboxError as err:
            if "already exists" not in err.message:
                raise
            await self._read_id()
            return False
        await self._read_id()
        _LOGGER.info(
            "off-box repository created at %s",
            self.target.repository.display,
            extra={"TSED_EVENT": "offbox_init", "TSED_REPOSITORY": self.target.repository.display},
        )
        return True

    async def _read_id(self) -> None:
        out = await self._call(["cat", "config"], limit=min(self.timeout, 300.0))
        with contextlib.suppress(ValueError, AttributeError):
            self.repository_id = str(json.loads(out.stdout).get("id") or "") or None

    async def backup(
        self, source: Path, *, host: str = "tsed", tags: Sequence[str] = (TAG,)
    ) -> BackupSummary:
        """Back up the contents of ``source`` (stored at the snapshot's root)."""
        if not await asyncio.to_thread(source.is_dir):
            raise OffboxError(f"{source} is not a directory: nothing to copy")
        args = ["backup", "--json", "--host", host]
        for tag in tags:
            args += ["--tag", tag]
        out = await self._call([*args, "."], cwd=source)
        summary: dict[str, Any] | None = None
        for line in out.stdout.splitlines():
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict) and message.get("message_type") == "summary":
                    summary = message
        if summary is None or not isinstance(summary.get("snapshot_id"), str):
            raise OffboxError(f"restic backup gave no summary: {self._clean(out.stderr)}")
        return BackupSummary(
            str(summary["snapshot_id"]),
            int(summary.get("files_new", 0)),
            int(summary.get("files_changed", 0)),
            int(summary.get("files_unmodified", 0)),
            int(summary.get("data_added", 0)),
            int(summary.get("total_bytes_processed", 0)),
            float(summary.get("total_duration", 0.0)),
        )

    async def snapshots(self, tag: str | None = TAG) -> list[Snapshot]:
        """The repository's snapshots (with ``tag``), oldest first."""
        args = ["snapshots", "--json"] + (["--tag", tag] if tag else [])
        out = await self._call(args, limit=min(self.timeout, 300.0))
        try:
            raw = json.loads(out.stdout or "[]")
        except ValueError:
            raise OffboxError("restic snapshots gave no readable list") from None
        found = [
            Snapshot(
                str(item["id"]),
                str(item.get("short_id", str(item["id"])[:8])),
                parse_time(str(item["time"])),
                str(item.get("hostname", "")),
                tuple(str(t) for t in item.get("tags") or ()),
            )
            for item in raw or ()
            if isinstance(item, dict) and "id" in item and "time" in item
        ]
        return sorted(found, key=lambda s: s.time)

    async def check(self, subset: str | None = None) -> CheckResult:
        """restic's own check of the repository's structure; ``subset`` (``"5%"``, ``"1/10"``)
        also reads and verifies that share of the stored data."""
        with contextlib.suppress(OffboxError):
            await self._call(["unlock"], limit=min(self.timeout, 300.0))  # stale locks only
        args = ["check"] + ([f"--read-data-subset={subset}"] if subset else [])
        try:
            out = await self._call(args)
        except OffboxError as err:
            if type(err) is not OffboxError:
                raise
            return CheckResult(False, subset, err.message)
        return CheckResult(True, subset, self._clean(out.stdout)[-_STDERR_KEPT:])

    async def stats(self) -> RepoStats:
        out = await self._call(["stats", "--json", "--mode", "raw-data"], limit=600.0)
        try:
            raw = json.loads(out.stdout)
        except ValueError:
            raise OffboxError("restic stats gave no readable answer") from None
        return RepoStats(
            int(raw.get("total_size", 0)),
            int(raw.get("total_blob_count", 0)),
            int(raw.get("snapshots_count", 0)),
        )

    async def restore(self, snapshot_id: str, target_dir: Path) -> None:
        """Restore one snapshot into ``target_dir`` (restic verifies each blob as it reads)."""
        if not re.fullmatch(r"[0-9a-f]{8,64}|latest", snapshot_id):
            raise OffboxError(f"{snapshot_id!r} is not a snapshot id")
        await self._call(["restore", snapshot_id, "--target", str(target_dir)])

    # -- running restic -------------------------------------------------------------------

    async def _call(
        self, args: list[str], *, cwd: Path | None = None, limit: float | None = None
    ) -> _Output:
        with self._session() as (env, options):
            out = await self._run([*options, *args], env, cwd, limit or self.timeout)
            if out.code != 0 and "sftp session" in out.stderr:
                # restic drops ssh's own message; ask ssh once more to learn why
                out = await self._ssh_probe(env, out)
        if out.code != 0:
            raise classify(
                self._clean(out.stderr), out.code, args[0], self.target.repository.display
            )
        return out

    async def _ssh_probe(self, env: dict[str, str], failed: _Output) -> _Output:
        argv = self._ssh_argv(Path(env["HOME"]))
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )  # fmt: skip
        except FileNotFoundError:
            return _Output(failed.code, failed.stdout, failed.stderr + "\nssh is not installed")
        try:
            _, stderr = await asyncio.wait_for(proc.communicate(), SSH_CONNECT_TIMEOUT + 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            stderr = b"ssh: connect to host: timed out"
        return _Output(
            failed.code, failed.stdout, f"{failed.stderr}\n{stderr.decode(errors='replace')}"
        )

    @contextlib.contextmanager
    def _session(self) -> Iterator[tuple[dict[str, str], list[str]]]:
        """The private files of one restic run, and its environment and global options."""
        target = self.target
        if self.runtime_dir is not None:
            self.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._remove_stale_sessions(self.runtime_dir)
        private = Path(tempfile.mkdtemp(prefix="tsed-restic-", dir=self.runtime_dir))
        try:
            os.chmod(private, 0o700)
            _private_file(private / "password", target.password)
            _private_file(private / "repository", _repository_text(target))
            env = {
                "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                "HOME": str(private),
                "LC_ALL": "C",
                "TMPDIR": str(private),
                "RESTIC_PASSWORD_FILE": str(private / "password"),
                "RESTIC_REPOSITORY_FILE": str(private / "repository"),
                **proxy_environment(target),
            }
            options: list[str] = []
            if target.cache_dir is not None:
                options += ["--cache-dir", str(target.cache_dir)]
            else:
                options.append("--no-cache")
            if target.ca_file:
                options += ["--cacert", target.ca_file]
            if target.repository.kind == "sftp":
                options += ["-o", f"sftp.command={self._ssh_command(private)}"]
            yield env, options
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def _remove_stale_sessions(self, runtime_dir: Path) -> None:
        """The private files a run left behind when the unit was killed or lost power: older
        than any run may last, so no running session's."""
        oldest = time.time() - self.timeout - 60
        for stale in runtime_dir.glob("tsed-restic-*"):
            with contextlib.suppress(OSError):
                if stale.stat().st_mtime < oldest:
                    shutil.rmtree(stale, ignore_errors=True)
                    _LOGGER.info("removed a restic session's leftover files: %s", stale.name)

    def _ssh_command(self, private: Path) -> str:
        return " ".join(shlex.quote(arg) for arg in self._ssh_argv(private))

    def _ssh_argv(self, private: Path) -> list[str]:
        target, repo = self.target, self.target.repository
        if not target.credential:
            raise OffboxAuthFailed(
                f"no SSH key for {repo.display} in the vault",
                hint="Store the unit's SSH private key as the off-box credential, and its "
                "public key in the target's authorized_keys.",
            )
        key = target.credential if target.credential.endswith("\n") else target.credential + "\n"
        if not (private / "id").exists():
            _private_file(private / "id", key)
        if target.host_key:
            known = private / "known_hosts"
            name = repo.host if repo.port in (None, 22) else f"[{repo.host}]:{repo.port}"
            if not known.exists():
                _private_file(known, f"{name} {target.host_key}\n")
            checking = "yes"
        else:
            known = target.known_hosts or private / "known_hosts"
            known.parent.mkdir(parents=True, exist_ok=True)
            checking = "accept-new"
        argv = [
            "ssh", "-F", "/dev/null", "-i", str(private / "id"),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known}", "-o", f"StrictHostKeyChecking={checking}",
            "-o", f"ConnectTimeout={SSH_CONNECT_TIMEOUT}",
            "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
        ]  # fmt: skip
        if target.proxy is not None:
            argv += ["-o", f"ProxyCommand={self._proxy_command(private)}"]
        if repo.port:
            argv += ["-p", str(repo.port)]
        if target.login:
            argv += ["-l", target.login]
        return [*argv, repo.host, "-s", "sftp"]

    def _proxy_command(self, private: Path) -> str:
        """ssh's ProxyCommand: HTTP CONNECT through the shop's proxy (:mod:`connect`)."""
        proxy = self.target.proxy
        assert proxy is not None
        argv = [sys.executable, str(Path(__file__).with_name("connect.py")), proxy.host,
                str(proxy.port), "%h", "%p"]  # fmt: skip
        if proxy.username:
            auth = private / "proxy-auth"
            if not auth.exists():
                _private_file(auth, f"{proxy.username}:{proxy.password or ''}")
            argv.append(str(auth))
        return " ".join(shlex.quote(arg) for arg in argv)

    async def _run(
        self, args: list[str], env: dict[str, str], cwd: Path | None, limit: float
    ) -> _Output:
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                self.binary, *args, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )  # fmt: skip
        except FileNotFoundError:
            raise ResticMissing(f"the restic program ({self.binary}) is not installed") from None
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(), limit)
        except (TimeoutError, asyncio.CancelledError) as err:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            if isinstance(err, asyncio.CancelledError):
                raise
            raise OffboxUnreachable(
                f"restic {args_name(args)} did not finish within {limit:.0f} s "
                f"({self.target.repository.display})"
            ) from None
        code = proc.returncode if proc.returncode is not None else -1
        _LOGGER.debug(
            "restic %s: exit %s after %.2f s",
            args_name(args),
            code,
            time.monotonic() - started,
            extra={"TSED_EVENT": "offbox_restic", "TSED_EXIT": code},
        )
        return _Output(code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))

    def _clean(self, text: str) -> str:
        for secret in self.target.secrets():
            text = text.replace(secret, "***")
        lines = [line for line in text.splitlines() if line.strip()]
        return redact(" / ".join(lines))[-_STDERR_KEPT:]


def _private_file(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
