"""The call core under the fiskaly SIGN DE API V2 client: the V2 address, the access token
(both :class:`~tsed.fiskaly.session.ApiSession`), one repeat after a refused token, the TSS
environments learnt from answers, paging.

:class:`~tsed.fiskaly.client.FiskalyClient` adds the operations on top of it.
"""

from __future__ import annotations

import logging
import uuid
from functools import cached_property
from typing import Any, ClassVar

import httpx

from tsed.fiskaly import errors as err
from tsed.fiskaly.answers import TssEnvironments
from tsed.fiskaly.models import AuthToken, ModelError
from tsed.fiskaly.session import ApiSession
from tsed.fiskaly.transport import ProxySettings

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://kassensichv-middleware.fiskaly.com"
API_PREFIX = "/api/v2"
PAGE_SIZE = 100

__all__ = ["DEFAULT_BASE_URL", "FiskalyCalls", "path_id"]


def path_id(value: uuid.UUID | str) -> str:
    """An id as it goes into a fiskaly path (lower case)."""
    return str(value).lower()


class FiskalyCalls(ApiSession):
    """The call core of :class:`~tsed.fiskaly.client.FiskalyClient` (one warm keep-alive pool
    per client): token, environments, a repeated call after a refused token, paging."""

    DEFAULT_BASE_URL: ClassVar[str] = DEFAULT_BASE_URL
    API_PREFIX: ClassVar[str] = API_PREFIX

    @cached_property
    def _envs(self) -> TssEnvironments:
        return TssEnvironments()

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
