"""The unit's A/B updates through RAUC: the bundle's checks, the slots' state, the marks.

RAUC (Debian's ``rauc``) does the work: it verifies a bundle's signature against the vendor's
update CA (the keyring in ``/etc/rauc/system.conf``), writes the root filesystem into the slot
not booted, and switches GRUB's boot order (``image/README.md``, "Updates"). This module only
runs its command line and reads its JSON answers:

* :meth:`Rauc.bundle_info` (``rauc info``): signature verified, compatible and version read;
* :func:`check_bundle`: the unit's refusals before anything is written, each in German for the
  installer: a bad signature, another device class (``compatible``), a version not newer than
  the running one;
* :meth:`Rauc.status` (``rauc status``): booted slot, the other slot's version and state;
* :meth:`Rauc.install`, :meth:`Rauc.mark` (``rauc install``, ``rauc status mark-good|bad``).

No secret passes through here: bundles are public, their signatures are checked, not made.
"""

from __future__ import annotations

import asyncio
import configparser
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tsed.errors import TsedError

_LOGGER = logging.getLogger(__name__)

SYSTEM_CONF = Path("/etc/rauc/system.conf")
RELEASE_FILE = Path("/usr/share/tsed/release")  # the image's version, written by image/build
INFO_TIMEOUT = 120.0  # seconds: ``rauc info`` hashes nothing large, TCG guests are slow
INSTALL_TIMEOUT = 1800.0  # seconds: writing a 2 GiB slot on slow flash
_VERSION_RE = re.compile(r"^\d+(\.\d+){0,3}$")


class UpdateFailed(TsedError, status=500, code="UPDATE_FAILED"):
    default_hint = (
        "Das Update wurde nicht installiert; die Kasse signiert weiter mit der laufenden "
        "Version. Details: journalctl -u rauc -u tsed."
    )


class UpdateBadSignature(UpdateFailed, status=403, code="UPDATE_BAD_SIGNATURE"):
    default_hint = (
        "Nur Update-Pakete des Herstellers werden installiert. Laden Sie das Paket erneut "
        "aus der Quelle des Herstellers."
    )


class UpdateOtherDevice(UpdateFailed, status=409, code="UPDATE_OTHER_DEVICE_CLASS"):
    default_hint = "Verwenden Sie das Update-Paket für dieses Gerät (TSE-LAN-Einheit)."


class UpdateDowngrade(UpdateFailed, status=409, code="UPDATE_DOWNGRADE"):
    default_hint = (
        "Installieren Sie eine neuere Version; ältere Versionen können die Daten einer neueren "
        "nicht sicher lesen."
    )


class UpdateUnavailable(UpdateFailed, status=503, code="UPDATE_UNAVAILABLE"):
    default_hint = (
        "Updates gibt es nur auf dem Gerät selbst (RAUC mit zwei Systempartitionen); prüfen "
        "Sie: systemctl status rauc."
    )


class UpdateDownloadFailed(UpdateFailed, status=502, code="UPDATE_DOWNLOAD_FAILED"):
    default_hint = (
        "Prüfen Sie die Adresse des Update-Pakets und den Proxy (tsectl config show); oder "
        "kopieren Sie das Paket auf das Gerät und installieren Sie die Datei."
    )


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """What a bundle says of itself, after RAUC verified its signature."""

    compatible: str
    version: str


@dataclass(frozen=True, slots=True)
class SlotView:
    """One root slot as RAUC sees it."""

    name: str  # rootfs.0 / rootfs.1
    bootname: str  # A / B (GRUB's names)
    state: str  # booted / inactive / active
    boot_status: str  # good / bad (GRUB's X_OK), or "" when RAUC cannot tell
    version: str | None  # the bundle version installed into it, None before the first update
    installed_at: str | None
    install_status: str | None  # RAUC's result of the last write into the slot ("ok", …)


@dataclass(frozen=True, slots=True)
class RaucStatus:
    compatible: str
    booted: str  # the booted slot's bootname (A / B)
    primary: str | None  # the slot GRUB boots next
    slots: tuple[SlotView, ...]


def parse_version(text: str) -> tuple[int, ...]:
    """``0.2.1`` as (0, 2, 1); anything else is refused (a version RAUC signed but the unit
    cannot order is not installed)."""
    value = text.strip()
    if not _VERSION_RE.match(value):
        raise UpdateFailed(
            f"Die Version {value!r} des Update-Pakets ist keine Versionsnummer (z. B. 0.2.0)",
            hint="Verwenden Sie ein Update-Paket des Herstellers.",
        )
    parts = [int(part) for part in value.split(".")]
    return tuple(parts + [0] * (4 - len(parts)))


def running_version(release_file: Path, fallback: str) -> str:
    """The image's version (``/usr/share/tsed/release``); the daemon's own off the device."""
    try:
        text = release_file.read_text(encoding="utf-8").strip()
    except OSError:
        return fallback
    return text or fallback


def system_compatible(conf: Path) -> str:
    """The device class of ``system.conf`` (``[system] compatible``)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(conf.read_text(encoding="utf-8"))
        return parser["system"]["compatible"].strip()
    except (OSError, KeyError, configparser.Error) as err:
        raise UpdateUnavailable(
            f"RAUC ist auf diesem Gerät nicht eingerichtet ({conf}: {err})"
        ) from None


def check_bundle(info: BundleInfo, *, compatible: str, running: str) -> None:
    """The unit's refusals of a bundle RAUC verified: another device class, not newer."""
    if info.compatible != compatible:
        raise UpdateOtherDevice(
            f"Das Update-Paket ist für {info.compatible!r}, dieses Gerät ist {compatible!r}"
        )
    if parse_version(info.version) <= parse_version(running):
        raise UpdateDowngrade(
            f"Das Update-Paket hat Version {info.version}, es läuft bereits Version {running}: "
            "nur neuere Versionen werden installiert"
        )


async def _run(argv: list[str], limit: float) -> tuple[int, str, str]:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except OSError as err:
        raise UpdateUnavailable(f"RAUC ist nicht installiert ({argv[0]}: {err.strerror})") from None
    try:
        async with asyncio.timeout(limit):
            out, errors = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise UpdateFailed(f"{' '.join(argv[2:4])} antwortete nicht in {limit:.0f} s") from None
    return proc.returncode or 0, out.decode(errors="replace"), errors.decode(errors="replace")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    messages = [line for line in lines if "rauc-Message" not in line]
    return (messages or lines or ["(keine Ausgabe)"])[-1][:300]


def _slot(name: str, data: Mapping[str, Any]) -> SlotView:
    status = data.get("slot_status") or {}
    bundle = status.get("bundle") or {}
    installed = status.get("installed") or {}
    return SlotView(
        name=name,
        bootname=str(data.get("bootname") or ""),
        state=str(data.get("state") or ""),
        boot_status=str(data.get("boot_status") or ""),
        version=bundle.get("version"),
        installed_at=installed.get("timestamp"),
        install_status=status.get("status"),
    )


def parse_status(text: str) -> RaucStatus:
    """``rauc status --detailed --output-format=json`` as a :class:`RaucStatus`."""
    try:
        data = json.loads(text)
        slots = tuple(
            _slot(name, value)
            for entry in data.get("slots") or []
            for name, value in entry.items()
            if name.startswith("rootfs.")
        )
        return RaucStatus(
            compatible=str(data.get("compatible") or ""),
            booted=str(data.get("booted") or ""),
            primary=data.get("boot_primary"),
            slots=slots,
        )
    except (ValueError, AttributeError, TypeError) as err:
        raise UpdateFailed(f"rauc status antwortete unlesbar: {err}") from None


@dataclass(frozen=True, slots=True)
class Rauc:
    """RAUC's command line on this unit (``binary`` and ``conf`` are options for the tests)."""

    binary: str = "rauc"
    conf: Path = SYSTEM_CONF

    def _argv(self, *args: str) -> list[str]:
        return [self.binary, f"--conf={self.conf}", *args]

    async def bundle_info(self, bundle: Path) -> BundleInfo:
        code, out, err = await _run(
            self._argv("info", "--output-format=json", str(bundle)), INFO_TIMEOUT
        )
        if code != 0:
            reason = _last_line(err)
            if "signature" in err.lower() or "verify" in err.lower():
                raise UpdateBadSignature(f"Die Signatur des Update-Pakets ist ungültig ({reason})")
            raise UpdateFailed(f"Das Update-Paket ist nicht lesbar ({reason})")
        try:
            data = json.loads(out)
            return BundleInfo(str(data["compatible"]), str(data["version"]))
        except (ValueError, KeyError, TypeError) as error:
            raise UpdateFailed(f"rauc info antwortete unlesbar: {error}") from None

    async def status(self) -> RaucStatus:
        code, out, err = await _run(
            self._argv("status", "--detailed", "--output-format=json"), INFO_TIMEOUT
        )
        if code != 0:
            raise UpdateUnavailable(f"rauc status: {_last_line(err)}")
        return parse_status(out)

    async def install(self, bundle: Path) -> None:
        _LOGGER.info("update: installing %s", bundle.name, extra={"TSED_EVENT": "update_install"})
        code, out, err = await _run(self._argv("install", str(bundle)), INSTALL_TIMEOUT)
        if code != 0:
            raise UpdateFailed(f"rauc install: {_last_line(err or out)}")

    async def mark(self, good: bool) -> None:
        """Mark the booted slot good (GRUB keeps booting it) or bad (GRUB boots the other)."""
        state = "mark-good" if good else "mark-bad"
        code, out, err = await _run(self._argv("status", state), INFO_TIMEOUT)
        if code != 0:
            raise UpdateFailed(f"rauc status {state}: {_last_line(err or out)}")
