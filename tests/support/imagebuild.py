"""The image tests' build step: ``image/build`` into ``image/out`` (or ``TSED_IMAGE_OUT``),
skipped by the script itself when its inputs are unchanged."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A first build on the 2-core box took 6-12 minutes, most of it mmdebstrap (10-12 minutes
# beside other jobs at a load average of 10): the limit leaves room for the loaded case.
BUILD_LIMIT = 1200.0


def image_out() -> Path:
    return Path(os.environ.get("TSED_IMAGE_OUT") or ROOT / "image" / "out")


def build_image(out: Path) -> None:
    """Build (or keep) the root filesystem in ``out``; fails the test with the build's end."""
    build = subprocess.run(
        ["bash", str(ROOT / "image" / "build"), str(out)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BUILD_LIMIT,
        check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
