"""The encrypted container of a unit backup (``*.tsedbackup``), format version 1.

A backup holds the vault and the device's private key, so it is encrypted with a key derived
from an installer password. The construction is the one age uses, built from the
``cryptography`` library's primitives (no cipher, KDF or MAC of our own):

* **scrypt** (RFC 7914) turns the password and a random 16-byte salt into a 32-byte secret;
  N = 2^16, r = 8, p = 1 (64 MiB, about 0.2 s on the unit) are written into the header, so a
  later version may raise them and still read old files;
* **HKDF-SHA256** (RFC 5869) derives two keys from it: one for the header's MAC, one for the
  payload;
* the **header** (magic, version, KDF parameters, salt, chunk size) is authenticated with
  HMAC-SHA256: a wrong password fails here, before any payload is read;
* the **payload** is cut into chunks of 1 MiB, each sealed with **ChaCha20-Poly1305**
  (RFC 8439) under the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015, as in
  age): the nonce is the chunk's number (11 bytes) and a last-chunk flag (1 byte), the header
  is the associated data. A changed, reordered, dropped or cut-off chunk fails to open.

Layout (big-endian)::

    magic "TSEDBAK\\n"  8 | version u16 | kdf u8 (1 = scrypt) | log2 N u8 | r u8 | p u8
    salt 16 | log2 chunk size u8 | HMAC-SHA256 of all before 32 | chunk | chunk | ... | last chunk

Why not the ``age`` program (Debian 12 has 1.1.1): its passphrase mode reads the passphrase
from the terminal only, and the unit's nightly copy has none; the container above is age's
own construction with the same primitives.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from tsed.errors import InputError

MAGIC = b"TSEDBAK\n"
CONTAINER_VERSION = 1
KDF_SCRYPT = 1
LOG2_N, SCRYPT_R, SCRYPT_P = 16, 8, 1
LOG2_CHUNK = 20  # 1 MiB
_FIXED = struct.Struct(">8sHBBBB16sB")  # everything the MAC covers
HEADER_SIZE = _FIXED.size + 32
TAG_SIZE = 16
MIN_PASSWORD = 12
_MAX_LOG2_N = 20  # a header asking more memory than this is not ours


class BackupError(InputError, code="BACKUP_FAILED"):
    """A backup cannot be made or read; nothing on the unit was changed."""

    default_hint = (
        "Nothing on the unit was changed. Read the message, correct the file or the password "
        "and run the command again (docs/backup.md)."
    )


class BackupWrongPassword(BackupError, status=403, code="BACKUP_WRONG_PASSWORD"):
    default_hint = (
        "The password does not open this backup: give the password it was created with (on "
        "the installer's record sheet). Nothing on the unit was changed."
    )


class BackupDamaged(BackupError, code="BACKUP_DAMAGED"):
    default_hint = (
        "The file is not a complete tsed backup (damaged, cut off or another file): copy it "
        "again from its source, or take the newest copy from the off-box target. Nothing on "
        "the unit was changed."
    )


class BackupTooNew(BackupError, status=409, code="BACKUP_TOO_NEW"):
    default_hint = (
        "The backup was written by a newer tsed than this unit runs: update the unit first "
        "(tsectl update), then restore. Nothing on the unit was changed."
    )


class BackupPasswordWeak(BackupError, code="BACKUP_PASSWORD_TOO_WEAK"):
    default_hint = (
        f"Choose a backup password of at least {MIN_PASSWORD} characters and write it on the "
        "installer's record sheet: without it nobody can restore the backup."
    )


def check_password(password: str) -> bytes:
    """The password as bytes, refused when too short (the message never repeats it)."""
    if len(password) < MIN_PASSWORD:
        raise BackupPasswordWeak(
            f"the backup password is too short (at least {MIN_PASSWORD} characters)"
        )
    return _utf8(password)


def _utf8(password: str) -> bytes:
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        raise BackupPasswordWeak(
            "the backup password holds characters that are not text (an unpaired surrogate)"
        ) from None


def _keys(password: bytes, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    secret = Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(password)

    def derive(info: bytes) -> bytes:
        return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(secret)

    return derive(b"tsed-backup v1 header"), derive(b"tsed-backup v1 payload")


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _blocks(handle: BinaryIO, size: int) -> Iterator[tuple[bytes, bool]]:
    """``handle`` in blocks of ``size`` bytes, each with whether it is the last one (one
    block, maybe empty, at least)."""
    current = handle.read(size)
    while True:
        following = handle.read(size)
        yield current, not following
        if not following:
            return
        current = following


def encrypt_file(source: Path, target: BinaryIO, password: str) -> None:
    """Seal ``source`` (the payload) into ``target`` with a key derived from ``password``."""
    secret = check_password(password)
    salt = os.urandom(16)
    fixed = _FIXED.pack(MAGIC, CONTAINER_VERSION, KDF_SCRYPT, LOG2_N, SCRYPT_R, SCRYPT_P, salt,
                        LOG2_CHUNK)  # fmt: skip
    header_key, payload_key = _keys(secret, salt, LOG2_N, SCRYPT_R, SCRYPT_P)
    header = fixed + hmac.new(header_key, fixed, hashlib.sha256).digest()
    target.write(header)
    aead = ChaCha20Poly1305(payload_key)
    with source.open("rb") as plain:
        for number, (block, last) in enumerate(_blocks(plain, 1 << LOG2_CHUNK)):
            target.write(aead.encrypt(_nonce(number, last), block, header))


def decrypt_file(source: BinaryIO, target: BinaryIO, password: str) -> None:
    """Open a container from ``source`` into ``target``; a wrong password, a damaged or cut
    off file and a newer format each raise their own :class:`BackupError`."""
    header = source.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE or not header.startswith(MAGIC):
        raise BackupDamaged("the file is not a tsed backup (no tsed backup header)")
    magic, version, kdf, log2_n, r, p, salt, log2_chunk = _FIXED.unpack(header[: _FIXED.size])
    del magic
    if version > CONTAINER_VERSION:
        raise BackupTooNew(
            f"the backup's container has format version {version}; this tsed reads up to "
            f"version {CONTAINER_VERSION}"
        )
    if kdf != KDF_SCRYPT or not 10 <= log2_n <= _MAX_LOG2_N or not 1 <= r <= 32 or p != 1:
        raise BackupDamaged("the backup's header names key parameters this tsed does not use")
    if not 12 <= log2_chunk <= 24:
        raise BackupDamaged("the backup's header names a chunk size this tsed does not use")
    header_key, payload_key = _keys(_utf8(password), salt, log2_n, r, p)
    expected = hmac.new(header_key, header[: _FIXED.size], hashlib.sha256).digest()
    if not hmac.compare_digest(expected, header[_FIXED.size :]):
        raise BackupWrongPassword("the password does not open this backup")
    aead = ChaCha20Poly1305(payload_key)
    blocks = _blocks(source, (1 << log2_chunk) + TAG_SIZE)
    for number, (block, last) in enumerate(blocks):
        try:
            target.write(aead.decrypt(_nonce(number, last), block, header))
        except InvalidTag:
            where = "cut off" if last else "damaged"
            raise BackupDamaged(
                f"the backup is {where}: part {number + 1} does not verify"
            ) from None
