"""The device image, built and booted in qemu (TCG) by the test suite.

``image/build`` makes the Debian 12 root filesystem (skipped when ``inputs.sha256`` matches the
sources), ``image/check.py`` boots a copy and checks the unit end to end (READY, STATUS,
journal fields, the serial console unit on a second serial port, a receipt signed and verified
from the host, the watchdog, a clean power-off). Build output goes to ``image/out`` (override:
``TSED_IMAGE_OUT``), so a second run reuses an up-to-date image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.imagebuild import build_image, image_out

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("mmdebstrap", "mke2fs", "debugfs", "qemu-system-x86_64")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="image/build needs root (mmdebstrap)"),
    pytest.mark.skipif(bool(MISSING), reason=f"missing tools: {MISSING}"),
]


@pytest.mark.timeout(1500)
def test_image_builds_boots_and_serves() -> None:
    started = time.monotonic()
    out = image_out()
    build_image(out)
    manifest = (out / "manifest.txt").read_text()
    assert "python3=" in manifest and "systemd=" in manifest
    # What is left of the test's 25 minutes, minus a margin: check.py stops qemu itself.
    left = 1480 - (time.monotonic() - started)
    assert left > 240, f"the build alone took {1500 - left:.0f} s"
    check = subprocess.run(
        [sys.executable, str(ROOT / "image" / "check.py"), str(out)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=left, check=False,
        cwd=ROOT, env={**os.environ, "TSED_IMAGE_CHECK_TIMEOUT": str(int(left - 30))},
    )  # fmt: skip
    report = check.stdout + check.stderr
    assert check.returncode == 0, report[-4000:]
    verdicts = [line for line in check.stdout.splitlines() if line[:4] in ("PASS", "FAIL")]
    assert verdicts and all(line.startswith("PASS") for line in verdicts), report[-4000:]
    results = json.loads(check.stdout[: check.stdout.rindex("}") + 1])
    assert results["console"] == "active"
