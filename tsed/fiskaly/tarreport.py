"""The report of :func:`tsed.fiskaly.tarverify.verify_tar`: findings with stable codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with the export: a stable code, what is wrong, and where."""

    code: str
    message: str
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "file": self.file}


@dataclass(frozen=True, slots=True)
class TarReport:
    """What :func:`verify_tar` found; ``ok`` when there is no finding."""

    source: str
    transaction_logs: int
    system_logs: int
    audit_logs: int
    certificates: int
    transactions: int
    first_counter: int | None
    last_counter: int | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "transaction_logs": self.transaction_logs,
            "system_logs": self.system_logs,
            "audit_logs": self.audit_logs,
            "certificates": self.certificates,
            "transactions": self.transactions,
            "first_counter": self.first_counter,
            "last_counter": self.last_counter,
            "findings": [f.to_json() for f in self.findings],
        }

    def lines(self) -> list[str]:
        return report_lines(self.to_json())


def report_lines(data: Mapping[str, Any]) -> list[str]:
    """The readable report, from :meth:`TarReport.to_json` (what tsectl prints)."""
    counters = (
        f"signature counters {data['first_counter']}..{data['last_counter']}"
        if data["first_counter"] is not None
        else "no signature counters"
    )
    verdict = "OK" if data["ok"] else f"{len(data['findings'])} finding(s)"
    lines = [
        f"{data['source']}: {verdict}",
        f"  {data['transaction_logs']} transaction logs ({data['transactions']} transactions), "
        f"{data['system_logs']} system logs, {data['audit_logs']} audit logs, "
        f"{data['certificates']} certificates, {counters}",
    ]
    for finding in data["findings"]:
        where = f"{_printable(finding['file'])}: " if finding["file"] else ""
        lines.append(f"  {finding['code']}: {where}{finding['message']}")
    return lines


def _printable(name: str) -> str:
    """A file name from the archive, shown without control characters (terminal safety)."""
    return "".join(c if c.isprintable() else "?" for c in name)
