"""The update operations behind ``/admin/v1/update`` (``tsectl update``, the setup page).

``install(source)``: a bundle file on the unit or a URL. A URL is downloaded through the shop's
proxy (the configured one, never the environment's) into the state directory, which lies on
the data partition: the root slots are never written by the daemon. Every bundle is checked
before RAUC writes anything (:func:`tsed.unit.rauc.check_bundle`: signature, device class,
newer version); a file's refusal is the answer of the call itself, a URL's (after its
download) the result in ``status()``. ``rauc install`` then runs in the background; the result
is kept in ``update.json`` (state directory), which the health check after the reboot
(:mod:`tsed.cli.update_health`) completes with ``good`` or ``rolled_back``.

Shown: never a URL's user, password or query (a download token), only scheme, host and path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tsed import __version__
from tsed.config.model import Config
from tsed.errors import InputError, TsedError
from tsed.fiskaly.transport import ProxySettings
from tsed.state.files import atomic_write
from tsed.state.paths import StatePaths
from tsed.state.vault import Vault
from tsed.tss.access import proxy_settings
from tsed.unit.rauc import (
    RELEASE_FILE,
    SYSTEM_CONF,
    Rauc,
    SlotView,
    UpdateDownloadFailed,
    UpdateFailed,
    UpdateUnavailable,
    check_bundle,
    running_version,
    system_compatible,
)

_LOGGER = logging.getLogger(__name__)

BUNDLE_NAME = "download.raucb"  # in the state directory's update/ folder
MAX_BUNDLE = 4 * 1024**3  # a download larger than this is refused (a bundle is ~0.3 GiB)
DOWNLOAD_TIMEOUT = 60.0  # seconds without progress
CHUNK = 1024 * 1024
STATUS_CACHE = 30.0  # seconds the slots' state is reused for the unit's status


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """The last update: ``running`` (download, check or write under way), ``refused``,
    ``failed``, ``installed`` (reboot pending), ``good`` (the new slot passed its health
    check) or ``rolled_back`` (it failed it; the unit went back to the old slot)."""

    state: str
    source: str
    version: str | None = None
    code: str | None = None
    message: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    slot: str | None = None  # the slot written (A / B)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UpdateResult:
        names = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in names})


@dataclass(frozen=True, slots=True)
class UpdateStatus:
    """``GET /admin/v1/update`` and the status's ``update``: versions, slots, last result."""

    available: bool  # RAUC with two slots on this unit
    running_version: str
    booted_slot: str | None
    other_slot: SlotView | None
    last: UpdateResult | None
    reason: str | None = None  # why updates are unavailable


def shown_source(source: str) -> str:
    """A source as shown and recorded: a URL without user, password, query or fragment."""
    parts = urlsplit(source)
    if parts.scheme in {"http", "https"}:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"
    return source


def read_result(path: Path) -> UpdateResult | None:
    try:
        return UpdateResult.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write_result(path: Path, result: UpdateResult) -> None:
    data = {name: getattr(result, name) for name in result.__dataclass_fields__}
    atomic_write(path, json.dumps(data, indent=1).encode(), mode=0o644)


def _http_proxy(proxy: ProxySettings | None) -> httpx.Proxy | None:
    if proxy is None:
        return None
    auth = (proxy.username, proxy.password or "") if proxy.username else None
    return httpx.Proxy(f"http://{proxy.display}", auth=auth)


class UpdateOps:
    """The unit's update operations (one install at a time)."""

    def __init__(
        self, *, state_dir: Path, config: Callable[[], Config], vault: Vault,
        rauc: Rauc | None = None, release_file: Path = RELEASE_FILE,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.paths = StatePaths(state_dir)
        self.config = config
        self.vault = vault
        self.rauc = rauc or Rauc()
        self.release_file = release_file
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._cached: tuple[float, UpdateStatus] | None = None

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], **kwargs: Any
    ) -> UpdateOps:  # the tests' RAUC and system.conf; the unit's own by default
        rauc = Rauc(
            binary=environ.get("TSED_RAUC", "rauc"),
            conf=Path(environ.get("TSED_RAUC_CONF", str(SYSTEM_CONF))),
        )
        release = Path(environ.get("TSED_RELEASE_FILE", str(RELEASE_FILE)))
        return cls(rauc=rauc, release_file=release, **kwargs)

    @property
    def running(self) -> str:
        return running_version(self.release_file, __version__)

    async def update_status(self) -> UpdateStatus:
        last = read_result(self.paths.update_result)
        try:
            rauc = await self.rauc.status()
        except TsedError as err:
            found = UpdateStatus(False, self.running, None, None, last, err.message)
        else:
            other = next((s for s in rauc.slots if s.bootname != rauc.booted), None)
            found = UpdateStatus(True, self.running, rauc.booted or None, other, last)
        self._cached = (self.clock(), found)
        return found

    async def status_summary(self) -> UpdateStatus:
        """For the unit's status (polled by the setup page): RAUC asked at most every
        STATUS_CACHE seconds, the last result read each time."""
        cached = self._cached
        if cached is None or self.clock() - cached[0] > STATUS_CACHE:
            return await self.update_status()
        return replace(cached[1], last=read_result(self.paths.update_result))

    async def update_install(self, source: str) -> UpdateResult:
        """Check (a file) or start downloading (a URL) and install ``source`` in the
        background; the answer is the result so far (``running``)."""
        source = source.strip()
        if not source:
            raise InputError(
                "source fehlt: eine Datei (absoluter Pfad) oder eine http(s)-Adresse",
                hint="tsectl update install /pfad/zum/paket.raucb oder https://…/paket.raucb",
            )
        if self._task is not None and not self._task.done():
            raise UpdateFailed(
                "Es läuft bereits ein Update", hint="Warten Sie, bis es fertig ist: tsectl "
                "update status."
            )  # fmt: skip
        compatible = system_compatible(self.rauc.conf)
        scheme = urlsplit(source).scheme
        started = self.clock()
        result = UpdateResult("running", shown_source(source), started_at=started)
        if scheme in {"http", "https"}:
            coro = self._download_then_install(source, compatible, result)
        else:
            bundle = Path(source)
            if not bundle.is_absolute() or not await asyncio.to_thread(bundle.is_file):
                raise InputError(
                    f"Update-Paket {source!r} nicht gefunden (ein absoluter Pfad auf dem Gerät)",
                    hint=f"Kopieren Sie das Paket nach {self.paths.update_dir} und geben Sie "
                    "den vollen Pfad an, oder eine http(s)-Adresse.",
                )
            result = await self._checked(bundle, compatible, result)
            coro = self._install(bundle, result)
        write_result(self.paths.update_result, result)
        self._task = asyncio.create_task(coro, name="tsed-update")
        return result

    async def _checked(self, bundle: Path, compatible: str, result: UpdateResult) -> UpdateResult:
        try:
            info = await self.rauc.bundle_info(bundle)
            result = replace(result, version=info.version)
            check_bundle(info, compatible=compatible, running=self.running)
        except TsedError as err:
            write_result(self.paths.update_result, self._ended(result, "refused", err))
            event = {"TSED_EVENT": "update_refused", "TSED_CODE": err.code}
            _LOGGER.warning("update refused: %s", err.message, extra=event)
            raise
        return result

    def _ended(self, result: UpdateResult, state: str, err: TsedError | None) -> UpdateResult:
        return replace(
            result, state=state, code=err.code if err else None,
            message=err.message if err else None, finished_at=self.clock(),
        )  # fmt: skip

    async def _download_then_install(self, url: str, compatible: str, result: UpdateResult) -> None:
        target = self.paths.update_dir / BUNDLE_NAME
        try:
            await self._download(url, target)
            result = await self._checked(target, compatible, result)
        except TsedError as err:
            if read_result(self.paths.update_result) == result:  # not yet recorded as refused
                write_result(self.paths.update_result, self._ended(result, "failed", err))
            target.unlink(missing_ok=True)
            return
        await self._install(target, result)

    async def _download(self, url: str, target: Path) -> None:
        target.parent.mkdir(mode=0o700, exist_ok=True)
        proxy = proxy_settings(self.config(), self.vault)
        partial = target.with_suffix(".part")
        size = 0
        try:
            async with httpx.AsyncClient(
                proxy=_http_proxy(proxy), trust_env=False, timeout=DOWNLOAD_TIMEOUT,
                follow_redirects=True,
            ) as client, client.stream("GET", url) as response:  # fmt: skip
                if response.status_code != 200:
                    raise UpdateDownloadFailed(
                        f"Download von {shown_source(url)}: HTTP {response.status_code}"
                    )
                with partial.open("wb") as out:
                    async for chunk in response.aiter_bytes(CHUNK):
                        size += len(chunk)
                        if size > MAX_BUNDLE:
                            raise UpdateDownloadFailed(
                                f"Download von {shown_source(url)}: größer als "
                                f"{MAX_BUNDLE // 1024**3} GiB, kein Update-Paket"
                            )
                        out.write(chunk)
            partial.replace(target)
        except httpx.HTTPError as err:
            raise UpdateDownloadFailed(
                f"Download von {shown_source(url)} fehlgeschlagen ({type(err).__name__})"
            ) from None
        except OSError as err:
            raise UpdateDownloadFailed(
                f"Das Update-Paket kann nicht gespeichert werden ({err.strerror})",
                hint="Auf der Datenpartition ist zu wenig Platz: tsectl status zeigt den Platz.",
            ) from None
        finally:
            partial.unlink(missing_ok=True)
        _LOGGER.info("update: downloaded %d bytes from %s", size, shown_source(url))

    async def _install(self, bundle: Path, result: UpdateResult) -> None:
        try:
            before = await self.rauc.status()
            other = next((s.bootname for s in before.slots if s.bootname != before.booted), None)
            await self.rauc.install(bundle)
        except TsedError as err:
            write_result(self.paths.update_result, self._ended(result, "failed", err))
            _LOGGER.error("update failed: %s", err.message,
                          extra={"TSED_EVENT": "update_failed", "TSED_CODE": err.code})  # fmt: skip
            return
        finally:
            if bundle.parent == self.paths.update_dir:
                await asyncio.to_thread(bundle.unlink, missing_ok=True)
        done = replace(self._ended(result, "installed", None), slot=other)
        write_result(self.paths.update_result, done)
        _LOGGER.info("update %s installed into slot %s; active after the reboot",
                     result.version, other, extra={"TSED_EVENT": "update_installed"})  # fmt: skip

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


__all__ = ["UpdateOps", "UpdateResult", "UpdateStatus", "UpdateUnavailable", "shown_source"]
