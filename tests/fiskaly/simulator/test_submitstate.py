"""SUBMIT DE in the simulator across restarts (``submitstate.py``): the simulator is stopped
and started again on its state directory between every step of a submission; every object
survives, the submission's state goes on from its stored times, the answers keep fiskaly's
shape; each change is on the disk before its answer; an older state file loads."""

from __future__ import annotations

import shutil
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fiskaly.simulator.conftest import Api
from tests.fiskaly.simulator.test_submit import ESTABLISHMENT, TAXPAYER, client_data
from tsed.fiskaly import Submission, SubmitClient
from tsed.fiskaly.simulator import SimCredentials, Simulator, SimulatorServer
from tsed.fiskaly.simulator.persist import SCHEMA_VERSION, SimStateTooNew
from tsed.fiskaly.submit import SUBMIT_PREFIX

STEP = 10.0  # seconds per state; the test moves the clock
VIEW_KEYS = {"_type", "id", "establishment_id", "state", "time_created", "metadata"}


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Restarting:
    """A simulator on ``state_dir`` that the test stops and starts again (a new process's
    view: a new :class:`Simulator` reading the database, a new server, new clients)."""

    state_dir: Path
    clock: Clock
    creds: SimCredentials | None = None
    sim: Simulator | None = None
    server: SimulatorServer | None = None

    async def start(self) -> Simulator:
        self.sim = Simulator(state_dir=self.state_dir, clock=self.clock)
        self.sim.submit.step = STEP
        self.server = SimulatorServer(self.sim)
        await self.server.start()
        if self.creds is None:
            self.creds = self.sim.add_api_key("TEST")
        return self.sim

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.sim is not None:
            self.sim.close()
        self.sim = self.server = None

    async def restart(self) -> Simulator:
        await self.stop()
        return await self.start()

    def client(self) -> SubmitClient:
        assert self.server is not None and self.creds is not None
        return SubmitClient(api_key=self.creds.api_key, api_secret=self.creds.api_secret,
                            base_url=self.server.base_url)  # fmt: skip

    async def raw(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """A SUBMIT DE call as plain HTTP (the answer's exact JSON)."""
        assert self.server is not None and self.creds is not None
        async with httpx.AsyncClient(base_url=self.server.base_url + SUBMIT_PREFIX,
                                     timeout=10.0) as http:  # fmt: skip
            auth = await http.post("/auth", json={"api_key": self.creds.api_key,
                                                  "api_secret": self.creds.api_secret})  # fmt: skip
            headers = {"Authorization": f"Bearer {auth.json()['access_token']}"}
            return await http.request(method, path, json=body, headers=headers)

    async def sign_client(self) -> tuple[str, str]:
        assert self.server is not None and self.creds is not None
        async with httpx.AsyncClient(base_url=self.server.base_url, timeout=10.0) as http:
            api = Api(http, self.creds)
            await api.auth()
            return await api.setup_tss()


@pytest.fixture
async def sim_dir(tmp_path: Path) -> AsyncIterator[Restarting]:
    restarting = Restarting(tmp_path / "sim", Clock(time.time()))
    await restarting.start()
    yield restarting
    await restarting.stop()


def _cut(source: Path, target: Path) -> Path:
    """What a power cut right now leaves on the disk: the committed database."""
    target.mkdir(parents=True)
    for name in ("simulator.sqlite", "simulator.sqlite-wal"):
        if (source / name).exists():
            shutil.copyfile(source / name, target / name)
    return target


async def _get(sim_dir: Restarting, sub_id: str) -> tuple[Submission, dict[str, Any]]:
    async with sim_dir.client() as client:
        sub = await client.get_submission(sub_id)
    raw = await sim_dir.raw("GET", f"/submission/{sub_id}")
    assert raw.status_code == 200, raw.text
    body: dict[str, Any] = raw.json()
    assert set(body) >= VIEW_KEYS, body
    return sub, body


async def test_every_object_and_state_survives_a_restart_at_each_step(
    sim_dir: Restarting,
) -> None:
    tss_id, client_id = await sim_dir.sign_client()
    est_id = str(uuid.uuid4())
    async with sim_dir.client() as client:
        await client.upsert_taxpayer(TAXPAYER)
    await sim_dir.restart()
    taxpayer = await sim_dir.raw("GET", "/taxpayer")
    assert taxpayer.status_code == 200 and taxpayer.json()["tax_number"] == TAXPAYER["tax_number"]
    async with sim_dir.client() as client:
        await client.upsert_establishment(est_id, ESTABLISHMENT)
    await sim_dir.restart()
    listed = (await sim_dir.raw("GET", "/establishment")).json()
    assert [e["id"] for e in listed["results"]] == [est_id] and listed["count"] == 1
    async with sim_dir.client() as client:
        await client.upsert_client_data(tss_id, client_id, client_data(est_id))
    await sim_dir.restart()
    path = f"/sign-de-v2/tss/{tss_id}/client/{client_id}/additional_data"
    data = (await sim_dir.raw("GET", path)).json()
    assert (data["_type"], data["establishment_id"]) == ("CLIENT_ADDITIONAL_DATA", est_id)

    sub_id = str(uuid.uuid4())
    async with sim_dir.client() as client:
        created = await client.create_submission(sub_id, est_id, {"tsed_premises": "f1"})
    assert created.state == "CREATED"
    seen = ["CREATED"]
    first_view: dict[str, Any] | None = None
    for _ in range(12):  # one restart and one step of the clock per state
        sim = await sim_dir.restart()
        sub, body = await _get(sim_dir, sub_id)
        assert body["metadata"] == {"tsed_premises": "f1"}
        assert body["time_created"] == created.time_created  # from the stored time
        if first_view is not None and sub.state == first_view["state"]:
            assert body == first_view
        if sub.state != seen[-1]:
            seen.append(sub.state)
        if sub.final:
            break
        if sub.state == "READY_FOR_TRANSMISSION":
            async with sim_dir.client() as client:
                sub = await client.trigger_transmission(sub_id)
            seen.append(sub.state)
            await sim_dir.restart()
            again, _ = await _get(sim_dir, sub_id)
            assert again.state == "TRANSMISSION_PENDING"  # the trigger survived the restart
            async with sim_dir.client() as client:  # a retry is the same transmission
                assert (await client.trigger_transmission(sub_id)).state == "TRANSMISSION_PENDING"
        first_view = body
        assert sim.submit.submissions[sub_id].step == STEP  # the pace is stored with it
        sim_dir.clock.now += STEP
    assert seen == [
        "CREATED", "VALIDATION_TRIGGERED", "VALIDATION_SUCCEEDED", "XML_GENERATION_SUCCEEDED",
        "READY_FOR_TRANSMISSION", "TRANSMISSION_PENDING", "TRANSMISSION_IN_PROGRESS",
        "TRANSMISSION_SUCCEEDED",
    ]  # fmt: skip
    final, body = await _get(sim_dir, sub_id)
    assert final.time_transmitted and final.time_generated and "error_description" not in body
    async with sim_dir.client() as client:  # an identical PUT is the same submission
        assert (await client.create_submission(sub_id, est_id)).state == "TRANSMISSION_SUCCEEDED"
    listed = (await sim_dir.raw("GET", "/submission")).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == sub_id


async def test_a_refusal_keeps_its_reason_across_a_restart(sim_dir: Restarting) -> None:
    tss_id, client_id = await sim_dir.sign_client()
    est_id = str(uuid.uuid4())
    async with sim_dir.client() as client:
        await client.upsert_taxpayer(TAXPAYER)
        await client.upsert_establishment(est_id, ESTABLISHMENT)
        await client.upsert_client_data(tss_id, client_id, client_data(est_id, type="4"))
        sub = await client.create_submission(str(uuid.uuid4()), est_id)
    sim_dir.clock.now += 3 * STEP
    before, body = await _get(sim_dir, sub.id)
    assert before.state == "EXTERNAL_VALIDATION_FAILED" and before.error_description
    await sim_dir.restart()
    sim_dir.clock.now += 5 * STEP  # a final state stays, with the same reason and time
    after, again = await _get(sim_dir, sub.id)
    assert after.state == "EXTERNAL_VALIDATION_FAILED"
    assert again == body


async def test_the_transmission_fault_is_kept_with_the_submission(sim_dir: Restarting) -> None:
    tss_id, client_id = await sim_dir.sign_client()
    est_id = str(uuid.uuid4())
    assert sim_dir.sim is not None
    async with sim_dir.client() as client:
        await client.upsert_taxpayer(TAXPAYER)
        await client.upsert_establishment(est_id, ESTABLISHMENT)
        await client.upsert_client_data(tss_id, client_id, client_data(est_id))
        sub = await client.create_submission(str(uuid.uuid4()), est_id)
        sim_dir.clock.now += 4 * STEP
        sim_dir.sim.submit.faults["transmission"] = "TRANSMISSION_FAILED"
        await client.trigger_transmission(sub.id)
    await sim_dir.restart()  # the switch is gone, the submission's outcome is not
    sim_dir.clock.now += 2 * STEP
    failed, body = await _get(sim_dir, sub.id)
    assert failed.state == "TRANSMISSION_FAILED" and body["error_description"]


async def test_each_change_is_on_the_disk_before_its_answer(sim_dir: Restarting) -> None:
    tss_id, client_id = await sim_dir.sign_client()
    est_id, sub_id = str(uuid.uuid4()), str(uuid.uuid4())
    live, cuts = sim_dir.state_dir, sim_dir.state_dir.parent
    async with sim_dir.client() as client:
        await client.upsert_taxpayer(TAXPAYER)
        await client.upsert_establishment(est_id, ESTABLISHMENT)
        await client.upsert_client_data(tss_id, client_id, client_data(est_id))
        await client.create_submission(sub_id, est_id)
        after_create = _cut(live, cuts / "after-create")
        sim_dir.clock.now += 4 * STEP
        await client.trigger_transmission(sub_id)
        after_trigger = _cut(live, cuts / "after-trigger")
    for state_dir, transmitted in ((after_create, False), (after_trigger, True)):
        copy = Simulator(state_dir=state_dir, clock=sim_dir.clock)
        try:
            sub = copy.submit.submissions[sub_id]
            assert (sub.transmission is not None) is transmitted
            assert len(copy.submit.client_data) == 1 and len(copy.submit.taxpayers) == 1
        finally:
            copy.close()


async def test_an_older_state_loads_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    restarting = Restarting(tmp_path / "sim", Clock(time.time()))
    await restarting.start()
    try:
        tss_id, _client_id = await restarting.sign_client()
    finally:
        await restarting.stop()
    db_path = restarting.state_dir / "simulator.sqlite"
    with sqlite3.connect(db_path) as db:  # as a simulator before SUBMIT DE was kept left it
        db.execute("DELETE FROM settings WHERE name = 'schema_version'")
        assert not db.execute("SELECT 1 FROM objects WHERE kind LIKE 'submit_%'").fetchall()
    sim = await restarting.start()
    try:
        assert sim.state.tss[tss_id].state == "INITIALIZED"
        assert sim.state.persist is not None
        assert sim.state.persist.loaded_version == 1
        assert sim.state.persist.setting("schema_version") == str(SCHEMA_VERSION)
        async with restarting.client() as client:
            await client.upsert_taxpayer(TAXPAYER)
    finally:
        await restarting.stop()
    sim = await restarting.start()
    try:
        assert len(sim.submit.taxpayers) == 1
    finally:
        await restarting.stop()
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE settings SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(SimStateTooNew, match="newer simulator"):
        Simulator(state_dir=restarting.state_dir)
