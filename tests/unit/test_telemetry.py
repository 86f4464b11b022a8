"""Fleet telemetry against a real Pushgateway on loopback (TLS, Basic auth), through a real
proxy, and with a gateway that hangs or is gone while registers keep signing."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.proxyserver import ProxyServer
from tests.support.pushgateway import TOKEN, SilentServer, pushed, pushgateway
from tests.support.unit import Unit, running_unit
from tsed import __version__
from tsed.net.identity import load_or_create_identity
from tsed.state.paths import StatePaths
from tsed.state.vault import Vault
from tsed.unit.telemetry import MAX_BACKOFF, next_delay

PROXY_PASSWORD = "proxy-pass-7c2e91d04b"


def _config(gateway: str, ca_file: Path | str, **extra: object) -> str:
    lines = [
        "[telemetry]",
        "enabled = true",
        f'gateway = "{gateway}"',
        "interval = 10",
        'shop = "filiale-7"',
        'chain = "kette-nord"',
        f'ca_file = "{ca_file}"',
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def _device_id(state: Path) -> str:
    return load_or_create_identity(state, name="KassenSichV-Fiskaly").device_id


async def _set_token(unit: Unit, monkeypatch: pytest.MonkeyPatch, token: str = TOKEN) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(token + "\n"))
    code, out = await unit.tsectl("telemetry", "set-token")
    assert code == 0, out


async def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode()[:12] not in text


async def test_the_gateway_receives_the_units_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "unit"
    unit_id = _device_id(state)
    async with pushgateway(tmp_path / "gw", user=unit_id) as gateway:
        config = _config(gateway.url, gateway.ca_file)
        async with running_unit(state, config=config) as unit:
            register = await unit.pair()
            for _ in range(3):
                await register.receipt()
            assert unit.daemon.telemetry.status().pushes == 0  # no credential yet
            await _set_token(unit, monkeypatch)
            await _until(lambda: unit.daemon.telemetry.status().pushes >= 1)
            groups = await gateway.groups()
            code, out = await unit.tsectl("--json", "status")
            human_code, human = await unit.tsectl("status")
            config_code, config_out = await unit.tsectl("--json", "config", "show")
    assert code == human_code == config_code == 0
    [group] = groups
    labels = {"job": "tsed", "unit": unit_id, "shop": "filiale-7", "chain": "kette-nord"}
    assert group["labels"] == labels
    assert group["last_push_successful"] is True
    assert pushed(group, "tsed_receipts_total") == {(("outcome", "signed"),): 3.0}
    assert pushed(group, "tsed_build_info") == {(("version", __version__),): 1.0}
    assert pushed(group, "tsed_mode_info") == {(("backend", "simulator"), ("mode", "TEST")): 1.0}
    assert pushed(group, "tsed_tse_available") == {(): 1.0}
    assert pushed(group, "tsed_open_outages") == {(): 0.0}
    assert pushed(group, "tsed_tss_state") == {(("state", "INITIALIZED"), ("tenant", "default")): 1}
    [days] = pushed(group, "tsed_device_certificate_days_left").values()
    assert 3640 < days < 3651
    [free] = pushed(group, "tsed_state_dir_free_bytes").values()
    assert free > 0
    status = json.loads(out)["telemetry"]
    assert status["enabled"] and status["token_set"] and status["last_error"] is None
    assert status["pushes"] >= 1 and status["last_push_at"] > time.time() - 60
    assert 1000 < status["last_bytes"] < 16384
    assert f"Telemetry:     to {gateway.url}, last push" in human
    # the credential is in the vault only: not in a log, an answer or the configuration file
    _assert_no_secret(caplog.text + out + human + config_out, TOKEN)
    _assert_no_secret((state / "tsed.toml").read_text(), TOKEN)


async def test_pushes_go_through_the_shops_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "unit"
    unit_id = _device_id(state)
    host = "push.kette-nord.example"  # resolves nowhere in tests: only the proxy knows it
    async with pushgateway(tmp_path / "gw", user=unit_id, hostname=host) as gateway:
        proxy = ProxyServer(username="shop", password=PROXY_PASSWORD, hosts={host: "127.0.0.1"})
        await proxy.start()
        try:
            config = _config(f"https://{host}:{gateway.port}", gateway.ca_file)
            config += f'\n[proxy]\nhost = "127.0.0.1"\nport = {proxy.port}\nusername = "shop"\n'
            Vault(StatePaths(state).vault).set("proxy.password", PROXY_PASSWORD)
            async with running_unit(state, config=config) as unit:
                await _set_token(unit, monkeypatch)
                await _until(lambda: unit.daemon.telemetry.status().pushes >= 1)
                groups = await gateway.groups()
        finally:
            await proxy.stop()
    assert proxy.connections[f"{host}:{gateway.port}"] >= 1
    assert f"CONNECT {host}:{gateway.port}" in proxy.requests
    assert proxy.refused == 0
    assert groups[0]["labels"]["unit"] == unit_id
    _assert_no_secret(caplog.text, TOKEN, PROXY_PASSWORD)


async def test_a_refused_credential_is_reported_without_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "unit"
    unit_id = _device_id(state)
    wrong = "wrong-token-9f8e7d6c5b4a"
    async with pushgateway(tmp_path / "gw", user=unit_id) as gateway:
        config = _config(gateway.url, gateway.ca_file, auth="bearer")  # the gateway wants Basic
        async with running_unit(state, config=config) as unit:
            await _set_token(unit, monkeypatch, wrong)
            await _until(lambda: unit.daemon.telemetry.status().failures >= 2)
            code, out = await unit.tsectl("--json", "status")
            assert code == 0, out
            assert await gateway.groups() == []
            monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
            empty_code, _ = await unit.tsectl("telemetry", "set-token")
            human_code, human = await unit.tsectl("telemetry", "status")
            clear_code, _ = await unit.tsectl("telemetry", "clear-token")
            after_code, after = await unit.tsectl("--json", "telemetry", "status")
    assert empty_code == 2  # nothing on standard input: a usage error, nothing changed
    assert human_code == clear_code == after_code == 0
    assert "FAILING: the gateway refused the unit's credential (HTTP 401)" in human
    assert json.loads(after)["token_set"] is False
    status = json.loads(out)["telemetry"]
    assert status["last_error"] == "the gateway refused the unit's credential (HTTP 401)"
    assert status["pushes"] == 0
    _assert_no_secret(caplog.text + out, wrong)


async def test_signing_goes_on_while_the_gateway_hangs_or_is_gone(tmp_path: Path) -> None:
    silent = SilentServer()
    await silent.start()
    try:
        config = _config(f"https://127.0.0.1:{silent.port}", "/nonexistent/ca.pem")
        async with running_unit(tmp_path / "unit", config=config) as unit:
            unit.daemon.vault.set("telemetry.token", TOKEN)
            telemetry = unit.daemon.telemetry
            telemetry.reconfigure()
            register = await unit.pair()
            # a CA file that cannot be read is an error of its own, then the right one
            await _until(lambda: "ca_file" in (telemetry.status().last_error or ""))
            code, out = await unit.tsectl("config", "set", "telemetry.ca_file", "")
            assert code == 0, out  # the system CA bundle now (the change wakes the push)
            await _until(lambda: silent.accepted >= 1)  # a push is in flight, and hangs
            slowest = 0.0
            signed = 0
            while silent.open_now:  # a register's pace until the push gives up (2.5 s)
                began = time.monotonic()
                await register.receipt()
                slowest = max(slowest, time.monotonic() - began)
                signed += 1
                await asyncio.sleep(0.05)
            await _until(lambda: telemetry.status().failures >= 2)
            while_hung = signed
            error = telemetry.status().last_error or ""
            assert "no answer from the gateway within 2.5 s" in error
            await silent.stop()  # now the gateway is gone: refused at once
            telemetry.reconfigure()
            await _until(lambda: "cannot reach" in (telemetry.status().last_error or ""))
            for _ in range(20):
                began = time.monotonic()
                await register.receipt()
                slowest = max(slowest, time.monotonic() - began)
                signed += 1
                await asyncio.sleep(0.01)
            status = telemetry.status()
    finally:
        await silent.stop()
    assert while_hung >= 10 and signed == while_hung + 20
    assert slowest < 1.0  # receipts answer as usual (the register deadline is 3 s)
    assert silent.most_open == 1  # one push at a time: nothing piles up
    assert status.pushes == 0 and status.failures >= 3


def test_backoff_is_bounded() -> None:
    assert next_delay(60, 0) == 60
    assert [next_delay(60, n) for n in range(1, 6)] == [120, 240, 480, 900, 900]
    assert next_delay(3600, 4) == 3600  # never below the interval
    assert next_delay(10, 50) == MAX_BACKOFF
    assert 60 <= next_delay(60, 0, jitter=1.0) <= 66
