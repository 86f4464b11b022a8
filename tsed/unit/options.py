"""The daemon's options: where its state and configuration live and where it listens.

Every option is resolved in one order: command-line flag, then environment variable, then
built-in default::

    --state-dir  TSED_STATE_DIR  /var/lib/tsed
    --config     TSED_CONFIG     /etc/tsed/tsed.toml
    --listen     TSED_LISTEN     0.0.0.0:8443

The vendor public key that signs activations is not among them: it is fixed at
:data:`VENDOR_KEY_PATH`, installed root-owned with the image, so nothing an installer or a LAN
host can reach (setup page, ``tsectl``, console, configuration file) changes which key makes the
unit LIVE.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tsed.errors import ConfigError
from tsed.state.paths import DEFAULT_STATE_DIR, StatePaths

DEFAULT_CONFIG = "/etc/tsed/tsed.toml"
DEFAULT_LISTEN = "0.0.0.0:8443"
# The vendor public key, installed root-owned by the image build (image/build, option
# TSED_VENDOR_PUBKEY). Not a setting of the running unit.
VENDOR_KEY_PATH = Path("/usr/share/tsed/vendor.pub")


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    state_dir: Path
    config_path: Path
    listen: ListenAddress
    log_level: str = "INFO"
    # Fixed in production: neither a flag nor an environment variable sets it. Only code that
    # builds DaemonOptions itself (tests, tests/support/unit_process.py) can point it elsewhere.
    vendor_key: Path = VENDOR_KEY_PATH

    @property
    def admin_socket(self) -> Path:
        return StatePaths(self.state_dir).admin_socket


def parse_listen(value: str, *, source: str = "--listen") -> ListenAddress:
    """Parse ``HOST:PORT`` (``[v6]:PORT`` for IPv6) into a :class:`ListenAddress`."""
    text = value.strip()
    host: str
    port_text: str
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not text[end + 1 :].startswith(":"):
            raise ConfigError(
                f"{source}: {value!r} is not HOST:PORT",
                hint="Write an IPv6 address in brackets, e.g. [::]:8443.",
            )
        host, port_text = text[1:end], text[end + 2 :]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ConfigError(
                f"{source}: {value!r} is not HOST:PORT",
                hint="Give an address and a port, e.g. 0.0.0.0:8443.",
            )
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ConfigError(
                f"{source}: {host!r} is not an IP address",
                hint="Use an IP address of this unit, 0.0.0.0 for all IPv4 addresses or [::].",
            ) from None
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise ConfigError(
            f"{source}: port {port_text!r} is not a number from 1 to 65535",
            hint="Use a free TCP port, e.g. 8443.",
        )
    return ListenAddress(host, int(port_text))


def resolve_options(args: argparse.Namespace, environ: Mapping[str, str]) -> DaemonOptions:
    """Flag, then environment variable, then default."""

    def pick(flag: str | None, env: str, default: str) -> tuple[str, str]:
        if flag:
            return flag, f"--{env.removeprefix('TSED_').lower().replace('_', '-')}"
        if environ.get(env):
            return environ[env], env
        return default, "default"

    state_dir, _ = pick(args.state_dir, "TSED_STATE_DIR", DEFAULT_STATE_DIR)
    config, _ = pick(args.config, "TSED_CONFIG", DEFAULT_CONFIG)
    listen, listen_source = pick(args.listen, "TSED_LISTEN", DEFAULT_LISTEN)
    return DaemonOptions(
        state_dir=Path(state_dir),
        config_path=Path(config),
        listen=parse_listen(listen, source=listen_source),
        log_level=args.log_level,
    )
