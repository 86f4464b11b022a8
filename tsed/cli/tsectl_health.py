"""``tsectl health``: the nightly housekeeping and the daily health record (route of
:mod:`tsed.net.admin_health`), and the line ``tsectl status`` shows of it."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from tsed.archive.health import ON_DEMAND
from tsed.cli.adminclient import AdminClient, CommandFailed
from tsed.cli.say import lang, t
from tsed.cli.tsectl_text import notice_lines, test_trouble
from tsed.config.text import shown
from tsed.texts import has
from tsed.texts.formats import day, when

RESULT = {"ok": "ok", "warn": "WARN", "failed": "FAILED"}
RUN_POLL = 0.5  # seconds between two looks at a running housekeeping
RUN_WAIT = 3600.0  # an archive run of a busy shop's first night can take long


def _when(stamp: float | None) -> str:
    if lang() == "de":
        return when(stamp, "de")
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _result(result: str) -> str:
    if lang() == "de":
        return t(f"health.result.{result}") if has(f"health.result.{result}") else shown(result)
    return RESULT.get(result, result)


def _day(text: str) -> str:
    return day(text, "de", text) if lang() == "de" else text


def add_health_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "health",
        help="the nightly housekeeping: the daily health record, the last days, certificates",
    )
    parser.add_argument("action", nargs="?", choices=["run"],
                        help="run: the housekeeping now, waiting for its end")  # fmt: skip
    parser.add_argument("--wait", type=float, default=RUN_WAIT,
                        help=f"seconds to wait for its end (default {RUN_WAIT:.0f})")  # fmt: skip


def run_health(client: AdminClient, args: argparse.Namespace) -> Mapping[str, Any]:
    if getattr(args, "action", None) != "run":
        data: Mapping[str, Any] = client.call("GET", "/admin/v1/health")
        return data
    started: Mapping[str, Any] = client.call("POST", "/admin/v1/health/run")
    before = (started.get("last") or {}).get("started_at")  # the record before this run's
    deadline, step = time.monotonic() + args.wait, None
    while True:
        data = client.call("GET", "/admin/v1/health")
        if not args.json and data.get("running") and data.get("step") not in (None, step):
            step = data["step"]  # progress on stderr, the result on stdout
            print(t("health.run_step", step=shown(str(step))), file=sys.stderr)
        if not data.get("running"):
            break
        if time.monotonic() > deadline:
            raise CommandFailed(
                "the housekeeping is still running",
                "It goes on in the unit: follow it with 'tsectl health'.",
            ).localized("health.still_running")
        time.sleep(RUN_POLL)
    own = data.get("last") or {}
    if own.get("started_at") == before or own.get("reason") != ON_DEMAND:
        raise CommandFailed(  # the run stopped before it wrote its record: never show another
            "the housekeeping run ended without a record of its own",
            "The journal says why (journalctl -u tsed, TSED_EVENT=housekeeping_done); run it again "
            "with 'tsectl health run'.",
        ).localized("health.run_lost")
    if own.get("result") == "failed":
        if not args.json:
            print_health(data, sys.stdout)
        raise CommandFailed(
            "the housekeeping ended FAILED",
            "The lines above name the steps; the journal has the details "
            "(TSED_EVENT=housekeeping_step).",
        ).localized("health.run_failed")
    return data


def status_line(health: Mapping[str, Any]) -> str:
    """``Housekeeping:`` in ``tsectl status``: the last night's result per step."""
    last = health.get("last")
    if not last:
        return t("health.none_yet", next=_when(health.get("next_run")))
    steps = ", ".join(f"{s['step']} {_result(s['result'])}" for s in last["steps"])
    return t("health.last", result=_result(last["result"]), day=_day(last["day"]), steps=steps,
             next=_when(health.get("next_run")))  # fmt: skip


def print_status_line(health: Mapping[str, Any], out: TextIO) -> None:
    """The housekeeping line of ``tsectl status``."""
    out.write(t("health.status", line=status_line(health)) + "\n")


def _print_health_de(data: Mapping[str, Any], out: TextIO) -> None:
    """German: the steps' own summaries are the unit's English words, left to ``--lang en``."""
    if data.get("banner"):
        out.write(f"!! {shown(data['banner'])}\n")
    state = (t("health.running", step=shown(str(data.get("step")))) if data.get("running")
             else t("health.idle"))  # fmt: skip
    out.write(t("health.state", state=state, next=_when(data.get("next_run"))) + "\n")
    last = data.get("last")
    if not last:
        out.write(t("health.no_record") + "\n")
    else:
        out.write(t("health.night", day=_day(last["day"]), result=_result(last["result"]),
                    started=_when(last["started_at"]), finished=_when(last["finished_at"]))
                  + "\n")  # fmt: skip
        for step in last["steps"]:
            out.write(f"  {shown(step['step']):<13}{_result(step['result'])}\n")
        for line in test_trouble(last):
            out.write(line + "\n")
        out.write(t("health.details") + "\n")
    for cert in data.get("certificates", []):
        days = cert.get("days_left")
        validity = (t("health.days_left", days=days, until=_when(cert.get("not_after")))
                    if days is not None else t("health.unknown"))  # fmt: skip
        certification = shown(str(cert.get("certification_id") or "?"))
        line = t("health.certificate", tss=shown(cert["tss_id"]), tenant=shown(cert["tenant"]),
                 validity=validity, certification=certification)  # fmt: skip
        out.write(line + "\n")
    for event in data.get("certification_events", []):
        line = t("health.reportable", day=_day(event["day"]), tss=shown(event["tss_id"]),
                 previous=shown(event["previous"]), current=shown(event["current"]))  # fmt: skip
        out.write(line + "\n")
    days_seen = data.get("days", [])
    if days_seen:
        shown_days = [f"{_day(d['day'])} {_result(d['result'])}" for d in days_seen[:7]]
        out.write(t("health.days", days=", ".join(shown_days)) + "\n")
    for notice in notice_lines(data):
        out.write(t("status.notice", notice=notice) + "\n")


def print_health(data: Mapping[str, Any], out: TextIO) -> None:
    if lang() == "de":
        _print_health_de(data, out)
        return
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
