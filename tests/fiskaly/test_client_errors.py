"""Retry rules, token handling and error mapping of the client (respx-mocked fiskaly)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import httpx
import pytest
import respx

from tsed.fiskaly import errors as err
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.transport import RetryPolicy

BASE = "https://kassensichv-middleware.fiskaly.com/api/v2"
SECRET = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3t"
TSS = str(uuid.uuid4())


def auth_body(expires_in: int = 86400, token: str = "tok-1") -> dict:
    now = int(time.time())
    return {
        "access_token": token,
        "access_token_claims": {"env": "TEST", "organization_id": "org"},
        "access_token_expires_in": expires_in,
        "access_token_expires_at": now + expires_in,
        "refresh_token": "refresh-" + token,
        "refresh_token_expires_in": expires_in * 2,
        "refresh_token_expires_at": now + expires_in * 2,
    }


def tss_body() -> dict:
    return {"_id": TSS, "state": "INITIALIZED", "_env": "TEST", "time_creation": 1,
            "signature_counter": "27", "transaction_counter": 3}  # fmt: skip


def error(status: int, code: str | None, message: str = "msg", **headers: str) -> httpx.Response:
    body = {"status_code": status, "error": "x", "message": message}
    if code:
        body["code"] = code
    return httpx.Response(status, json=body, headers=headers)


def make_client(clock=time.time, **kwargs) -> FiskalyClient:
    retry = kwargs.pop("retry", RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02))
    return FiskalyClient(api_key="test_key", api_secret=SECRET, clock=clock, retry=retry, **kwargs)


@pytest.fixture
def mock():
    with respx.mock(base_url=BASE, using="httpx", assert_all_called=False) as router:
        yield router


async def test_token_is_cached_and_refreshed_before_expiry(mock) -> None:
    now = [1_000_000.0]
    auth = mock.post("/auth").mock(
        side_effect=[httpx.Response(200, json=auth_body(100, "a")),
                     httpx.Response(200, json=auth_body(100, "b"))]
    )  # fmt: skip
    tss = mock.get(f"/tss/{TSS}").mock(return_value=httpx.Response(200, json=tss_body()))
    async with make_client(clock=lambda: now[0]) as client:
        await client.get_tss(TSS)
        now[0] += 50
        await client.get_tss(TSS)
        assert auth.call_count == 1  # cached
        now[0] += 41  # 91 % of the 100 s lifetime
        await client.get_tss(TSS)
    assert auth.call_count == 2
    assert b"refresh_token" in auth.calls[1].request.content  # refreshed, not re-keyed
    assert tss.calls[2].request.headers["Authorization"] == "Bearer b"


async def test_refresh_failure_falls_back_to_key_and_secret(mock) -> None:
    now = [1_000_000.0]
    auth = mock.post("/auth").mock(
        side_effect=[httpx.Response(200, json=auth_body(100, "a")),
                     error(401, "E_UNAUTHORIZED", "Invalid refresh token"),
                     httpx.Response(200, json=auth_body(100, "c"))]
    )  # fmt: skip
    mock.get(f"/tss/{TSS}").mock(return_value=httpx.Response(200, json=tss_body()))
    async with make_client(clock=lambda: now[0]) as client:
        await client.get_tss(TSS)
        now[0] += 95
        await client.get_tss(TSS)
    assert auth.call_count == 3
    assert b"api_secret" in auth.calls[2].request.content


async def test_401_reauthenticates_and_retries_once(mock) -> None:
    auth = mock.post("/auth").mock(
        side_effect=[httpx.Response(200, json=auth_body(token="a")),
                     httpx.Response(200, json=auth_body(token="b"))]
    )  # fmt: skip
    tss = mock.get(f"/tss/{TSS}").mock(
        side_effect=[error(401, "E_UNAUTHORIZED"), httpx.Response(200, json=tss_body())]
    )
    async with make_client() as client:
        result = await client.get_tss(TSS)
    assert result.signature_counter == 27 and result.transaction_counter == 3
    assert auth.call_count == 2 and tss.call_count == 2
    assert tss.calls[1].request.headers["Authorization"] == "Bearer b"


async def test_concurrent_callers_share_one_authentication(mock) -> None:
    async def slow_auth(request):
        await asyncio.sleep(0.05)
        return httpx.Response(200, json=auth_body())

    auth = mock.post("/auth").mock(side_effect=slow_auth)
    mock.get(f"/tss/{TSS}").mock(return_value=httpx.Response(200, json=tss_body()))
    async with make_client() as client:
        await asyncio.gather(*(client.get_tss(TSS) for _ in range(20)))
    assert auth.call_count == 1


async def test_429_honours_retry_after(mock) -> None:
    mock.post("/auth").mock(return_value=httpx.Response(200, json=auth_body()))
    tss = mock.get(f"/tss/{TSS}").mock(
        side_effect=[error(429, None, **{"Retry-After": "0.3"}),
                     httpx.Response(200, json=tss_body())]
    )  # fmt: skip
    async with make_client() as client:
        await client.authenticate()
        started = time.monotonic()
        await client.get_tss(TSS)
        waited = time.monotonic() - started
    assert tss.call_count == 2
    assert waited >= 0.3  # waited as fiskaly asked, not the 10 ms backoff


async def test_5xx_and_tss_locked_are_retried(mock) -> None:
    mock.post("/auth").mock(return_value=httpx.Response(200, json=auth_body()))
    tss = mock.get(f"/tss/{TSS}").mock(
        side_effect=[error(502, None), error(503, "E_TSS_LOCKED"),
                     httpx.Response(200, json=tss_body())]
    )  # fmt: skip
    async with make_client() as client:
        await client.get_tss(TSS)
    assert tss.call_count == 3


async def test_network_errors_are_retried_then_reported(mock) -> None:
    mock.post("/auth").mock(return_value=httpx.Response(200, json=auth_body()))
    tss = mock.get(f"/tss/{TSS}").mock(side_effect=httpx.ConnectError("refused"))
    async with make_client() as client:
        with pytest.raises(err.FiskalyUnavailable) as info:
            await client.get_tss(TSS)
    assert tss.call_count == 3
    assert "kassensichv-middleware.fiskaly.com" in info.value.message


@pytest.mark.parametrize(
    ("response", "kind", "local_status"),
    [
        (error(400, "E_TX_UPSERT"), err.RevisionConflict, 409),
        (error(400, "E_TX_LIMIT_REACHED"), err.TransactionLimitReached, 409),
        (error(403, "E_CLIENT_LIMIT_REACHED"), err.ClientLimitReached, 409),
        # the wording alone is no mismatch: the environments decide (test_client_conformance)
        (error(403, "E_ACCESS_DENIED", "You may not access this TSS"), err.AccessDenied, 403),
        (error(401, "E_CLIENT_DEREGISTERED"), err.ClientDeregistered, 409),
        (error(423, "E_ADMIN_PIN_BLOCKED"), err.AdminPinBlocked, 409),
        (error(400, "E_TSS_NOT_INITIALIZED"), err.TssNotReady, 503),
        (error(400, "E_TSS_DISABLED"), err.TssNotReady, 503),
        (error(423, "E_TSS_DEFECTIVE"), err.TssUnusable, 503),
        (error(423, "E_TSS_DELETED"), err.TssUnusable, 503),
        (error(404, "E_TSS_NOT_FOUND"), err.FiskalyNotFound, 404),
        (error(400, "E_FAILED_SCHEMA_VALIDATION"), err.FiskalyRejected, 502),
        (httpx.Response(407), err.ProxyAuthRequired, 503),
    ],
)
async def test_errors_are_typed_with_hints_and_not_retried(mock, response, kind, local_status):
    mock.post("/auth").mock(return_value=httpx.Response(200, json=auth_body()))
    route = mock.get(f"/tss/{TSS}").mock(return_value=response)
    async with make_client() as client:
        with pytest.raises(kind) as info:
            await client.get_tss(TSS)
    assert type(info.value) is kind
    assert info.value.hint and info.value.status == local_status
    assert route.call_count == 1


async def test_deadline_bounds_retries(mock) -> None:
    mock.post("/auth").mock(return_value=httpx.Response(200, json=auth_body()))

    async def slow(request):
        await asyncio.sleep(0.2)
        return error(503, None)

    route = mock.put(url__regex=r".*/tx/.*").mock(side_effect=slow)
    client = make_client(retry=RetryPolicy(attempts=10, base_delay=0.05, max_delay=0.05))
    async with client:
        await client.authenticate()
        started = time.monotonic()
        with pytest.raises(err.FiskalyError):
            await client.start_transaction(
                TSS, uuid.uuid4(), uuid.uuid4(), deadline=time.monotonic() + 0.5
            )
        elapsed = time.monotonic() - started
    assert route.call_count < 10
    assert elapsed < 2.0  # the 10 attempts would take > 2.5 s; the deadline stopped them


async def test_attempt_timeout_is_a_fiskaly_timeout(mock) -> None:
    mock.post("/auth").mock(return_value=httpx.Response(200, json=auth_body()))

    async def hang(request):
        await asyncio.sleep(5)
        return httpx.Response(200, json=tss_body())

    mock.put(url__regex=r".*/tx/.*").mock(side_effect=hang)
    client = make_client(retry=RetryPolicy(attempts=1))
    async with client:
        await client.authenticate()
        with pytest.raises(err.FiskalyTimeout):
            await client.start_transaction(
                TSS, uuid.uuid4(), uuid.uuid4(), deadline=time.monotonic() + 0.2
            )


async def test_bad_credentials_never_echo_the_secret(mock, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    mock.post("/auth").mock(return_value=error(401, None, "Invalid credentials"))
    async with make_client() as client:
        with pytest.raises(err.BadCredentials) as info:
            await client.authenticate()
    text = str(info.value) + info.value.hint + repr(info.value) + repr(client)
    text += "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert SECRET not in text
    assert "Anlegen" in info.value.hint


def test_models_accept_counters_as_string_or_number() -> None:
    from tsed.fiskaly.models import ModelError, Transaction

    base = {
        "_id": "t", "tss_id": "s", "tss_serial_number": "ab", "client_id": "c",
        "client_serial_number": "ERS 1", "state": "FINISHED", "number": "7", "revision": 2,
        "latest_revision": 2, "time_start": 1, "time_end": 2,
        "log": {"operation": "Finish", "timestamp": 2, "timestamp_format": "unixTime"},
        "signature": {"value": "v", "algorithm": "ecdsa-plain-SHA256", "counter": "58",
                      "public_key": "k"},
        "schema": {"raw": {"process_type": "Kassenbeleg-V1", "process_data": "QmVsZWc="}},
        "unknown_future_field": True,
    }  # fmt: skip
    tx = Transaction.parse(base)
    assert tx.signature_counter == 58 and tx.number == 7 and tx.process_data == "Beleg"
    numeric = {**base, "signature": {**base["signature"], "counter": 58}}
    assert Transaction.parse(numeric).signature_counter == 58
    missing = {k: v for k, v in base.items() if k != "number"}
    with pytest.raises(ModelError) as info:
        Transaction.parse(missing)
    assert "number" in info.value.message


async def test_dns_failure_is_named() -> None:
    client = FiskalyClient(
        api_key="k",
        api_secret="s",
        base_url="https://no-such-host.invalid",
        retry=RetryPolicy(attempts=1),
    )
    async with client:
        with pytest.raises(err.DnsError) as info:
            await client.authenticate()
    assert "no-such-host.invalid" in info.value.message and "DNS" in info.value.hint


async def test_tls_failure_is_named() -> None:
    from aiohttp import web

    app = web.Application()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        client = FiskalyClient(
            api_key="k",
            api_secret="s",
            base_url=f"https://127.0.0.1:{port}",
            retry=RetryPolicy(attempts=1),
        )
        async with client:
            with pytest.raises(err.TlsError) as info:
                await client.authenticate()
        assert "TLS" in info.value.message and "clock" in info.value.hint
    finally:
        await runner.cleanup()
