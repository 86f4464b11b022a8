"""``tsed-vendor label``: the printed setup-code label of one unit (:mod:`tsed.net.setuplabel`).

Run on the unit during the vendor's provisioning, after its first start (the unit has its
device id then)::

    tsed-vendor label [--state-dir /var/lib/tsed] [--name NAME] -o label.svg

It makes a new label code, stores only its salted hash in the unit's state directory and
writes the label (SVG, 90 × 50 mm) with the unit's name, its setup address (text and QR code)
and the code. The code is printed nowhere else: not on the terminal, not in the journal. The
label file holds it, so it is written with mode 0600; print it, stick it on the box, delete it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, TextIO

from tsed.config.model import DEFAULT_NAME
from tsed.errors import TsedError
from tsed.net.identity import short_id_of
from tsed.net.mdns import instance_label
from tsed.net.setuplabel import SETUP_PORT, label_svg, make_label_code, setup_url
from tsed.state.paths import DEFAULT_STATE_DIR, StatePaths
from tsed.texts import text

STATE_DIR_ENV = "TSED_STATE_DIR"


def add_label_parser(sub: Any) -> None:
    label = sub.add_parser("label", help="make a setup code for one unit and its printable label")
    label.add_argument(
        "--state-dir", type=Path,
        help=f"the unit's state directory (env {STATE_DIR_ENV}, default {DEFAULT_STATE_DIR})",
    )  # fmt: skip
    label.add_argument("--name", default=DEFAULT_NAME, help="the unit's name on the label")
    label.add_argument("--port", type=int, default=SETUP_PORT, help="the setup page's port")
    label.add_argument("--lang", choices=("de", "en"), default="de", help="the label's language")
    label.add_argument("-o", "--output", type=Path, required=True, help="the label file (SVG)")
    label.add_argument("--force", action="store_true", help="replace an existing label file")


def _device_id(paths: StatePaths, error: type[TsedError]) -> str:
    try:
        return str(json.loads(paths.device_id.read_text(encoding="utf-8"))["device_id"])
    except (OSError, ValueError, KeyError, TypeError):
        raise error(
            f"{paths.root} holds no device id of a unit",
            hint="Start the unit once (systemctl start tsed): it makes its identity at the "
            "first start. Then run tsed-vendor label again.",
        ) from None


def run_label(args: argparse.Namespace, out: TextIO, write: Any, error: type[TsedError]) -> int:
    """``write(path, data, mode, force)``: the vendor tool's file write; ``error``: its error."""
    root = args.state_dir or Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)
    paths = StatePaths(root)
    short = short_id_of(_device_id(paths, error))
    if args.output.exists() and not args.force:  # before a new code replaces the old one
        raise error(
            f"{args.output} exists already",
            hint="Choose another path, or add --force to replace it.",
        )
    url = setup_url(short, args.port)
    code = make_label_code(paths.setup_label)
    svg = label_svg(name=instance_label(args.name, short), host=f"tsed-{short}.local", url=url,
                    code=code, lang=args.lang)  # fmt: skip
    write(args.output, svg.encode(), 0o600, True)
    out.write(text("label.written", "en", path=args.output, host=f"tsed-{short}.local", url=url))
    out.write("\n")
    return 0
