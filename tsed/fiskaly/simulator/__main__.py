"""``tsed-fiskaly-sim``: run the fiskaly SIGN DE V2 simulator standalone.

tsed-fiskaly-sim --listen 127.0.0.1:8099 [--state-dir DIR]
                 [--api-key K --api-secret S --env TEST|LIVE]...
                 [--token-ttl S] [--latency-ms MS] [--jitter-ms MS] [--error-rate P] ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from tsed.fiskaly.simulator.core import Simulator
from tsed.fiskaly.simulator.persist import SimStateTooNew
from tsed.fiskaly.simulator.server import SimulatorServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsed-fiskaly-sim",
        description="Offline simulator of fiskaly SIGN DE API V2 (/api/v2) and the "
        "Management API (/api/v0), with fault injection (/_sim/faults, /_sim/stats).",
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:8099", help="HOST:PORT (default %(default)s)"
    )
    parser.add_argument("--state-dir", type=Path, help="keep state across restarts here")
    parser.add_argument("--api-key", action="append", default=[], help="seed an API key")
    parser.add_argument("--api-secret", action="append", default=[], help="its secret")
    parser.add_argument("--env", action="append", default=[], choices=["TEST", "LIVE"],
                        help="its environment")  # fmt: skip
    parser.add_argument("--token-ttl", type=int, default=86400, help="access token lifetime (s)")
    parser.add_argument("--refresh-ttl", type=int, default=172800, help="refresh token lifetime")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added latency per call")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="random extra latency")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of calls failing")
    parser.add_argument("--error-status", type=int, default=500, help="status of those failures")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped calls")
    parser.add_argument(
        "--retention-days", type=float, default=None,
        help="forget ended transactions, exports and logs older than this (fiskaly: about 90)",
    )  # fmt: skip
    parser.add_argument(
        "--max-export-records", type=int, default=1_000_000,
        help="signatures one export may hold (E_TOO_MANY_RECORDS above)",
    )  # fmt: skip
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    parser.add_argument("--log-level", default="INFO", help="log level (default %(default)s)")
    return parser


async def serve(args: argparse.Namespace) -> int:
    host, _, port = args.listen.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()):
        print(f"tsed-fiskaly-sim: --listen {args.listen!r} is not HOST:PORT", file=sys.stderr)
        return 2
    if not (len(args.api_key) == len(args.api_secret) == len(args.env)):
        print("tsed-fiskaly-sim: give --api-key, --api-secret and --env together", file=sys.stderr)
        return 2
    try:
        sim = Simulator(
            state_dir=args.state_dir, token_ttl=args.token_ttl, refresh_ttl=args.refresh_ttl
        )
    except SimStateTooNew as err:
        print(f"tsed-fiskaly-sim: {err}", file=sys.stderr)
        return 1
    sim.faults.update(
        {"latency_ms": args.latency_ms, "jitter_ms": args.jitter_ms,
         "error_rate": args.error_rate, "error_status": args.error_status,
         "drop_rate": args.drop_rate}
    )  # fmt: skip
    if args.retention_days is not None:
        if args.retention_days <= 0:
            print("tsed-fiskaly-sim: --retention-days must be positive", file=sys.stderr)
            return 2
        sim.limits.retention_seconds = args.retention_days * 86400
    if args.max_export_records < 1:
        print("tsed-fiskaly-sim: --max-export-records must be at least 1", file=sys.stderr)
        return 2
    sim.limits.max_export_records = args.max_export_records
    seeded = [
        sim.add_api_key(env, key, secret)
        for key, secret, env in zip(args.api_key, args.api_secret, args.env, strict=True)
    ]
    context = None
    if args.tls_cert is not None or args.tls_key is not None:
        if args.tls_cert is None or args.tls_key is None:
            print("tsed-fiskaly-sim: give --tls-cert and --tls-key together", file=sys.stderr)
            return 2
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as err:
            print(f"tsed-fiskaly-sim: cannot load the TLS certificate: {err}", file=sys.stderr)
            return 1
    server = SimulatorServer(sim, host.strip("[]"), int(port), ssl_context=context)
    try:
        await server.start()
    except OSError as err:
        print(f"tsed-fiskaly-sim: cannot listen on {args.listen}: {err.strerror}", file=sys.stderr)
        sim.close()
        return 1
    if not seeded:
        creds = sim.add_api_key("TEST")
        print(
            json.dumps(
                {"base_url": server.base_url, "api_key": creds.api_key,
                 "api_secret": creds.api_secret, "env": creds.env}
            ),
            flush=True,
        )  # fmt: skip
    else:
        print(json.dumps({"base_url": server.base_url}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    sim.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    return asyncio.run(serve(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
