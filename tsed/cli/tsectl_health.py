"""``tsectl health``: the nightly housekeeping and the daily health record (route of
:mod:`tsed.net.admin_health`), and the line ``tsectl status`` shows of it."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from tsed.cli.adminclient import AdminClient
from tsed.config.text import shown

RESULT = {"ok": "ok", "warn": "WARN", "failed": "FAILED"}


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def add_health_parser(sub: Any) -> None:
    sub.add_parser(
        "health",
        help="the nightly housekeeping: the daily health record, the last days, certificates",
    )


def run_health(client: AdminClient, _args: argparse.Namespace) -> Mapping[str, Any]:
    data: Mapping[str, Any] = client.call("GET", "/admin/v1/health")
    return data


def status_line(health: Mapping[str, Any]) -> str:
    """``Housekeeping:`` in ``tsectl status``: the last night's result per step."""
    last = health.get("last")
    if not last:
        return f"none yet (next {_when(health.get('next_run'))})"
    steps = ", ".join(f"{s['step']} {RESULT.get(s['result'], s['result'])}" for s in last["steps"])
    return (
        f"{RESULT.get(last['result'], last['result'])} on {last['day']} ({steps}); "
        f"next {_when(health.get('next_run'))}"
    )


def print_health(data: Mapping[str, Any], out: TextIO) -> None:
    if data.get("banner"):
        out.write(f"!! {shown(data['banner'])}\n")
    state = f"running ({data.get('step')})" if data.get("running") else "idle"
    out.write(f"Housekeeping:  {state}, next run {_when(data.get('next_run'))}\n")
    last = data.get("last")
    if not last:
        out.write("Last night:    no record yet (the first runs at archive_hour)\n")
    else:
        out.write(
            f"Last night:    {last['day']} {RESULT.get(last['result'], last['result'])} "
            f"({last['reason']}, {_when(last['started_at'])} .. {_when(last['finished_at'])})\n"
        )
        for step in last["steps"]:
            result = RESULT.get(step["result"], step["result"])
            out.write(f"  {step['step']:<13}{result:<7}{shown(step['summary'])}\n")
        selfcheck = next((s for s in last["steps"] if s["step"] == "selfcheck"), None)
        if selfcheck is not None:
            for item in selfcheck["details"].get("connection", {}).get("steps", []):
                if item.get("verdict") not in ("ok", "skipped"):
                    out.write(f"    test {item.get('step')}: {shown(str(item.get('detail')))}\n")
    for cert in data.get("certificates", []):
        days = cert.get("days_left")
        out.write(
            f"Certificate:   TSS {shown(cert['tss_id'])} ({shown(cert['tenant'])}): "
            + (f"{days} days left, until {_when(cert.get('not_after'))}" if days is not None
               else f"unknown ({shown(str(cert.get('error')))})")
            + f", BSI certification {shown(str(cert.get('certification_id') or '?'))}\n"
        )  # fmt: skip
    for event in data.get("certification_events", []):
        out.write(
            f"Reportable:    {event['day']}: the BSI certification id of TSS "
            f"{shown(event['tss_id'])} changed from {shown(event['previous'])} to "
            f"{shown(event['current'])}\n"
        )
    days = data.get("days", [])
    if days:
        shown_days = [f"{d['day']} {RESULT.get(d['result'], d['result'])}" for d in days[:7]]
        out.write("Days:          " + ", ".join(shown_days) + "\n")
    for notice in data.get("notices", []):
        out.write(f"Notice:        {shown(notice)}\n")
