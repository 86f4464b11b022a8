"""The connection test (the mask's "Test" button): one line per step, each with a verdict.

Steps, in order: configuration saved → DNS for the fiskaly host → proxy reachable and accepting
(when set) → TLS → authentication → token environment matches the mode → TSS exists, its state
and environment → registered clients → clock offset. Authentication and the TSS steps run per
tenant. Each step says ``ok``, ``warn``, ``fail`` or ``skipped``, and on trouble what to do.
A failure that makes later steps meaningless marks them ``skipped`` (with the reason).

Clock offset: the unit's clock is compared with the server's ``Date`` header and with the
server time implied by the authentication answer (``access_token_expires_at`` minus
``access_token_expires_in``); the larger of the two offsets counts (warn above 5 s), so neither
a proxy rewriting headers nor a cached token can hide a wrong clock.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from tsed.config.model import SIGN_URL, Config
from tsed.errors import TsedError
from tsed.fiskaly import errors as ferr
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.models import AuthToken, Tss
from tsed.fiskaly.session import check_v2_url
from tsed.fiskaly.transport import HttpCore, RetryPolicy, Timeouts
from tsed.provisioning.conntest_steps import (
    StepResult,
    Verdict,
    check_dns,
    check_proxy,
    check_saved_proxy,
    check_tls,
    failed,
    outcome,
    timed,
)
from tsed.state.mode import Mode
from tsed.state.store import Store
from tsed.state.vault import Vault
from tsed.tss.access import FiskalyAccess, proxy_settings
from tsed.tss.registry import vault_key

_LOGGER = logging.getLogger(__name__)
MAX_SKEW = 5.0


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    mode: str
    sign_url: str
    steps: tuple[StepResult, ...]
    started_at: float
    clock_offset: float | None = None

    @property
    def verdict(self) -> Verdict:
        verdicts = {s.verdict for s in self.steps}
        return "fail" if "fail" in verdicts else "warn" if "warn" in verdicts else "ok"

    @property
    def ok(self) -> bool:
        return self.verdict != "fail"

    def step(self, name: str, tenant: str | None = None) -> StepResult:
        for item in self.steps:
            if item.step == name and (tenant is None or item.tenant == tenant):
                return item
        raise KeyError(name)

    def lines(self) -> list[str]:
        head = f"Connection test ({self.mode}, {self.sign_url}): {self.verdict.upper()}"
        return [head, *(s.line() for s in self.steps)]

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "url": self.sign_url,
            "verdict": self.verdict,
            "ok": self.ok,
            "started_at": self.started_at,
            "clock_offset": self.clock_offset,
            "steps": [s.to_json() for s in self.steps],
            "lines": self.lines(),
        }


@dataclass
class _Run:
    """Mutable state of one test run (steps so far, what later steps may use)."""

    steps: list[StepResult] = field(default_factory=list)
    offsets: list[float] = field(default_factory=list)

    def add(self, step: StepResult) -> StepResult:
        self.steps.append(step)
        return step

    def skip(self, names: list[str], why: str, tenant: str | None = None) -> None:
        """``why``: the id of the reason (``conn.skip.…``)."""
        for name in names:
            self.steps.append(outcome(name, "skipped", why, tenant))


# -- fiskaly steps ----------------------------------------------------------------------------


async def _auth(
    access: FiskalyAccess, key: str, secret: str, step_timeout: float, clock: Callable[[], float]
) -> tuple[AuthToken, list[float]]:
    """Authenticate like the daemon does; also returns the clock offset estimates."""
    core = HttpCore(
        check_v2_url(access.sign_url) + "/api/v2", proxy=access.proxy,
        timeouts=Timeouts(default=step_timeout, connect=min(5.0, step_timeout)),
        retry=RetryPolicy(attempts=1),
    )  # fmt: skip
    try:
        before = clock()
        response = await core.request(
            "POST", "/auth", what="authentication", json={"api_key": key, "api_secret": secret}
        )
        local = (before + clock()) / 2
    finally:
        await core.stop()
    data = response.json()
    token = AuthToken.parse(data, local)
    return token, _offsets(response, data, local)


def _offsets(response: httpx.Response, data: dict[str, Any], local: float) -> list[float]:
    offsets = []
    date = response.headers.get("Date")
    if date:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            offsets.append(email.utils.parsedate_to_datetime(date).timestamp() + 0.5 - local)
    expires_at, expires_in = (
        data.get("access_token_expires_at"),
        data.get("access_token_expires_in"),
    )
    if isinstance(expires_at, int | float) and isinstance(expires_in, int | float):
        offsets.append(float(expires_at) - float(expires_in) + 0.5 - local)
    return offsets


def _tss_verdict(tss: Tss, mode: str) -> StepResult:
    shown = {"tss": tss.id, "state": tss.state, "env": tss.env or "?"}
    if tss.env and tss.env != mode:
        return outcome("tss", "fail", "conn.tss.other_mode", mode=mode, **shown)
    if tss.state == "INITIALIZED":
        return outcome("tss", "ok", "conn.tss.ok", serial=tss.serial_number[:16], **shown)
    if tss.state in ("CREATED", "UNINITIALIZED"):
        return outcome("tss", "warn", "conn.tss.unfinished", **shown)
    return outcome("tss", "fail", "conn.tss.unusable", **shown)


async def _tss_and_clients(
    client: FiskalyClient, store: Store, tenant: str, mode: str, run: _Run, step_timeout: float
) -> None:
    bindings = [b for b in await store.bindings() if b.tenant_id == tenant and b.env == mode]
    if not bindings:
        run.add(outcome("tss", "fail", "conn.tss.none", tenant, mode=mode))
        run.skip(["clients"], "conn.skip.no_tss", tenant)
        return
    binding = bindings[-1]
    client.note_tss_env(binding.tss_id, binding.env)  # a 403 on it: TEST/LIVE mismatch or not
    found: list[Tss] = []

    async def tss_step() -> StepResult:
        try:
            found.append(await client.get_tss(binding.tss_id))
        except ferr.FiskalyNotFound:
            return outcome("tss", "fail", "conn.tss.not_found", tss=binding.tss_id)
        except TsedError as err:
            return failed("tss", err)
        return _tss_verdict(found[0], mode)

    tss_result = run.add(await timed("tss", tenant, step_timeout, tss_step))
    if tss_result.verdict == "fail" or not found:
        run.skip(["clients"], "conn.skip.tss_unusable", tenant)
        return

    async def clients_step() -> StepResult:
        registers = [
            r
            for r in await store.list_registers()
            if r.revoked_at is None and r.tenant_id == tenant
        ]
        rows = {c.register_id: c for c in await store.clients() if c.tss_id == binding.tss_id}
        try:
            remote = {c.id: c for c in await client.list_clients(binding.tss_id)}
        except TsedError as err:
            return failed("clients", err)
        registered = sum(1 for c in remote.values() if c.state == "REGISTERED")
        if not registers:
            return outcome("clients", "ok", "conn.clients.none_paired", registered=registered)
        missing = [
            r.id for r in registers
            if r.id not in rows or remote.get(rows[r.id].client_id) is None
            or remote[rows[r.id].client_id].state != "REGISTERED"
        ]  # fmt: skip
        if missing:
            return outcome("clients", "warn", "conn.clients.missing", missing=len(missing),
                           registers=len(registers), ids=", ".join(missing[:5]))  # fmt: skip
        limit = found[0].max_clients or 199
        counts: dict[str, Any] = {
            "registers": len(registers), "registered": registered, "limit": limit,
        }  # fmt: skip
        if registered > limit - 10:
            return outcome("clients", "warn", "conn.clients.near_limit", **counts)
        return outcome("clients", "ok", "conn.clients.ok", **counts)

    run.add(await timed("clients", tenant, step_timeout, clients_step))


# -- the test ---------------------------------------------------------------------------------


async def run_connection_test(
    *,
    config: Config,
    mode: Mode,
    vault: Vault,
    store: Store,
    access: FiskalyAccess,
    step_timeout: float = 10.0,
    clock: Callable[[], float] = time.time,
    ssl_context: ssl.SSLContext | None = None,
    credential_names: tuple[str, str] = ("api_key", "api_secret"),
    max_skew: float = MAX_SKEW,
    fiskaly_url: str = SIGN_URL,
) -> ConnectionReport:
    """Run every step (bounded by ``timeout`` each) and return the report; never raises for
    a failing step.

    A proxy saved in ``config`` is checked even when ``access`` does not use it (the built-in
    simulator is reached directly): a ``CONNECT`` to ``fiskaly_url``'s host through it, so a
    wrong proxy shows before the unit needs it.
    """
    started = clock()
    run = _Run()
    url = httpx.URL(check_v2_url(access.sign_url))
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    network = ["dns", "proxy", "tls", "auth", "environment", "tss", "clients", "clock"]
    if not config.saved:
        run.add(outcome("config", "fail", "conn.config.not_saved"))
        run.skip(network, "conn.skip.not_saved")
        return ConnectionReport(mode, access.sign_url, tuple(run.steps), started)
    run.add(outcome("config", "ok", "conn.config.ok", saved=config.created_at, mode=mode))
    dns = run.add(
        await timed("dns", None, step_timeout, lambda: check_dns(host, port, access.proxy))
    )
    if dns.verdict == "fail":
        run.skip(network[1:], "conn.skip.unresolvable")
        return ConnectionReport(mode, access.sign_url, tuple(run.steps), started)
    proxy = access.proxy
    saved = proxy_settings(config, vault)
    if proxy is None and saved is not None:
        target = httpx.URL(fiskaly_url)
        run.add(
            await timed(
                "proxy",
                None,
                step_timeout,
                lambda: check_saved_proxy(saved, target.host, target.port or 443),
            )
        )
    elif proxy is None:
        run.add(outcome("proxy", "skipped", "conn.proxy.none"))
    else:
        result = run.add(
            await timed("proxy", None, step_timeout, lambda: check_proxy(proxy, host, port))
        )
        if result.verdict == "fail":
            run.skip(network[2:], "conn.skip.proxy")
            return ConnectionReport(mode, access.sign_url, tuple(run.steps), started)
    if url.scheme != "https":
        run.add(outcome("tls", "skipped", "conn.tls.plain", url=access.sign_url))
    else:
        context = ssl_context or ssl.create_default_context()
        tls = run.add(
            await timed("tls", None, step_timeout, lambda: check_tls(host, port, proxy, context))
        )
        if tls.verdict == "fail":
            run.skip(network[3:], "conn.skip.no_tls")
            return ConnectionReport(mode, access.sign_url, tuple(run.steps), started)
    for tenant in [t.id for t in config.tenant_list()]:
        await _tenant(
            run, access, vault, store, tenant, mode, step_timeout, clock, credential_names
        )
    offset = _clock_step(run, max_skew)
    report = ConnectionReport(mode, access.sign_url, tuple(run.steps), started, offset)
    _LOGGER.info(
        "connection test: %s (%s)", report.verdict,
        "; ".join(f"{s.title} {s.verdict}" for s in report.steps),
        extra={"TSED_EVENT": "connection_test", "TSED_VERDICT": report.verdict},
    )  # fmt: skip
    return report


async def _tenant(
    run: _Run,
    access: FiskalyAccess,
    vault: Vault,
    store: Store,
    tenant: str,
    mode: str,
    step_timeout: float,
    clock: Callable[[], float],
    names: tuple[str, str],
) -> None:
    key = vault.get(vault_key(tenant, mode, names[0]))
    secret = vault.get(vault_key(tenant, mode, names[1]))
    later = ["environment", "tss", "clients"]
    if key is None or secret is None:
        run.add(outcome("auth", "fail", "conn.auth.no_credentials", tenant, mode=mode))
        run.skip(later, "conn.skip.no_credentials", tenant)
        return
    tokens: list[AuthToken] = []

    async def auth_step() -> StepResult:
        try:
            token, offsets = await _auth(access, key, secret, step_timeout, clock)
        except TsedError as err:
            return failed("auth", err)
        tokens.append(token)
        run.offsets.extend(offsets)
        return outcome(
            "auth", "ok", "conn.auth.ok", key=key, organization=token.organization_id or "?"
        )

    auth = run.add(await timed("auth", tenant, step_timeout, auth_step))
    if auth.verdict == "fail" or not tokens:
        run.skip(later, "conn.skip.auth_failed", tenant)
        return
    env = tokens[0].env
    if env != mode:
        run.add(outcome("environment", "fail", "conn.environment.mismatch", tenant, env=env,
                        mode=mode))  # fmt: skip
        run.skip(later[1:], "conn.skip.mismatch", tenant)
        return
    run.add(outcome("environment", "ok", "conn.environment.ok", tenant, env=env))
    client = replace(
        access,
        timeouts=Timeouts(default=step_timeout, connect=min(5.0, step_timeout)),
        retry=RetryPolicy(attempts=1),
    ).sign_client(key, secret)
    try:
        await _tss_and_clients(client, store, tenant, mode, run, step_timeout)
    finally:
        await client.stop()


def _clock_step(run: _Run, max_skew: float) -> float | None:
    if not run.offsets:
        run.add(outcome("clock", "skipped", "conn.skip.no_answer"))
        return None
    offset = max(run.offsets, key=abs)
    if abs(offset) > max_skew:
        run.add(outcome("clock", "warn", "conn.clock.far", offset=f"{offset:+.1f}"))
    else:
        run.add(outcome("clock", "ok", "conn.clock.offset", offset=f"{offset:+.1f}"))
    return offset
