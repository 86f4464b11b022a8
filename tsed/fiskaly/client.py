"""The fiskaly SIGN DE API V2 client: every operation the unit needs.

Usage::

    async with FiskalyClient(api_key=..., api_secret=..., proxy=...) as client:
        tss = await client.create_tss(uuid4())
        ...

The same client talks to fiskaly and to the built-in simulator (only ``base_url`` differs).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from tsed.fiskaly import errors as err
from tsed.fiskaly.answers import TssEnvironments, until_signed
from tsed.fiskaly.auth import TokenManager
from tsed.fiskaly.models import AuthToken, Client, Export, ModelError, Transaction, Tss
from tsed.fiskaly.transport import HttpCore, ProxySettings, RetryPolicy, Timeouts

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://kassensichv-middleware.fiskaly.com"
API_PREFIX = "/api/v2"
PAGE_SIZE = 100

__all__ = [
    "DEFAULT_BASE_URL",
    "FiskalyClient",
    "ProxySettings",
    "RetryPolicy",
    "Timeouts",
    "check_v2_url",
]


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


def write_durably(dest: Path, payload: bytes) -> None:
    """``dest`` whole or not at all, also across a power cut: written under a temporary name,
    flushed to the disk, then renamed, and the rename flushed too. Without the first flush a
    cut after the rename can leave the name on an empty or short file (ext4 allocates the
    data later than it commits the rename)."""
    tmp = dest.with_name(dest.name + ".part")
    with tmp.open("wb") as out:
        out.write(payload)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(dest)
    folder = os.open(dest.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _id(value: uuid.UUID | str) -> str:
    return str(value).lower()


class FiskalyClient:
    """Async client for fiskaly SIGN DE API V2 (one warm keep-alive pool per client)."""

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
        return f"FiskalyClient(base_url={self.base_url!r})"

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
        self._envs.note(_id(tss_id), env)

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

    # -- TSS --------------------------------------------------------------------------------

    async def create_tss(
        self, tss_id: uuid.UUID | str, metadata: Mapping[str, str] | None = None
    ) -> Tss:
        """Create a TSS (state CREATED). The result is the only place the admin PUK shows."""
        body = {"metadata": dict(metadata)} if metadata else {}
        data = await self._json(
            "PUT", f"/tss/{_id(tss_id)}", what="create TSS", json=body,
            attempt_timeout=self.timeouts.tss_setup,
        )  # fmt: skip
        return Tss.parse(data)

    async def get_tss(self, tss_id: uuid.UUID | str) -> Tss:
        return Tss.parse(await self._json("GET", f"/tss/{_id(tss_id)}", what="read TSS"))

    async def list_tss(self, states: list[str] | None = None) -> list[Tss]:
        rows = await self._pages("/tss", "list TSS", self._states(states))
        return [Tss.parse(row) for row in rows]

    async def set_tss_state(
        self, tss_id: uuid.UUID | str, state: str, *, description: str | None = None
    ) -> Tss:
        """Change the TSS state (UNINITIALIZED personalizes it: slow, ≥ 30 s timeout)."""
        body: dict[str, Any] = {"state": state}
        if description is not None:
            body["description"] = description
        data = await self._json(
            "PATCH", f"/tss/{_id(tss_id)}", what=f"set TSS state {state}", json=body,
            attempt_timeout=self.timeouts.tss_setup,
        )  # fmt: skip
        return Tss.parse(data)

    async def change_admin_pin(
        self, tss_id: uuid.UUID | str, admin_puk: str, new_admin_pin: str
    ) -> None:
        await self._call(
            "PATCH", f"/tss/{_id(tss_id)}/admin", what="set admin PIN",
            json={"admin_puk": admin_puk, "new_admin_pin": new_admin_pin},
        )  # fmt: skip

    async def admin_login(self, tss_id: uuid.UUID | str, admin_pin: str) -> None:
        """Log in as the TSS admin, never repeated (five refused attempts block the PIN). A 401
        is a wrong PIN unless a read of the TSS (no PIN attempt) shows the token is refused."""
        path = f"/tss/{_id(tss_id)}/admin/auth"
        try:
            await self._call(
                "POST", path, what="admin login", json={"admin_pin": admin_pin}, reauth=False,
                idempotent=False,  # not even after a timeout: an attempt may have counted
            )  # fmt: skip
        except err.BadCredentials as failure:
            token = self._auth.current
            try:
                await self._http.request(
                    "GET", f"/tss/{_id(tss_id)}", what="check the access token",
                    token=token.access_token if token else None,
                )  # fmt: skip
            except err.BadCredentials:
                if token is not None:
                    await self._auth.invalidate(token.access_token)
                raise err.BadCredentials(
                    "admin login: fiskaly refused the access token; the admin PIN was not "
                    "checked and the login is not repeated",
                    fiskaly_status=failure.fiskaly_status,
                    fiskaly_code=failure.fiskaly_code,
                    fiskaly_message=failure.fiskaly_message,
                    details=failure.details,
                    hint="Try again: the unit has authenticated anew.",
                ) from None
            raise err.AdminPinRejected(
                f"admin login on TSS {_id(tss_id)}: fiskaly refused the admin PIN "
                f"({failure.fiskaly_status} {failure.fiskaly_code or 'without code'})",
                fiskaly_status=failure.fiskaly_status,
                fiskaly_code=failure.fiskaly_code,
                fiskaly_message=failure.fiskaly_message,
                details=failure.details,
            ) from None

    async def admin_logout(self, tss_id: uuid.UUID | str) -> None:
        await self._call("POST", f"/tss/{_id(tss_id)}/admin/logout", what="admin logout", json={})

    async def get_tss_metadata(self, tss_id: uuid.UUID | str) -> dict[str, str]:
        data = await self._json("GET", f"/tss/{_id(tss_id)}/metadata", what="read TSS metadata")
        return dict(data)

    async def update_tss_metadata(
        self, tss_id: uuid.UUID | str, metadata: Mapping[str, str]
    ) -> dict[str, str]:
        data = await self._json(
            "PATCH", f"/tss/{_id(tss_id)}/metadata", what="update TSS metadata",
            json=dict(metadata),
        )  # fmt: skip
        return dict(data)

    # -- clients ----------------------------------------------------------------------------

    async def create_client(
        self,
        tss_id: uuid.UUID | str,
        client_id: uuid.UUID | str,
        serial_number: str,
        metadata: Mapping[str, str] | None = None,
    ) -> Client:
        body: dict[str, Any] = {"serial_number": serial_number}
        if metadata:
            body["metadata"] = dict(metadata)
        data = await self._json(
            "PUT", f"/tss/{_id(tss_id)}/client/{_id(client_id)}", what="register client",
            json=body,
        )  # fmt: skip
        return Client.parse(data)

    async def get_client(self, tss_id: uuid.UUID | str, client_id: uuid.UUID | str) -> Client:
        data = await self._json(
            "GET", f"/tss/{_id(tss_id)}/client/{_id(client_id)}", what="read client"
        )
        return Client.parse(data)

    async def list_clients(self, tss_id: uuid.UUID | str) -> list[Client]:
        rows = await self._pages(f"/tss/{_id(tss_id)}/client", "list clients", {})
        return [Client.parse(row) for row in rows]

    async def set_client_state(
        self, tss_id: uuid.UUID | str, client_id: uuid.UUID | str, state: str
    ) -> Client:
        """REGISTERED or DEREGISTERED (needs an admin login)."""
        data = await self._json(
            "PATCH", f"/tss/{_id(tss_id)}/client/{_id(client_id)}", what=f"client {state}",
            json={"state": state},
        )  # fmt: skip
        return Client.parse(data)

    # -- transactions -----------------------------------------------------------------------

    async def upsert_transaction(
        self,
        tss_id: uuid.UUID | str,
        tx_id: uuid.UUID | str,
        revision: int,
        *,
        state: str,
        client_id: uuid.UUID | str,
        schema: Mapping[str, Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> Transaction:
        body: dict[str, Any] = {"state": state, "client_id": _id(client_id)}
        if schema is not None:
            body["schema"] = dict(schema)
        if metadata:
            body["metadata"] = dict(metadata)
        data = await self._json(
            "PUT", f"/tss/{_id(tss_id)}/tx/{_id(tx_id)}", what=f"transaction {state.lower()}",
            json=body, params={"tx_revision": revision}, attempt_timeout=self.timeouts.transaction,
            deadline=deadline,
        )  # fmt: skip
        return await self._signed(tss_id, Transaction.parse(data), deadline)

    async def _signed(
        self, tss_id: str | uuid.UUID, tx: Transaction, deadline: float | None
    ) -> Transaction:
        """``tx`` once signed (a pending answer is read again; see :func:`until_signed`)."""
        if not tx.pending:
            return tx
        give_up = deadline if deadline is not None else time.monotonic() + self.timeouts.default

        async def read(pending: Transaction) -> Transaction:
            data = await self._json(
                "GET", f"/tss/{_id(tss_id)}/tx/{_id(pending.id)}",
                what="read pending transaction", params={"tx_revision": pending.revision},
                attempt_timeout=self.timeouts.transaction, deadline=give_up,
            )  # fmt: skip
            return Transaction.parse(data)

        return await until_signed(tx, read, give_up)

    async def start_transaction(
        self,
        tss_id: uuid.UUID | str,
        tx_id: uuid.UUID | str,
        client_id: uuid.UUID | str,
        *,
        metadata: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> Transaction:
        """Revision 1, ACTIVE, no schema (DSFinV-K: type and data empty at start)."""
        return await self.upsert_transaction(
            tss_id, tx_id, 1, state="ACTIVE", client_id=client_id, metadata=metadata,
            deadline=deadline,
        )  # fmt: skip

    async def finish_transaction(
        self,
        tss_id: uuid.UUID | str,
        tx_id: uuid.UUID | str,
        revision: int,
        client_id: uuid.UUID | str,
        receipt: Mapping[str, Any],
        *,
        metadata: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> Transaction:
        """End with a ``standard_v1`` receipt; the answer carries ``qr_code_data``."""
        return await self.upsert_transaction(
            tss_id, tx_id, revision, state="FINISHED", client_id=client_id,
            schema={"standard_v1": {"receipt": dict(receipt)}}, metadata=metadata,
            deadline=deadline,
        )  # fmt: skip

    async def cancel_transaction(
        self,
        tss_id: uuid.UUID | str,
        tx_id: uuid.UUID | str,
        revision: int,
        client_id: uuid.UUID | str,
        receipt: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> Transaction:
        """End as CANCELLED; without a receipt a CANCELLATION receipt with no amounts is sent
        (fiskaly refuses to end a transaction whose type was never defined)."""
        body = dict(receipt) if receipt else {
            "receipt_type": "CANCELLATION", "amounts_per_vat_rate": []
        }  # fmt: skip
        return await self.upsert_transaction(
            tss_id, tx_id, revision, state="CANCELLED", client_id=client_id,
            schema={"standard_v1": {"receipt": body}}, metadata=metadata, deadline=deadline,
        )  # fmt: skip

    async def get_transaction(
        self,
        tss_id: uuid.UUID | str,
        tx_id_or_number: uuid.UUID | str | int,
        revision: int | None = None,
        *,
        deadline: float | None = None,
    ) -> Transaction:
        params = {"tx_revision": revision} if revision is not None else None
        data = await self._json(
            "GET", f"/tss/{_id(tss_id)}/tx/{_id(str(tx_id_or_number))}", what="read transaction",
            params=params, attempt_timeout=self.timeouts.transaction, deadline=deadline,
        )  # fmt: skip
        return await self._signed(tss_id, Transaction.parse(data), deadline)

    async def list_transactions(
        self, tss_id: uuid.UUID | str, states: list[str] | None = None
    ) -> list[Transaction]:
        """Every transaction of the TSS in the given states, paging through all of them."""
        rows = await self._pages(
            f"/tss/{_id(tss_id)}/tx", "list transactions", self._states(states)
        )
        return [Transaction.parse(row) for row in rows]

    # -- exports ----------------------------------------------------------------------------

    async def trigger_export(
        self, tss_id: uuid.UUID | str, export_id: uuid.UUID | str, **filters: str | int
    ) -> Export:
        params = {key: str(value) for key, value in filters.items() if value is not None}
        data = await self._json(
            "PUT", f"/tss/{_id(tss_id)}/export/{_id(export_id)}", what="start export", json={},
            params=params or None, attempt_timeout=self.timeouts.export,
        )  # fmt: skip
        return Export.parse(data)

    async def get_export(self, tss_id: uuid.UUID | str, export_id: uuid.UUID | str) -> Export:
        data = await self._json(
            "GET", f"/tss/{_id(tss_id)}/export/{_id(export_id)}", what="read export"
        )
        return Export.parse(data)

    async def cancel_export(self, tss_id: uuid.UUID | str, export_id: uuid.UUID | str) -> Export:
        data = await self._json(
            "DELETE", f"/tss/{_id(tss_id)}/export/{_id(export_id)}", what="cancel export"
        )
        return Export.parse(data)

    async def download_export(
        self, tss_id: uuid.UUID | str, export_id: uuid.UUID | str, dest: Path | None = None
    ) -> bytes:
        """The export's TAR file (also written to ``dest`` when given)."""
        response = await self._call(
            "GET", f"/tss/{_id(tss_id)}/export/{_id(export_id)}/file", what="download export",
            attempt_timeout=self.timeouts.export,
        )  # fmt: skip
        payload = response.content
        if dest is not None:
            write_durably(dest, payload)
        return payload
