"""The power-cut test's disk (``image/nbddisk.py``): only flushed writes outlive a cut.

qemu's own NBD client (``qemu-io``, the block layer qemu-system uses) writes to the server;
the image file is read directly to see what a cut left.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "image"))
from nbddisk import VolatileDisk

pytestmark = pytest.mark.skipif(shutil.which("qemu-io") is None, reason="qemu-io missing")
SIZE = 4 << 20
TRIGGER = 3 << 20  # a read here is the moment of the cut


def qemu_io(disk: VolatileDisk, *commands: str, mode: str = "drop") -> str:
    """qemu-io on the disk with a write-back cache, as qemu-system attaches it; a read of
    TRIGGER cuts the power, so the commands before it run and nothing after."""
    disk.cut_on_read(TRIGGER, mode, seed=7)
    args = [arg for command in (*commands, f"read {TRIGGER} 512") for arg in ("-c", command)]
    proc = subprocess.run(
        ["qemu-io", "-t", "writeback", "-f", "raw", *args,
         f"nbd+unix:///?socket={disk.socket_path}"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return proc.stdout + proc.stderr


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[VolatileDisk]:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(SIZE))
    served = VolatileDisk(image, tmp_path / "disk.sock")
    yield served
    served.close()


def _on_image(disk: VolatileDisk, offset: int, length: int) -> bytes:
    with disk.image.open("rb") as image:
        image.seek(offset)
        return image.read(length)


def test_a_cut_loses_what_was_not_flushed_and_keeps_what_was(disk: VolatileDisk) -> None:
    out = qemu_io(
        disk,
        "write -P 0xab 0 64k",
        "read -P 0xab 0 64k",  # the guest reads its own cached writes
        "flush",
        "write -P 0xcd 4k 4k",
        "write -P 0xef 1m 8k",
    )
    assert "Pattern verification failed" not in out and out.count("wrote") == 3, out
    assert disk.flushes == 1 and disk.cut_pending == 24
    assert _on_image(disk, 0, 65536) == b"\xab" * 65536  # flushed: kept, not the later write
    assert _on_image(disk, 1 << 20, 8192) == bytes(8192)  # never flushed: lost


def test_a_write_with_fua_is_on_the_image_at_once(disk: VolatileDisk) -> None:
    out = qemu_io(disk, "write -f -P 0x11 8k 4k", "write -P 0x22 16k 4k")  # -f: FUA
    assert out.count("wrote") == 2, out
    assert _on_image(disk, 8192, 4096) == b"\x11" * 4096
    assert _on_image(disk, 16384, 4096) == bytes(4096)


def test_a_subset_cut_writes_back_whole_writes_chosen_by_the_seed(tmp_path: Path) -> None:
    kept = []
    for attempt in range(2):
        image = tmp_path / f"disk{attempt}.img"
        image.write_bytes(bytes(SIZE))
        disk = VolatileDisk(image, tmp_path / f"disk{attempt}.sock")
        try:
            writes = [f"write -P {index + 1} {index * 8192} 8k" for index in range(16)]
            assert qemu_io(disk, *writes, mode="subset").count("wrote") == 16
        finally:
            disk.close()
        blocks = [_on_image(disk, index * 8192, 8192) for index in range(16)]
        for index, block in enumerate(blocks):  # each write all or nothing
            assert block in (bytes(8192), bytes([index + 1]) * 8192)
        kept.append([block != bytes(8192) for block in blocks])
    assert kept[0] == kept[1] and 0 < sum(kept[0]) < 16  # the seed replays the same cut


def test_a_cut_at_the_next_flush_loses_everything_since_the_last(disk: VolatileDisk) -> None:
    disk.cut_at_next_flush("drop")
    args = ["-c", "write -P 0x33 0 64k", "-c", "flush", "-c", "write -P 0x44 64k 4k"]
    subprocess.run(
        ["qemu-io", "-t", "writeback", "-f", "raw", *args, f"nbd+unix:///?socket={disk.socket_path}"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert disk.powered_off.is_set() and disk.cut_pending == 128 and disk.flushes == 0
    assert _on_image(disk, 0, 65536 + 4096) == bytes(65536 + 4096)


def test_a_cut_armed_with_a_condition_lets_flushes_pass_until_it_holds(disk: VolatileDisk) -> None:
    asked: list[int] = []

    def third_flush() -> bool:  # the power-cut run's "both writes under way", asked per flush
        asked.append(disk.flushes)
        return len(asked) == 3

    disk.cut_at_next_flush("drop", when=third_flush)
    args = ["write -P 0x51 0 4k", "flush", "write -P 0x52 4k 4k", "flush",
            "write -P 0x53 8k 4k", "flush", "write -P 0x54 12k 4k"]  # fmt: skip
    qemu_io(disk, *args)
    assert asked == [0, 1, 2] and disk.powered_off.is_set() and disk.flushes == 2
    assert _on_image(disk, 0, 8192) == b"\x51" * 4096 + b"\x52" * 4096  # the two passed flushes
    assert _on_image(disk, 8192, 8192) == bytes(8192)  # cached at the cut: lost
