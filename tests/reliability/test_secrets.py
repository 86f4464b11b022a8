"""No secret leaves the vault: a real unit process with extended logging at DEBUG, through an
authenticating proxy, with a vendor activation carrying management credentials, on happy and
failing paths (proxy gone, fiskaly errors, wrong tokens and codes).

Searched: everything the process wrote to stderr (every ``TSED_*`` field included), every
answer the registers and ``tsectl`` got, the mDNS TXT record, and every file of the state
directory except the vault.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from tests.support.proxyserver import ProxyServer
from tests.support.reliability import (
    seed_state,
    sim_faults,
    start_sim_process,
    stop,
    tsectl_json,
    wait_ready,
)
from tests.support.unit import RECEIPT, SECRET, free_port, serve_argv
from tsed.net.mdns import build_txt
from tsed.provisioning.activation import (
    ActivationDocument,
    ActivationOrganization,
    ManagementCredentials,
    generate_vendor_key,
    load_private_key,
    sign_document,
)

PROXY_PASSWORD = "Pr0xy-Pass-7d1e9c"
MGMT_KEY, MGMT_SECRET = "mgmt_key_5f3a", "MgmtSecret-9b2f71c4e8a0d6b3f5e7a9c1d3e5f7a9"


def _tsectl(state: Path, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "tsed.cli.tsectl", "--state-dir", str(state), *args],
        capture_output=True, text=True, timeout=60, check=False,
    ).stdout  # fmt: skip


async def test_no_secret_in_logs_answers_txt_or_state_files(tmp_path: Path) -> None:
    sim_state, state = tmp_path / "sim", tmp_path / "unit"
    sim_port, port = free_port(), free_port()
    private_pem, public_pem = generate_vendor_key()
    (tmp_path / "vendor.pub").write_bytes(public_pem)
    proxy = ProxyServer(username="shop", password=PROXY_PASSWORD)
    await proxy.start()
    seed_state(
        state,
        "extended_logging = true\nregister_deadline = 1.0\n"
        f'[proxy]\nhost = "127.0.0.1"\nport = {proxy.port}\nusername = "shop"\n',
    )
    vault = json.loads((state / "vault.json").read_text())
    (state / "vault.json").write_text(json.dumps({**vault, "proxy.password": PROXY_PASSWORD}))
    sim = start_sim_process(sim_state, sim_port)
    log = tmp_path / "unit.log"
    log_handle = log.open("wb")
    env = {
        **os.environ,
        "TSED_FISKALY_BASE_URL": f"http://127.0.0.1:{sim_port}",
        "TSED_MDNS": "off",
    }
    env.pop("NOTIFY_SOCKET", None)
    unit = subprocess.Popen(
        [sys.executable, *serve_argv(state, port, "DEBUG", tmp_path / "vendor.pub")],
        env=env, stdout=subprocess.DEVNULL, stderr=log_handle,
    )  # fmt: skip
    answers: list[str] = []
    secrets = [SECRET, PROXY_PASSWORD, MGMT_SECRET]
    try:
        await wait_ready(port)
        status = await asyncio.to_thread(tsectl_json, state, "status")
        code = (await asyncio.to_thread(tsectl_json, state, "pair"))["code"]
        secrets += [code, code.replace("-", "")]
        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}", verify=False, timeout=20
        ) as http:
            wrong_code = await http.post(
                "/api/v1/pairings",
                json={
                    "code": code[:-1] + ("1" if code[-1] == "0" else "0"),
                    "register_serial": "ERS s",
                },
            )
            answers.append(wrong_code.text)
            paired = await http.post(
                "/api/v1/pairings", json={"code": code, "register_serial": "ERS secret-1"}
            )
            assert paired.status_code == 201, paired.text
            token = paired.json()["token"]
            secrets.append(token)
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(3):
                response = await http.post("/api/v1/receipts", json=RECEIPT, headers=headers)
                assert response.status_code == 200 and not response.json()["tse_failure"]
                answers.append(response.text)
            assert proxy.total >= 1  # really through the authenticating proxy
            # Failure paths with extended logging: fiskaly errors, then the proxy gone.
            await sim_faults(sim_port, {"error_rate": 1.0, "error_status": 401})
            answers.append(
                (await http.post("/api/v1/receipts", json=RECEIPT, headers=headers)).text
            )
            await sim_faults(sim_port, {"error_rate": 1.0, "error_status": 500, "error_code": None})
            answers.append(
                (await http.post("/api/v1/receipts", json=RECEIPT, headers=headers)).text
            )
            await sim_faults(sim_port, None)
            await proxy.stop()
            for _ in range(2):
                response = await http.post("/api/v1/receipts", json=RECEIPT, headers=headers)
                assert response.json()["tse_failure"]
                answers.append(response.text)
            for bad in (token + "x", token[:-2], "tsed_" + SECRET):
                response = await http.post(
                    "/api/v1/receipts", json=RECEIPT, headers={"Authorization": f"Bearer {bad}"}
                )
                answers.append(response.text)
            answers.append((await http.get("/api/v1/status")).text)
        # The vendor's activation brings management credentials ("Anlegen").
        document = ActivationDocument(
            document_id="doc-secret-1",
            device_id=status["device"]["id"],
            environment="TEST",
            organization=ActivationOrganization("Optik Muster GmbH", "org-1"),
            management=ManagementCredentials(MGMT_KEY, MGMT_SECRET),
            issued_at=datetime.now(UTC) - timedelta(minutes=5),
            expires_on=date.today() + timedelta(days=30),
        )
        activation = tmp_path / "activation.json"
        activation.write_bytes(sign_document(load_private_key(private_pem), document))
        answers.append(
            await asyncio.to_thread(_tsectl, state, "--json", "activate", str(activation))
        )
        for args in (("status",), ("config", "show"), ("registers",), ("tss", "status")):
            answers.append(await asyncio.to_thread(_tsectl, state, "--json", *args))
            answers.append(await asyncio.to_thread(_tsectl, state, *args))
        stored = json.loads((state / "vault.json").read_text())
        assert MGMT_SECRET in stored.values()  # the activation did reach the vault
        secrets += [v for k, v in stored.items() if any(p in k for p in (".pin", ".puk", "secret"))]
        txt = json.dumps(
            build_txt(
                short_id=status["device"]["short_id"], mode="TEST", pairing=True,
                fingerprint=status["device"]["key_sha256"],
            )
        )  # fmt: skip
    finally:
        unit.send_signal(signal.SIGTERM)
        unit.wait(timeout=30)
        log_handle.close()
        await proxy.stop()
        stop(sim)
    logs = log.read_text(errors="replace")
    assert "TSED_EVENT=tse_failure" in logs and "DEBUG" in logs  # the error paths were logged
    files = {
        str(path): path.read_bytes().decode("latin-1")
        for path in state.rglob("*")
        if path.is_file() and path.name != "vault.json"
    }
    assert any(name.endswith("tsed.sqlite") for name in files)
    haystacks = {"logs": logs, "answers": "\n".join(answers), "mdns": txt, **files}
    secrets = sorted({s for s in secrets if s and len(s) >= 8})
    assert len(secrets) >= 8
    for secret in secrets:
        for where, text in haystacks.items():
            assert secret not in text, f"a secret ({len(secret)} chars) reached {where}"
