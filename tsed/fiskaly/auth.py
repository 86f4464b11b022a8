"""Access tokens for fiskaly: cached, refreshed before expiry, one refresh at a time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from tsed.fiskaly import errors as err
from tsed.fiskaly.models import AuthToken
from tsed.fiskaly.transport import HttpCore

_LOGGER = logging.getLogger(__name__)


class TokenManager:
    """Hands out a valid access token; concurrent callers share one (re-)authentication.

    The token is refreshed with the refresh token once 90 % of its lifetime (from
    ``expires_in``/``expires_at``, never a constant) has passed; when the refresh fails, the
    key and secret are used again. ``on_auth`` is called after every successful
    authentication, e.g. to compare the token's environment with the unit's mode.
    """

    def __init__(
        self,
        http: HttpCore,
        path: str,
        api_key: str,
        api_secret: str,
        *,
        on_auth: Callable[[AuthToken], None] | None = None,
        clock: Callable[[], float] = time.time,
        refresh_fraction: float = 0.9,
    ) -> None:
        self._http = http
        self._path = path
        self._api_key = api_key
        self._api_secret = api_secret
        self._on_auth = on_auth
        self._clock = clock
        self._fraction = refresh_fraction
        self._token: AuthToken | None = None
        self._lock = asyncio.Lock()
        self.authentications = 0

    @property
    def current(self) -> AuthToken | None:
        return self._token

    def __repr__(self) -> str:
        return f"TokenManager(api_key={self._api_key!r})"

    async def token(self, *, deadline: float | None = None) -> str:
        token = self._token
        if token is not None and not token.refresh_due(self._clock(), self._fraction):
            return token.access_token
        async with self._lock:
            token = self._token
            if token is None or token.refresh_due(self._clock(), self._fraction):
                token = await self._authenticate(deadline=deadline)
            return token.access_token

    async def invalidate(self, rejected: str, *, deadline: float | None = None) -> str:
        """The access token ``rejected`` got a 401: authenticate again (once for all callers)."""
        async with self._lock:
            token = self._token
            if token is None or token.access_token == rejected:
                self._token = None
                token = await self._authenticate(deadline=deadline, allow_refresh=False)
            return token.access_token

    async def authenticate(self) -> AuthToken:
        async with self._lock:
            return await self._authenticate(deadline=None, allow_refresh=False)

    async def _authenticate(
        self, *, deadline: float | None, allow_refresh: bool = True
    ) -> AuthToken:
        now = self._clock()
        old = self._token
        if (
            allow_refresh
            and old is not None
            and old.refresh_token
            and (old.refresh_expires_at is None or old.refresh_expires_at > now + 5)
        ):
            try:
                return self._store(
                    await self._post({"refresh_token": old.refresh_token}, deadline), "refresh"
                )
            except err.BadCredentials:
                _LOGGER.info("fiskaly refresh token refused; authenticating with the API key")
        body = {"api_key": self._api_key, "api_secret": self._api_secret}
        return self._store(await self._post(body, deadline), "key")

    async def _post(self, body: dict[str, str], deadline: float | None) -> AuthToken:
        response = await self._http.request(
            "POST", self._path, what="authentication", json=body, deadline=deadline
        )
        try:
            data = response.json()
        except ValueError:
            raise err.FiskalyError("authentication: fiskaly answered without JSON") from None
        return AuthToken.parse(data, self._clock())

    def _store(self, token: AuthToken, how: str) -> AuthToken:
        self._token = token
        self.authentications += 1
        _LOGGER.info(
            "fiskaly authentication (%s) ok: env %s, valid for %.0f s",
            how,
            token.env,
            token.access_expires_at - token.issued_at,
            extra={"TSED_EVENT": "fiskaly_auth", "TSED_MODE": token.env},
        )
        if self._on_auth is not None:
            try:
                self._on_auth(token)
            except Exception:
                self._token = None  # a refused token is never used
                raise
        return token
