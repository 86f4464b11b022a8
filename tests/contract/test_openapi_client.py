"""A register SDK generated from the served OpenAPI document signs receipts (issue 15, item 13).

openapi-python-client (a standard generator, in the dev lock) builds a client from what a
running unit serves at /api/v1/openapi.json; that client pairs, signs, lists and reads the
errors, against the unit on loopback. Generator warnings fail the test: the document stays
generator-friendly.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import ssl
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.unit import RECEIPT, running_unit
from tsed.fiskaly.tr03151 import verify_qr_code

PACKAGE = "tsed_register_client"
# PNG answers are binary to the generator (its own option for media types it does not know).
CONFIG = "content_type_overrides:\n  image/png: application/octet-stream\n"


def _generate(document: Path, into: Path) -> str:
    bin_dir = Path(sys.executable).parent
    config = into / "generator.yaml"
    config.write_text(CONFIG)
    done = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(into / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def _use_client(base_url: str, cert: ssl.SSLContext, code: str) -> dict[str, Any]:
    sdk = importlib.import_module(PACKAGE)
    models = importlib.import_module(f"{PACKAGE}.models")
    api = f"{PACKAGE}.api.default"
    pair = importlib.import_module(f"{api}.pair_register")
    sign = importlib.import_module(f"{api}.sign_receipt")
    listing = importlib.import_module(f"{api}.list_transactions")
    start = importlib.import_module(f"{api}.start_transaction")
    cancel = importlib.import_module(f"{api}.cancel_transaction")
    status = importlib.import_module(f"{api}.get_status")
    seen: dict[str, Any] = {}
    with sdk.Client(base_url=base_url, verify_ssl=cert) as anonymous:
        seen["status"] = status.sync(client=anonymous)
        paired = pair.sync(
            client=anonymous,
            body=models.PairingRequest(code=code, register_serial="ERS sdk-1", label="SDK"),
        )
    token = paired.token
    with sdk.AuthenticatedClient(base_url=base_url, token=token, verify_ssl=cert) as client:
        seen["signed"] = sign.sync(
            client=client,
            body=models.Receipt.from_dict(RECEIPT),
            idempotency_key=str(uuid.uuid4()),
        )
        opened = start.sync(client=client, idempotency_key=str(uuid.uuid4()))
        seen["refused"] = cancel.sync_detailed(
            opened.id, client=client, body=models.Receipt.from_dict(RECEIPT)
        )
        seen["cancelled"] = cancel.sync(opened.id, client=client)
        seen["open"] = listing.sync(
            client=client,
            state=[models.ListTransactionsStateItem(s) for s in ("journaled", "active")],
        )
        seen["all"] = listing.sync(client=client, limit=10)
    return seen


async def test_a_generated_client_signs_a_receipt(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        async with httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context()) as http:
            served = (await http.get("/api/v1/openapi.json")).json()
        document = tmp_path / "openapi.json"
        document.write_text(json.dumps(served))
        output = await asyncio.to_thread(_generate, document, tmp_path)
        assert "Warning" not in output and "WARNING" not in output, output
        _rc, out = await unit.tsectl("--json", "pair")
        code = json.loads(out)["code"]
        sys.path.insert(0, str(tmp_path))
        try:
            seen = await asyncio.to_thread(_use_client, unit.base_url, unit.ssl_context(), code)
        finally:
            sys.path.remove(str(tmp_path))
            for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
                del sys.modules[name]
    assert seen["status"].mode.value == "TEST" and seen["status"].backend.value == "simulator"
    signed = seen["signed"]
    assert signed.tse_failure is False and signed.state.value == "finished"
    assert verify_qr_code(signed.result.qr_code_data).valid
    assert signed.result.process_data == "Beleg^11.90_0.00_0.00_0.00_0.00^11.90:Bar"
    refused = seen["refused"]
    assert refused.status_code == 400
    assert refused.parsed.error.details["field"] == "receipt.receipt_type"
    assert seen["cancelled"].state.value == "cancelled"
    assert seen["open"].transactions == []
    assert [t.state.value for t in seen["all"].transactions] == ["cancelled", "finished"]
