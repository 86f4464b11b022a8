"""``tsectl export verify FILE``: check a TAR export on this machine (no daemon needed).

The checks are :func:`tsed.fiskaly.tarverify.verify_tar`; this module reads the file, prints
the report (or JSON) and chooses the exit code: 0 no finding, 1 any finding (a file that is
not a TAR is one), 2 usage error (no such file, bad option).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from tsed.cli.adminclient import UsageError
from tsed.cli.say import lang, os_reason, t
from tsed.config.text import shown
from tsed.fiskaly.tarreport import report_lines
from tsed.fiskaly.tarverify import verify_tar


def print_report(data: Mapping[str, Any], out: TextIO) -> None:
    if lang() == "en":  # the verifier's own English report
        for line in report_lines(data):
            out.write(line + "\n")
    else:
        verdict = t("verify.ok") if data["ok"] else t("verify.failed")
        out.write(t("verify.head", file=shown(str(data.get("file") or data.get("name") or "")),
                    verdict=verdict) + "\n")  # fmt: skip
        for finding in data.get("findings", []):
            code = str(finding.get("code", "?")) if isinstance(finding, Mapping) else "?"
            out.write(t("verify.finding", code=code) + "\n")
    if not data["ok"]:
        out.write(t("verify.hint") + "\n")


def run_verify(args: argparse.Namespace) -> dict[str, Any]:
    """The report of ``args.file`` as JSON data; UsageError for a bad call."""
    if not args.file:
        raise UsageError(
            "export verify needs the FILE to check", "tsectl export verify FILE"
        ).localized("verify.needs_file")
    path = Path(args.file)
    if (
        args.start_counter is not None
        and args.end_counter is not None
        and (args.start_counter > args.end_counter)
    ):
        raise UsageError("--start-counter is after --end-counter").localized("verify.counters")
    try:
        with path.open("rb"):
            pass  # readable: the verifier streams it in two passes
    except OSError as err:
        raise UsageError(
            f"cannot read {path}: {err.strerror}",
            "Give the path of a TAR export (tsectl export -o FILE writes one).",
        ).localized("verify.cannot_read", path=path, reason=os_reason(err)) from err
    report = verify_tar(
        path, start_counter=args.start_counter, end_counter=args.end_counter,
        filtered=args.filtered, name=str(path),
    )  # fmt: skip
    return report.to_json()


def add_verify_arguments(export: argparse.ArgumentParser) -> None:
    export.add_argument("action", nargs="?", choices=["verify"],
                        help="verify: check a TAR export file here (no daemon needed)")  # fmt: skip
    export.add_argument("file", nargs="?", help="verify: the TAR file")
    export.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON (for scripts)")  # fmt: skip
    export.add_argument("--start-counter", type=int,
                        help="verify: the export covers signature counters from N")  # fmt: skip
    export.add_argument("--end-counter", type=int, help="verify: ... up to N (inclusive)")
    export.add_argument(
        "--filtered", action="store_true",
        help="verify: the export was filtered by client, transaction or date (gaps are normal)",
    )  # fmt: skip
