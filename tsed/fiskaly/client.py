"""The fiskaly SIGN DE API V2 client: every operation the unit needs.

Usage::

    async with FiskalyClient(api_key=..., api_secret=..., proxy=...) as client:
        tss = await client.create_tss(uuid4())
        ...

The same client talks to fiskaly and to the built-in simulator (only ``base_url`` differs).
The call core (token, environments, paging) is :class:`~tsed.fiskaly.calls.FiskalyCalls`.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tsed.fiskaly import errors as err
from tsed.fiskaly.answers import until_signed
from tsed.fiskaly.calls import FiskalyCalls
from tsed.fiskaly.calls import path_id as _id
from tsed.fiskaly.models import Client, Export, Transaction, Tss
from tsed.fiskaly.transport import ProxySettings, RetryPolicy, Timeouts

_LOGGER = logging.getLogger(__name__)

__all__ = ["FiskalyClient", "ProxySettings", "RetryPolicy", "Timeouts"]


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


class FiskalyClient(FiskalyCalls):
    """Async client for fiskaly SIGN DE API V2 (one warm keep-alive pool per client)."""

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
