"""HttpCore's shortcuts around httpx: URLs built from the parsed base, headers normalized once
per token. What goes on the wire must equal what httpx builds itself."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import respx
from aiohttp import web

from tsed.fiskaly import errors as err
from tsed.fiskaly.transport import HttpCore, RetryPolicy, Timeouts, _UrlMaker

BASES = [
    "http://127.0.0.1:8000/api/v2",
    "https://kassensichv-middleware.fiskaly.com/api/v2",
    "http://[::1]:8080/api/v2",
    "https://example.test",
]
PATHS = [
    ("/tss/0b6f5b9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b/tx/6f1c9e8a-0000-4000-8000-000000000001", None),
    ("/tss/0b6f5b9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b/tx/7", "tx_revision=2"),
    ("/auth", None),
    ("/tss", "limit=100&offset=200"),
]


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize(("path", "query"), PATHS)
def test_made_urls_equal_parsed_ones(base: str, path: str, query: str | None) -> None:
    maker = _UrlMaker(base)
    assert maker._fast
    made = maker.url(path, query)
    parsed = httpx.URL(base + path + (f"?{query}" if query else ""))
    assert made == parsed
    assert str(made) == str(parsed)
    assert (made.host, made.port, made.raw_path) == (parsed.host, parsed.port, parsed.raw_path)


@pytest.mark.parametrize(
    ("path", "query"),
    [("/tss/a b", None), ("/tss/ä", None), ("/tss", "states%5B%5D=ACTIVE"), ("/x?y", None)],
)
def test_other_characters_take_httpx_parser(path: str, query: str | None) -> None:
    maker = _UrlMaker(BASES[0])
    assert maker.url(path, query) == httpx.URL(BASES[0] + path + (f"?{query}" if query else ""))


@pytest.mark.parametrize(
    "make",
    [
        lambda self, path, query: httpx.URL("http://elsewhere.test/"),  # builds wrong URLs
        lambda self, path, query: (_ for _ in ()).throw(AttributeError("_uri_reference")),
    ],
)
def test_shortcut_stays_off_when_httpx_internals_differ(
    monkeypatch: pytest.MonkeyPatch, make: object
) -> None:
    monkeypatch.setattr(_UrlMaker, "_make", make)
    maker = _UrlMaker(BASES[0])
    assert not maker._fast
    assert maker.url("/auth", "a=1") == httpx.URL(BASES[0] + "/auth?a=1")


async def test_each_request_carries_its_own_token_and_body_headers() -> None:
    base = "https://kassensichv-middleware.fiskaly.com/api/v2"
    with respx.mock(base_url=base, using="httpx") as router:
        route = router.put("/tss/abc/tx/def").mock(return_value=httpx.Response(200, json={}))
        get = router.get("/tss/abc").mock(return_value=httpx.Response(200, json={}))
        core = HttpCore(base)
        await core.start()
        try:
            for token in ("one", "two", "one"):
                await core.request(
                    "PUT", "/tss/abc/tx/def", what="t", json={"a": "ä"}, token=token,
                    params={"tx_revision": 2},
                )  # fmt: skip
            await core.request("GET", "/tss/abc", what="t", token=None)
        finally:
            await core.stop()
    sent = [call.request for call in route.calls]
    assert [r.headers["Authorization"] for r in sent] == ["Bearer one", "Bearer two", "Bearer one"]
    assert all(r.headers["Content-Type"] == "application/json" for r in sent)
    assert all(r.url.params["tx_revision"] == "2" for r in sent)
    assert sent[0].content == '{"a":"ä"}'.encode()
    assert sent[0].headers["Content-Length"] == str(len(sent[0].content))
    plain = get.calls[0].request
    assert "Authorization" not in plain.headers and "Content-Type" not in plain.headers


async def test_an_answer_that_stalls_mid_body_times_out_at_the_attempts_budget() -> None:
    """No per-chunk read timeout is armed: the attempt's one deadline covers the connection,
    the headers and every chunk of the body (a real server on loopback, aiohttp's client)."""
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"state": ')  # the rest never comes within the budget
        await release.wait()
        return response

    app = web.Application()
    app.router.add_put("/tss/abc/tx/def", stall)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    core = HttpCore(
        f"http://127.0.0.1:{port}",
        timeouts=Timeouts(default=0.4, connect=0.2),
        retry=RetryPolicy(attempts=1),
    )
    await core.start()
    try:
        started = time.monotonic()
        with pytest.raises(err.FiskalyTimeout):
            await core.request("PUT", "/tss/abc/tx/def", what="t", json={}, idempotent=True)
        assert 0.35 < time.monotonic() - started < 2.0
    finally:
        release.set()
        await core.stop()
        await runner.cleanup()
