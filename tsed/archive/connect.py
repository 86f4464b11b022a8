"""ssh's ProxyCommand for an SFTP target behind the shop's HTTP proxy (HTTP CONNECT).

ssh knows no HTTP proxy; it runs this file as a script (standard library only, no tsed
imports) and speaks SSH over its standard input and output::

    python3 connect.py PROXY_HOST PROXY_PORT TARGET_HOST TARGET_PORT [AUTH_FILE]

``AUTH_FILE`` (mode 0600, deleted when restic ends) holds ``user:password`` for the proxy's
Basic authentication, so the password is on no command line. The proxy must allow CONNECT to
the target's port (many shop proxies allow only 443: then run the SFTP server on 443 or use a
REST target).
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import sys
import threading

CONNECT_TIMEOUT = 20.0


def connect(
    proxy_host: str, proxy_port: int, host: str, port: int, auth: str | None
) -> socket.socket:
    """A socket through the proxy to ``host:port``; OSError with the proxy's answer if not."""
    sock = socket.create_connection((proxy_host, proxy_port), timeout=CONNECT_TIMEOUT)
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
    if auth:
        request += f"Proxy-Authorization: Basic {base64.b64encode(auth.encode()).decode()}\r\n"
    sock.sendall((request + "\r\n").encode("latin-1"))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk or len(head) > 16384:
            sock.close()
            raise OSError("proxyconnect: the proxy closed the connection")
        head += chunk
    status = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    parts = status.split(" ", 2)
    if len(parts) < 2 or parts[1] != "200":
        sock.close()
        raise OSError(f"proxyconnect: the proxy answered {status!r} to CONNECT {target}")
    sock.settimeout(None)
    return sock


def _pump_in(sock: socket.socket) -> None:
    try:
        while chunk := os.read(0, 65536):
            sock.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        sys.stderr.write("usage: connect.py PROXY_HOST PROXY_PORT HOST PORT [AUTH_FILE]\n")
        return 2
    auth = None
    if len(argv) == 5:
        with open(argv[4], encoding="utf-8") as handle:
            auth = handle.read().strip()
    try:
        sock = connect(argv[0], int(argv[1]), argv[2], int(argv[3]), auth)
    except OSError as err:
        sys.stderr.write(f"proxyconnect tcp: {err}\n")
        return 1
    threading.Thread(target=_pump_in, args=(sock,), daemon=True).start()
    try:
        while chunk := sock.recv(65536):
            os.write(1, chunk)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
