"""The register API contract (issue 15, items 9-12): status codes carry their headers, the
simulator's fault switches are reachable, the certificate follows the unit's names, the pairing
QR carries the address and shows on a terminal."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.net.test_api import FAST, _assert_late, _late_body, _sim_txs
from tests.support.unit import RECEIPT, running_unit
from tsed.net import identity as tls


async def test_the_pairing_qr_carries_the_address_the_register_connects_to(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        _code, out = await unit.tsectl("--json", "pair")
        data = json.loads(out)
        fields = dict(part.split("=", 1) for part in data["qr_text"].split(";")[1:])
        assert data["qr_text"].startswith("TSED:1;")
        assert fields["ADDR"] == "127.0.0.1" and fields["PORT"] == str(unit.port)
        assert fields["FP"] == unit.daemon.identity.fingerprint_sha256
        assert fields["CODE"] == data["code"].replace("-", "")


# -- item 11: the headers the status codes promise ------------------------------------------


async def test_405_names_allow_401_names_the_scheme_429_waits_what_it_says(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        wrong = await register.call("DELETE", "/api/v1/receipts")
        assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
        assert "POST" in wrong.json()["error"]["hint"]
        listing = await register.call("DELETE", "/api/v1/transactions")
        assert listing.headers["Allow"] == "GET, HEAD, POST"
        anonymous = await register.http.get("/api/v1/transactions")
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer ")
        for _ in range(5):
            await register.http.get(
                "/api/v1/transactions", headers={"Authorization": "Bearer tsed_wrong"}
            )
        locked = await register.http.get(
            "/api/v1/transactions", headers={"Authorization": "Bearer tsed_wrong"}
        )
        assert locked.status_code == 429, locked.text
        seconds = int(locked.headers["Retry-After"])
        assert f"try again in {seconds} s" in locked.json()["error"]["message"]


async def test_a_malformed_idempotency_key_is_refused_with_the_rule(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        for key in (b"with space", b"x" * 129, "ümlaut".encode()):
            response = await register.http.post(
                "/api/v1/receipts",
                json=RECEIPT,
                headers={**register.auth, "Idempotency-Key": key},  # type: ignore[dict-item]
            )
            assert response.status_code == 400, key
            assert "printable ASCII" in response.json()["error"]["message"]
        assert not _sim_txs(unit)


# -- item 12: a register developer drives TSE failures through the unit -----------------------


async def test_the_simulator_fault_switches_are_reachable_through_the_register_api(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        register = await unit.pair()
        status = (await register.http.get("/api/v1/status")).json()
        assert status["backend"] == "simulator"
        faults = status["simulator"]["faults"]
        assert (await register.http.post(faults, json={"latency_ms": 1})).status_code == 401
        bad = await register.call("POST", faults, {"latency_ms": 1, "lag": 2})
        assert bad.status_code == 400 and "lag" in bad.json()["error"]["message"]
        assert "latency_ms" in bad.json()["error"]["hint"]
        assert (await register.call("GET", faults)).json()["latency_ms"] == 0  # all or nothing
        bad_route = await register.call("POST", faults, {"route": "("})
        assert bad_route.status_code == 400
        changed = await register.call("POST", faults, {"latency_ms": 1500, "route": "tx"})
        assert changed.status_code == 200 and changed.json()["latency_ms"] == 1500
        failed = await register.receipt()
        assert failed["tse_failure"] and failed["failure"]["code"] == "TSE_TIMEOUT"
        reset = await register.call("DELETE", faults)
        assert reset.json()["latency_ms"] == 0 and reset.json()["route"] is None
        _assert_late(await _late_body(register, failed["id"]), "TSE_TIMEOUT")
        locked = await register.call("POST", faults, {"tss_locked": True})
        assert locked.json()["tss_locked"] is True
        assert (await register.receipt())["tse_failure"] is True
        await register.call("DELETE", faults)


# -- item 9: the certificate carries the unit's names and follows address changes -------------


def _served_certificate(port: int) -> Any:
    import ssl as ssl_module

    from cryptography import x509

    pem = ssl_module.get_server_certificate(("127.0.0.1", port))
    return x509.load_pem_x509_certificate(pem.encode())


async def test_the_certificate_follows_address_and_name_changes_with_the_same_key(
    tmp_path: Path,
) -> None:
    import ipaddress
    import socket

    from cryptography import x509

    from tsed.net.identity import spki_fingerprint

    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        first = await asyncio.to_thread(_served_certificate, unit.port)
        names = first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert socket.gethostname() in names.get_values_for_type(x509.DNSName)
        fingerprint = unit.daemon.identity.fingerprint_sha256
        assert spki_fingerprint(first) == fingerprint
        changed = await unit.daemon.certificate.check(["192.0.2.77"], hostname="kasse-tse")
        assert changed is True
        second = await asyncio.to_thread(_served_certificate, unit.port)
        names = second.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert ipaddress.ip_address("192.0.2.77") in names.get_values_for_type(x509.IPAddress)
        assert {"kasse-tse", "kasse-tse.local"} <= set(names.get_values_for_type(x509.DNSName))
        assert spki_fingerprint(second) == fingerprint  # a pinned key keeps matching
        assert second.serial_number != first.serial_number
        assert await unit.daemon.certificate.check(["192.0.2.77"], hostname="kasse-tse") is False
        # The register's open client keeps signing across the change.
        assert (await register.receipt())["result"] is not None


async def test_tsectl_pair_shows_the_pairing_qr_on_a_terminal(tmp_path: Path) -> None:
    import os
    import pty
    import threading

    from tsed.cli import tsectl

    async with running_unit(tmp_path / "s") as unit:
        _rc, out = await unit.tsectl("--json", "pair")
        data = json.loads(out)
    master, slave = pty.openpty()
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with open(slave, "w", encoding="utf-8", closefd=True) as terminal:
        assert terminal.isatty()
        tsectl._print_pairing(data, terminal)
    reader.join(timeout=10)
    os.close(master)
    shown = received.decode("utf-8", "replace")
    assert f"Pairing code:  {data['code']}" in shown
    assert shown.count("\u2588") + shown.count("\u2580") + shown.count("\u2584") > 100, shown
    piped = __import__("io").StringIO()
    tsectl._print_pairing(data, piped)  # not a terminal: text only, no block characters
    assert "\u2588" not in piped.getvalue() and data["code"] in piped.getvalue()


async def test_every_operation_answers_its_documented_405_and_401(tmp_path: Path) -> None:
    import uuid

    from tsed.net.openapi import openapi_document

    methods = {"get", "put", "post", "delete"}
    checked: list[tuple[str, str]] = []
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        for path, item in openapi_document()["paths"].items():
            url = path.replace("{tx_id}", str(uuid.uuid4()))
            missing = sorted(methods - set(item))
            assert missing, path
            wrong = await register.call(missing[0].upper(), url)
            assert wrong.status_code == 405, (path, missing[0])
            assert set(wrong.headers["Allow"].lower().split(", ")) - {"head"} == set(item)
            for method, op in item.items():
                if "401" not in op["responses"] or op.get("security") == []:
                    continue
                source = f"127.0.9.{len(checked) + 1}"  # 401s from one address lock it out
                transport = httpx.AsyncHTTPTransport(
                    local_address=source, verify=unit.ssl_context()
                )
                async with httpx.AsyncClient(base_url=unit.base_url, transport=transport) as http:
                    anonymous = await http.request(method.upper(), url)
                checked.append((method, path))
                assert anonymous.status_code == 401, (method, path)
                assert anonymous.headers["WWW-Authenticate"].startswith("Bearer ")
    assert len(checked) == 14  # every call behind a token


async def test_tsectl_status_names_the_simulator_switches(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        _rc, shown = await unit.tsectl("status")
    assert "Backend:       simulator (fault switches: /api/v1/simulator/faults" in shown


@pytest.mark.parametrize(
    ("switches", "codes"),
    [
        ({"tss_locked": True}, {"TSE_NOT_READY"}),
        ({"error_rate": 1, "error_status": 400, "route": "tx"}, {"TSE_REJECTED"}),
        ({"down_for": 30}, {"TSE_UNREACHABLE", "TSE_TIMEOUT"}),
    ],
)
async def test_each_documented_switch_gives_its_failure_code(
    tmp_path: Path, switches: dict[str, Any], codes: set[str]
) -> None:
    """What docs/register-api.md section 5 promises for each switch."""
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        register = await unit.pair()
        await register.receipt()
        faults = "/api/v1/simulator/faults"
        assert (await register.call("POST", faults, switches)).status_code == 200
        answer = await register.receipt()
        assert answer["tse_failure"] is True and answer["failure"]["code"] in codes, answer
        await register.call("DELETE", faults)


async def test_a_certificate_that_cannot_be_written_keeps_the_old_one_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()

        def disk_fails(*_args: object, **_kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(tls, "atomic_write", disk_fails)  # the new one cannot be written
        before = unit.daemon.identity.cert_path.read_bytes()
        changed = await unit.daemon.certificate.check(["192.0.2.78"], hostname="kasse-x")
        assert changed is False
        assert unit.daemon.identity.cert_path.read_bytes() == before
        assert "re-issuing the device certificate failed" in caplog.text
        assert (await register.receipt())["result"] is not None
