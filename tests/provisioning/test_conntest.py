"""The connection test: every step's success and failure, against the simulator over HTTP."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.support.provisioning import FAST, Unit, saved_config, unit
from tests.support.proxyserver import ProxyServer
from tests.support.unit import running_unit
from tsed.config.model import Proxy
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.transport import ProxySettings
from tsed.provisioning import conntest, conntest_steps
from tsed.provisioning.conntest import ConnectionReport, run_connection_test
from tsed.provisioning.conntest_steps import StepResult
from tsed.state.rows import BindingRow, RegisterRow
from tsed.texts import lines, lines_conntest, steps
from tsed.texts.steps import step_detail, step_hint
from tsed.tss.access import FiskalyAccess
from tsed.tss.registry import UpstreamRegistry, vault_key
from tsed.unit.admin_ops import AdminOps
from tsed.unit.setup_ops import SetupOps

__all__ = ["unit"]
NETWORK = ["dns", "proxy", "tls", "auth", "environment", "tss", "clients", "clock"]


def _credentials(u: Unit, env: str = "TEST", *, secret: str | None = None) -> None:
    creds = u.sim.add_api_key(env)  # type: ignore[arg-type]
    u.vault.update(
        {
            vault_key("default", "TEST", "api_key"): creds.api_key,
            vault_key("default", "TEST", "api_secret"): secret or creds.api_secret,
        }
    )


async def _ready(u: Unit, *, register: bool = True) -> UpstreamRegistry:
    """TEST credentials, an INITIALIZED TSS and (optionally) one paired register."""
    _credentials(u)
    registry = u.registry("TEST")
    await registry.start()
    await registry.ensure_tss("default")
    if register:
        register_id = str(uuid.uuid4())
        await u.store.add_register(
            RegisterRow(register_id, "ERS kasse-1", None, "default", uuid.uuid4().hex, 1.0)
        )
        await registry.ensure_client(register_id, "ERS kasse-1", "default")
    return registry


async def _test(u: Unit, access: FiskalyAccess | None = None, **kwargs) -> ConnectionReport:
    args: dict[str, Any] = {"config": saved_config(), "mode": "TEST", "step_timeout": 5.0}
    args.update(kwargs)
    return await run_connection_test(
        vault=u.vault, store=u.store, access=access or u.access, **args
    )


def _verdicts(report: ConnectionReport) -> dict[str, str]:
    return {s.step: s.verdict for s in report.steps}


async def test_everything_ok_over_http(unit: Unit) -> None:
    registry = await _ready(unit)
    try:
        report = await _test(unit)
    finally:
        await registry.stop()
    assert _verdicts(report) == {
        "config": "ok", "dns": "ok", "proxy": "skipped", "tls": "skipped", "auth": "ok",
        "environment": "ok", "tss": "ok", "clients": "ok", "clock": "ok",
    }  # fmt: skip
    assert report.verdict == "ok" and report.ok
    assert "plain HTTP" in report.step("tls").detail
    assert "INITIALIZED" in report.step("tss").detail
    assert "1 register(s), all registered" in report.step("clients").detail
    assert abs(report.clock_offset or 99) < 5
    lines = report.lines()
    assert lines[0].endswith("OK") and len(lines) == 1 + len(report.steps)
    body = report.to_json()
    assert body["verdict"] == "ok" and body["steps"][4]["tenant"] == "default"
    secret = unit.vault.get(vault_key("default", "TEST", "api_secret"))
    assert secret and secret not in "\n".join(lines) and secret not in str(body)


async def test_configuration_not_saved_skips_everything(unit: Unit) -> None:
    report = await _test(unit, config=replace(saved_config(), created_at=None))
    assert report.step("config").verdict == "fail" and report.verdict == "fail"
    assert all(report.step(name).verdict == "skipped" for name in NETWORK)
    assert "Save" in (report.step("config").hint or "")


async def test_dns_resolves_localhost_and_fails_for_an_unknown_host(unit: Unit) -> None:
    registry = await _ready(unit, register=False)
    try:
        local = replace(
            unit.access, sign_url=unit.server.base_url.replace("127.0.0.1", "localhost")
        )
        report = await _test(unit, local)
        assert report.step("dns").verdict == "ok" and "127.0.0.1" in report.step("dns").detail
        assert report.step("auth").verdict == "ok"
        unknown = replace(unit.access, sign_url=f"http://fiskaly.invalid:{unit.server.port}")
        report = await _test(unit, unknown)
    finally:
        await registry.stop()
    assert report.step("dns").verdict == "fail" and "fiskaly.invalid" in report.step("dns").detail
    assert "DNS" in (report.step("dns").hint or "")
    assert all(report.step(n).verdict == "skipped" for n in NETWORK[1:])


@pytest.fixture
async def proxy(unit: Unit) -> AsyncIterator[ProxyServer]:
    server = ProxyServer(hosts={"fiskaly.test": "127.0.0.1"})
    await server.start()
    yield server
    await server.stop()


async def test_proxy_ok_and_dns_left_to_the_proxy(unit: Unit, proxy: ProxyServer) -> None:
    registry = await _ready(unit)
    access = replace(
        unit.access, sign_url=f"http://fiskaly.test:{unit.server.port}",
        proxy=ProxySettings("127.0.0.1", proxy.port),
    )  # fmt: skip
    try:
        report = await _test(unit, access)
    finally:
        await registry.stop()
    verdicts = _verdicts(report)
    assert verdicts["dns"] == "skipped" and "proxy resolves" in report.step("dns").detail
    assert verdicts["proxy"] == "ok" and verdicts["auth"] == "ok" and verdicts["tss"] == "ok"
    assert report.verdict == "ok"
    assert proxy.connections[f"fiskaly.test:{unit.server.port}"] >= 3  # CONNECT + API calls


async def test_dead_proxy(unit: Unit) -> None:
    sock_port = _free_port()
    access = replace(unit.access, proxy=ProxySettings("127.0.0.1", sock_port))
    report = await _test(unit, access)
    step = report.step("proxy")
    assert step.verdict == "fail" and f"127.0.0.1:{sock_port}" in step.detail
    assert "unreachable" in step.detail and "proxy" in (step.hint or "")
    assert all(report.step(n).verdict == "skipped" for n in NETWORK[2:])


async def test_proxy_wanting_credentials(unit: Unit) -> None:
    _credentials(unit)
    guarded = ProxyServer(username="shop", password="Proxy-Pa55word")
    await guarded.start()
    try:
        bare = replace(unit.access, proxy=ProxySettings("127.0.0.1", guarded.port))
        report = await _test(unit, bare)
        assert report.step("proxy").verdict == "fail"
        assert "wants credentials (HTTP 407)" in report.step("proxy").detail
        wrong = replace(bare, proxy=ProxySettings("127.0.0.1", guarded.port, "shop", "nope"))
        report = await _test(unit, wrong)
        assert "refused the proxy credentials" in report.step("proxy").detail
        right = replace(
            bare, proxy=ProxySettings("127.0.0.1", guarded.port, "shop", "Proxy-Pa55word")
        )
        report = await _test(unit, right)
        assert report.step("proxy").verdict == "ok" and report.step("auth").verdict == "ok"
        assert "Proxy-Pa55word" not in "\n".join(report.lines())
    finally:
        await guarded.stop()


async def test_missing_and_wrong_credentials(unit: Unit) -> None:
    report = await _test(unit)
    assert report.step("auth").verdict == "fail" and "Anlegen" in (report.step("auth").hint or "")
    _credentials(unit, secret="WrongSecret0123456789abcdefghijABCDEFGHIJ12")
    report = await _test(unit)
    auth = report.step("auth")
    assert auth.verdict == "fail" and "401" in auth.detail
    assert "Anlegen" in (auth.hint or "")
    for name in ("environment", "tss", "clients", "clock"):
        assert report.step(name).verdict == "skipped"


async def test_token_environment_must_match_the_mode(unit: Unit) -> None:
    _credentials(unit, "LIVE")  # LIVE credentials in a TEST unit
    report = await _test(unit)
    env = report.step("environment")
    assert env.verdict == "fail" and "LIVE" in env.detail and "reset" in (env.hint or "")
    assert report.step("tss").verdict == "skipped" and report.step("clients").verdict == "skipped"


async def test_tss_missing_unknown_unfinished_disabled_deleted(unit: Unit) -> None:
    _credentials(unit)
    report = await _test(unit)
    assert report.step("tss").verdict == "fail" and "no TEST TSS" in report.step("tss").detail
    assert report.step("clients").verdict == "skipped"
    # a binding to a TSS fiskaly does not know
    await unit.store.save_binding(
        BindingRow("default", "TEST", str(uuid.uuid4()), "INITIALIZED", None, 1.0)
    )
    report = await _test(unit)
    assert "does not exist" in report.step("tss").detail
    await unit.store.archive_bindings("TEST", 2.0)
    registry = unit.registry("TEST")
    await registry.start()
    try:
        binding = await registry.ensure_tss("default")
    finally:
        await registry.stop()
    for state, verdict, words in (
        ("UNINITIALIZED", "warn", "not finished"),
        ("DISABLED", "fail", "cannot sign"),
        ("DELETED", "fail", "cannot sign"),
    ):
        unit.sim.set_tss_state(binding.tss_id, state)
        report = await _test(unit)
        tss = report.step("tss")
        assert (tss.verdict, state in tss.detail, words in tss.detail) == (verdict, True, True)


async def test_registers_without_a_client_are_named(unit: Unit) -> None:
    registry = await _ready(unit, register=False)
    await registry.stop()
    lost = str(uuid.uuid4())
    await unit.store.add_register(RegisterRow(lost, "ERS lost", None, "default", "h", 1.0))
    report = await _test(unit)
    clients = report.step("clients")
    assert clients.verdict == "warn" and lost in clients.detail
    assert "tsectl reset" in (clients.hint or "")
    assert report.verdict == "warn" and report.ok


@pytest.mark.parametrize(("skew", "verdict"), [(30.0, "warn"), (-45.0, "warn"), (2.0, "ok")])
async def test_clock_offset(tmp_path, unit: Unit, skew: float, verdict: str) -> None:
    sim = Simulator(clock=lambda: time.time() + skew)
    server = SimulatorServer(sim)
    await server.start()
    try:
        creds = sim.add_api_key("TEST")
        unit.vault.update(
            {
                vault_key("default", "TEST", "api_key"): creds.api_key,
                vault_key("default", "TEST", "api_secret"): creds.api_secret,
            }
        )
        access = FiskalyAccess(server.base_url, server.base_url, None, None, FAST)
        report = await _test(unit, access)
    finally:
        await server.stop()
        sim.close()
    clock = report.step("clock")
    assert clock.verdict == verdict and report.clock_offset is not None
    assert abs(report.clock_offset - skew) < 2.0
    if verdict == "warn":
        assert "NTP" in (clock.hint or "")


# -- TLS --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def tls_server() -> AsyncIterator[tuple[int, ssl.SSLContext]]:
    """A TLS endpoint on 127.0.0.1 with a certificate for localhost from a test CA."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            await reader.read(1024)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    yield server.sockets[0].getsockname()[1], client_ctx
    server.close()
    await server.wait_closed()


async def test_tls_verified_and_untrusted(unit: Unit, tls_server, proxy: ProxyServer) -> None:
    _credentials(unit)
    port, trusted = tls_server
    access = replace(unit.access, sign_url=f"https://localhost:{port}")
    report = await _test(unit, access, ssl_context=trusted)
    tls = report.step("tls")
    assert tls.verdict == "ok" and "certificate verified" in tls.detail
    # the same through the proxy's CONNECT tunnel
    proxy.hosts["fiskaly.test"] = "127.0.0.1"
    tunnel = replace(access, proxy=ProxySettings("127.0.0.1", proxy.port))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False  # the test certificate names localhost, not fiskaly.test
    ctx.verify_mode = ssl.CERT_NONE
    report = await _test(unit, replace(tunnel, sign_url=f"https://fiskaly.test:{port}"),
                         ssl_context=ctx)  # fmt: skip
    assert report.step("proxy").verdict == "ok" and report.step("tls").verdict == "ok"
    # a certificate the unit does not trust (e.g. a TLS-intercepting proxy)
    report = await _test(unit, access)
    tls = report.step("tls")
    assert tls.verdict == "fail" and "not trusted" in tls.detail
    assert "clock" in (tls.hint or "") and report.step("auth").verdict == "skipped"


def _de(step: StepResult) -> tuple[str, str]:
    """The step's detail and hint as tsectl and the page show them in German."""
    assert step.detail_id, step
    return (step_detail(step.detail_id, step.detail_args, "de"),
            step_hint(step.detail_id, step.detail_args, "de") or "")  # fmt: skip


# -- a saved proxy while the unit signs with the built-in simulator (issue 18) ----------------


async def test_saved_proxy_dead_fails_even_with_the_simulator(unit: Unit) -> None:
    """The simulator is reached directly, but the saved proxy is checked and its failure
    decides the verdict: never OK with a proxy that nobody answers on."""
    registry = await _ready(unit)
    dead = _free_port()
    config = saved_config(proxy=Proxy("127.0.0.1", dead))
    try:
        report = await _test(unit, config=config)  # unit.access has no proxy: the simulator
    finally:
        await registry.stop()
    step = report.step("proxy")
    assert step.verdict == "fail" and report.verdict == "fail" and not report.ok
    german, hint = _de(step)
    assert f"Proxy 127.0.0.1:{dead}: keine Verbindung (ECONNREFUSED)" in german
    assert "über den Proxy nicht geprüft" in german and "Simulator" in german
    assert "Proxy-Host und -Port" in hint
    assert f"proxy 127.0.0.1:{dead}: no connection" in step.detail  # the journal's English
    assert "proxy host and port" in (step.hint or "")
    # what could be checked still is: the simulator answers directly
    assert report.step("auth").verdict == "ok" and report.step("tss").verdict == "ok"
    assert report.lines()[0].endswith("FAIL")


async def test_saved_proxy_reaching_fiskaly_is_ok_with_the_simulator(unit: Unit) -> None:
    registry = await _ready(unit)
    proxy = ProxyServer(
        username="shop", password="Proxy-Pa55word", hosts={"fiskaly.test": "127.0.0.1"}
    )
    await proxy.start()
    unit.vault.update({"proxy.password": "Proxy-Pa55word"})
    config = saved_config(proxy=Proxy("127.0.0.1", proxy.port, "shop"))
    # a loopback stand-in for the fiskaly host (no internet here): any listener will do
    fiskaly = f"https://fiskaly.test:{unit.server.port}"
    try:
        report = await _test(unit, config=config, fiskaly_url=fiskaly)
        wrong_port = f"https://fiskaly.test:{_free_port()}"
        unreachable = await _test(unit, config=config, fiskaly_url=wrong_port)
        unit.vault.update({"proxy.password": "nope"})
        refused = await _test(unit, config=config, fiskaly_url=fiskaly)
    finally:
        await proxy.stop()
        await registry.stop()
    step = report.step("proxy")
    assert step.verdict == "ok" and report.verdict == "ok", step
    assert f"Proxy 127.0.0.1:{proxy.port} erreichbar" in _de(step)[0]
    assert f"fiskaly (fiskaly.test:{unit.server.port}) über den Proxy erreichbar" in _de(step)[0]
    assert step.detail_args == {
        "proxy": f"127.0.0.1:{proxy.port}",
        "target": f"fiskaly (fiskaly.test:{unit.server.port})",
    }
    assert proxy.connections[f"fiskaly.test:{unit.server.port}"] == 1  # one CONNECT (the
    # 407 is refused before it counts); the simulator itself is reached directly
    # the proxy answers, the way to fiskaly is closed: a warning that says so
    step = unreachable.step("proxy")
    assert step.verdict == "warn" and unreachable.verdict == "warn"
    assert "über den Proxy nicht erreichbar (HTTP 502)" in _de(step)[0]
    assert "CONNECT" in (step.hint or "") and "CONNECT" in _de(step)[1]
    step = refused.step("proxy")
    assert step.verdict == "fail" and "lehnt die Proxy-Anmeldedaten ab (HTTP 407)" in _de(step)[0]
    assert all("Proxy-Pa55word" not in line for line in report.lines() + refused.lines())


async def test_no_saved_proxy_is_skipped_with_the_reason(unit: Unit) -> None:
    registry = await _ready(unit, register=False)
    try:
        report = await _test(unit)
    finally:
        await registry.stop()
    step = report.step("proxy")
    assert step.verdict == "skipped"
    assert _de(step)[0] == "kein Proxy gespeichert: die Einheit verbindet sich direkt"
    assert step.detail == "no proxy saved: the unit connects directly"


async def test_the_units_test_button_checks_a_saved_proxy_with_the_simulator(
    tmp_path: Path,
) -> None:
    """The issue's case on a whole unit: simulator backend, proxy 127.0.0.1:<dead> saved."""
    dead = _free_port()
    async with running_unit(tmp_path / "state") as unit:
        assert unit.daemon.backend == "simulator"
        context = unit.daemon.running.ops
        ops = AdminOps(context, SetupOps(context))
        await ops.config_update({"proxy.host": "127.0.0.1", "proxy.port": str(dead)})
        report = await ops.connection_test()
    step = report.step("proxy")
    assert step.verdict == "fail" and report.verdict == "fail", report.lines()
    assert _de(step)[0].startswith(f"Proxy 127.0.0.1:{dead}: keine Verbindung")
    assert "simulator" in step.detail
    assert report.step("auth").verdict == "ok"  # the simulator itself answers directly


def test_every_step_outcome_the_code_names_is_in_the_catalogue_and_back() -> None:
    """The ids the steps use (literal, or a prefix with the proxy's answers) are lines of both
    languages; every outcome line of the catalogue is used by a step."""
    found: set[str] = set()
    for module in (conntest, conntest_steps, steps):
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        found |= {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                  and isinstance(node.value, str) and node.value.startswith("conn.")}  # fmt: skip
    prefixes = {"conn.proxy", "conn.saved_proxy"} & found  # _tunnel_outcome: f"{prefix}.{what}"
    answers = ("ok", "credentials_refused", "needs_credentials", "no_answer", "refused")
    used = (found - prefixes) | {f"{p}.{a}" for p in prefixes for a in answers}
    assert len(used) > 40
    for lang in ("de", "en"):
        missing = sorted(used - set(lines(lang)))  # type: ignore[arg-type]
        assert missing == [], f"{lang}: step outcomes without a line"
    outcomes = {tid for tid in lines_conntest.DE if not tid.endswith(".hint")}
    assert sorted(outcomes - used) == [], "catalogue lines no step produces"
    hints = {tid.removesuffix(".hint") for tid in lines_conntest.DE if tid.endswith(".hint")}
    assert sorted(hints - outcomes) == [], "hints of no outcome"
