"""``tsed-update-health``: after a boot, mark the root slot good only when the unit is healthy.

Run once per boot by ``tsed-update-health.service`` (as root: RAUC's marks need it).

* After an update (``update.json`` says ``installed`` into the slot now booted) the new slot
  must pass, within ``--timeout`` seconds: ``tsed.service`` READY (``Type=notify``: active),
  the admin socket answers, and in TEST mode a TEST receipt signs through the register API
  (a register paired for the check and revoked after it), in LIVE mode the connection test
  passes. Then ``rauc status mark-good``; on a failure or the timeout ``rauc status
  mark-bad`` and a reboot: GRUB boots the old slot (its try counter covers a kernel that
  never reaches this point: an unmarked slot is not booted twice).
* Any other boot (the slot proved itself before, or the old slot after a rollback): mark it
  good, so GRUB's try flag is reset; a failing daemon there is the watchdog's, not a reason
  to switch slots.

The result goes into ``update.json`` (``good`` or ``rolled_back``, with the reason) for
``tsectl update status`` and the setup page. No secret is used or printed: the pairing code
and the register's token live only in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from tsed.cli.adminclient import AdminClient
from tsed.errors import TsedError
from tsed.state.paths import DEFAULT_STATE_DIR, StatePaths
from tsed.unit.rauc import SYSTEM_CONF, Rauc, RaucStatus
from tsed.unit.update_ops import UpdateResult, read_result, write_result

_LOGGER = logging.getLogger(__name__)

TIMEOUT = 600.0  # seconds from the start of the check (TCG guests need ~200 s to READY)
POLL = 2.0
MAX_RESTARTS = 3  # a new version's daemon that failed to start this often is unhealthy
API = "https://127.0.0.1:8443"
RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "1.00"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "1.00"}],
}


class Unhealthy(Exception):
    """One step of the check failed (internal: becomes the recorded reason)."""


def _say(text: str) -> None:
    print(f"tsed-update-health: {text}", flush=True)


def _systemctl(*args: str) -> str:
    argv = ["systemctl", *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)  # noqa: S603
    return done.stdout.strip()


def _wait_ready(deadline: float) -> None:
    """READY (``Type=notify``: active); a daemon that failed or keeps restarting is not."""
    state, restarts = "unknown", 0
    while time.monotonic() < deadline:
        state = _systemctl("is-active", "tsed.service")
        if state == "active":
            return
        restarts = int(_systemctl("show", "-P", "NRestarts", "tsed.service") or 0)
        if state == "failed" or restarts >= MAX_RESTARTS:
            break
        time.sleep(POLL)
    raise Unhealthy(f"tsed.service wurde nicht bereit (Zustand: {state}, {restarts} Neustarts)")


def _admin_status(socket_path: Path, deadline: float) -> dict[str, Any]:
    last = "keine Antwort"
    while time.monotonic() < deadline:
        try:
            with closing(AdminClient(socket_path)) as client:
                return dict(client.call("GET", "/admin/v1/status"))
        except TsedError as err:
            last = err.message
        time.sleep(POLL)
    raise Unhealthy(f"der Admin-Socket antwortet nicht ({last})")


def _test_receipt(socket_path: Path, api: str) -> None:
    """A TEST receipt through the register API, by a register paired for it and revoked."""
    with closing(AdminClient(socket_path)) as admin:
        code = admin.call("POST", "/admin/v1/pairing", {"minutes": 5})["code"]
        # loopback, on the unit itself: the certificate is the unit's own (self-signed)
        with httpx.Client(base_url=api, verify=False, timeout=60) as http:  # noqa: S501
            paired = http.post(
                "/api/v1/pairings", json={"code": code, "register_serial": "update-health"}
            )
            if paired.status_code != 201:
                raise Unhealthy(f"Kopplung für die Prüfung: HTTP {paired.status_code}")
            register = paired.json()["register_id"]
            try:
                signed = http.post(
                    "/api/v1/receipts", json=RECEIPT,
                    headers={"Authorization": f"Bearer {paired.json()['token']}",
                             "Idempotency-Key": f"update-health-{uuid.uuid4()}"},
                )  # fmt: skip
            finally:
                admin.call("DELETE", f"/admin/v1/registers/{register}")
        result = signed.json().get("result") if signed.status_code == 200 else None
        if not isinstance(result, dict) or not result.get("qr_code_data"):
            raise Unhealthy(f"TEST-Beleg nicht signiert: HTTP {signed.status_code}")


def _connection_test(socket_path: Path) -> None:
    with closing(AdminClient(socket_path, timeout=120)) as admin:
        report = admin.call("POST", "/admin/v1/test")
    if report.get("verdict") == "fail":
        raise Unhealthy("Verbindungstest zu fiskaly fehlgeschlagen")


def check(socket_path: Path, api: str, timeout: float) -> str:
    """The health check of a new slot; the mode it ran in, or :class:`Unhealthy`."""
    deadline = time.monotonic() + timeout
    _wait_ready(deadline)
    status = _admin_status(socket_path, deadline)
    mode = str(status.get("mode"))
    try:
        if mode == "LIVE":
            _connection_test(socket_path)
        else:
            _test_receipt(socket_path, api)
    except (TsedError, httpx.HTTPError, KeyError, ValueError) as err:
        raise Unhealthy(f"Prüfung im Modus {mode}: {err}") from None
    return mode


def _pending(rauc: RaucStatus, last: UpdateResult | None) -> bool:
    return last is not None and last.state == "installed" and last.slot == rauc.booted


def run(rauc: Rauc, paths: StatePaths, api: str, timeout: float) -> int:
    status = asyncio.run(rauc.status())
    last = read_result(paths.update_result)
    if not _pending(status, last):
        asyncio.run(rauc.mark(good=True))
        _say(f"System {status.booted}: als gut markiert (kein neues Update)")
        return 0
    assert last is not None
    started = time.monotonic()
    try:
        mode = check(paths.admin_socket, api, timeout)
    except Unhealthy as err:
        reason = str(err)
        write_result(paths.update_result, replace(
            last, state="rolled_back", code="UPDATE_HEALTH_FAILED", finished_at=time.time(),
            message=f"Neues System {status.booted} ({last.version}) nicht gesund: {reason}; "
            "zurück zum vorherigen System",
        ))  # fmt: skip
        _LOGGER.error("update %s unhealthy: %s", last.version, reason,
                      extra={"TSED_EVENT": "update_rolled_back"})  # fmt: skip
        _say(f"System {status.booted} NICHT gesund ({reason}): mark-bad, Neustart")
        asyncio.run(rauc.mark(good=False))
        subprocess.run(["systemctl", "reboot"], check=False, timeout=60)  # noqa: S607
        return 1
    asyncio.run(rauc.mark(good=True))
    took = time.monotonic() - started
    write_result(paths.update_result, replace(
        last, state="good", finished_at=time.time(),
        message=f"System {status.booted} gesund ({mode}, geprüft in {took:.0f} s)",
    ))  # fmt: skip
    _say(f"System {status.booted} ({last.version}) gesund nach {took:.0f} s: als gut markiert")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tsed-update-health", description=__doc__.split("\n")[0])
    parser.add_argument("--state-dir", default=os.environ.get("TSED_STATE_DIR", DEFAULT_STATE_DIR))
    parser.add_argument("--api", default=API, help=f"the register API (default {API})")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds for the check")
    parser.add_argument("--rauc-conf", default=str(SYSTEM_CONF), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return run(Rauc(conf=Path(args.rauc_conf)), StatePaths(Path(args.state_dir)), args.api,
                   args.timeout)  # fmt: skip
    except TsedError as err:
        _say(f"{err.message} ({err.hint})")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
