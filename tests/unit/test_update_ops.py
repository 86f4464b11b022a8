"""``tsectl update`` against a running unit, with the real ``rauc`` and a test PKI: a bundle
file or URL is checked before anything is written (signature, device class, newer version),
a URL comes through the shop's proxy onto the state directory, and the refusals are German,
in the answer and in ``tsectl update status``. Off the device RAUC's service is not there:
the status says updates are unavailable, and a bundle that passes every check fails when the
install asks the service for the slots, without touching anything (the install itself runs in
the qemu test, ``tests/image/test_update.py``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support.proxyserver import ProxyServer
from tests.support.unit import Unit, running_unit
from tests.support.updates import UpdatePki, make_bundle, system_conf
from tsed.state.paths import StatePaths
from tsed.state.vault import Vault
from tsed.unit.update_ops import shown_source

PROXY_PASSWORD = "proxy-pass-5d1f00a3c2"
URL_TOKEN = "dl-token-88e1b2c4d9"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> UpdatePki:
    return UpdatePki.create(tmp_path_factory.mktemp("pki"))


def _environ(tmp: Path, pki: UpdatePki, running: str = "0.2.0") -> dict[str, str]:
    (tmp / "release").write_text(f"{running}\n")
    conf = system_conf(tmp, pki.vendor.ca)
    return {"TSED_RAUC_CONF": str(conf), "TSED_RELEASE_FILE": str(tmp / "release")}


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


async def _install(unit: Unit, bundle: Path | str) -> tuple[int, dict[str, Any]]:
    code, out = await unit.tsectl("--json", "update", "install", str(bundle))
    return code, json.loads(out)


async def test_bundles_are_refused_before_anything_is_written(
    tmp_path: Path, pki: UpdatePki
) -> None:
    forged = make_bundle(tmp_path, pki.forger, "9.0.0")
    other = make_bundle(tmp_path, pki.vendor, "9.0.0", compatible="kassen-drucker")
    older = make_bundle(tmp_path, pki.vendor, "0.1.5")
    same = make_bundle(tmp_path, pki.vendor, "0.2.0")
    async with running_unit(tmp_path / "state", environ=_environ(tmp_path, pki)) as unit:
        code, answer = await _install(unit, forged)
        assert code == 1 and answer["error"]["code"] == "UPDATE_BAD_SIGNATURE", answer
        assert "Signatur des Update-Pakets ist ungültig" in answer["error"]["message"]
        code, answer = await _install(unit, other)
        assert answer["error"]["code"] == "UPDATE_OTHER_DEVICE_CLASS", answer
        assert "'kassen-drucker'" in answer["error"]["message"]
        for bundle, version in ((older, "0.1.5"), (same, "0.2.0")):
            code, answer = await _install(unit, bundle)
            assert code == 1 and answer["error"]["code"] == "UPDATE_DOWNGRADE", answer
            assert (
                f"Version {version}, es läuft bereits Version 0.2.0" in answer["error"]["message"]
            )
        code, answer = await _install(unit, tmp_path / "missing.raucb")
        assert answer["error"]["code"] == "INVALID_REQUEST" and "nicht gefunden" in str(answer)
        code, out = await unit.tsectl("update", "status")
        assert code == 0, out
        assert "Laufende Version: 0.2.0" in out and "nicht verfügbar" in out
        assert "Letztes Update:   0.2.0" in out and "abgelehnt" in out
        status = json.loads((await unit.tsectl("--json", "status"))[1])["update"]
        assert status["running_version"] == "0.2.0" and status["available"] is False
        assert status["last"]["state"] == "refused" and status["last"]["code"] == "UPDATE_DOWNGRADE"


async def test_a_bundle_passing_the_checks_goes_to_rauc_install(
    tmp_path: Path, pki: UpdatePki
) -> None:
    newer = make_bundle(tmp_path, pki.vendor, "0.3.0")
    before = newer.read_bytes()
    async with running_unit(tmp_path / "state", environ=_environ(tmp_path, pki)) as unit:
        code, answer = await _install(unit, newer)
        # no RAUC service off the device: the install fails before writing, and says so
        assert code == 1 and answer["error"]["code"] == "UPDATE_UNAVAILABLE", answer
        assert "D-Bus" in answer["error"]["message"], answer
        last = json.loads((await unit.tsectl("--json", "update", "status"))[1])["last"]
        assert last["state"] == "failed" and last["version"] == "0.3.0"
        assert last["source"] == str(newer)
    assert newer.read_bytes() == before  # a file the installer gave is left alone


async def test_a_url_comes_through_the_shops_proxy_and_no_secret_shows(
    tmp_path: Path, pki: UpdatePki, caplog: pytest.LogCaptureFixture
) -> None:
    older = make_bundle(tmp_path, pki.vendor, "0.1.9")
    host = "updates.hersteller.example"  # resolves nowhere: only the proxy knows it
    served: list[str] = []

    async def bundle(request: web.Request) -> web.Response:
        served.append(request.query_string)
        return web.Response(body=older.read_bytes())

    app = web.Application()
    app.router.add_get("/tsed/{name}", bundle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    proxy = ProxyServer(username="shop", password=PROXY_PASSWORD, hosts={host: "127.0.0.1"})
    await proxy.start()
    state = tmp_path / "state"
    config = f'[proxy]\nhost = "127.0.0.1"\nport = {proxy.port}\nusername = "shop"\n'
    state.mkdir()
    Vault(StatePaths(state).vault).set("proxy.password", PROXY_PASSWORD)
    url = f"http://{host}:{port}/tsed/tsed-0.1.9.raucb?token={URL_TOKEN}"
    try:
        async with running_unit(state, environ=_environ(tmp_path, pki), config=config) as unit:
            code, answer = await _install(unit, url)
            assert code == 1 and answer["error"]["code"] == "UPDATE_DOWNGRADE", answer
            _, out = await unit.tsectl("--json", "update", "status")
            _, human = await unit.tsectl("update", "status")
    finally:
        await proxy.stop()
        await runner.cleanup()
    assert served == [f"token={URL_TOKEN}"]
    assert any(line.startswith(f"GET http://{host}:{port}/tsed/") for line in proxy.requests)
    last = json.loads(out)["last"]
    assert last["source"] == f"http://{host}:{port}/tsed/tsed-0.1.9.raucb"
    assert not list(StatePaths(state).update_dir.iterdir())  # the refused download is gone
    for text in (out, human, caplog.text, json.dumps(answer)):
        assert URL_TOKEN not in text and PROXY_PASSWORD not in text


def test_a_shown_source_has_no_credentials() -> None:
    assert shown_source("https://u:p@h.example:8443/a/b.raucb?t=1#x") == (
        "https://h.example:8443/a/b.raucb"
    )
    assert shown_source("/media/usb/tsed.raucb") == "/media/usb/tsed.raucb"
