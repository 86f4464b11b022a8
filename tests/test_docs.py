"""The register developer's guide works as written: its Python example signs a receipt."""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
from contextlib import redirect_stdout
from pathlib import Path

from tests.unit import running_unit
from tsed.fiskaly.tr03151 import verify_qr_code

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "register-api.md"


def _python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    assert len(blocks) == 1
    return blocks[0]


async def test_the_guide_example_prints_a_verifiable_qr_code(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        _code, out = await unit.tsectl("--json", "pair")
        pairing = json.loads(out)["code"]
        pem = tmp_path / "unit.pem"
        shutil.copy(unit.daemon.identity.cert_path, pem)
        source = (
            _python_example()
            .replace("https://192.0.2.20:8443", unit.base_url)
            .replace('cafile="unit.pem"', f'cafile="{pem}"')
            .replace("K7QX-9MBT-ZR3A-PW2D", pairing)
        )
        printed = io.StringIO()

        def run() -> None:
            with redirect_stdout(printed):
                exec(compile(source, str(GUIDE), "exec"), {})

        await asyncio.to_thread(run)
    qr = printed.getvalue().strip()
    assert verify_qr_code(qr).valid, qr
