"""Benchmark: the archive's off-box copy. Backup time and repository size for an archive of
``--exports`` incremental TAR exports (``--sales`` receipts each, from the in-process
simulator), an unchanged re-run, one more export, restic's full check and the restore.

The target is ``rclone serve restic`` on 127.0.0.1 (no WAN: the figures are the unit's own
cost; a shop's uplink adds bytes / bandwidth). Bounded by count.

Run:  .venv/bin/python -m tests.bench.bench_offbox [--exports 50] [--sales 200]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from tests.fiskaly.simulator.conftest import Api
from tests.support.offbox import RcloneRest, build_archive
from tsed.archive.offbox import OffboxCopy
from tsed.config.model import config_from_dict
from tsed.config.offbox import CREDENTIAL_ENTRY, PASSWORD_ENTRY
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.state.vault import Vault


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


async def run(exports: int, sales: int) -> None:
    sim = Simulator()
    server = SimulatorServer(sim)
    await server.start()
    with tempfile.TemporaryDirectory(prefix="bench-offbox-") as tmp:
        root = Path(tmp)
        target = RcloneRest(root / "target")
        target.start()
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as http:
                api = Api(http, sim.add_api_key("TEST"))
                await api.auth()
                started = time.monotonic()
                await build_archive(api, root / "state" / "archive", exports=exports, sales=sales)
                built = time.monotonic() - started
                local = _size(root / "state" / "archive")
                vault = Vault(root / "state" / "vault.json")
                vault.update({PASSWORD_ENTRY: "bench-password-123456",
                              CREDENTIAL_ENTRY: target.password})  # fmt: skip
                config = config_from_dict({"offbox": {"repository": target.url(),
                                                      "user": target.user}})  # fmt: skip
                copy = OffboxCopy.from_config(config, vault, root / "state")
                assert copy is not None
                archive = root / "state" / "archive"
                first = await copy.copy(archive)
                again = await copy.copy(archive)
                await build_archive(api, root / "state" / "archive" / "more", exports=1,
                                    sales=sales)  # fmt: skip
                more = await copy.copy(archive)
                started = time.monotonic()
                check = await copy.check("100%")
                checked = time.monotonic() - started
                restored = await copy.restore(root / "restored")
        finally:
            target.stop()
            await server.stop()
            sim.close()
        receipts = exports * sales
        print(f"archive: {exports} exports x {sales} receipts = {receipts} receipts, "
              f"{local} bytes ({local * 10000 / receipts:.0f} bytes per 10 000 receipts), "
              f"built in {built:.1f} s")  # fmt: skip
        print(f"first copy:     {first.seconds:6.2f} s, {first.summary.data_added} bytes sent, "
              f"repository {first.repository_bytes} bytes")  # fmt: skip
        print(f"unchanged copy: {again.seconds:6.2f} s, {again.summary.data_added} bytes sent")
        print(f"one more export:{more.seconds:6.2f} s, {more.summary.data_added} bytes sent, "
              f"repository {more.repository_bytes} bytes")  # fmt: skip
        print(f"check 100%:     {checked:6.2f} s ({'ok' if check.ok else 'FAILED'})")
        print(f"restore:        {restored.seconds:6.2f} s, {restored.files} files, "
              f"{restored.bytes} bytes")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exports", type=int, default=50)
    parser.add_argument("--sales", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.exports, args.sales))


if __name__ == "__main__":
    main()
