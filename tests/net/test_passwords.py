"""The admin password's hash: parameters stored with it, old hashes still verify, one thread."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path

import pytest

from tests.support.security import web_login
from tests.support.unit import running_unit
from tsed.errors import LockedOut
from tsed.net.passwords import (
    COST,
    LEGACY_COST,
    PasswordHasher,
    ScryptCost,
    hash_password,
    needs_rehash,
    parse_stored,
    verify_password,
)
from tsed.unit.setup_ops import PASSWORD_KEY

SECRET = "ein ganzer Satz als Passwort"


def _legacy(password: str) -> str:
    """The first stored form, as the unit wrote it before the cost travelled with the hash."""
    salt = bytes(range(16))
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def test_the_cost_is_stored_with_the_hash_and_every_form_verifies() -> None:
    stored = hash_password(SECRET)
    assert stored.startswith(f"scrypt${COST.log2_n}${COST.r}${COST.p}$")
    assert verify_password(SECRET, stored) and not verify_password(SECRET + "!", stored)
    other = hash_password(SECRET, cost=ScryptCost(11, 4, 2))
    assert parse_stored(other) is not None and parse_stored(other)[0] == ScryptCost(11, 4, 2)  # type: ignore[index]
    assert verify_password(SECRET, other) and needs_rehash(other)
    legacy = _legacy(SECRET)
    assert parse_stored(legacy) is not None and parse_stored(legacy)[0] == LEGACY_COST  # type: ignore[index]
    assert verify_password(SECRET, legacy) and not verify_password("falsch", legacy)
    assert needs_rehash(legacy) == (LEGACY_COST != COST)
    assert not needs_rehash(stored)


@pytest.mark.parametrize(
    "stored",
    ["", "scrypt", "bcrypt$x$y", "scrypt$zz$00", "scrypt$40$8$1$00$" + "00" * 32,
     "scrypt$14$8$1$$" + "00" * 32, "scrypt$14$8$1$00$00", "scrypt$¹4$8$1$00$" + "00" * 32],
)  # fmt: skip
def test_damaged_or_foreign_hashes_never_verify_and_never_raise(stored: str) -> None:
    assert not verify_password(SECRET, stored)  # 2^40 would need terabytes: refused unread


async def test_a_legacy_hash_logs_in_and_is_stored_again_with_the_current_cost(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "state") as unit:
        unit.daemon.vault.set(PASSWORD_KEY, _legacy(SECRET))
        web, _csrf = await web_login(unit, SECRET)
        await web.aclose()
        stored = unit.daemon.vault.get(PASSWORD_KEY)
        assert stored is not None and verify_password(SECRET, stored)
        assert parse_stored(stored)[0] == COST  # type: ignore[index]


async def test_the_hasher_runs_on_one_thread_of_its_own_with_a_short_queue() -> None:
    hasher = PasswordHasher(max_waiting=2)
    stored = hash_password(SECRET)
    threads: set[str] = set()
    original = hashlib.scrypt

    def spy(*args: object, **kwargs: object) -> bytes:
        threads.add(threading.current_thread().name)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    hashlib.scrypt = spy  # type: ignore[assignment]
    try:
        results = await asyncio.gather(
            *(hasher.verify(SECRET, stored) for _ in range(5)), return_exceptions=True
        )
    finally:
        hashlib.scrypt = original
        hasher.close()
    assert results[:2] == [True, True]
    assert all(isinstance(r, LockedOut) and r.code == "BUSY" for r in results[2:])
    assert len(threads) == 1 and next(iter(threads)).startswith("tsed-scrypt")
