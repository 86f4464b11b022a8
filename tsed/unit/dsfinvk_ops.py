"""The TSE part of the DSFinV-K, from the journal: ``tsectl archive dsfinvk`` and the register
API's ``/api/v1/dsfinvk`` (the files and their columns: :mod:`tsed.archive.dsfinvk`).

The signed data comes from the unit's journal (every answer a register got, outage entries with
their failure text included); each TSS's certificate from fiskaly's TSS object, or, when
fiskaly cannot be asked, from the archived exports of that TSS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tsed.archive.audit import parse_day, period
from tsed.archive.dsfinvk import (
    TRANSACTIONS_FILE,
    TSE_FILE,
    TseTables,
    build_tables,
    certificate_base64,
    certificate_from_tar,
    masters_of,
    write_files,
)
from tsed.errors import InputError, NotFoundError, TsedError
from tsed.fiskaly.errors import FiskalyError
from tsed.state.paths import StatePaths
from tsed.state.periods import Period, first_signatures, pages, txs_created_between
from tsed.state.rows import TxRow
from tsed.unit.context import OpsContext

_LOGGER = logging.getLogger(__name__)
CERT_TIMEOUT = 10.0  # seconds for fiskaly's TSS object; the archive's copy is the fallback
REGISTER_DAYS = 31  # longest period a register asks for at once (answered from memory)


@dataclass(frozen=True, slots=True)
class DsfinvkFile:
    name: str
    rows: int
    size: int


@dataclass(frozen=True, slots=True)
class DsfinvkReport:
    """What ``tsectl archive dsfinvk`` wrote: one directory with both files."""

    directory: str
    period_from: str
    period_to: str
    tenant: str | None
    transactions: int
    signed: int
    tse: int
    open_left: int
    files: tuple[DsfinvkFile, ...]
    notes: tuple[str, ...]


class DsfinvkOps:
    """Builds both tables of a period (for the unit's admin and for one register)."""

    def __init__(self, context: OpsContext) -> None:
        self.d = context
        self._certificates: dict[str, str] = {}  # TSS id → base64 DER (they never change)

    async def register_tables(self, register_id: str, start: str, end: str) -> TseTables:
        """One register's own tables of a period of at most :data:`REGISTER_DAYS` days."""
        low, high = period(start, end)
        if high - low >= REGISTER_DAYS * 86400:
            raise InputError(
                f"the period is longer than {REGISTER_DAYS} days",
                hint="Ask per cash closing (a day, or the days since the last closing).",
            )
        rows = await txs_created_between(self.d.store, low, high, register_id=register_id)
        serials = {r.id: r.serial for r in await self.d.store.list_registers()}
        return build_tables(rows, serials, await self._certificates_of(rows))

    async def _check_tenant(self, tenant: str | None) -> None:
        if tenant is None or tenant in {t.id for t in self.d.config.tenant_list()}:
            return
        if tenant not in {r.tenant_id for r in await self.d.store.list_registers()}:
            raise NotFoundError(f"tenant {tenant!r} is not known here",
                                hint="tsectl tenants lists the tenants.")  # fmt: skip

    async def _certificates_of(self, rows: list[TxRow]) -> dict[str, str]:
        wanted: dict[str, tuple[str, str]] = {}  # TSS id → (tenant, serial)
        for row in rows:
            result = row.json_field("result")
            if result and row.tss_id not in self._certificates and row.tss_id not in wanted:
                wanted[row.tss_id] = (row.tenant_id, str(result.get("tss_serial_number", "")))
        for tss_id, (tenant, serial) in wanted.items():
            found = await self._from_fiskaly(tenant, tss_id)
            if not found:
                found = await asyncio.to_thread(self._from_archive, tss_id, serial)
            if found:
                self._certificates[tss_id] = found
        return dict(self._certificates)

    async def _from_fiskaly(self, tenant: str, tss_id: str) -> str:
        try:
            client = self.d.upstreams.client(tenant)
            async with asyncio.timeout(CERT_TIMEOUT):
                tss = await client.get_tss(tss_id)
        except (FiskalyError, TsedError, TimeoutError) as err:
            _LOGGER.info("certificate of TSS %s not read from fiskaly: %s", tss_id, err)
            return ""
        return certificate_base64(tss.certificate) if tss.certificate else ""

    def _from_archive(self, tss_id: str, serial: str) -> str:
        archive = self.d.archive
        if archive.failure is not None or not serial:
            return ""
        for entry in reversed(archive.store.entries(tss_id)):
            found = certificate_from_tar(archive.store.root / entry.path, serial)
            if found:
                return found
        return ""

    async def export(self, start: str, end: str, tenant: str | None) -> DsfinvkReport:
        """Both files of the period into a new directory of the auditor folder (streamed:
        any period, a year of a busy shop included)."""
        low, high = period(start, end)
        await self._check_tenant(tenant)
        span = Period(low, high, tenant_id=tenant)
        path = self.d.store.path
        firsts = await asyncio.to_thread(first_signatures, path, span)
        masters = masters_of(firsts, await self._certificates_of(firsts))
        serials = {r.id: r.serial for r in await self.d.store.list_registers()}
        stamp = datetime.fromtimestamp(time.time(), UTC).strftime("%Y%m%dT%H%M%SZ")
        days = f"{parse_day(start, 'from').isoformat()}_{parse_day(end, 'to').isoformat()}"
        name = f"dsfinvk-tse_{days}" + (f"_{tenant}" if tenant else "") + f"_{stamp}"
        dest = _unused(StatePaths(self.d.state_dir).auditor, name)
        written = await asyncio.to_thread(write_files, dest, pages(path, span), masters, serials)
        files = tuple(
            DsfinvkFile(file, rows, (dest / file).stat().st_size)
            for file, rows in ((TSE_FILE, written.tse), (TRANSACTIONS_FILE, written.transactions))
        )
        await self.d.store.audit("admin", "archive_dsfinvk", {"from": start, "to": end})
        _LOGGER.info(
            "DSFinV-K TSE tables %s..%s written: %d transaction(s), %d TSS row(s)",
            start, end, written.transactions, written.tse,
            extra={"TSED_EVENT": "archive_dsfinvk"},
        )  # fmt: skip
        return DsfinvkReport(
            directory=str(dest),
            period_from=start,
            period_to=end,
            tenant=tenant,
            transactions=written.transactions,
            signed=written.transactions - written.unsigned,
            tse=written.tse,
            open_left=written.open_left,
            files=files,
            notes=written.notes,
        )


def _unused(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``, ... when two exports fall in one second."""
    for number in range(1, 1000):
        candidate = folder / (name if number == 1 else f"{name}-{number}")
        if not candidate.exists():
            return candidate
    raise InputError(f"too many exports named {name} in {folder}",
                     hint="Remove old exports from the auditor directory.")  # fmt: skip
