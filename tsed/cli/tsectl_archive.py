"""``tsectl archive status|run|verify|export|offbox-password``: the fiscal archive (routes of
:mod:`tsed.net.admin_archive`); no logic of its own beyond waiting for a run."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from tsed.cli.adminclient import AdminClient, CommandFailed
from tsed.cli.tsectl_setup import read_secret
from tsed.config.text import shown

Printer = Callable[[Mapping[str, Any], TextIO], object]
RUN_POLL = 1.0


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _size(count: float | None) -> str:
    if count is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return "-"


def print_status(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(f"Archive:       {shown(str(data.get('directory', '?')))}\n")
    for tss_id, item in data.get("tss", {}).items():
        lag = item.get("lag_signatures")
        out.write(
            f"TSS {shown(tss_id)} ({shown(str(item.get('tenant')))}): archived to counter "
            f"{item.get('last_counter') or '-'} (logs until {_when(item.get('last_log_time'))})"
            + (f", {lag} signature(s) behind" if lag is not None else "")
            + ("" if item.get("in_use", False) else ", no longer in use")
            + "\n"
        )
        for gap in item.get("gaps", []):
            out.write(f"  GAP: counters {shown(gap)}\n")
        for finding in item.get("findings", []):
            codes = ", ".join(sorted({str(f.get("code")) for f in finding.get("findings", [])}))
            out.write(f"  FINDING {finding['range']} ({shown(codes)}): {shown(finding['file'])}\n")
        if item.get("tss_error"):
            out.write(f"  fiskaly: {shown(item['tss_error'])}\n")
    per = data.get("bytes_per_10000_receipts")
    out.write(
        f"Files:         {data.get('files', 0)} ({_size(data.get('bytes'))}), disk use "
        f"{_size(data.get('disk_use'))}, {_size(per)} per 10 000 receipts\n"
    )
    days = data.get("days_until_full")
    out.write(
        f"Disk:          {_size(data.get('disk_free'))} free, the archive grows "
        f"{_size(data.get('bytes_per_day'))} a day"
        + (f": full in about {days} days" if days is not None else "")
        + ("  WARNING: add space (archived files are never dropped)" if data.get("disk_warning")
           else "")
        + "\n"
    )  # fmt: skip
    run = data.get("run", {})
    state = "running" if run.get("running") else run.get("state", "none yet")
    out.write(
        f"Last run:      {state} ({_when(run.get('finished_at') or run.get('started_at'))})\n"
    )
    out.write(f"Next run:      {_when(data.get('next_run'))}\n")
    print_offbox(data.get("offbox") or {"state": "off"}, out)


def _age(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "never"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} days"


def print_offbox(data: Mapping[str, Any], out: TextIO) -> None:
    """The off-box copy's lines of the archive status."""
    if data.get("state") == "off":
        out.write("Off-box copy:  not configured (offbox.repository)\n")
        return
    out.write(
        f"Off-box copy:  {shown(str(data.get('state')))} at {shown(str(data.get('repository')))}"
        f", newest copy {_when(data.get('last_copy_at'))} ({_age(data.get('age_seconds'))} old)"
        "\n"
    )
    if data.get("last_check_at") is not None:
        verdict = "no errors" if data.get("last_check_ok") else "ERRORS FOUND"
        out.write(f"  last check:  {_when(data.get('last_check_at'))}, "
                  f"{shown(str(data.get('last_check_subset')))} read: {verdict}\n")  # fmt: skip
    if data.get("last_error"):
        out.write(f"  last error:  {shown(str(data['last_error']))} "
                  f"({_when(data.get('last_error_at'))})\n")  # fmt: skip
        if data.get("last_error_de"):
            out.write(f"  Fehler:      {shown(str(data['last_error_de']))}\n")


def print_run(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(
        f"Archive run {data.get('state')}: {data.get('files', 0)} file(s), "
        f"{_size(data.get('bytes'))}, {data.get('logs', 0)} logs, CPU "
        f"{data.get('cpu_seconds', 0)} s\n"
    )
    for tss_id, item in data.get("tss", {}).items():
        problem = item.get("error", {}).get("message") if item.get("error") else None
        out.write(
            f"  TSS {shown(tss_id)}: archived to {item.get('archived_to') or '-'} of "
            f"{item.get('to', '-')}"
            + (f": {shown(problem)}" if problem else "")
            + (f": FINDING, kept as {shown(item['finding'])}" if item.get("finding") else "")
            + "\n"
        )


def print_verify(data: Mapping[str, Any], out: TextIO) -> None:
    for item in data.get("files", []):
        verdict = "; ".join(item["problems"]) or "OK"
        out.write(f"{shown(item['file'])}: {shown(verdict)}\n")
    for tss_id, gaps in data.get("gaps", {}).items():
        for gap in gaps:
            out.write(f"TSS {shown(tss_id)}: GAP {shown(gap)}\n")
    out.write(
        f"Archive {'verified' if data.get('ok') else 'has PROBLEMS'}: "
        f"{len(data.get('files', []))} file(s) in {data.get('seconds')} s\n"
    )


def print_export(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(f"Written to {shown(str(data.get('directory')))}\n")
    for item in data.get("files", []):
        verdict = "; ".join(item["problems"]) or "verified"
        where = item.get("source", "local archive")
        out.write(f"  {shown(item['file'])}: {shown(verdict)} [{shown(str(where))}]\n")
    if data.get("ok"):
        out.write("Complete and verified.\n")
    elif data.get("complete") is False:
        out.write("INCOMPLETE: files are missing, see report.txt\n")
    else:
        out.write("PROBLEMS: see report.txt\n")


def _wait(client: AdminClient, args: argparse.Namespace) -> Mapping[str, Any]:
    deadline = time.monotonic() + args.wait
    shown_events = 0
    while True:
        data = client.call("GET", "/admin/v1/archive/run")
        events = data.get("events", [])
        if not args.json:  # progress on stderr, the result on stdout
            for line in events[shown_events:] if len(events) >= shown_events else events:
                print(f"  {shown(str(line))}", file=sys.stderr)
            shown_events = len(events)
        if not data.get("running"):
            return dict(data)
        if time.monotonic() > deadline:
            raise CommandFailed(
                "the archive run is still running",
                "It goes on in the unit: follow it with 'tsectl archive status'.",
            )
        time.sleep(RUN_POLL)


def run_archive_command(client: AdminClient, args: argparse.Namespace) -> tuple[Any, Printer]:
    action = args.action
    if action == "status":
        return client.call("GET", "/admin/v1/archive"), print_status
    if action == "run":
        started = client.call("POST", "/admin/v1/archive/run")
        if args.no_wait:
            return started, print_run
        data = _wait(client, args)
        if data.get("state") != "done":
            if not args.json:
                print_run(data, sys.stdout)
            raise CommandFailed(
                "the archive run did not archive everything",
                "Look at the TSS lines above and the journal (TSED_EVENT=archive_*).",
            )
        return data, print_run
    if action == "verify":
        data = client.call("POST", "/admin/v1/archive/verify")
        if not data.get("ok"):
            if not args.json:
                print_verify(data, sys.stdout)
            raise CommandFailed("the archive has problems", "See the lines above.")
        return data, print_verify
    if action == "offbox-password":
        password = read_secret("Repository password (at least 12 characters): ", twice=True)
        data = client.call("PUT", "/admin/v1/archive/offbox-password", {"password": password})
        return data, print_password
    body = {"from": args.start, "to": args.end, "tenant": args.tenant}
    data = client.call("POST", "/admin/v1/archive/export", body)
    if not data.get("ok"):
        if not args.json:
            print_export(data, sys.stdout)
        raise CommandFailed("the export is not complete or not verified", "See report.txt.")
    return data, print_export


ACTIONS = ("status", "run", "verify", "export", "offbox-password")


def print_password(data: Mapping[str, Any], out: TextIO) -> None:
    where = data.get("repository")
    out.write("Repository password stored in the vault"
              + (f" (for {shown(str(where))})" if where else
                 " (set offbox.repository to use it)") + ".\n")  # fmt: skip


def add_archive_actions(actions: Any) -> None:
    """The archive's own actions under ``tsectl archive`` (``actions``: its subparsers; the
    off-box copy adds its actions to the same ones)."""
    actions.add_parser("status", help="per TSS: last archived counter and time, lag, findings")
    run = actions.add_parser("run", help="archive every TSS now, with progress")
    run.add_argument("--no-wait", action="store_true", help="start it and return")
    run.add_argument("--wait", type=float, default=7200.0, help="give up waiting after (s)")
    actions.add_parser("verify", help="re-verify the whole archive (manifest, TAR verifier)")
    export = actions.add_parser(
        "export", help="the auditor's directory: the TAR files of a period and a report"
    )
    export.add_argument("--from", dest="start", required=True, metavar="DAY",
                        help="first day (YYYY-MM-DD, UTC)")  # fmt: skip
    export.add_argument("--to", dest="end", required=True, metavar="DAY", help="last day")
    export.add_argument("--tenant", help="only this tenant's TSS")
    actions.add_parser(
        "offbox-password",
        help="store the off-box repository's password in the vault (asked, never echoed)",
    )
