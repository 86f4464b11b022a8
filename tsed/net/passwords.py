"""The admin password's hash (scrypt) and the one bounded thread that computes it.

Stored form: ``scrypt$<log2 N>$<r>$<p>$<salt hex>$<hash hex>``: the cost parameters travel
with the hash, so raising :data:`COST` later keeps every stored hash verifiable (a successful
login with older parameters is re-hashed with the current ones). The first form,
``scrypt$<salt hex>$<hash hex>``, was N = 2^14, r = 8, p = 1 and still verifies.

Cost: measured in ``docs/security.md`` (## Password hashing; ``python -m tests.bench.scrypt``
prints the figures): the current parameters keep one check at or under 100 ms of CPU on the
slowest supported device, assumed :data:`DEVICE_FACTOR` times slower than the development
machine (one core). Measured here: N = 2^14 (the first cost) 53-56 ms of CPU, about 220 ms
on that device; N = 2^13 26-33 ms, 100-130 ms there; N = 2^12 12-17 ms, 50-65 ms there. The
largest cost within the bound is N = 2^12, r = 8, p = 1 (4 MiB).

Hashing runs on :class:`PasswordHasher`'s own single worker thread (``hashlib.scrypt`` releases
the GIL), never on the event loop or the loop's shared default executor; at most
:data:`MAX_WAITING` checks wait for it, further ones are refused at once with 429. A flood of
logins therefore costs at most one CPU core, and signing keeps the other.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tsed.errors import LockedOut


@dataclass(frozen=True, slots=True)
class ScryptCost:
    log2_n: int
    r: int
    p: int

    @property
    def maxmem(self) -> int:
        return 129 * self.r * self.p * (1 << self.log2_n) + (1 << 20)


LEGACY_COST = ScryptCost(14, 8, 1)  # the first stored form had no parameters
COST = ScryptCost(12, 8, 1)  # measured: docs/security.md, ## Password hashing
DEVICE_FACTOR = 4  # the slowest supported board against the development machine (one core)
MAX_WAITING = 4
_ALLOWED_LOG2_N = range(10, 21)
_ALLOWED_R = range(1, 33)
_ALLOWED_P = range(1, 5)


class HasherBusy(LockedOut, code="BUSY"):
    """More password checks are waiting than the one hashing thread may queue."""

    default_hint = "The unit is checking other passwords right now; retry in a moment."


def hash_password(password: str, *, salt: bytes | None = None, cost: ScryptCost = COST) -> str:
    """The stored form of ``password`` (see the module docstring)."""
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost)
    return f"scrypt${cost.log2_n}${cost.r}${cost.p}${salt.hex()}${digest.hex()}"


def _scrypt(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=1 << cost.log2_n,
        r=cost.r,
        p=cost.p,
        dklen=32,
        maxmem=cost.maxmem,
    )


def parse_stored(stored: str) -> tuple[ScryptCost, bytes, bytes] | None:
    """Cost, salt and digest of a stored hash, or ``None`` when it is not one of ours."""
    parts = stored.split("$")
    try:
        if len(parts) == 3 and parts[0] == "scrypt":
            cost, salt_hex, digest_hex = LEGACY_COST, parts[1], parts[2]
        elif len(parts) == 6 and parts[0] == "scrypt":
            log2_n, r, p = (int(x) for x in parts[1:4] if x.isascii() and x.isdigit())
            cost, salt_hex, digest_hex = ScryptCost(log2_n, r, p), parts[4], parts[5]
        else:
            return None
        salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        return None
    if (
        cost.log2_n not in _ALLOWED_LOG2_N
        or cost.r not in _ALLOWED_R
        or cost.p not in _ALLOWED_P
        or not salt
        or len(digest) != 32
    ):
        return None
    return cost, salt, digest


def verify_password(password: str, stored: str) -> bool:
    parsed = parse_stored(stored)
    if parsed is None:
        return False
    cost, salt, digest = parsed
    return hmac.compare_digest(_scrypt(password, salt, cost), digest)


def needs_rehash(stored: str) -> bool:
    parsed = parse_stored(stored)
    return parsed is not None and parsed[0] != COST


class PasswordHasher:
    """Hashes and checks passwords on one worker thread with a short, bounded queue."""

    def __init__(self, *, max_waiting: int = MAX_WAITING) -> None:
        self.max_waiting = max_waiting
        self._executor: ThreadPoolExecutor | None = None
        self._queued = 0

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tsed-scrypt")
        return self._executor

    async def _run(self, func: object, *args: str) -> object:
        if self._queued >= self.max_waiting:  # checked and counted before the await
            error = HasherBusy(f"{self._queued} password checks are already waiting")
            error.details["retry_after"] = 1
            raise error
        self._queued += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool(), func, *args)  # type: ignore[arg-type]
        finally:
            self._queued -= 1

    async def hash(self, password: str) -> str:
        return str(await self._run(hash_password, password))

    async def verify(self, password: str, stored: str) -> bool:
        return bool(await self._run(verify_password, password, stored))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


@dataclass(frozen=True, slots=True)
class PasswordStatus:
    """Whether the admin password is set (never the password or its hash)."""

    set: bool
