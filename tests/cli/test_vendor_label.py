"""``tsed-vendor label``: the printed setup-code label, on a real unit.

The vendor tool runs as its own process (as in the vendor's provisioning), the unit in this
one: the label code is in no memory of the daemon until someone types it. The label holds the
code and the setup address, its QR code the address only; the code sets the first admin
password in the browser after restarts, is refused once used, and never reaches a log, an
answer or the tool's output.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.unit import Unit, running_unit
from tsed.net.identity import short_id_of
from tsed.net.setuplabel import ALPHABET, _qr_path, setup_url
from tsed.state.paths import StatePaths

PASSWORD = "Kassen-Passwort-2026"
ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(rf">([{ALPHABET}]{{4}}-[{ALPHABET}]{{4}})</text>")


def vendor(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tsed.cli.vendor", *args], capture_output=True, text=True,
        timeout=60, env=environ, check=False,
    )  # fmt: skip


def browser(unit: Unit) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=unit.base_url, verify=unit.ssl_context(), timeout=30)


async def first_password(unit: Unit, code: str) -> httpx.Response:
    async with browser(unit) as web:
        return await web.post("/setup/first-password", json={"code": code, "password": PASSWORD})


@pytest.mark.timeout(180)
async def test_the_label_code_sets_the_first_password_after_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "state"
    paths = StatePaths(state)
    async with running_unit(state):  # the first start makes the unit's identity
        pass
    device_id = json.loads(paths.device_id.read_text())["device_id"]
    short = short_id_of(device_id)
    label = tmp_path / "label.svg"
    made = vendor("label", "--state-dir", str(state), "--name", "Filiale Köln", "-o", str(label))
    assert made.returncode == 0, made.stderr
    svg = label.read_text(encoding="utf-8")
    (code,) = CODE.findall(svg)
    url = setup_url(short)
    assert url == f"https://tsed-{short}.local:8443/setup/" and url in svg
    assert f"Filiale Köln ({short})" in svg and "Einrichtungscode" in svg
    assert _qr_path(url, 60, 4, 28) in svg  # the QR code is the address, and nothing else
    assert code not in made.stdout + made.stderr and url in made.stdout
    stored = paths.setup_label.read_text()
    assert code not in stored and code.replace("-", "") not in stored
    assert stat.S_IMODE(paths.setup_label.stat().st_mode) == 0o600
    assert stat.S_IMODE(label.stat().st_mode) == 0o600  # it holds the code until printed

    answers: list[str] = []
    async with running_unit(state):  # restarted: a new console code, the label's still holds
        pass
    async with running_unit(state) as unit:
        wrong = await first_password(unit, "AAAA-AAAA")
        assert wrong.status_code == 401
        async with httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket)),
            base_url="http://unit/admin/v1",
        ) as socket:
            console_code = (await socket.get("/setup-code")).json()["code"]
            answers.append((await socket.get("/status")).text)
        assert console_code and console_code != code  # both codes exist side by side
        right = await first_password(unit, code.lower().replace("-", " "))
        assert right.status_code == 200, right.text
        answers += [wrong.text, right.text]
        again = await first_password(unit, code)  # used up with the password
        assert again.status_code == 409 and "used up" in again.json()["error"]["message"]
        answers.append(again.text)
        assert not paths.setup_label.exists()
    async with running_unit(state) as unit:  # and stays used up after a restart
        refused = await first_password(unit, code)
        assert refused.status_code == 409, refused.text
        assert not unit.daemon.running.ops.setup_code.matches(code)  # not even as a code
        answers.append(refused.text)
    logged = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    for secret in (code, code.replace("-", "")):
        assert secret not in logged and all(secret not in answer for answer in answers)


def test_a_unit_without_identity_is_refused_with_what_to_do(tmp_path: Path) -> None:
    label = tmp_path / "label.svg"
    made = vendor("label", "--state-dir", str(tmp_path / "empty"), "-o", str(label))
    assert made.returncode == 1 and not label.exists()
    assert "no device id" in made.stderr and "systemctl start tsed" in made.stderr
    assert "Traceback" not in made.stderr


def test_an_existing_label_is_not_replaced_without_force(tmp_path: Path) -> None:
    state = tmp_path / "state"
    paths = StatePaths(state)
    state.mkdir()
    paths.device_id.write_text(json.dumps({"device_id": "0f6e3c1a-9d2b-4e8f-a1b2-c3d4e5"}))
    label = tmp_path / "label.svg"
    assert vendor("label", "--state-dir", str(state), "-o", str(label)).returncode == 0
    first = paths.setup_label.read_text()
    kept = vendor("label", "--state-dir", str(state), "-o", str(label))
    assert kept.returncode == 1 and "--force" in kept.stderr
    assert paths.setup_label.read_text() == first  # the old label still holds
    assert vendor("label", "--state-dir", str(state), "-o", str(label), "--force").returncode == 0
    assert paths.setup_label.read_text() != first
