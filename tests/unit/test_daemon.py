"""The unit end to end over real TLS on loopback: embedded default, pairing, receipts,
idempotency, bad input, tsectl, restart."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from tests.support.unit import RECEIPT, running_unit
from tsed.fiskaly.tr03151 import verify_qr_code


async def test_embedded_default_signs_a_verifiable_receipt(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        answer = await register.receipt(key="r-1")
        assert answer["mode"] == "TEST" and "Test-Modus" in answer["notice"]
        assert answer["state"] == "finished" and answer["tse_failure"] is False
        result = answer["result"]
        assert verify_qr_code(result["qr_code_data"]).valid
        assert result["client_serial_number"] == "ERS kasse-1"
        assert result["process_data"] == "Beleg^11.90_0.00_0.00_0.00_0.00^11.90:Bar"
        assert len(result["tss_serial_number"]) == 64
        png = await register.call("GET", f"/api/v1/transactions/{answer['id']}/qr.png")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        status = (await register.http.get("/api/v1/status")).json()
        assert status["mode"] == "TEST" and status["backend"] == "simulator"
        assert status["tse"]["available"] is True


async def test_start_is_pending_then_finish_carries_the_tse_data(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        started = await register.call("POST", "/api/v1/transactions")
        assert started.status_code == 201
        body = started.json()
        assert body["pending"] is True and body["result"] is None
        tx = body["id"]
        updated = await register.call("PUT", f"/api/v1/transactions/{tx}", RECEIPT)
        assert updated.status_code == 200
        finished = await register.call("POST", f"/api/v1/transactions/{tx}/finish", RECEIPT)
        assert finished.status_code == 200, finished.text
        result = finished.json()["result"]
        assert result["transaction_number"] >= 1 and verify_qr_code(result["qr_code_data"]).valid
        again = await register.call("GET", f"/api/v1/transactions/{tx}")
        assert again.json()["result"] == result
        twice = await register.call("POST", f"/api/v1/transactions/{tx}/finish", RECEIPT)
        assert twice.status_code == 409 and "already" in twice.json()["error"]["message"]
        cancel_start = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        cancelled = await register.call("POST", f"/api/v1/transactions/{cancel_start}/cancel")
        assert cancelled.json()["state"] == "cancelled"
        assert verify_qr_code(cancelled.json()["result"]["qr_code_data"]).valid


async def test_idempotent_retries_never_create_a_second_transaction(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        answers = await asyncio.gather(*(register.receipt(key="same-key") for _ in range(5)))
        assert len({a["id"] for a in answers}) == 1
        assert len({a["result"]["signature"] for a in answers}) == 1
        other = dict(RECEIPT, receipt_type="TRAINING")
        reused = await register.call("POST", "/api/v1/receipts", other, key="same-key")
        assert reused.status_code == 409
        assert "different request" in reused.json()["error"]["message"]
        sim = unit.daemon.sim
        assert sim is not None
        finished = [
            tx for txs in sim.state.txs.values() for tx in txs.values() if tx.state == "FINISHED"
        ]
        assert len(finished) == 1


async def test_a_start_repeated_with_its_key_answers_the_same_transaction(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        first = await register.call("POST", "/api/v1/transactions", key="start-1")
        assert first.status_code == 201, first.text
        stored = await unit.daemon.store.get_idem(register.register_id, "start-1")
        assert stored is not None and stored.response is not None  # kept with the journal row
        again = await asyncio.gather(
            *(register.call("POST", "/api/v1/transactions", key="start-1") for _ in range(3))
        )
        assert {a.status_code for a in again} == {201}
        assert [a.json() for a in again] == [first.json()] * 3
        done = await register.call(
            "POST", f"/api/v1/transactions/{first.json()['id']}/finish", RECEIPT, key="finish-1"
        )
        assert done.status_code == 200 and done.json()["tse_failure"] is False
        replay = await register.call("POST", "/api/v1/transactions", key="start-1")
        assert replay.json() == first.json()  # the answer given then, not today's state


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "fragment"),
    [
        ("POST", "/api/v1/receipts", b"{not json", 400, "not valid JSON"),
        ("POST", "/api/v1/receipts", b"[1, 2]", 400, "JSON object"),
        ("POST", "/api/v1/receipts", b"", 400, "empty"),
        (
            "POST",
            "/api/v1/receipts",
            json.dumps(
                {**RECEIPT, "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": 11.9}]}
            ),
            400,
            "decimal strings",
        ),
        ("POST", "/api/v1/receipts", json.dumps({**RECEIPT, "tip": "1.00"}), 400, "unknown field"),
        (
            "POST",
            "/api/v1/receipts",
            json.dumps({**RECEIPT, "receipt_type": "SALE"}),
            400,
            "receipt_type",
        ),
        ("POST", "/api/v1/receipts", b"{" + b" " * 70000 + b"}", 413, "larger"),
        ("GET", f"/api/v1/transactions/{uuid.uuid4()}", None, 404, "does not exist"),
        ("GET", "/api/v1/transactions/not-a-uuid", None, 400, "not a UUID"),
        (
            "POST",
            f"/api/v1/transactions/{uuid.uuid4()}/finish",
            json.dumps(RECEIPT),
            404,
            "does not exist",
        ),
        ("DELETE", "/api/v1/receipts", None, 405, "not allowed"),
        ("GET", "/api/v2/nothing", None, 404, "no /api/v2/nothing"),
    ],
)
async def test_bad_input_gets_a_clear_4xx(tmp_path, method, path, body, status, fragment) -> None:
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        content = body.encode() if isinstance(body, str) else body
        response = await register.http.request(
            method,
            path,
            content=content,
            headers={**register.auth, "Content-Type": "application/json"},
        )
        assert response.status_code == status, response.text
        assert response.json()["mode"] == "TEST" and "Test-Modus" in response.json()["notice"]
        error = response.json()["error"]
        assert fragment in error["message"] and error["hint"] and error["code"]


async def test_tokens_are_required_and_lockout_after_failures(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        http = register.http
        missing = await http.post("/api/v1/receipts", json=RECEIPT)
        assert missing.status_code == 401 and "Bearer" in missing.json()["error"]["message"]
        for _ in range(4):
            wrong = await http.post(
                "/api/v1/receipts", json=RECEIPT, headers={"Authorization": "Bearer tsed_wrong"}
            )
            assert wrong.status_code == 401
        locked = await http.post(
            "/api/v1/receipts", json=RECEIPT, headers={"Authorization": "Bearer tsed_wrong"}
        )
        assert locked.status_code == 429 and "Retry-After" in locked.headers
        # the lockout throttles only attempts without a valid token (issue 15, bug 1)
        signed = await http.post("/api/v1/receipts", json=RECEIPT, headers=register.auth)
        assert signed.status_code == 200


async def test_pairing_codes_work_once_and_are_checked(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        _code, out = await unit.tsectl("--json", "pair")
        pairing = json.loads(out)["code"]
        register = await unit.pair("ERS kasse-1")  # opens a new window, consumes it
        reuse = await register.http.post(
            "/api/v1/pairings", json={"code": pairing, "register_serial": "ERS kasse-2"}
        )
        assert reuse.status_code == 409 and "no pairing window" in reuse.json()["error"]["message"]
        await unit.tsectl("pair")
        wrong = await register.http.post(
            "/api/v1/pairings", json={"code": "AAAA-BBBB-CCCC-DDDD", "register_serial": "ERS 2"}
        )
        assert wrong.status_code == 401
        bad_serial = await register.http.post(
            "/api/v1/pairings", json={"code": pairing, "register_serial": "ERS_2/x"}
        )
        assert bad_serial.status_code == 400 and "register_serial" in bad_serial.text


async def test_tsectl_status_registers_revoke_and_config(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair(label="Kasse vorne")
        code, out = await unit.tsectl("--json", "status")
        status = json.loads(out)
        assert code == 0 and status["mode"] == "TEST" and status["registers"] == 1
        assert status["device"]["key_sha256"] == unit.daemon.identity.fingerprint_sha256
        assert status["device"]["fingerprint"] == unit.daemon.identity.certificate_sha256
        code, out = await unit.tsectl("registers")
        assert code == 0 and "Kasse vorne" in out
        await register.receipt()
        code, out = await unit.tsectl("--json", "registers")
        assert json.loads(out)["registers"][0]["last_seen_at"] is not None
        code, out = await unit.tsectl("config", "set", "proxy.port", "99999")
        assert code == 1
        code, out = await unit.tsectl("--json", "config", "set", "register_deadline", "2.5")
        assert code == 0 and json.loads(out)["register_deadline"] == 2.5
        assert "register_deadline = 2.5" in (unit.state_dir / "tsed.toml").read_text()
        code, out = await unit.tsectl("--json", "config", "show")
        assert json.loads(out)["created_at"]
        code, _ = await unit.tsectl("registers", "revoke", register.register_id)
        assert code == 0
        refused = await register.call("POST", "/api/v1/receipts", RECEIPT)
        assert refused.status_code == 401
        code, _ = await unit.tsectl("registers", "revoke", str(uuid.uuid4()))
        assert code == 1


async def test_tsectl_without_daemon_says_so(tmp_path: Path, capsys) -> None:
    from tsed.cli import tsectl

    assert tsectl.main(["--state-dir", str(tmp_path), "status"]) == 1
    err = capsys.readouterr().err
    assert "not running" in err and "hint:" in err
    with pytest.raises(SystemExit) as info:
        tsectl.main(["frobnicate"])
    assert info.value.code == 2


async def test_restart_keeps_identity_registers_and_tss(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with running_unit(state) as unit:
        register = await unit.pair()
        first = await register.receipt()
        fingerprint = unit.daemon.identity.fingerprint_sha256
        token = register.token
    async with running_unit(state) as unit:
        assert unit.daemon.identity.fingerprint_sha256 == fingerprint
        import httpx

        async with httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context()) as http:
            response = await http.post(
                "/api/v1/receipts", json=RECEIPT, headers={"Authorization": f"Bearer {token}"}
            )
        second = response.json()["result"]
        assert second["tss_serial_number"] == first["result"]["tss_serial_number"]
        assert second["transaction_number"] == first["result"]["transaction_number"] + 1


async def test_metrics_only_on_the_admin_socket(tmp_path: Path) -> None:
    import httpx

    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        await register.receipt()
        transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
        async with httpx.AsyncClient(transport=transport, base_url="http://tsed") as admin:
            text = (await admin.get("/admin/metrics")).text
        assert 'tsed_receipts_total{outcome="signed"} 1.0' in text
        assert 'tsed_mode_info{backend="simulator",mode="TEST"} 1.0' in text
        assert "tsed_sign_seconds_bucket" in text
        public = await register.http.get("/admin/metrics")
        assert public.status_code == 404


async def test_stop_finishes_in_flight_requests_first(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        unit.daemon.sim.faults.update({"latency_ms": 400, "route": "PUT .*tx"})
        in_flight = asyncio.create_task(register.receipt(key="during-stop"))
        await asyncio.sleep(0.2)
        await unit.daemon.stop()  # SIGTERM path: the listener closes, the request completes
        answer = await in_flight
        assert answer["state"] == "finished" and answer["result"] is not None


async def test_tsectl_connection_test(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        code, out = await unit.tsectl("test")
        assert code == 1  # the configuration was never saved: the first step says so
        await unit.tsectl("config", "set", "name", "Filiale 7")
        code, out = await unit.tsectl("--json", "test")
        report = json.loads(out)
        assert code == 0 and report["ok"] is True, out
        steps = {step["step"]: step["verdict"] for step in report["steps"]}
        assert steps["config"] == "ok" and steps["auth"] == "ok" and steps["tss"] == "ok"
        code, out = await unit.tsectl("test")
        assert code == 0 and out.splitlines()[0].startswith("Connection test (TEST")


async def test_tsectl_reset_tss_status_and_activation(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime, timedelta

    from tsed.provisioning.document import (
        ActivationDocument,
        ActivationOrganization,
        ManagementCredentials,
        generate_vendor_key,
        load_private_key,
        sign_document,
    )

    private_pem, public_pem = generate_vendor_key()
    (tmp_path / "vendor.pub").write_bytes(public_pem)
    async with running_unit(tmp_path / "state", vendor_key=tmp_path / "vendor.pub") as unit:
        register = await unit.pair()
        before = (await register.receipt())["result"]["client_serial_number"]
        code, out = await unit.tsectl("--json", "tss", "status")
        status = json.loads(out)
        assert code == 0 and status["tss"]["default"]["state"] == "INITIALIZED"
        assert status["tss"]["default"]["registered_clients"] == 1
        code, out = await unit.tsectl("--json", "reset", "--register", register.register_id)
        assert code == 0, out
        after = await register.receipt()
        assert after["tse_failure"] is False and after["result"]["client_serial_number"] == before
        code, _out = await unit.tsectl("reset")
        assert code == 2  # neither --register nor --all
        document = ActivationDocument(
            document_id="doc-1",
            device_id=unit.daemon.identity.device_id,
            environment="LIVE",
            organization=ActivationOrganization("Optik Muster GmbH", "org-123"),
            management=ManagementCredentials("mgmt_key_1", "M" * 43),
            issued_at=datetime.now(UTC) - timedelta(hours=1),
            expires_on=date.today() + timedelta(days=30),
        )
        signed = tmp_path / "activation.json"
        signed.write_bytes(sign_document(load_private_key(private_pem), document))
        code, out = await unit.tsectl("--json", "activate", str(signed))
        answer = json.loads(out)
        assert code == 0 and answer["mode"] == "LIVE" and answer["mode_changed"] is True
        assert answer["switch"] is None and "Anlegen" in answer["hint"]  # no LIVE credentials
        assert "M" * 43 not in out
        assert (unit.state_dir / "mode").read_text().strip() == "LIVE"
        code, out = await unit.tsectl("--json", "status")
        assert json.loads(out)["mode"] == "LIVE"  # followed without a restart
        wrapper = json.loads(signed.read_text())
        sig = wrapper["signature"]
        wrapper["signature"] = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
        signed.write_text(json.dumps(wrapper))
        code, out = await unit.tsectl("activate", str(signed))
        assert code == 1


async def test_tsectl_tss_setup_new_replaces_the_tss_and_keeps_registers(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        before = (await register.receipt())["result"]["tss_serial_number"]
        code, out = await unit.tsectl("--json", "tss", "setup")
        assert code == 0 and json.loads(out)["tss"]["default"]["state"] == "INITIALIZED"
        code, out = await unit.tsectl("--json", "tss", "setup", "--new")
        assert code == 0, out
        after = (await register.receipt())["result"]["tss_serial_number"]
        assert after != before
        _code, status = await unit.tsectl("--json", "status")
        assert any("replaced on request" in n for n in json.loads(status)["notices"])
