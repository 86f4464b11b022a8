"""``tsectl archive dsfinvk``: the TSE part of the DSFinV-K for a period (``tse.csv`` and
``transactions_tse.csv``, written by the unit into its auditor directory; route of
:mod:`tsed.net.admin_dsfinvk`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from tsed.cli.adminclient import AdminClient
from tsed.config.text import shown

Printer = Callable[[Mapping[str, Any], TextIO], object]
ACTIONS = ("dsfinvk",)


def add_dsfinvk_action(actions: Any) -> None:
    dsfinvk = actions.add_parser(
        "dsfinvk",
        help="the TSE part of the DSFinV-K for a period: tse.csv and transactions_tse.csv",
    )
    dsfinvk.add_argument("--from", dest="start", required=True, metavar="DAY",
                         help="first day (YYYY-MM-DD, UTC)")  # fmt: skip
    dsfinvk.add_argument("--to", dest="end", required=True, metavar="DAY", help="last day")
    dsfinvk.add_argument("--tenant", help="only this tenant's registers")


def print_dsfinvk(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(f"Geschrieben nach {shown(str(data.get('directory')))}\n")
    for item in data.get("files", []):
        out.write(f"  {shown(str(item['name']))}: {item['rows']} Zeile(n)\n")
    out.write(
        f"{data.get('transactions', 0)} Vorgang/Vorgänge, davon {data.get('signed', 0)} "
        f"signiert; {data.get('tse', 0)} TSE-Zeile(n)\n"
    )
    for note in data.get("notes", []):
        out.write(f"  Hinweis: {shown(str(note))}\n")


def run_dsfinvk(client: AdminClient, args: argparse.Namespace) -> tuple[Any, Printer]:
    body = {"from": args.start, "to": args.end, "tenant": args.tenant}
    return client.call("POST", "/admin/v1/archive/dsfinvk", body), print_dsfinvk
