"""The filing driver against SUBMIT DE in the simulator: bodies fiskaly accepts, the state
followed until final, events closed only on TRANSMISSION_SUCCEEDED and only those raised
before the filing's data was read, a trigger SUBMIT DE did not take repeated with a pause, a
submission of a premises that is gone ended (service: ``tests/filing/conftest.py``)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator

import pytest

from tests.fiskaly.simulator.conftest import Api
from tests.support.filing import TRIGGER
from tsed.filing.errors import FilingIncomplete, PremisesUnknown, SubmissionFailed
from tsed.filing.model import RegisterData
from tsed.filing.service import FilingService
from tsed.filing.submit import ABANDONED, CREATING, client_body, follow, prepare, submit_filing
from tsed.fiskaly import SubmitClient
from tsed.fiskaly.simulator import Simulator, SimulatorServer


@pytest.fixture
async def client(sim: Simulator, server: SimulatorServer, api: Api) -> AsyncIterator[SubmitClient]:
    sim.submit.step = 0.02
    async with SubmitClient(api_key=api.creds.api_key, api_secret=api.creds.api_secret,
                            base_url=server.base_url) as submit:  # fmt: skip
        yield submit


async def test_submitted_and_closed(
    sim: Simulator, api: Api, service: FilingService, client: SubmitClient
) -> None:
    tss_id, client_id = await api.setup_tss()
    filing = await service.filing("f1")
    row = await submit_filing(service, filing, client, {"r-1": (tss_id, client_id)}, poll=0.01)
    assert row.state == "TRANSMISSION_SUCCEEDED"
    assert (await service.status()).pending == ()
    data = sim.submit.client_data[(api_org(sim, api), tss_id, client_id)]
    assert data["software_version"] == "4.2" and data["date_acquisition"] == "02.01.2026"
    assert data["establishment_id"] == filing.premises.establishment_id
    states = [s.state for s in await service.store.submissions()]
    assert states == ["TRANSMISSION_SUCCEEDED"]


async def test_a_refused_submission_keeps_the_events(
    api: Api, service: FilingService, client: SubmitClient
) -> None:
    tss_id, client_id = await api.setup_tss()
    await service.set_register("r-1", {"kind": "4"})  # a taximeter without remarks: ELSTER says no
    filing = await service.filing("f1")
    with pytest.raises(SubmissionFailed, match="EXTERNAL_VALIDATION_FAILED"):
        await submit_filing(service, filing, client, {"r-1": (tss_id, client_id)}, poll=0.01)
    assert [e.kind for e in (await service.status()).pending] == ["register_paired"]


async def test_the_wait_is_bounded(
    sim: Simulator, api: Api, service: FilingService, client: SubmitClient
) -> None:
    tss_id, client_id = await api.setup_tss()
    sim.submit.step = 60.0
    filing = await service.filing("f1")
    with pytest.raises(SubmissionFailed, match="still CREATED"):
        await submit_filing(
            service, filing, client, {"r-1": (tss_id, client_id)}, within=0.2, poll=0.05
        )


async def test_a_register_without_fiskaly_client_is_filed_by_hand(
    service: FilingService, client: SubmitClient
) -> None:
    filing = await service.filing("f1")
    with pytest.raises(FilingIncomplete, match=r"ohne fiskaly-Client.*S1"):
        await submit_filing(service, filing, client, {})


async def test_an_event_raised_after_the_filing_was_read_stays_open(
    api: Api, service: FilingService, client: SubmitClient
) -> None:
    """An event raised between reading the filing's data and submitting it is not in the
    filing: its success does not close it."""
    tss_id, client_id = await api.setup_tss()
    filing = await service.filing("f1")
    late = await service.store.add_event("default", "f1", "premises_changed", "Filiale 1b",
                                         "2026-01-03", "2026-02-03")  # fmt: skip
    row = await submit_filing(service, filing, client, {"r-1": (tss_id, client_id)}, poll=0.01)
    assert row.state == "TRANSMISSION_SUCCEEDED"
    assert [e.id for e in (await service.status()).pending] == [late.id]
    assert row.upto == late.id - 1  # the last event when the filing's data was read


async def test_a_trigger_answered_ready_again_is_repeated_after_a_growing_pause(
    sim: Simulator, api: Api, service: FilingService, client: SubmitClient
) -> None:
    """SUBMIT DE answers the trigger with READY_FOR_TRANSMISSION and stays there: the unit
    reads the state again and triggers once more only after a pause that doubles, not in a
    loop against fiskaly."""
    tss_id, client_id = await api.setup_tss()
    sim.submit.faults["trigger"] = "ignored"
    filing = await service.filing("f1")
    started = time.monotonic()
    with pytest.raises(SubmissionFailed, match="still READY_FOR_TRANSMISSION"):
        await submit_filing(
            service, filing, client, {"r-1": (tss_id, client_id)}, within=1.2, poll=0.05
        )
    assert time.monotonic() - started >= 1.0  # it kept following until ``within``
    triggers = sim.stats[TRIGGER]
    assert 2 <= triggers <= 6, triggers  # at 0, 0.05, 0.15, 0.35, 0.75 s (a hot loop: ~25)
    polls = sim.stats["GET /api/submission/v1/submission/{submission_id}"]
    assert polls >= 10  # between the triggers the state is read again
    (row,) = await service.store.submissions()
    assert row.state == "READY_FOR_TRANSMISSION"
    assert [e.kind for e in (await service.status()).pending] == ["register_paired"]


async def test_a_submission_of_a_premises_that_is_gone_ends_abandoned(
    sim: Simulator, api: Api, service: FilingService, client: SubmitClient
) -> None:
    """The premises vanished (a restored older filing store, say) while its submission was
    recorded but not made: it ends ABANDONED with that reason instead of staying open."""
    tss_id, client_id = await api.setup_tss()
    row = await prepare(service, await service.filing("f1"), client, {"r-1": (tss_id, client_id)})
    assert row.state == CREATING
    with sqlite3.connect(service.store.path) as db:
        db.execute("DELETE FROM premises WHERE premises_id = 'f1'")
    with pytest.raises(PremisesUnknown, match="gibt es nicht mehr"):
        await follow(service, row, client, poll=0.01)
    (done,) = (await service.status()).submissions
    assert (done.state, done.final) == (ABANDONED, True)
    assert done.error == "Die Betriebsstätte f1 gibt es nicht mehr"
    assert sim.submit.submissions == {}  # not made at SUBMIT DE
    assert [e.kind for e in (await service.status()).pending] == ["register_paired"]


def test_client_body_uses_submit_de_names_and_dates() -> None:
    register = RegisterData(
        key="r",
        tenant_id="t",
        serial="S",
        kind="1",
        maker="M",
        model="K",
        software="SW",
        purchased_on="2026-01-02",
        paired_on="2026-01-05",
        decommissioned_on="2026-02-01",
        decommission_reason="defekt",
    )
    body = client_body(register, "est")
    assert body == {
        "date_acquisition": "02.01.2026", "date_commissioning": "05.01.2026",
        "establishment_id": "est", "manufacturer": "M", "model": "K", "software": "SW",
        "type": "1", "date_decommissioning": "01.02.2026", "decommissioning_reason": "defekt",
    }  # fmt: skip


def api_org(sim: Simulator, api: Api) -> str:
    return sim.state.keys[api.creds.api_key].organization_id
