"""Two network namespaces joined by veth links, avahi-daemon in one of them.

Namespace A is "the unit's LAN port", namespace B "a register": it runs its own D-Bus bus (a
socket in the test's directory, not the host's system bus) and avahi-daemon with a private
``/run`` so nothing of the host is touched. The addresses exist only inside these namespaces.
Everything is removed by PID and ``ip netns del``, also when the test fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

NEEDED = ("ip", "unshare", "dbus-daemon", "avahi-daemon", "avahi-browse")

DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

AVAHI_CONFIG = """[server]
host-name=register-b
use-ipv4=yes
use-ipv6=no
allow-interfaces={interfaces}
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-hinfo=no
publish-workstation=no
"""


def missing_tools() -> list[str]:
    return [tool for tool in NEEDED if shutil.which(tool) is None]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass(frozen=True)
class Browsed:
    """One resolved line of ``avahi-browse -p``."""

    interface: str
    name: str
    host: str
    address: str
    port: int
    txt: dict[str, str]


def _unescape(text: str) -> str:
    """avahi's escapes: ``\\DDD`` (decimal) and ``\\.``."""
    return re.sub(r"\\(\d{3}|.)", lambda m: chr(int(m[1])) if m[1].isdigit() else m[1], text)


def parse_browse(output: str) -> list[Browsed]:
    found = []
    for line in output.splitlines():
        fields = line.split(";", 9)
        if len(fields) < 10 or fields[0] != "=":
            continue
        txt = {}
        for item in re.findall(r'"((?:[^"\\]|\\.)*)"', fields[9]):
            key, _, value = _unescape(item).partition("=")
            txt[key] = value
        found.append(
            Browsed(fields[1], _unescape(fields[3]), fields[6], fields[7], int(fields[8]), txt)
        )
    return found


@dataclass
class Lan:
    """Namespaces ``a`` (the unit) and ``b`` (avahi), veth ``vA``-``vB`` and ``vA2``-``vB2``."""

    workdir: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    files: list[BinaryIO] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.a, self.b = f"tsed-a-{self.tag}", f"tsed-b-{self.tag}"
        self.bus = self.workdir / "bus.sock"
        self.env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={self.bus}"}

    def setup(self) -> None:
        _ip("netns", "add", self.a)
        _ip("netns", "add", self.b)
        for a_end, b_end in (("vA", "vB"), ("vA2", "vB2")):
            _ip("-n", self.a, "link", "add", a_end, "type", "veth", "peer", "name", b_end,
                "netns", self.b)  # fmt: skip
        _ip("-n", self.a, "addr", "add", "10.99.0.1/24", "dev", "vA")
        _ip("-n", self.b, "addr", "add", "10.99.0.2/24", "dev", "vB")
        _ip("-n", self.b, "addr", "add", "10.98.0.2/24", "dev", "vB2")
        for ns, links in ((self.a, ("lo", "vA", "vA2")), (self.b, ("lo", "vB", "vB2"))):
            for link in links:
                _ip("-n", ns, "link", "set", link, "up")
        config = self.workdir / "dbus.conf"
        config.write_text(DBUS_CONFIG.format(socket=self.bus))
        self.spawn(["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile"])
        self._wait_for(self.bus.exists, "the D-Bus socket")
        avahi_conf = self.workdir / "avahi.conf"
        avahi_conf.write_text(AVAHI_CONFIG.format(interfaces="vB,vB2"))
        script = (
            "mount -t tmpfs tmpfs /run && mkdir -p /run/avahi-daemon && "
            'exec avahi-daemon -f "$0" --no-chroot --no-drop-root --no-rlimits'
        )
        self.spawn(["ip", "netns", "exec", self.b, "unshare", "-m", "sh", "-c", script,
                    str(avahi_conf)], log="avahi.log")  # fmt: skip
        self._wait_for(
            lambda: "Server startup complete" in self.log("avahi.log"), "avahi-daemon to start"
        )

    def spawn(
        self, argv: list[str], *, log: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        if log is None:
            proc = subprocess.Popen(
                argv, env=env or self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        else:
            out = open(self.workdir / log, "wb")  # noqa: SIM115 - closed in teardown
            self.files.append(out)
            proc = subprocess.Popen(argv, env=env or self.env, stdout=out, stderr=out)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.workdir / name
        return path.read_text(errors="replace") if path.exists() else ""

    @staticmethod
    def _wait_for(ready: object, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def browse(self, service: str = "_tsed._tcp") -> tuple[list[Browsed], str]:
        """``avahi-browse -rtp`` in namespace B: every resolved instance, and the raw text."""
        result = subprocess.run(
            ["ip", "netns", "exec", self.b, "timeout", "10", "avahi-browse", "-rtp", service],
            env=self.env, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return parse_browse(result.stdout), result.stdout + result.stderr

    def browse_until(self, check: object, what: str, timeout: float = 45.0) -> list[Browsed]:
        deadline = time.monotonic() + timeout
        raw = ""
        while time.monotonic() < deadline:
            found, raw = self.browse()
            if check(found):  # type: ignore[operator]
                return found
            time.sleep(0.5)
        raise AssertionError(f"avahi never saw {what}; last browse:\n{raw}")

    def teardown(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False)
        for out in self.files:
            out.close()
