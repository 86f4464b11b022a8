"""The backup container: a round trip over chunk boundaries, and one clear error for each way a
file can be wrong (password, a changed byte, a cut, a newer version, another file)."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pytest

from tsed.state.backupfile import (
    HEADER_SIZE,
    LOG2_CHUNK,
    TAG_SIZE,
    BackupDamaged,
    BackupPasswordWeak,
    BackupTooNew,
    BackupWrongPassword,
    decrypt_file,
    encrypt_file,
)

PASSWORD = "Kasse-Backup-Passwort-1"
CHUNK = 1 << LOG2_CHUNK


def seal(tmp_path: Path, payload: bytes, password: str = PASSWORD) -> bytes:
    source = tmp_path / "payload"
    source.write_bytes(payload)
    out = io.BytesIO()
    encrypt_file(source, out, password)
    return out.getvalue()


def opened(sealed: bytes, password: str = PASSWORD) -> bytes:
    out = io.BytesIO()
    decrypt_file(io.BytesIO(sealed), out, password)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK])
def test_round_trip_over_chunk_boundaries(tmp_path: Path, size: int) -> None:
    payload = os.urandom(size)
    sealed = seal(tmp_path, payload)
    chunks = max(1, -(-size // CHUNK))
    assert len(sealed) == HEADER_SIZE + size + chunks * TAG_SIZE
    # plaintext never shows through; below 16 bytes a chance match is too likely to test
    assert size < 16 or payload[:64] not in sealed[HEADER_SIZE:]
    assert opened(sealed) == payload


def test_two_files_of_the_same_payload_differ(tmp_path: Path) -> None:
    payload = b"registers and counters" * 100
    assert seal(tmp_path, payload) != seal(tmp_path, payload)  # a fresh salt each time


def test_a_wrong_password_is_named_as_such(tmp_path: Path) -> None:
    sealed = seal(tmp_path, b"x" * 1000)
    with pytest.raises(BackupWrongPassword) as caught:
        opened(sealed, "Kasse-Backup-Passwort-2")
    assert "Kasse-Backup-Passwort" not in caught.value.message + caught.value.hint


def test_a_changed_byte_is_damage(tmp_path: Path) -> None:
    sealed = bytearray(seal(tmp_path, os.urandom(CHUNK + 500)))
    sealed[HEADER_SIZE + 10] ^= 0x01  # inside the first of two chunks
    with pytest.raises(BackupDamaged, match="damaged: part 1"):
        opened(bytes(sealed))


@pytest.mark.parametrize("keep", [HEADER_SIZE, HEADER_SIZE + 100, HEADER_SIZE + CHUNK + TAG_SIZE])
def test_a_cut_off_file_is_named_so(tmp_path: Path, keep: int) -> None:
    sealed = seal(tmp_path, os.urandom(2 * CHUNK + 10))
    with pytest.raises(BackupDamaged, match="cut off"):
        opened(sealed[:keep])  # mid-chunk, or exactly at a chunk's end


def test_chunks_cannot_be_dropped_or_reordered(tmp_path: Path) -> None:
    sealed = seal(tmp_path, os.urandom(3 * CHUNK))
    size = CHUNK + TAG_SIZE
    header, body = sealed[:HEADER_SIZE], sealed[HEADER_SIZE:]
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    with pytest.raises(BackupDamaged):
        opened(header + parts[1] + parts[0] + parts[2])
    with pytest.raises(BackupDamaged):
        opened(header + parts[0] + parts[2])


def test_a_newer_container_version_is_refused_before_the_password(tmp_path: Path) -> None:
    sealed = bytearray(seal(tmp_path, b"payload"))
    struct.pack_into(">H", sealed, 8, 2)
    with pytest.raises(BackupTooNew, match="format version 2"):
        opened(bytes(sealed), "any password at all")


def test_another_file_is_not_a_backup(tmp_path: Path) -> None:
    with pytest.raises(BackupDamaged, match="not a tsed backup"):
        opened(b"PK\x03\x04" + b"\x00" * 200)
    with pytest.raises(BackupDamaged, match="not a tsed backup"):
        opened(b"")


def test_a_short_password_is_refused_without_repeating_it(tmp_path: Path) -> None:
    with pytest.raises(BackupPasswordWeak) as caught:
        seal(tmp_path, b"x", "kurz-1234")
    assert "kurz-1234" not in caught.value.message + caught.value.hint


def test_a_password_that_is_not_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackupPasswordWeak, match="not text"):
        seal(tmp_path, b"x", "zwölf-Zeichen-\ud800")
