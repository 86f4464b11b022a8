"""``tsectl archive status|run|verify|export|offbox-password``: the fiscal archive (routes of
:mod:`tsed.net.admin_archive`); no logic of its own beyond waiting for a run."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from tsed.cli.adminclient import AdminClient, CommandFailed
from tsed.cli.say import lang, t
from tsed.cli.tsectl_offbox import print_status as print_offbox
from tsed.cli.tsectl_setup import read_secret
from tsed.config.text import shown
from tsed.texts import error_text, has
from tsed.texts.formats import size, when

Printer = Callable[[Mapping[str, Any], TextIO], object]
RUN_POLL = 1.0


def _when(stamp: float | None) -> str:
    return when(stamp, lang())


def _size(count: float | None) -> str:
    return size(count, lang())


def _state(state: object) -> str:
    """A run's state (``done``, ``failed``, ``running``) in the run's language."""
    text_id = f"archive.state.{state}"
    return t(text_id) if has(text_id) else shown(str(state))


def _problems(problems: list[Any], good: str) -> str:
    if not problems:
        return t(good)
    if lang() == "en":  # the verifier's own English words
        return shown("; ".join(map(str, problems)))
    return t("archive.problems", count=len(problems))


def print_status(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(t("archive.directory", directory=shown(str(data.get("directory", "?")))) + "\n")
    for tss_id, item in data.get("tss", {}).items():
        lag = item.get("lag_signatures")
        line = t(
            "archive.tss", tss=shown(tss_id), tenant=shown(str(item.get("tenant"))),
            counter=item.get("last_counter") or "-", until=_when(item.get("last_log_time")),
        )  # fmt: skip
        if lag is not None:
            line += t("archive.behind", count=lag)
        if not item.get("in_use", False):
            line += t("archive.unused")
        out.write(line + "\n")
        for gap in item.get("gaps", []):
            out.write(t("archive.gap", gap=shown(gap)) + "\n")
        for finding in item.get("findings", []):
            codes = ", ".join(sorted({str(f.get("code")) for f in finding.get("findings", [])}))
            out.write(t("archive.finding", range=finding["range"], codes=shown(codes),
                        file=shown(finding["file"])) + "\n")  # fmt: skip
        if item.get("tss_error"):
            out.write(t("archive.tss_error") + "\n")
            if lang() == "en":
                out.write(f"  fiskaly: {shown(item['tss_error'])}\n")
    per = data.get("bytes_per_10000_receipts")
    out.write(t("archive.files", files=data.get("files", 0), size=_size(data.get("bytes")),
                disk=_size(data.get("disk_use")), per=_size(per)) + "\n")  # fmt: skip
    days = data.get("days_until_full")
    line = t("archive.disk", free=_size(data.get("disk_free")),
             grows=_size(data.get("bytes_per_day")))  # fmt: skip
    if days is not None:
        line += t("archive.full_in", days=days)
    if data.get("disk_warning"):
        line += t("archive.disk_warning")
    out.write(line + "\n")
    run = data.get("run", {})
    state = t("archive.running") if run.get("running") else _state(run.get("state") or "")
    state = state or t("archive.none_yet")
    when_run = _when(run.get("finished_at") or run.get("started_at"))
    out.write(t("archive.last_run", state=state, when=when_run) + "\n")
    out.write(t("archive.next_run", when=_when(data.get("next_run"))) + "\n")
    print_offbox(data.get("offbox") or {"state": "off"}, out)


def print_run(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(t("archive.run", state=_state(data.get("state")), files=data.get("files", 0),
                size=_size(data.get("bytes")), logs=data.get("logs", 0),
                cpu=data.get("cpu_seconds", 0)) + "\n")  # fmt: skip
    for tss_id, item in data.get("tss", {}).items():
        line = t("archive.run_tss", tss=shown(tss_id), done=item.get("archived_to") or "-",
                 to=item.get("to", "-"))  # fmt: skip
        if item.get("error"):
            error = item["error"]
            line += ": " + str(error_text(str(error.get("code", "INTERNAL")), lang(),
                                          message=error.get("message"))["message"])  # fmt: skip
        if item.get("finding"):
            line += t("archive.run_finding", file=shown(item["finding"]))
        out.write(line + "\n")


def print_verify(data: Mapping[str, Any], out: TextIO) -> None:
    for item in data.get("files", []):
        out.write(f"{shown(item['file'])}: {_problems(item['problems'], 'verdict.ok')}\n")
    for tss_id, gaps in data.get("gaps", {}).items():
        for gap in gaps:
            out.write(t("archive.tss_gap", tss=shown(tss_id), gap=shown(gap)) + "\n")
    out.write(t("archive.verified" if data.get("ok") else "archive.has_problems",
                files=len(data.get("files", [])), seconds=data.get("seconds")) + "\n")  # fmt: skip


def print_export(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(t("archive.written_to", directory=shown(str(data.get("directory")))) + "\n")
    for item in data.get("files", []):
        where = str(item.get("source") or "local")
        kind = (
            "local" if where.startswith("local") else "missing" if where == "missing" else "offbox"
        )
        source = t(f"archive.source_{kind}")
        verdict = _problems(item["problems"], "archive.ok_file")
        out.write(f"  {shown(item['file'])}: {verdict} [{source}]\n")
    if data.get("ok"):
        out.write(t("archive.export_ok") + "\n")
    elif data.get("complete") is False:
        out.write(t("archive.export_missing") + "\n")
    else:
        out.write(t("archive.export_problems") + "\n")


def _wait(client: AdminClient, args: argparse.Namespace) -> Mapping[str, Any]:
    deadline = time.monotonic() + args.wait
    shown_events = 0
    while True:
        data = client.call("GET", "/admin/v1/archive/run")
        events = data.get("events", [])
        if not args.json:  # progress on stderr, the result on stdout
            new = events[shown_events:] if len(events) >= shown_events else events
            if lang() == "en":  # the unit's own English events
                for line in new:
                    print(f"  {shown(str(line))}", file=sys.stderr)
            elif new:
                print(t("archive.progress", count=len(events)), file=sys.stderr)
            shown_events = len(events)
        if not data.get("running"):
            return dict(data)
        if time.monotonic() > deadline:
            raise CommandFailed(
                "the archive run is still running",
                "It goes on in the unit: follow it with 'tsectl archive status'.",
            ).localized("archive.still_running")
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
            ).localized("archive.incomplete")
        return data, print_run
    if action == "verify":
        data = client.call("POST", "/admin/v1/archive/verify")
        if not data.get("ok"):
            if not args.json:
                print_verify(data, sys.stdout)
            raise CommandFailed("the archive has problems", "See the lines above.").localized(
                "archive.problems_found"
            )
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
        raise CommandFailed(
            "the export is not complete or not verified", "See report.txt."
        ).localized("archive.export_incomplete")
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
