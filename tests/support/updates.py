"""A test PKI and RAUC bundles for the update tests (never shipped: made in each test).

``UpdatePki`` is a vendor's update CA with one signing certificate (and a second, foreign CA
for forged bundles), made with the ``openssl`` command line; ``make_bundle`` packs a payload
as a RAUC bundle (``rauc bundle``, verity format, like ``image/bundle``).
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

COMPATIBLE = "tsed-lan-unit"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass(frozen=True)
class Signer:
    cert: Path
    key: Path
    ca: Path


def _ca(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}-ca.key", folder / f"{name}-ca.pem"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", "30", "-subj", f"/CN={name} update CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
    )  # fmt: skip
    return key, cert


def _signer(folder: Path, name: str, ca_key: Path, ca_cert: Path) -> Signer:
    key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
    ext = folder / f"{name}.ext"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n")
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name} update signer",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "30", "-extfile", str(ext),
    )  # fmt: skip
    return Signer(cert, key, ca_cert)


@dataclass(frozen=True)
class UpdatePki:
    vendor: Signer  # signs with the vendor's update key (its CA is the unit's keyring)
    forger: Signer  # a key of another CA: what a forged bundle is signed with

    @classmethod
    def create(cls, folder: Path) -> UpdatePki:
        folder.mkdir(parents=True, exist_ok=True)
        vendor = _signer(folder, "vendor", *_ca(folder, "vendor"))
        forger = _signer(folder, "forger", *_ca(folder, "forger"))
        return cls(vendor, forger)


def system_conf(folder: Path, keyring: Path, compatible: str = COMPATIBLE) -> Path:
    """A ``system.conf`` as on the unit (two ext4 root slots, GRUB), keyring = the test CA."""
    conf = folder / "system.conf"
    conf.write_text(
        f"[system]\ncompatible={compatible}\nbootloader=grub\n"
        f"grubenv={folder / 'grubenv'}\nstatusfile={folder / 'rauc.status'}\n\n"
        f"[keyring]\npath={keyring}\n\n"
        "[slot.rootfs.0]\ndevice=/dev/disk/by-partlabel/rootfs-a\ntype=ext4\nbootname=A\n\n"
        "[slot.rootfs.1]\ndevice=/dev/disk/by-partlabel/rootfs-b\ntype=ext4\nbootname=B\n"
    )
    return conf


def make_bundle(
    folder: Path, signer: Signer, version: str, *, compatible: str = COMPATIBLE,
    payload: bytes | None = None,
) -> Path:  # fmt: skip
    """A signed bundle of ``payload`` (the root filesystem image) as ``version``."""
    content = folder / f"content-{version}-{compatible}"
    content.mkdir(parents=True)
    # incompressible, or squashfs makes it smaller than RAUC accepts
    filler = random.Random(f"{version} {compatible}").randbytes(65536)
    (content / "rootfs.ext4").write_bytes(payload or filler)
    (content / "manifest.raucm").write_text(
        f"[update]\ncompatible={compatible}\nversion={version}\n\n[bundle]\nformat=verity\n\n"
        "[image.rootfs]\nfilename=rootfs.ext4\n"
    )
    bundle = folder / f"tsed-{version}-{compatible}-{signer.cert.stem}.raucb"
    subprocess.run(
        ["rauc", "bundle", f"--cert={signer.cert}", f"--key={signer.key}",
         str(content), str(bundle)],
        check=True, capture_output=True,
    )  # fmt: skip
    return bundle
