"""Submissions one at a time per premises, and taken up after a restart, against SUBMIT DE in
the simulator (real client, real SQLite): a second submit follows the open one, a submission
recorded but never made is made with its recorded id, a resumed one closes the same events as
an uninterrupted run, a refusal keeps fiskaly's reason, the same filing is not sent twice;
changed data while one is open is refused (not answered with the open one's outcome), one of a
premises that is gone ends abandoned without any tenant's client, one an older release made
closes no event by itself (fixtures: ``tests/filing/conftest.py``)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable

import pytest

from tests.fiskaly.simulator.conftest import Api
from tests.support.filing import sim_states
from tsed.filing.errors import SubmissionFailed, SubmissionOpen
from tsed.filing.service import FilingService
from tsed.filing.store import SubmissionRow
from tsed.filing.submissions import Submissions
from tsed.filing.submit import ABANDONED, CREATING, digest, prepare
from tsed.fiskaly import SubmitClient
from tsed.fiskaly.simulator import Simulator, SimulatorServer


async def _recorded(service: FilingService) -> None:
    for _ in range(200):  # until the first is recorded
        if await service.store.submissions():
            return
        await asyncio.sleep(0.01)


async def test_a_second_submit_follows_the_open_one(
    sim: Simulator, service: FilingService, client_for: Callable[[], SubmitClient],
    links: dict[str, tuple[str, str]],
) -> None:  # fmt: skip
    sim.submit.step = 0.1
    submissions = Submissions(service, poll=0.02)
    filing = await service.filing("f1")
    first = asyncio.create_task(submissions.submit(filing, client_for, links))
    await _recorded(service)
    second = await submissions.submit(filing, client_for, links)
    assert (await first).id == second.id and second.state == "TRANSMISSION_SUCCEEDED"
    assert sim_states(sim) == ["TRANSMISSION_SUCCEEDED"]  # one submission at SUBMIT DE
    assert [s.id for s in await service.store.submissions()] == [second.id]
    assert (await service.status()).pending == ()
    # the same filing again, nothing left to file: the succeeded one, nothing sent
    assert (await submissions.submit(filing, client_for, links)).id == second.id
    assert len(sim.submit.submissions) == 1


async def test_a_submission_recorded_but_not_made_is_made_with_its_id_at_resume(
    sim: Simulator, api: Api, service: FilingService, client_for: Callable[[], SubmitClient],
    links: dict[str, tuple[str, str]], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A cut after the record and before ``PUT /submission``: the resume makes it, once."""
    caplog.set_level(logging.DEBUG)
    sim.submit.step = 0.02
    filing = await service.filing("f1")
    async with client_for() as client:
        row = await prepare(service, filing, client, links)
    assert row.state == CREATING and row.content_hash == digest(filing)
    assert sim.submit.submissions == {}
    late = await service.store.add_event("default", "f1", "premises_changed", "x", "2026-01-01",
                                         "2026-02-01")  # fmt: skip
    submissions = Submissions(service, poll=0.01)
    assert await submissions.resume(lambda tenant: client_for()) == 0
    assert list(sim.submit.submissions) == [row.id]
    (done,) = await service.store.submissions()
    assert (done.id, done.state, done.upto) == (row.id, "TRANSMISSION_SUCCEEDED", row.upto)
    pending = (await service.status()).pending
    assert [e.id for e in pending] == [late.id]  # raised after the submission: still open
    closed = [e for e in await service.store.events() if e.filed_by == row.id]
    assert closed and all(e.id <= (row.upto or 0) for e in closed)
    resumed = [r for r in caplog.records if getattr(r, "TSED_EVENT", None) == "filing_resumed"]
    assert len(resumed) == 1 and row.id in resumed[0].getMessage()
    assert api.creds.api_secret not in caplog.text  # the journal never holds the secret


async def test_a_resumed_refusal_keeps_fiskalys_reason_and_the_events(
    sim: Simulator, service: FilingService, client_for: Callable[[], SubmitClient],
    links: dict[str, tuple[str, str]],
) -> None:  # fmt: skip
    sim.submit.step = 0.02
    await service.set_register("r-1", {"kind": "4"})  # a taximeter without remarks
    filing = await service.filing("f1")
    async with client_for() as client:
        row = await prepare(service, filing, client, links)
    assert await Submissions(service, poll=0.01).resume(lambda tenant: client_for()) == 0
    (failed,) = (await service.status()).submissions
    assert (failed.id, failed.state, failed.final) == (row.id, "EXTERNAL_VALIDATION_FAILED", True)
    assert failed.error and "remarks" in failed.error  # fiskaly's reason
    assert [e.kind for e in (await service.status()).pending] == ["register_paired"]
    with pytest.raises(SubmissionFailed, match="EXTERNAL_VALIDATION_FAILED"):  # a new one
        await Submissions(service, poll=0.01).submit(filing, client_for, links)
    assert len(sim.submit.submissions) == 2


async def test_an_unreachable_submit_de_is_tried_again_a_bounded_number_of_times(
    server: SimulatorServer, service: FilingService, client_for: Callable[[], SubmitClient],
    links: dict[str, tuple[str, str]],
) -> None:  # fmt: skip
    filing = await service.filing("f1")
    async with client_for() as client:
        await prepare(service, filing, client, links)
    await server.stop()  # fiskaly not reachable at start
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    started = time.monotonic()
    still_open = await Submissions(service, poll=0.01).resume(
        lambda tenant: client_for(), attempts=3, wait=5.0, sleep=sleep
    )
    assert still_open == 1 and waits == [5.0, 10.0] and time.monotonic() - started < 120
    assert [s.state for s in await service.store.submissions()] == [CREATING]


async def test_changed_data_while_a_submission_runs_is_refused_not_answered_with_its_outcome(
    sim: Simulator, service: FilingService, client_for: Callable[[], SubmitClient],
    links: dict[str, tuple[str, str]],
) -> None:  # fmt: skip
    sim.submit.step = 0.1
    submissions = Submissions(service, poll=0.02)
    first = asyncio.create_task(submissions.submit(await service.filing("f1"), client_for, links))
    await _recorded(service)
    await service.set_register("r-1", {"model": "K2"})  # the data changed meanwhile
    changed = await service.filing("f1")
    with pytest.raises(SubmissionOpen, match="läuft noch eine Übermittlung mit anderen Daten") as e:
        await submissions.submit(changed, client_for, links)
    assert e.value.status == 409 and e.value.code == "SUBMISSION_OPEN"
    done = await first  # the running one went on
    assert done.state == "TRANSMISSION_SUCCEEDED" and len(sim.submit.submissions) == 1
    assert done.content_hash != digest(changed)
    again = await submissions.submit(changed, client_for, links)  # after it: the changed data
    assert again.id != done.id and again.content_hash == digest(changed)
    assert again.state == "TRANSMISSION_SUCCEEDED" and len(sim.submit.submissions) == 2


async def test_changed_data_while_a_cut_submission_is_open_is_refused_and_it_is_followed(
    sim: Simulator, service: FilingService, client_for: Callable[[], SubmitClient],
    links: dict[str, tuple[str, str]],
) -> None:  # fmt: skip
    """The open one a restart cut carries other data: the submit is refused, the open one is
    followed to its end all the same."""
    sim.submit.step = 0.02
    async with client_for() as client:
        row = await prepare(service, await service.filing("f1"), client, links)
    await service.set_register("r-1", {"model": "K2"})
    submissions = Submissions(service, poll=0.01)
    with pytest.raises(SubmissionOpen):
        await submissions.submit(await service.filing("f1"), client_for, links)
    for _ in range(500):
        (followed,) = await service.store.submissions()
        if followed.state == "TRANSMISSION_SUCCEEDED":
            break
        await asyncio.sleep(0.01)
    assert (followed.id, followed.state) == (row.id, "TRANSMISSION_SUCCEEDED")
    assert list(sim.submit.submissions) == [row.id]
    await submissions.close()


async def test_an_open_submission_of_a_premises_that_is_gone_is_abandoned_at_resume(
    sim: Simulator, service: FilingService, client_for: Callable[[], SubmitClient],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """No tenant is guessed for it (never the default tenant's credentials): it ends
    ABANDONED with the reason, and the resume does not try again and again."""
    now, sub_id = time.time(), str(uuid.uuid4())
    await service.store.save_submission(
        SubmissionRow(sub_id, "f9", "TRANSMISSION_PENDING", now, now, None, "abc", 1)
    )
    asked: list[str] = []

    def client_of(tenant: str) -> SubmitClient:
        asked.append(tenant)
        return client_for()

    async def sleep(seconds: float) -> None:
        pass

    assert await Submissions(service, poll=0.01).resume(client_of, sleep=sleep) == 0
    assert asked == []
    (gone,) = (await service.status()).submissions
    assert (gone.id, gone.state, gone.final) == (sub_id, ABANDONED, True)
    assert gone.error == "Die Betriebsstätte f9 gibt es nicht mehr"
    logged = [r for r in caplog.records if getattr(r, "TSED_EVENT", None) == "filing_abandoned"]
    assert len(logged) == 1 and logged[0].TSED_PREMISES == "f9"  # type: ignore[attr-defined]


async def test_a_submission_an_older_release_made_closes_no_event_by_itself(
    sim: Simulator, service: FilingService, client_for: Callable[[], SubmitClient],
    links: dict[str, tuple[str, str]], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Its record has no last event (an older release did not keep one): its success closes
    nothing, as no event is known to have been raised before it; the journal says so."""
    sim.submit.step = 0.02
    async with client_for() as client:
        row = await prepare(service, await service.filing("f1"), client, links)
    with sqlite3.connect(service.store.path) as db:  # what the older release recorded
        db.execute("DELETE FROM submission_resume")
    (old,) = await service.store.submissions()
    assert old == dataclasses.replace(row, content_hash=None, upto=None)
    assert await Submissions(service, poll=0.01).resume(lambda tenant: client_for()) == 0
    (done,) = await service.store.submissions()
    assert (done.id, done.state) == (row.id, "TRANSMISSION_SUCCEEDED")
    assert [e.kind for e in (await service.status()).pending] == ["register_paired"]
    kept = [r for r in caplog.records if getattr(r, "TSED_EVENT", None) == "filing_events_kept"]
    assert len(kept) == 1 and "tsectl filing done --premises f1" in kept[0].getMessage()
