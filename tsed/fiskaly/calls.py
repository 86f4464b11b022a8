"""The call core under the fiskaly SIGN DE API V2 client: the V2 address, the access token,
one repeat after a refused token, the TSS environments learnt from answers, paging.

:class:`~tsed.fiskaly.client.FiskalyClient` adds the operations on top of it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import httpx

from tsed.fiskaly import errors as err
from tsed.fiskaly.answers import TssEnvironments
from tsed.fiskaly.auth import TokenManager
from tsed.fiskaly.models import AuthToken, ModelError
from tsed.fiskaly.transport import HttpCore, ProxySettings, RetryPolicy, Timeouts

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://kassensichv-middleware.fiskaly.com"
API_PREFIX = "/api/v2"
PAGE_SIZE = 100

__all__ = ["DEFAULT_BASE_URL", "FiskalyCalls", "check_v2_url", "path_id"]


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


def path_id(value: uuid.UUID | str) -> str:
    """An id as it goes into a fiskaly path (lower case)."""
    return str(value).lower()


class FiskalyCalls:
    """The call core of :class:`~tsed.fiskaly.client.FiskalyClient` (one warm keep-alive pool
    per client): token, environments, a repeated call after a refused token, paging."""

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str = DEFAULT_BASE_URL,
        proxy: ProxySettings | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_auth: Callable[[AuthToken], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        root = check_v2_url(base_url)
        self.timeouts = timeouts or Timeouts()
        self._http = HttpCore(
            root + API_PREFIX, proxy=proxy, timeouts=self.timeouts, retry=retry,
            transport=transport,
        )  # fmt: skip
        self._auth = TokenManager(
            self._http, "/auth", api_key, api_secret, on_auth=on_auth, clock=clock
        )
        self.base_url = root
        self._envs = TssEnvironments()

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

    async def set_proxy(self, proxy: ProxySettings | None) -> None:
        """Go through ``proxy`` (None: directly) from the next call on; no restart needed."""
        await self._http.set_proxy(proxy)

    @property
    def token(self) -> AuthToken | None:
        return self._auth.current

    @property
    def environment(self) -> str | None:
        token = self._auth.current
        return token.env if token else None

    @property
    def proxy(self) -> ProxySettings | None:
        return self._http.proxy

    @property
    def last_failure(self) -> err.FiskalyError | None:
        """Why the latest call attempt failed (None once a call succeeded)."""
        return self._http.last_failure

    async def authenticate(self) -> AuthToken:
        """Authenticate now with key and secret (also checks the credentials)."""
        return await self._auth.authenticate()

    def note_tss_env(self, tss_id: uuid.UUID | str, env: str) -> None:
        """The TSS's environment as the caller knows it (a stored binding)."""
        self._envs.note(path_id(tss_id), env)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: Any = None,
        attempt_timeout: float | None = None,
        deadline: float | None = None,
        reauth: bool = True,
        idempotent: bool = True,
    ) -> httpx.Response:
        """One call. A 401 refusing the token (``E_UNAUTHORIZED`` or no code) authenticates
        again and repeats the call once, unless ``reauth`` is False; other 401s are answers."""
        token = await self._auth.token(deadline=deadline)
        try:
            try:
                return await self._http.request(
                    method, path, what=what, json=json, params=params, token=token,
                    attempt_timeout=attempt_timeout, deadline=deadline, idempotent=idempotent,
                )  # fmt: skip
            except err.BadCredentials as failure:
                if not reauth or failure.fiskaly_code not in (None, "E_UNAUTHORIZED"):
                    raise
                token = await self._auth.invalidate(token, deadline=deadline)
                return await self._http.request(
                    method, path, what=what, json=json, params=params, token=token,
                    attempt_timeout=attempt_timeout, deadline=deadline,
                )  # fmt: skip
        except err.AccessDenied as failure:
            if isinstance(failure, err.EnvironmentMismatch):
                raise
            raise self._envs.access_denied(failure, path, self.environment) from None

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._call(method, path, **kwargs)
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            raise ModelError(f"{kwargs.get('what')}: fiskaly answered without JSON") from None
        self._envs.learn(path, data)
        return data

    async def _pages(self, path: str, what: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = await self._json(
                "GET", path, what=what, params={**params, "limit": PAGE_SIZE, "offset": offset}
            )
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise ModelError(f"{what}: fiskaly list without data")
            items.extend(data)
            if len(data) < PAGE_SIZE:
                return items
            offset += PAGE_SIZE

    @staticmethod
    def _states(states: list[str] | None) -> dict[str, Any]:
        return {"states[]": states} if states else {}
