"""SUBMIT DE in the simulator, through the real client: objects, state machine, failures."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fiskaly.simulator.conftest import Api
from tsed.fiskaly import FiskalyNotFound, FiskalyRejected, Submission, SubmitClient
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.submit import SUBMIT_PREFIX

TAXPAYER = {
    "tax_number": "2893081508152", "tax_office_number": "2893",
    "general_information": {
        "person": "legal", "information": {"company_name": "Bäckerei Huber GmbH"},
        "address": {"post_address": {"street": "Hauptstraße", "house_number": "1",
                                     "town": "Stuttgart", "zip_code": "70173"}},
    },
}  # fmt: skip
ESTABLISHMENT = {"address": {"street": "Markt", "house_number": "2", "town": "Stuttgart",
                             "zip_code": "70173"}, "designation": "Filiale 1"}  # fmt: skip


def client_data(establishment_id: str, **extra: Any) -> dict[str, Any]:
    return {"date_acquisition": "02.01.2026", "date_commissioning": "10.01.2026",
            "establishment_id": establishment_id, "manufacturer": "Kassen AG", "model": "K1",
            "software": "Kasse Pro", "software_version": "4.2", "type": "1", **extra}  # fmt: skip


@pytest.fixture
async def submit(
    sim: Simulator, server: SimulatorServer, api: Api
) -> AsyncIterator[tuple[SubmitClient, str, str]]:
    sim.submit.step = 0.02
    tss_id, client_id = await api.setup_tss()
    client = SubmitClient(
        api_key=api.creds.api_key, api_secret=api.creds.api_secret, base_url=server.base_url
    )
    async with client:
        yield client, tss_id, client_id


async def follow(client: SubmitClient, sub: Submission) -> list[str]:
    seen = [sub.state]
    for _ in range(200):
        if sub.final:
            break
        if sub.state == "READY_FOR_TRANSMISSION":
            sub = await client.trigger_transmission(sub.id)
        else:
            await asyncio.sleep(0.01)
            sub = await client.get_submission(sub.id)
        if sub.state != seen[-1]:
            seen.append(sub.state)
    return seen


async def prepared(client: SubmitClient, tss_id: str, client_id: str, **extra: Any) -> str:
    est_id = str(uuid.uuid4())
    await client.upsert_taxpayer(TAXPAYER)
    answered = await client.upsert_establishment(est_id, ESTABLISHMENT)
    assert answered["id"] == est_id
    await client.upsert_client_data(tss_id, client_id, client_data(est_id, **extra))
    return est_id


async def test_a_submission_runs_to_transmission(
    sim: Simulator, submit: tuple[SubmitClient, str, str]
) -> None:
    client, tss_id, client_id = submit
    sim.submit.step = 0.2  # every state seen by a 0.01 s poll, also on a loaded machine
    est_id = await prepared(client, tss_id, client_id)
    sub = await client.create_submission(str(uuid.uuid4()), est_id, {"tsed_premises": "f1"})
    assert sub.state == "CREATED" and sub.establishment_id == est_id
    states = await follow(client, sub)
    assert states == [
        "CREATED", "VALIDATION_TRIGGERED", "VALIDATION_SUCCEEDED", "XML_GENERATION_SUCCEEDED",
        "READY_FOR_TRANSMISSION", "TRANSMISSION_PENDING", "TRANSMISSION_IN_PROGRESS",
        "TRANSMISSION_SUCCEEDED",
    ]  # fmt: skip
    final = await client.get_submission(sub.id)
    assert final.time_transmitted and final.time_generated and final.error_description is None


async def test_validation_failures(sim: Simulator, submit: tuple[SubmitClient, str, str]) -> None:
    client, tss_id, client_id = submit
    est_id = await prepared(client, tss_id, client_id, type="4")  # a taximeter, no remarks
    states = await follow(client, await client.create_submission(str(uuid.uuid4()), est_id))
    assert states[-1] == "EXTERNAL_VALIDATION_FAILED"
    empty = str(uuid.uuid4())
    await client.upsert_establishment(empty, ESTABLISHMENT)
    sub = await client.create_submission(str(uuid.uuid4()), empty)
    states = await follow(client, sub)
    assert states[-1] == "INTERNAL_VALIDATION_FAILED"
    assert "no client" in str((await client.get_submission(sub.id)).error_description)


@pytest.mark.parametrize("fault", ["TRANSMISSION_FAILED", "ERROR"])
async def test_transmission_faults(
    sim: Simulator, submit: tuple[SubmitClient, str, str], fault: str
) -> None:
    client, tss_id, client_id = submit
    sim.submit.faults["transmission"] = fault
    est_id = await prepared(client, tss_id, client_id)
    states = await follow(client, await client.create_submission(str(uuid.uuid4()), est_id))
    assert states[-1] == fault


async def test_a_pending_transmission_can_be_cancelled(
    sim: Simulator, submit: tuple[SubmitClient, str, str]
) -> None:
    client, tss_id, client_id = submit
    sim.submit.step = 0.5
    est_id = await prepared(client, tss_id, client_id)
    sub = await client.create_submission(str(uuid.uuid4()), est_id)
    with pytest.raises(FiskalyRejected) as early:
        await client.trigger_transmission(sub.id)
    assert (early.value.fiskaly_status, early.value.fiskaly_code) == (409, "E_SUBMISSION_NOT_READY")
    sim.submit.submissions[sub.id].created -= 4 * sim.submit.step  # ready now
    pending = await client.trigger_transmission(sub.id)
    assert pending.state == "TRANSMISSION_PENDING"
    assert (await client.cancel_transmission(sub.id)).state == "TRANSMISSION_CANCELLED"


async def test_refusals_have_fiskaly_error_bodies(
    server: SimulatorServer, api: Api, submit: tuple[SubmitClient, str, str]
) -> None:
    client, tss_id, client_id = submit
    with pytest.raises(FiskalyNotFound):
        await client.create_submission(str(uuid.uuid4()), str(uuid.uuid4()))
    with pytest.raises(FiskalyNotFound):
        await client.upsert_client_data(tss_id, str(uuid.uuid4()), client_data(str(uuid.uuid4())))
    async with httpx.AsyncClient(base_url=server.base_url + SUBMIT_PREFIX) as http:
        # a SIGN DE token is no SUBMIT DE token
        sign = await http.put(
            "/taxpayer", json=TAXPAYER, headers={"Authorization": f"Bearer {api.token}"}
        )
        assert sign.status_code == 401 and sign.json()["code"] == "E_UNAUTHORIZED"
        auth = await http.post("/auth", json={"api_key": api.creds.api_key,
                                              "api_secret": api.creds.api_secret})  # fmt: skip
        headers = {"Authorization": f"Bearer {auth.json()['access_token']}"}
        bad = await http.put("/taxpayer", json={**TAXPAYER, "tax_number": "93815/08152"},
                             headers=headers)  # fmt: skip
        assert bad.status_code == 400
        assert set(bad.json()) == {"status_code", "error", "code", "message"}
        dates = client_data("x", date_commissioning="01.01.2026")
        wrong = await http.put(
            f"/sign-de-v2/tss/{tss_id}/client/{client_id}/additional_data", json=dates,
            headers=headers,
        )  # fmt: skip
        assert wrong.status_code == 400 and "before date_acquisition" in wrong.json()["message"]
