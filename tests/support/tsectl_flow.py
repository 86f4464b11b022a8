"""First boot to LIVE receipts with ``tsectl`` only (no browser), in the same private
namespaces as ``browser_flow.py`` (real fiskaly host names, simulator behind a test CA).

Prints one JSON line with what it saw; ``test_tsectl_flow.py`` asserts on it.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.support.browser_flow import PORT, RECEIPT, live_activation, start, stop
from tsed.state.paths import DEVICE_CERT_FILE as CERT_FILE


def run(state: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tsed.cli.tsectl", "--json", "--state-dir", str(state), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    data = json.loads(result.stdout) if result.stdout.strip() else {}
    return {"rc": result.returncode, "data": data}


def main() -> None:
    work = Path(sys.argv[1])
    procs, paths = start(work)
    state = paths["state"]
    seen: dict[str, Any] = {}
    try:
        seen["anlegen_unsaved"] = run(state, "credentials", "create", "--yes")
        seen["save"] = run(state, "config", "set", "name", "Filiale 9")
        seen["anlegen_no_activation"] = run(state, "credentials", "create", "--yes")
        seen["logging"] = run(state, "logging", "extended", "on")
        device = run(state, "status")["data"]["device"]
        seen["activate"] = run(state, "activate", str(live_activation(work, device["id"])))
        seen["anlegen"] = run(state, "credentials", "create", "--yes")
        seen["anlegen_again"] = run(state, "credentials", "create", "--yes")
        seen["multi_locked"] = run(state, "config", "set", "multi_tenant", "true")
        seen["test"] = run(state, "test")
        seen["tss"] = run(state, "tss", "status")
        code = run(state, "pair")["data"]["code"]
        pinned = ssl.create_default_context(cafile=str(state / CERT_FILE))
        with httpx.Client(
            base_url=f"https://127.0.0.1:{PORT}", verify=pinned, timeout=30
        ) as register:
            token = register.post(
                "/api/v1/pairings", json={"code": code, "register_serial": "Kasse 9"}
            ).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            seen["receipt"] = register.post("/api/v1/receipts", json=RECEIPT, headers=auth).json()
        seen["registers"] = run(state, "registers")
        seen["export"] = run(state, "export", "-o", str(work / "live.tar"))
        seen["export_size"] = (work / "live.tar").stat().st_size
        seen["status"] = run(state, "status")
    finally:
        stop(procs)
    print(json.dumps(seen, default=str))


if __name__ == "__main__":
    main()
