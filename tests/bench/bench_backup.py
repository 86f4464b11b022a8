"""Benchmark: size of a unit backup and the time to create and to restore it, for a store of
``--transactions`` finished receipts (default 100 000).

The state directory is filled the way a LIVE unit's is after months in a shop: the store
(schema of :class:`~tsed.state.store.Store`) with ``--registers`` registers, their clients, one
TSS binding, every transaction finished with its receipt and signed result, and an idempotency
key with its stored answer per transaction (an upper bound: registers that send no key store
none); an archive index with one entry per night; the vault and the device identity. The
signatures, keys and QR codes in the results are random bytes of their real lengths, which do
not compress: the backup size is an upper bound too.

Then :func:`tsed.state.backup.create_backup` (online backup API, gzip, scrypt and
ChaCha20-Poly1305) and :func:`tsed.state.restore.restore_backup` into a new state directory.
Prints the figures; asserts nothing about time.

Run:  .venv/bin/python -m tests.bench.bench_backup [--transactions 100000] [--registers 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

from tsed.archive.store import ArchiveStore
from tsed.net.identity import load_or_create_identity
from tsed.state.backup import create_backup
from tsed.state.backup_worker import create_in_worker
from tsed.state.paths import StatePaths
from tsed.state.restore import restore_backup
from tsed.state.store import Store
from tsed.state.vault import Vault

PASSWORD = "Bench-Backup-Passwort-2026"
RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"},
                             {"vat_rate": "REDUCED_1", "amount": "3.20"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "15.10"}],
}  # fmt: skip


def _b64(size: int) -> str:
    return base64.b64encode(os.urandom(size)).decode()


def _result(number: int, tss_serial: str, client_serial: str) -> dict[str, object]:
    return {
        "transaction_number": number, "signature_counter": 2 * number + 20,
        "time_start": "2026-11-30T10:00:00.000Z", "time_end": "2026-11-30T10:00:01.000Z",
        "signature": _b64(96), "public_key": _b64(97), "tss_serial_number": tss_serial,
        "signature_algorithm": "ecdsa-plain-SHA384", "log_time_format": "unixTime",
        "client_serial_number": client_serial, "process_type": "Kassenbeleg-V1",
        "process_data": "Beleg^11.90_3.20_0.00_0.00_0.00^15.10:Bar",
        "qr_code_data": "V0;" + _b64(180),
    }  # fmt: skip


async def _schema(state: Path) -> None:
    store = Store(StatePaths(state).store)
    await store.open()
    await store.close()


def fill(state: Path, transactions: int, registers: int) -> None:
    """The state directory of a unit that signed ``transactions`` receipts."""
    paths = StatePaths(state)
    asyncio.run(_schema(state))
    tss_id, now = str(uuid.uuid4()), time.time()
    tss_serial = _b64(32)
    db = sqlite3.connect(paths.store)
    db.execute("PRAGMA journal_mode=WAL")
    reg = [(str(uuid.uuid4()), f"ERS kasse-{i}", str(uuid.uuid4())) for i in range(registers)]
    db.executemany(
        "INSERT INTO registers VALUES (?, ?, NULL, 'default', ?, ?, NULL, ?)",
        [(r, s, base64.b16encode(os.urandom(32)).decode(), now, now) for r, s, _ in reg],
    )
    db.execute("INSERT INTO bindings VALUES ('default', 'LIVE', ?, 'INITIALIZED', ?, ?, NULL)",
               (tss_id, tss_serial, now))  # fmt: skip
    db.executemany(
        "INSERT INTO clients VALUES (?, ?, 'LIVE', ?, ?, 'REGISTERED', ?)",
        [(r, tss_id, c, s, now) for r, s, c in reg],
    )
    batch: list[tuple[object, ...]] = []
    idem: list[tuple[object, ...]] = []
    for number in range(1, transactions + 1):
        register, serial, client = reg[number % registers]
        local = str(uuid.uuid4())
        result = json.dumps(_result(number, tss_serial, serial))
        at = now - (transactions - number) * 30.0
        batch.append((local, register, "default", "LIVE", tss_id, client, str(uuid.uuid4()),
                      "finished", 2, "receipt", json.dumps(RECEIPT), result, None, at, at + 1,
                      0, None))  # fmt: skip
        idem.append((register, str(uuid.uuid4()), _b64(24), local,
                     json.dumps({"id": local, "state": "finished", "result": json.loads(result)}),
                     at))  # fmt: skip
        if len(batch) >= 10_000:
            _flush(db, batch, idem)
    _flush(db, batch, idem)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    archive = ArchiveStore(paths.archive)
    archive.open()
    index = sqlite3.connect(paths.archive / "index.sqlite")
    step = max(1, transactions // 365)
    index.executemany(
        "INSERT INTO entries (tss_id, tenant, state, first_counter, last_counter, first_time, "
        "last_time, path, size, sha256, export_id, archived_at, retain_until, logs, "
        "transactions) VALUES (?, 'default', 'archived', ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "'2036-12-31', ?, ?)",
        [(tss_id, 2 * n + 1, 2 * (n + step), int(now), int(now),
          f"tss/{tss_id}/{tss_id}_sig{2 * n + 1:012d}-{2 * (n + step):012d}.tar",
          2_000_000, _b64(32), str(uuid.uuid4()), now, 2 * step, step)
         for n in range(0, transactions, step)],
    )  # fmt: skip
    index.commit()
    index.close()
    Vault(paths.vault).update({"default/LIVE/api_key": _b64(24), "default/LIVE/api_secret":
                               _b64(32), "default/LIVE/admin_puk": _b64(8)})  # fmt: skip
    load_or_create_identity(state, name="tsed-bench", addresses=["192.0.2.10"])


def _flush(db: sqlite3.Connection, batch: list[tuple[object, ...]],
           idem: list[tuple[object, ...]]) -> None:  # fmt: skip
    with db:
        db.executemany(f"INSERT INTO transactions VALUES ({', '.join('?' * 17)})", batch)
        db.executemany("INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?)", idem)
    batch.clear()
    idem.clear()


async def _stall(make: object) -> tuple[float, float]:
    """The longest the event loop waited beyond a 10 ms sleep while ``make()`` ran, and the
    time ``make()`` took: what a register's request waits while a backup is written."""
    worst, done = 0.0, False

    async def probe() -> None:
        nonlocal worst
        while not done:
            began = time.monotonic()
            await asyncio.sleep(0.01)
            worst = max(worst, time.monotonic() - began - 0.01)

    task = asyncio.create_task(probe())
    began = time.monotonic()
    await make()  # type: ignore[operator]
    took = time.monotonic() - began
    done = True
    await task
    return worst, took


def stalls(paths: StatePaths, config: Path) -> dict[str, tuple[float, float]]:
    """The event loop's longest stall with the backup in a thread of the daemon's process and
    in the worker process the unit uses."""

    async def in_thread() -> None:
        await asyncio.to_thread(create_backup, paths, config, PASSWORD, device_id="bench",
                                tsed_version="bench")  # fmt: skip

    async def in_worker() -> None:
        await create_in_worker(paths.root, config, PASSWORD, device_id="bench",
                               tsed_version="bench")  # fmt: skip

    return {"thread": asyncio.run(_stall(in_thread)), "worker": asyncio.run(_stall(in_worker))}


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--registers", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tsed-bench-backup-") as tmp:
        root = Path(tmp)
        state = root / "unit"
        began = time.monotonic()
        fill(state, args.transactions, args.registers)
        filled = time.monotonic() - began
        paths = StatePaths(state)
        store_bytes = sum(p.stat().st_size for p in state.glob("tsed.sqlite*"))
        state_bytes = _size(state)
        cpu = time.process_time()
        info = create_backup(paths, root / "tsed.toml", PASSWORD, device_id="bench",
                             tsed_version="bench")  # fmt: skip
        create_cpu = time.process_time() - cpu
        began = time.monotonic()
        restored = restore_backup(info.file, PASSWORD, state_dir=root / "new",
                                  config_path=root / "new.toml")  # fmt: skip
        restore_s = time.monotonic() - began
        print(
            f"store: {args.transactions} transactions, {args.registers} registers, "
            f"{store_bytes / 1e6:.1f} MB (filled in {filled:.1f} s)"
        )
        print(f"state directory backed up: {state_bytes / 1e6:.1f} MB")
        print(
            f"backup: {info.size / 1e6:.2f} MB, {info.members} members, created in "
            f"{info.seconds:.2f} s (CPU {create_cpu:.2f} s)"
        )
        print(
            f"restore: {restore_s:.2f} s ({restored.transactions} transactions, "
            f"{restored.archive_entries} archive entries)"
        )
        for where, (worst, took) in stalls(paths, root / "tsed.toml").items():
            print(f"backup in a {where}: {took:.1f} s, the event loop's longest stall "
                  f"{worst * 1000:.0f} ms")  # fmt: skip
        print(f"bytes per 1000 transactions in the backup: "
              f"{info.size / args.transactions * 1000 / 1e3:.1f} kB")  # fmt: skip


if __name__ == "__main__":
    main()
