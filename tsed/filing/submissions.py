"""The submissions of the running unit: one at a time per premises, taken up after a restart.

A submission is recorded before it is made (:func:`~tsed.filing.submit.prepare`), so the
unit's own record always knows which submission of which premises is open: its id, the digest
of the filing it carries, the last event it covers, when it was made. Then:

* a submit while one of the premises is open follows the open one (the one already running,
  or the one a restart cut) and answers its outcome if it carries the same filing (same
  digest): the same filing is never submitted twice. One that carries other data (or data an
  older release did not record) is followed on, and the submit is refused
  (:class:`~tsed.filing.errors.SubmissionOpen`, 409): its outcome is not this filing's, and
  the changed data are submitted once it is final. The same filing again after it succeeded,
  with nothing of the premises left to file, answers the succeeded one;
* at start (:meth:`Submissions.resume`) every open submission is followed to its final state,
  with the same steps and the same closing of events as a run that was never cut; a failure
  keeps fiskaly's reason in the record and leaves the events open. Attempts that end without a
  final state (fiskaly not reachable yet) are repeated a few times, then left to the next
  submit or start. A submission whose premises is gone ends ``ABANDONED`` with that reason,
  without a client of any tenant.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from tsed.filing.errors import SubmissionFailed, SubmissionOpen
from tsed.filing.form import Filing
from tsed.filing.service import FINAL_STATES, FilingService
from tsed.filing.store import SubmissionRow
from tsed.filing.submit import abandon, digest, follow, prepare
from tsed.fiskaly import SubmitClient

_LOGGER = logging.getLogger(__name__)
ClientFor = Callable[[], SubmitClient]  # a new SUBMIT DE client (the task closes it)


class Submissions:
    """See the module. ``within``/``poll``: how long and how often a submission is followed."""

    def __init__(
        self, service: FilingService, *, within: float = 300.0, poll: float = 0.05
    ) -> None:
        self.service = service
        self.within = within
        self.poll = poll
        self._lock = asyncio.Lock()
        self._running: dict[str, asyncio.Task[SubmissionRow]] = {}
        self._carries: dict[str, str | None] = {}  # premises: the digest its running task files

    async def open_rows(self) -> list[SubmissionRow]:
        return [r for r in await self.service.store.submissions() if r.state not in FINAL_STATES]

    async def submit(
        self, filing: Filing, client_for: ClientFor, links: Mapping[str, tuple[str, str]]
    ) -> SubmissionRow:
        """Submit ``filing`` and follow it until final (see the module)."""
        premises, wanted = filing.premises.premises_id, digest(filing)
        async with self._lock:  # the choice and the task's start are one step
            task = self._live(premises)
            if task is None:
                rows = [r for r in await self.service.store.submissions()
                        if r.premises_id == premises]  # fmt: skip
                opened = next((r for r in rows if r.state not in FINAL_STATES), None)
                if opened is not None:
                    task = self._start(premises, opened.content_hash,
                                       self._follow(opened, client_for))  # fmt: skip
                else:
                    done = await self._already_filed(filing, rows)
                    if done is not None:
                        return done
                    task = self._start(premises, wanted, self._new(filing, client_for, links))
            carried = self._carries.get(premises)
        if carried != wanted:  # its outcome is not this filing's: refused, it runs on
            raise self._other_data(premises, carried)
        return await asyncio.shield(task)  # a caller that gives up does not stop it

    def _other_data(self, premises: str, carried: str | None) -> SubmissionOpen:
        what = "anderen Daten" if carried else "Daten, die eine ältere Version nicht festhielt"
        _LOGGER.warning(
            "a submission of %s with other data is still open: it is followed first, the "
            "changed data need a submit after it", premises,
            extra={"TSED_EVENT": "filing_submission_open", "TSED_PREMISES": premises},
        )  # fmt: skip
        return SubmissionOpen(
            f"Für die Betriebsstätte {premises} läuft noch eine Übermittlung mit {what}"
        )

    async def follow_open(self, row: SubmissionRow, client_for: ClientFor) -> SubmissionRow:
        """Follow the open ``row`` (or await the task that already follows it)."""
        async with self._lock:
            task = self._live(row.premises_id) or self._start(
                row.premises_id, row.content_hash, self._follow(row, client_for)
            )
        return await asyncio.shield(task)

    async def resume(
        self, client_for: Callable[[str], SubmitClient], *, attempts: int = 5,
        wait: float = 30.0, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> int:  # fmt: skip
        """Follow every open submission to its final state (``client_for``: a client for a
        tenant); returns how many are still open after ``attempts`` rounds."""
        tenants = {p.premises_id: p.tenant_id for p in await self.service.store.premises()}
        rows = await self._known(tenants)
        for attempt in range(attempts):
            if not rows:
                break
            if attempt:
                await sleep(wait * attempt)
            for row in rows:
                _LOGGER.warning(
                    "resuming the submission %s of %s cut by a restart (last state %s)",
                    row.id, row.premises_id, row.state,
                    extra={"TSED_EVENT": "filing_resumed", "TSED_PREMISES": row.premises_id},
                )  # fmt: skip
            results = await asyncio.gather(
                *(self.follow_open(row, _bound(client_for, tenants[row.premises_id]))
                  for row in rows),
                return_exceptions=True,
            )  # fmt: skip
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, BaseException) and not isinstance(result, SubmissionFailed):
                    _LOGGER.warning("the submission %s could not be followed: %s", row.id, result)
            rows = await self._known(tenants)
        return len(rows)

    async def _known(self, tenants: Mapping[str, str]) -> list[SubmissionRow]:
        """The open rows whose premises is known; the others end abandoned."""
        rows = await self.open_rows()
        for row in rows:
            if row.premises_id not in tenants:
                await abandon(self.service, row)
        return [r for r in rows if r.premises_id in tenants]

    async def close(self) -> None:
        """Stop following (at stop; the record keeps each submission open for the next start)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- inside ---------------------------------------------------------------------------

    def _live(self, premises: str) -> asyncio.Task[SubmissionRow] | None:
        task = self._running.get(premises)
        return task if task is not None and not task.done() else None

    def _start(
        self, premises: str, carries: str | None, work: Awaitable[SubmissionRow]
    ) -> asyncio.Task[SubmissionRow]:
        async def run() -> SubmissionRow:
            return await work

        task = asyncio.get_running_loop().create_task(run(), name=f"filing-submit-{premises}")
        self._running[premises], self._carries[premises] = task, carries

        def finished(done: asyncio.Task[SubmissionRow]) -> None:
            if self._running.get(premises) is done:
                del self._running[premises], self._carries[premises]
            if not done.cancelled():
                done.exception()  # retrieved here: a resume nobody awaits is logged by it

        task.add_done_callback(finished)
        return task

    async def _new(
        self, filing: Filing, client_for: ClientFor, links: Mapping[str, tuple[str, str]]
    ) -> SubmissionRow:
        async with client_for() as client:
            row = await prepare(self.service, filing, client, links)
            return await follow(self.service, row, client, within=self.within, poll=self.poll)

    async def _follow(self, row: SubmissionRow, client_for: ClientFor) -> SubmissionRow:
        async with client_for() as client:
            return await follow(self.service, row, client, within=self.within, poll=self.poll)

    async def _already_filed(
        self, filing: Filing, rows: list[SubmissionRow]
    ) -> SubmissionRow | None:
        """The last submission of the premises, if it succeeded with this very filing and
        nothing the filing would close is open."""
        last = rows[-1] if rows else None
        if last is None or last.state != "TRANSMISSION_SUCCEEDED":
            return None
        if last.content_hash != digest(filing):
            return None
        premises, tenant = filing.premises.premises_id, filing.premises.tenant_id
        for event in await self.service.store.events(open_only=True):
            if event.tenant_id == tenant and event.premises_id in (None, premises):
                return None
        _LOGGER.info("the filing of %s was transmitted already (submission %s)", premises, last.id)
        return last


def _bound(client_for: Callable[[str], SubmitClient], tenant: str) -> ClientFor:
    return lambda: client_for(tenant)
