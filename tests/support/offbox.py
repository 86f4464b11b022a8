"""Off-box copy targets on loopback and a realistic archive to copy.

* :func:`build_archive`: a directory like the archive store's: per TSS the TAR exports of
  consecutive signature-counter ranges from the real simulator, a SHA-256 manifest and a
  SQLite index.
* :class:`RcloneRest`: ``rclone serve restic`` on 127.0.0.1 with an htpasswd user and,
  optionally, TLS (a trustme CA); it can stop and start again on the same port.
* :class:`Plug`: a TCP relay in front of a target whose plug a test pulls at a chosen request
  (the target gone mid-upload, at a moment no timing decides) and puts back.
* :class:`PrivateSshd`: an sshd of its own on a loopback port (root: in a private mount
  namespace, so its privilege-separation directory is a tmpfs nobody else sees).

Every process here is started and stopped by its test, by its own process id.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import trustme

from tests.fiskaly.simulator.conftest import Api
from tests.support.tar import download_export
from tests.support.unit import free_port

MANIFEST = "MANIFEST.sha256"
INDEX = "index.sqlite"


async def build_archive(api: Api, root: Path, *, exports: int, sales: int = 3) -> dict[str, str]:
    """``exports`` incremental TAR exports of one TSS (``sales`` sales between two), laid out
    as ``<tss>/<first>-<last>.tar``, with a manifest and an index; returns the manifest."""
    tss_id, client_id = await api.setup_tss()
    directory = root / tss_id
    directory.mkdir(parents=True)
    first = 1
    index = sqlite3.connect(root / INDEX)
    index.execute("CREATE TABLE IF NOT EXISTS exports (tss TEXT, first INT, last INT, sha TEXT)")
    for _ in range(exports):
        for _ in range(sales):
            await api.sale(tss_id, client_id)
        last = int((await api.ok("GET", f"/tss/{tss_id}"))["signature_counter"])
        tar = await download_export(
            api, tss_id, start_signature_counter=first, end_signature_counter=last
        )
        name = f"{first:010d}-{last:010d}.tar"
        (directory / name).write_bytes(tar)
        index.execute(
            "INSERT INTO exports VALUES (?, ?, ?, ?)",
            (tss_id, first, last, hashlib.sha256(tar).hexdigest()),
        )
        first = last + 1
    index.commit()
    index.close()
    manifest = {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    (root / MANIFEST).write_text("".join(f"{h}  {n}\n" for n, h in manifest.items()))
    manifest[MANIFEST] = hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest()
    return manifest


def _wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class RcloneRest:
    """A REST repository server: ``rclone serve restic`` with Basic auth, optionally TLS."""

    root: Path
    user: str = "shop7"
    password: str = "rest-credential-Zq8vN3xK"
    tls: bool = False
    host_name: str = "localhost"  # the name in the certificate (TLS)
    port: int = field(default_factory=free_port)
    ca_file: Path | None = None
    bwlimit: str | None = None  # e.g. "2M": a slow uplink, so an upload takes seconds
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, path: str = "shop7", host: str = "127.0.0.1", port: int | None = None) -> str:
        scheme = "https" if self.tls else "http"
        return f"rest:{scheme}://{host}:{port or self.port}/{path}"

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        digest = base64.b64encode(hashlib.sha1(self.password.encode()).digest()).decode()
        (self.root / "htpasswd").write_text(f"{self.user}:{{SHA}}{digest}\n")
        argv = ["rclone", "serve", "restic", "--addr", f"127.0.0.1:{self.port}",
                "--htpasswd", str(self.root / "htpasswd"), "--config", "/dev/null",
                "--log-level", "ERROR"]  # fmt: skip
        if self.bwlimit:
            argv += ["--bwlimit", self.bwlimit]
        if self.tls:
            if self.ca_file is None:
                ca = trustme.CA()
                cert = ca.issue_cert(self.host_name, "127.0.0.1")
                cert.private_key_and_cert_chain_pem.write_to_path(str(self.root / "server.pem"))
                self.ca_file = self.root / "ca.pem"
                ca.cert_pem.write_to_path(str(self.ca_file))
            argv += [
                "--cert",
                str(self.root / "server.pem"),
                "--key",
                str(self.root / "server.pem"),
            ]
        quiet = subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [*argv, str(self.data)], stdin=quiet, stdout=quiet, stderr=quiet
        )
        _wait_port(self.port, self.proc)

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)


@dataclass
class Plug:
    """A TCP relay on 127.0.0.1:``port`` to the target on ``target_port``.

    After :meth:`pull_at` the first request whose bytes hold ``marker`` (``b"POST /shop7/data/"``:
    restic saving a pack) never reaches the target: the relay resets every connection and every
    new one until :meth:`plug_in`, so the client finds the target gone in the middle of that
    upload however fast the machine is; ``pulled`` is set. (The listener stays open while the
    plug is out: closing it under a connecting client leaks the half-accepted socket.)
    """

    target_port: int
    port: int = field(default_factory=free_port)
    pulled: asyncio.Event = field(default_factory=asyncio.Event)
    _marker: bytes | None = None
    _out = False
    _server: asyncio.Server | None = None
    _transports: set[asyncio.BaseTransport] = field(default_factory=set)

    async def plug_in(self) -> None:
        self._out = False
        if self._server is None:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    def pull_at(self, marker: bytes) -> None:
        self._marker = marker
        self.pulled.clear()

    def pull(self) -> None:
        """Gone now: every open connection reset, every new one too."""
        self._marker = None
        self._out = True
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()
        self.pulled.set()

    async def aclose(self) -> None:
        self.pull()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._out:
            writer.transport.abort()
            return
        try:
            upstream, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        ends = (writer.transport, up_writer.transport)
        if self._out:  # pulled while connecting
            for transport in ends:
                transport.abort()
            return
        self._transports.update(ends)
        pipes = [asyncio.ensure_future(self._pipe(reader, up_writer, watch=True)),
                 asyncio.ensure_future(self._pipe(upstream, writer, watch=False))]  # fmt: skip
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            for transport in ends:
                self._transports.discard(transport)
                transport.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, watch: bool
    ) -> None:
        tail = b""  # a marker may be cut between two reads
        try:
            while data := await reader.read(65536):
                marker = self._marker
                if watch and marker is not None and marker in tail + data:
                    self.pull()
                    return
                tail = data[-64:]
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return


@dataclass
class PrivateSshd:
    """An sshd on a loopback port that lets one key in, with the SFTP subsystem."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    client_key: str = ""  # the private key the unit will hold in its vault
    host_key: str = ""  # "ssh-ed25519 AAAA..." for offbox.host_key

    @property
    def user(self) -> str:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for name in ("host", "client"):
            if not (self.root / name).exists():
                subprocess.run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f",
                     str(self.root / name)], check=True,
                )  # fmt: skip
        self.client_key = (self.root / "client").read_text()
        self.host_key = " ".join((self.root / "host.pub").read_text().split()[:2])
        shutil.copy(self.root / "client.pub", self.root / "authorized_keys")
        (self.root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.root / 'host'}\n"
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n"
            "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n"
            "LogLevel ERROR\n"
        )
        sshd = ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.root / "sshd_config")]
        if os.getuid() == 0:  # the privilege-separation directory, in a namespace of its own
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    'mount -t tmpfs -o size=1m tsed-test /run && mkdir -m 0755 /run/sshd '
                    '&& exec "$@"', "sh", *sshd]  # fmt: skip
        else:
            argv = sshd
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        _wait_port(self.port, self.proc)

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


def command_lines() -> tuple[str, str]:
    """Every process's command line (what any local user sees with ps), and the environment
    of this test's own descendants (restic, ssh: what their own user and root can read)."""
    text = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    environ = ""
    ours = {os.getpid()}
    listing = subprocess.run(
        ["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True
    ).stdout
    parents = dict(tuple(map(int, line.split())) for line in listing.splitlines() if line.strip())
    for pid in sorted(parents):
        chain, seen = pid, 0
        while chain in parents and chain not in ours and seen < 64:
            chain, seen = parents[chain], seen + 1
        if chain in ours and pid not in ours:
            try:
                environ += Path(f"/proc/{pid}/environ").read_bytes().decode("utf-8", "replace")
            except OSError:
                continue
    return text, environ
