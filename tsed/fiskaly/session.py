"""What the SIGN DE V2 client and the Management API client share: one warm keep-alive pool
(:class:`~tsed.fiskaly.transport.HttpCore`) under the API's path and one access token
(:class:`~tsed.fiskaly.auth.TokenManager`), built from the same arguments.

:class:`~tsed.fiskaly.calls.FiskalyCalls` (under :class:`~tsed.fiskaly.client.FiskalyClient`)
and :class:`~tsed.fiskaly.management.ManagementClient` differ in their default address and API
path only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

from tsed.fiskaly import errors as err
from tsed.fiskaly.auth import TokenManager
from tsed.fiskaly.models import AuthToken, ModelError
from tsed.fiskaly.transport import HttpCore, ProxySettings, RetryPolicy, Timeouts

__all__ = ["ApiSession", "JsonSession", "check_v2_url"]


def check_v2_url(base_url: str) -> str:
    """Refuse fiskaly V1 URLs; returns the host root without a trailing slash."""
    lowered = base_url.lower()
    if "/api/v1" in lowered or "kassensichv.io" in lowered:
        raise err.UnsupportedApiVersion(
            f"{base_url!r} is a fiskaly SIGN DE V1 address; only SIGN DE API V2 is supported"
        )
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise err.UnsupportedApiVersion(f"{base_url!r} is not an http(s) URL")
    root = base_url.rstrip("/")
    for suffix in ("/api/v2", "/api/v0"):
        root = root.removesuffix(suffix)
    return root


class ApiSession:
    """The HTTP core and the token of one fiskaly API client (a subclass names the API)."""

    DEFAULT_BASE_URL: ClassVar[str]
    API_PREFIX: ClassVar[str]

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str | None = None,
        proxy: ProxySettings | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_auth: Callable[[AuthToken], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        root = check_v2_url(self.DEFAULT_BASE_URL if base_url is None else base_url)
        self.base_url = root
        self.timeouts = timeouts or Timeouts()
        self._http = HttpCore(
            root + self.API_PREFIX, proxy=proxy, timeouts=self.timeouts, retry=retry,
            transport=transport,
        )  # fmt: skip
        self._auth = TokenManager(
            self._http, "/auth", api_key, api_secret, on_auth=on_auth, clock=clock
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self.stop()

    async def start(self) -> None:
        await self._http.start()

    async def stop(self) -> None:
        await self._http.stop()

    async def authenticate(self) -> AuthToken:
        """Authenticate now with key and secret (also checks the credentials)."""
        return await self._auth.authenticate()


class JsonSession(ApiSession):
    """A session whose calls are one JSON request each (the Management and SUBMIT DE APIs):
    sent with the token, sent once more with a new token when fiskaly refused the old one."""

    async def _json(self, method: str, path: str, what: str, body: Any = None) -> Any:
        token = await self._auth.token()
        try:
            response = await self._http.request(method, path, what=what, json=body, token=token)
        except err.BadCredentials:
            token = await self._auth.invalidate(token)
            response = await self._http.request(method, path, what=what, json=body, token=token)
        try:
            return response.json()
        except ValueError:
            raise ModelError(f"{what}: fiskaly answered without JSON") from None
