"""``tsectl decommission``: a register, a TSS, the whole unit, or a TSS exchange, step by step
(routes of :mod:`tsed.net.admin_decommission`; the steps: :mod:`tsed.provisioning.
decommission`). Waits for the plan and shows each step as it is done."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from tsed.cli.adminclient import AdminClient, CommandFailed
from tsed.config.text import shown

Printer = Callable[[Mapping[str, Any], TextIO], object]
POLL = 1.0
STATE = {"pending": "offen", "running": "läuft", "done": "erledigt", "failed": "FEHLER"}
KIND = {"register": "Kasse", "tss": "TSS", "exchange": "TSS-Tausch", "unit": "Einheit"}


def add_decommission_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "decommission",
        help="take a register, a TSS or the unit out of service (archive first), or exchange a TSS",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("status", help="the decommissioning's steps and what is left to do")
    resume = actions.add_parser("resume", help="go on after a failed step")
    resume.add_argument("--no-wait", action="store_true", help="start it and return")
    for kind, what in (
        ("register", "one register (its fiskaly client deregistered)"),
        ("tss", "a tenant's TSS (disabled at fiskaly: irreversible)"),
        ("exchange", "a new TSS for a tenant, the old one disabled"),
        ("unit", "every TSS and every register of the unit"),
    ):
        one = actions.add_parser(kind, help=what)
        if kind == "register":
            one.add_argument("register", metavar="REGISTER_ID", help="as tsectl registers lists it")
        elif kind != "unit":
            one.add_argument("--tenant", help="the tenant (default: default)")
        one.add_argument("--reason", required=True, help="for the notification to the tax office")
        one.add_argument("--date", help="the day of the decommissioning (default: today)")
        one.add_argument("--confirm", help="the confirmation text the unit asks for")
        one.add_argument("--no-wait", action="store_true", help="start it and return")
        one.add_argument("--wait", type=float, default=3600.0, help="give up waiting after (s)")


def print_plan(data: Mapping[str, Any], out: TextIO) -> None:
    plan = data.get("plan")
    if not plan:
        out.write("Keine Außerbetriebnahme begonnen.\n")
        return
    kind = KIND.get(str(plan.get("kind")), str(plan.get("kind")))
    out.write(
        f"Außerbetriebnahme ({kind}) am {shown(str(plan['day']))}: {shown(plan['reason'])}"
        f" – {STATE.get(plan['state'], plan['state'])}\n"
    )
    for number, step in enumerate(plan.get("steps", []), start=1):
        detail = f": {shown(step['detail'])}" if step.get("detail") else ""
        mark = " (unumkehrbar)" if step.get("irreversible") else ""
        out.write(f"  {number}. {step['text']}{mark} – {STATE.get(step['state'])}{detail}\n")
    for line in plan.get("left", []):
        out.write(f"Noch zu tun: {shown(line)}\n")


def _wait(client: AdminClient, deadline: float) -> Mapping[str, Any]:
    while True:
        data = client.call("GET", "/admin/v1/decommission")
        plan = data.get("plan") or {}
        if plan.get("state") != "running":
            return dict(data)
        if time.monotonic() > deadline:
            raise CommandFailed(
                "the decommissioning is still running",
                "It goes on in the unit: tsectl decommission status.",
            )
        time.sleep(POLL)


def run_decommission(client: AdminClient, args: argparse.Namespace) -> tuple[Any, Printer]:
    if args.action == "status":
        return client.call("GET", "/admin/v1/decommission"), print_plan
    if args.action == "resume":
        data = client.call("POST", "/admin/v1/decommission/resume")
    else:
        body = {
            "kind": args.action,
            "reason": args.reason,
            "confirm": args.confirm,
            "tenant": getattr(args, "tenant", None),
            "register": getattr(args, "register", None),
            "date": args.date,
        }
        data = client.call("POST", "/admin/v1/decommission", body)
    if args.no_wait:
        return data, print_plan
    data = _wait(client, time.monotonic() + getattr(args, "wait", 3600.0))
    if (data.get("plan") or {}).get("state") == "failed":
        if not args.json:
            print_plan(data, sys.stdout)
        raise CommandFailed(
            "a step of the decommissioning failed",
            "Fix the cause named above, then: tsectl decommission resume.",
        )
    return data, print_plan
