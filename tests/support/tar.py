"""A TAR export from the real simulator with every kind of signed log, and TAR surgery."""

from __future__ import annotations

import asyncio
import io
import tarfile
import uuid
from dataclasses import dataclass
from typing import Any

from tests.fiskaly.simulator.conftest import PIN, RECEIPT, Api


@dataclass(frozen=True)
class RichExport:
    tar: bytes
    tss_id: str
    tss: dict[str, Any]
    puk: str


async def download_export(api: Api, tss_id: str, **params: Any) -> bytes:
    """Trigger an export, poll it (bounded: 10 polls, within the 12 per minute) and fetch it."""
    export_id = str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}/export/{export_id}", {}, **params)
    for _ in range(10):
        await asyncio.sleep(0.15)
        state = (await api.ok("GET", f"/tss/{tss_id}/export/{export_id}"))["state"]
        if state == "COMPLETED":
            break
    assert state == "COMPLETED", state
    response = await api.call("GET", f"/tss/{tss_id}/export/{export_id}/file")
    assert response.status_code == 200, response.text
    return response.content


async def rich_export(api: Api) -> RichExport:
    """Deploy, PUK → PIN, a wrong PIN, login, init, two clients (one deregistered), three
    sales (one with an update), logout, disable: then the whole TSS exported."""
    tss_id = str(uuid.uuid4())
    created = await api.ok("PUT", f"/tss/{tss_id}", {})
    await api.ok("PATCH", f"/tss/{tss_id}", {"state": "UNINITIALIZED"})
    await api.ok("PATCH", f"/tss/{tss_id}/admin",
                 {"admin_puk": created["admin_puk"], "new_admin_pin": PIN})  # fmt: skip
    wrong = await api.call("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": "999999"})
    assert wrong.status_code == 401
    await api.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})
    await api.ok("PATCH", f"/tss/{tss_id}", {"state": "INITIALIZED", "description": "Kasse 1"})
    client_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())
    await api.ok("PUT", f"/tss/{tss_id}/client/{client_id}", {"serial_number": "ERS 1"})
    await api.ok("PUT", f"/tss/{tss_id}/client/{other_id}", {"serial_number": "ERS 2"})
    await api.ok("PATCH", f"/tss/{tss_id}/client/{other_id}", {"state": "DEREGISTERED"})
    await api.ok("POST", f"/tss/{tss_id}/admin/logout", {})
    for _ in range(2):
        await api.sale(tss_id, client_id)
    tx_id = str(uuid.uuid4())
    active = {"state": "ACTIVE", "client_id": client_id}
    await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", active, tx_revision=1)
    await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", active, tx_revision=2)
    cancel = {"state": "CANCELLED", "client_id": client_id,
              "schema": {"standard_v1": {"receipt": RECEIPT}}}  # fmt: skip
    await api.ok("PUT", f"/tss/{tss_id}/tx/{tx_id}", cancel, tx_revision=3)
    await api.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})
    await api.ok("PATCH", f"/tss/{tss_id}", {"state": "DISABLED"})
    tss = await api.ok("GET", f"/tss/{tss_id}")
    tar = await download_export(api, tss_id)
    return RichExport(tar, tss_id, tss, created["admin_puk"])


def members(tar: bytes) -> dict[str, bytes]:
    """The files of a TAR, in archive order."""
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive:
            extracted = archive.extractfile(member)
            assert extracted is not None
            out[member.name] = extracted.read()
    return out


def build(files: dict[str, bytes]) -> bytes:
    """A ustar archive of ``files``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()
