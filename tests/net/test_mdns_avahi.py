"""End to end: the real daemon in namespace A, found by avahi (an independent mDNS stack) in B.

avahi-browse must see the unit with the public TXT keys and nothing secret, see ``pair=1``
once a pairing window is open, see the unit on a second link as soon as that link gets an
address, and see it leave when the daemon stops.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.avahi import Browsed, Lan, missing_tools
from tsed.cli.adminclient import AdminClient, CommandFailed
from tsed.net.mdns import TXT_KEYS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(bool(missing_tools()), reason=f"missing tools: {missing_tools()}"),
]


@pytest.fixture
def lan(tmp_path: Path) -> Iterator[Lan]:
    lan = Lan(tmp_path)
    try:
        lan.setup()
        yield lan
    finally:
        lan.teardown()


def _status(admin: AdminClient, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            data: dict = admin.call("GET", "/admin/v1/status")
            return data
        except CommandFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_avahi_finds_the_unit_sees_pairing_and_a_new_address(lan: Lan, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TSED_", "NOTIFY_"))}
    env["TSED_MDNS"] = "vA,vA2"  # the unit's two LAN ports, by interface name
    unit = lan.spawn(
        ["ip", "netns", "exec", lan.a, sys.executable, "-m", "tsed.cli.tsed", "serve",
         "--state-dir", str(state), "--config", str(state / "tsed.toml"),
         "--listen", "0.0.0.0:8443"],
        log="unit.log", env=env,
    )  # fmt: skip
    admin = AdminClient(state / "admin.sock", timeout=30)
    try:
        status = _status(admin)
        short_id, fingerprint = status["device"]["short_id"], status["device"]["key_sha256"]

        def on(interface: str, pair: str) -> object:
            return lambda found: any(
                u.interface == interface and u.txt.get("pair") == pair for u in found
            )

        found = lan.browse_until(on("vB", "0"), "the unit on vB")
        unit_seen = next(u for u in found if u.interface == "vB")
        assert unit_seen.name == f"KassenSichV-Fiskaly ({short_id})"
        assert unit_seen.host == f"tsed-{short_id}.local"
        assert unit_seen.address == "10.99.0.1" and unit_seen.port == 8443
        assert unit_seen.txt == {
            "txtvers": "1", "api": "1", "id": short_id, "mode": "test", "pair": "0",
            "fp": fingerprint[:16],
        }  # fmt: skip
        assert set(unit_seen.txt) == set(TXT_KEYS)
        assert not any(u.interface == "vB2" for u in found)  # vA2 has no address yet

        code = admin.call("POST", "/admin/v1/pairing", {})["code"]
        found = lan.browse_until(on("vB", "1"), "pair=1")
        _, raw = lan.browse()
        for secret in (code, code.replace("-", "")):
            assert secret not in raw

        # the unit's second port gets an address (DHCP on a newly plugged cable)
        lan_ip = ["ip", "-n", lan.a, "addr", "add", "10.98.0.1/24", "dev", "vA2"]
        os.spawnvp(os.P_WAIT, lan_ip[0], lan_ip)
        found = lan.browse_until(
            lambda found: any(u.interface == "vB2" for u in found), "the unit on vB2"
        )
        second: Browsed = next(u for u in found if u.interface == "vB2")
        assert second.name == unit_seen.name and second.txt["pair"] == "1"

        unit.terminate()
        unit.wait(timeout=30)
        lan.browse_until(lambda found: not found, "the goodbye", timeout=30)
    finally:
        admin.close()
        if unit.poll() is None:
            unit.terminate()
    log = lan.log("unit.log")
    assert "Traceback" not in log
    assert code not in log
