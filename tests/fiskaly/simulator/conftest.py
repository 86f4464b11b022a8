"""A simulator on 127.0.0.1 and a raw HTTP helper written from the fiskaly reference."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tsed.fiskaly.simulator import SimCredentials, Simulator, SimulatorServer

RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}
PIN = "123456"


@dataclass
class Api:
    """Plain HTTP calls to the simulator, as the reference describes them."""

    http: httpx.AsyncClient
    creds: SimCredentials
    token: str = ""

    async def auth(self) -> dict[str, Any]:
        response = await self.http.post(
            "/api/v2/auth",
            json={"api_key": self.creds.api_key, "api_secret": self.creds.api_secret},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.token = body["access_token"]
        return body

    async def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.http.request(
            method, "/api/v2" + path, json=body, params=params or None, headers=headers
        )

    async def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = await self.call(method, path, body, **params)
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        return response.json()

    async def setup_tss(self) -> tuple[str, str]:
        """§13 steps 2-8: returns (tss_id, client_id) of an INITIALIZED TSS with one client."""
        tss_id = str(uuid.uuid4())
        created = await self.ok("PUT", f"/tss/{tss_id}", {})
        await self.ok("PATCH", f"/tss/{tss_id}", {"state": "UNINITIALIZED"})
        await self.ok(
            "PATCH", f"/tss/{tss_id}/admin",
            {"admin_puk": created["admin_puk"], "new_admin_pin": PIN},
        )  # fmt: skip
        await self.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})
        await self.ok("PATCH", f"/tss/{tss_id}", {"state": "INITIALIZED"})
        client_id = str(uuid.uuid4())
        await self.ok("PUT", f"/tss/{tss_id}/client/{client_id}", {"serial_number": "ERS 1"})
        await self.ok("POST", f"/tss/{tss_id}/admin/logout", {})
        return tss_id, client_id

    async def sale(self, tss_id: str, client_id: str, receipt: Any = None) -> dict[str, Any]:
        tx_id = str(uuid.uuid4())
        await self.ok(
            "PUT", f"/tss/{tss_id}/tx/{tx_id}", {"state": "ACTIVE", "client_id": client_id},
            tx_revision=1,
        )  # fmt: skip
        body = {
            "state": "FINISHED",
            "client_id": client_id,
            "schema": {"standard_v1": {"receipt": receipt or RECEIPT}},
        }
        result: dict[str, Any] = await self.ok(
            "PUT", f"/tss/{tss_id}/tx/{tx_id}", body, tx_revision=2
        )
        return result


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator()
    yield simulator
    simulator.close()


@pytest.fixture
async def server(sim: Simulator) -> AsyncIterator[SimulatorServer]:
    srv = SimulatorServer(sim)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def api(sim: Simulator, server: SimulatorServer) -> AsyncIterator[Api]:
    creds = sim.add_api_key("TEST")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
        client = Api(http, creds)
        await client.auth()
        yield client
