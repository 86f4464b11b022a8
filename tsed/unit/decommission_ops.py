"""A guided decommissioning carried out (the plan and its steps: :mod:`tsed.provisioning.
decommission`): ``tsectl decommission register|tss|exchange|unit|status|resume`` and the admin
routes of :mod:`tsed.net.admin_decommission`.

One plan at a time. It runs in the background (an archive run can take minutes); ``status``
shows where it stands. A plan left unfinished by a crash or a power cut goes on by itself when
the unit starts again; a failed step (fiskaly away, an archive finding) stops the plan with
the reason, and ``resume`` tries again once the cause is fixed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from tsed.archive.audit import verify_archive
from tsed.errors import ConflictError, InputError, NotFoundError, TsedError
from tsed.provisioning.decommission import (
    Plan,
    PlanFile,
    Step,
    check_day,
    check_reason,
    confirmation,
    new_plan,
)
from tsed.state.paths import StatePaths
from tsed.unit.context import OpsContext

_LOGGER = logging.getLogger(__name__)


class Decommissioning:
    """The one decommissioning of the unit (running, failed, or done) and its runner."""

    def __init__(self, context: OpsContext, *, clock: Callable[[], float] = time.time) -> None:
        self.d = context
        self.clock = clock
        self.file = PlanFile(StatePaths(context.state_dir).decommission)
        self._task: asyncio.Task[None] | None = None

    # -- operations -------------------------------------------------------------------------

    async def status(self) -> Plan | None:
        return await asyncio.to_thread(self.file.load)

    async def begin(
        self,
        kind: str,
        *,
        reason: str,
        confirm: str | None,
        tenant: str | None = None,
        register_id: str | None = None,
        day: str | None = None,
    ) -> Plan:
        current = await self.status()
        if current is not None and current.state != "done":
            raise ConflictError(
                f"a decommissioning ({current.kind}) is under way: {current.state}",
                hint="Follow it with tsectl decommission status; resume it with "
                "tsectl decommission resume.",
            )
        text = check_reason(reason)
        today = datetime.fromtimestamp(self.clock(), UTC).date()
        when = check_day(day, today)
        tenant, register_id, tss_ids = await self._targets(kind, tenant, register_id)
        expected = confirmation(kind, tss_ids, register_id)
        if confirm != expected:
            raise InputError(
                f"confirm: type exactly „{expected}“ to confirm (this cannot be undone)",
                hint="The archive is completed and checked first; the irreversible step "
                "comes after.",
            )
        plan = new_plan(
            kind,
            tenant=tenant,
            register_id=register_id,
            tss_ids=tss_ids,
            reason=text,
            day=when,
            clock=self.clock,
        )
        await asyncio.to_thread(self.file.save, plan)
        await self.d.store.audit(
            "admin",
            "decommission_started",
            {"kind": kind, "tenant": tenant, "register": register_id},
        )
        _LOGGER.warning(
            "decommissioning (%s) started: %s",
            kind,
            text,
            extra={"TSED_EVENT": "decommission_started", "TSED_TENANT": tenant or ""},
        )
        self._spawn()
        return plan

    async def resume(self) -> Plan:
        plan = await self.status()
        if plan is None:
            raise NotFoundError(
                "no decommissioning to resume",
                hint="Start one with tsectl decommission register|tss|unit.",
            )
        if plan.state == "done":
            return plan
        self._spawn()
        return plan

    async def start(self) -> None:
        """At unit start: an unfinished plan goes on (a failed one waits for ``resume``)."""
        plan = await self.status()
        if plan is not None and plan.state == "running":
            _LOGGER.warning(
                "resuming the decommissioning (%s) at step %s",
                plan.kind,
                plan.current.name if plan.current else "-",
                extra={"TSED_EVENT": "decommission_resumed"},
            )
            self._spawn()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    # -- the runner -------------------------------------------------------------------------

    def _spawn(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="tsed-decommission")

    async def _run(self) -> None:
        plan = await self.status()
        if plan is None:
            return
        plan = await self._save(replace(plan, state="running"))
        steps: dict[str, Callable[[Plan], Awaitable[str]]] = {
            "archive": self._archive,
            "verify": self._verify,
            "offbox": self._offbox,
            "deregister": self._deregister,
            "disable": self._disable,
            "replace": self._replace,
            "seal": self._seal,
            "record": self._record,
        }
        while (step := plan.current) is not None:
            started = replace(
                step,
                state="running",
                started_at=self.clock(),
                attempts=step.attempts + (1 if step.irreversible else 0),
            )
            plan = await self._save(plan.with_step(started))  # before any call goes out
            try:
                detail = await steps[step.name](plan)
            except (TsedError, OSError) as err:
                message = err.message if isinstance(err, TsedError) else str(err)
                failed = replace(started, state="failed", detail=message, finished_at=self.clock())
                await self._save(replace(plan.with_step(failed), state="failed"))
                _LOGGER.error(
                    "decommissioning step %s failed: %s",
                    step.name,
                    message,
                    extra={"TSED_EVENT": "decommission_failed"},
                )
                return
            done = replace(started, state="done", detail=detail, finished_at=self.clock())
            plan = await self._save(plan.with_step(done))
            _LOGGER.info(
                "decommissioning step %s done: %s",
                step.name,
                detail,
                extra={"TSED_EVENT": f"decommission_{step.name}"},
            )
        left = self._left(plan)
        await self._save(replace(plan, state="done", finished_at=self.clock(), left=left))
        await self.d.store.audit("admin", "decommission_done", {"kind": plan.kind})

    async def _save(self, plan: Plan) -> Plan:
        return await asyncio.to_thread(self.file.save, plan)

    # -- the steps --------------------------------------------------------------------------

    async def _archive(self, plan: Plan) -> str:
        # the TSS stay archive targets until archived to their last signature, whatever
        # happens to their binding in the irreversible step
        await self.d.archive.retire(
            {tss_id: self._tenant_of(tss_id, plan) for tss_id in plan.tss_ids}
        )
        run = await self.d.archive.archive_before(f"before decommissioning ({plan.kind})")
        for tss_id in plan.tss_ids:
            item = run.tss.get(tss_id, {})
            if item.get("archived_to") != item.get("to"):
                raise ConflictError(
                    f"TSS {tss_id} is archived to counter {item.get('archived_to')} of "
                    f"{item.get('to')}",
                    hint="Run tsectl archive run, then resume.",
                )
        return f"Archivlauf: {run.files} neue Datei(en)"

    async def _seal(self, plan: Plan) -> str:
        """After the irreversible step: the TSS's last signatures (its own disabling is a
        system log) into the archive too, so the archive ends with the TSS's end."""
        detail = await self._archive(plan)
        return detail.replace("Archivlauf", "Abschließender Archivlauf")

    async def _verify(self, plan: Plan) -> str:
        report = await asyncio.to_thread(verify_archive, self.d.archive.store)
        gaps = {t: g for t, g in report.get("gaps", {}).items() if t in plan.tss_ids and g}
        if not report.get("ok") or gaps:
            raise ConflictError(
                "the archive has findings or gaps",
                hint="tsectl archive verify names them; fix, then resume.",
            )
        return f"{len(report.get('files', []))} Datei(en) geprüft"

    async def _offbox(self, plan: Plan) -> str:
        """The copy after the final archive run has reached the backup target (the unit
        starts it after every run; waited for here, and made once more if it failed)."""
        sync = self.d.archive.offbox
        if sync is None or self.d.config.offbox is None:
            return "keine Kopie außer Haus eingerichtet"
        await sync.wait()
        status = sync.status()
        archived_at = plan.step("archive").finished_at or 0.0  # the final run's end
        if status.last_copy_at is None or status.last_copy_at < archived_at or status.last_error:
            await sync.sync("before decommissioning")
            status = sync.status()
        if status.last_copy_at is None or status.last_copy_at < archived_at:
            why = status.last_error_de or status.last_error or "keine Kopie"
            raise ConflictError(
                f"the off-box copy of the final archive did not succeed: {why}",
                hint="Check the backup target (tsectl archive copy-status), then resume.",
            )
        return f"Kopie außer Haus: Snapshot {(status.last_snapshot or '')[:8]}"

    async def _deregister(self, plan: Plan) -> str:
        rows = [r for r in await self.d.store.list_registers() if r.revoked_at is None]
        if plan.register_id is not None:
            rows = [r for r in rows if r.id == plan.register_id]
        for row in rows:  # each call asks first: a deregistered client is left as it is
            client = self.d.upstreams.register_client(row.id, self._tss_of(row.tenant_id))
            if client is not None and client.state != "DEREGISTERED":
                await self.d.upstreams.deregister(row.id, row.tenant_id)
            await self.d.registers.revoke(row.id)
        return f"{len(rows)} Kasse(n) abgemeldet"

    def _tss_of(self, tenant: str) -> str:
        binding = self.d.upstreams.binding(tenant)
        return binding.tss_id if binding else ""

    async def _disable(self, plan: Plan) -> str:
        states = []
        for tss_id in plan.tss_ids:
            tenant = self._tenant_of(tss_id, plan)
            states.append(await self.d.upstreams.disable_tss(tenant, tss_id))
        return f"{len(states)} TSS außer Betrieb ({', '.join(states)})"

    def _tenant_of(self, tss_id: str, plan: Plan) -> str:
        for tenant, binding in self.d.upstreams.all_bindings().items():
            if binding.tss_id == tss_id:
                return tenant
        return plan.tenant or "default"

    async def _replace(self, plan: Plan) -> str:
        tenant = plan.tenant or "default"
        binding = self.d.upstreams.binding(tenant)
        if binding is not None and binding.tss_id not in plan.tss_ids:
            return f"neue TSS {binding.tss_id} (schon angelegt)"
        await self.d.archive.retire({tss_id: tenant for tss_id in plan.tss_ids})
        new = await self.d.upstreams.recreate_after_deletion(tenant, reason="exchanged on request")
        return f"neue TSS {new.tss_id}"

    async def _record(self, plan: Plan) -> str:
        await self.d.store.audit(
            "admin",
            "decommissioned",
            {
                "kind": plan.kind,
                "tenant": plan.tenant,
                "register": plan.register_id,
                "tss": list(plan.tss_ids),
                "day": plan.day,
                "reason": plan.reason,
            },
        )
        _LOGGER.warning(
            "decommissioned (%s) on %s: %s",
            plan.kind,
            plan.day,
            plan.reason,
            extra={"TSED_EVENT": "decommissioned", "TSED_TENANT": plan.tenant or ""},
        )
        return f"am {plan.day}: {plan.reason}"

    def _left(self, plan: Plan) -> tuple[str, ...]:
        left = [
            "Innerhalb eines Monats dem Finanzamt melden (§ 146a Abs. 4 AO): "
            f"Außerbetriebnahme am {plan.day}, Grund: {plan.reason}."
        ]
        if plan.step("offbox").detail.startswith("keine"):
            left.append(
                "Das Archiv liegt nur auf der Einheit: vor dem Entsorgen der Einheit "
                "exportieren (tsectl archive export) und zehn Jahre aufbewahren."
            )
        if plan.kind in ("tss", "unit"):
            left.append(
                "Die Kassen dieses Mandanten signieren erst wieder mit einer neuen TSS "
                "(tsectl decommission exchange oder tsectl tss setup --new)."
            )
        return tuple(left)

    async def _targets(
        self, kind: str, tenant: str | None, register_id: str | None
    ) -> tuple[str | None, str | None, tuple[str, ...]]:
        bindings = self.d.upstreams.all_bindings()
        if kind == "unit":
            return None, None, tuple(b.tss_id for b in bindings.values())
        if kind == "register":
            rows = {r.id: r for r in await self.d.store.list_registers() if r.revoked_at is None}
            if register_id not in rows:
                raise NotFoundError(
                    f"register {register_id} is not paired here",
                    hint="tsectl registers lists them.",
                )
            row = rows[register_id]
            return row.tenant_id, register_id, (self._tss_of(row.tenant_id),)
        tenant = tenant or "default"
        if tenant not in bindings:
            raise NotFoundError(
                f"tenant {tenant!r} has no TSS here", hint="tsectl tss lists the TSS per tenant."
            )
        return tenant, None, (bindings[tenant].tss_id,)

    @staticmethod
    def step_view(step: Step) -> str:
        return f"{step.text}: {step.state}"
