"""RAUC's checks of a bundle, with the real ``rauc`` and a test PKI made here: a bundle of the
vendor passes, a forged one (another CA), one for another device class and one not newer than
the running version are refused with a German message naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.updates import UpdatePki, make_bundle, system_conf
from tsed.unit.rauc import (
    BundleInfo,
    Rauc,
    UpdateBadSignature,
    UpdateDowngrade,
    UpdateFailed,
    UpdateOtherDevice,
    UpdateUnavailable,
    check_bundle,
    parse_version,
    running_version,
    system_compatible,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> UpdatePki:
    return UpdatePki.create(tmp_path_factory.mktemp("pki"))


async def test_a_vendor_bundle_is_read_after_its_signature_verifies(
    tmp_path: Path, pki: UpdatePki
) -> None:
    rauc = Rauc(conf=system_conf(tmp_path, pki.vendor.ca))
    bundle = make_bundle(tmp_path, pki.vendor, "0.3.0")
    info = await rauc.bundle_info(bundle)
    assert info == BundleInfo("tsed-lan-unit", "0.3.0")
    assert system_compatible(rauc.conf) == "tsed-lan-unit"
    check_bundle(info, compatible="tsed-lan-unit", running="0.2.0")  # no refusal


async def test_a_forged_signature_is_refused(tmp_path: Path, pki: UpdatePki) -> None:
    rauc = Rauc(conf=system_conf(tmp_path, pki.vendor.ca))
    forged = make_bundle(tmp_path, pki.forger, "9.0.0")
    with pytest.raises(UpdateBadSignature) as caught:
        await rauc.bundle_info(forged)
    assert "Signatur" in caught.value.message and caught.value.status == 403
    assert "Hersteller" in caught.value.hint


async def test_a_tampered_bundle_is_refused(tmp_path: Path, pki: UpdatePki) -> None:
    rauc = Rauc(conf=system_conf(tmp_path, pki.vendor.ca))
    bundle = make_bundle(tmp_path, pki.vendor, "0.3.0")
    data = bytearray(bundle.read_bytes())
    data[-300] ^= 0xFF  # inside the signature (CMS) at the bundle's end
    bundle.write_bytes(bytes(data))
    with pytest.raises(UpdateFailed):
        await rauc.bundle_info(bundle)


def test_another_device_class_is_refused() -> None:
    with pytest.raises(UpdateOtherDevice) as caught:
        check_bundle(BundleInfo("other-box", "9.0.0"), compatible="tsed-lan-unit", running="0.1")
    assert "'other-box'" in caught.value.message and "'tsed-lan-unit'" in caught.value.message


@pytest.mark.parametrize("version", ["0.2.0", "0.1.9", "0.2"])
def test_a_version_not_newer_than_the_running_one_is_refused(version: str) -> None:
    with pytest.raises(UpdateDowngrade) as caught:
        check_bundle(BundleInfo("tsed-lan-unit", version), compatible="tsed-lan-unit",
                     running="0.2.0")  # fmt: skip
    assert f"Version {version}" in caught.value.message and "0.2.0" in caught.value.message


def test_versions_order_by_number_and_garbage_is_refused() -> None:
    assert parse_version("0.10.0") > parse_version("0.9.9")
    assert parse_version("1") == parse_version("1.0.0.0")
    for bad in ("", "v1.0", "1.0-rc1", "1..2", "1.2.3.4.5"):
        with pytest.raises(UpdateFailed, match="keine Versionsnummer"):
            parse_version(bad)


def test_the_running_version_is_the_images(tmp_path: Path) -> None:
    release = tmp_path / "release"
    assert running_version(release, "0.1.0") == "0.1.0"  # off the device: the daemon's
    release.write_text("0.4.2\n")
    assert running_version(release, "0.1.0") == "0.4.2"


async def test_without_rauc_updates_are_unavailable(tmp_path: Path) -> None:
    with pytest.raises(UpdateUnavailable, match="nicht installiert"):
        await Rauc(binary=str(tmp_path / "no-rauc")).status()
    with pytest.raises(UpdateUnavailable, match="nicht eingerichtet"):
        system_compatible(tmp_path / "system.conf")
