"""A disk with a volatile write cache, for power-cut tests: an NBD server on a Unix socket.

qemu's own cache modes cannot lose a write the guest did not flush: whatever qemu has handed
to the host (``cache=writeback``: the host page cache, ``none``/``directsync``: the host file
through O_DIRECT) outlives a SIGKILL of qemu, because the host keeps running. A power cut
loses everything a real disk only held in its cache, so the guest's disk here is this server:

- a write is acknowledged at once but only kept in memory (the "disk cache");
- a FLUSH (the guest's cache flush: ext4 journal commits, fsync) or a write with FUA moves
  the cached writes onto the image file, in order;
- :meth:`VolatileDisk.cut` is the power cut: nothing more is answered, and of the cached
  writes either none reaches the image (``drop``) or a random subset chosen by a seed
  (``subset``: a disk may have written any of them back on its own, in any order).

qemu attaches with ``-blockdev driver=nbd,server.type=unix,server.path=SOCKET`` and
``cache.direct=off`` (its default): the guest sees a disk with a write cache (virtio-blk
WCE=1) and sends its flushes through. The protocol subset is the fixed newstyle handshake
with NBD_OPT_GO / NBD_OPT_EXPORT_NAME and simple replies (no structured replies, no TRIM).
"""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES = 1, 2
OPT_EXPORT_NAME, OPT_ABORT, OPT_GO = 1, 2, 7
REP_ACK, REP_INFO, REP_ERR_UNSUP = 1, 3, 2**31 + 1
INFO_EXPORT = 0
TX_HAS_FLAGS, TX_SEND_FLUSH, TX_SEND_FUA = 1, 4, 8
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH = 0, 1, 2, 3
CMD_FLAG_FUA = 1
EINVAL = 22
SECTOR = 512


class _Cut(Exception):
    """The power is off: stop serving without answering."""


class VolatileDisk:
    """The image file plus a write cache that only a flush (or FUA) empties onto it."""

    def __init__(self, image: Path, socket_path: Path) -> None:
        self.image = image
        self.socket_path = socket_path
        self.size = image.stat().st_size
        self._fd = os.open(image, os.O_RDWR)
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[int, bytes]] = {}  # sector -> (write number, data)
        self._writes = 0
        self._powered = True
        self.flushes = 0
        self.cut_pending = 0  # cached sectors at the last cut
        self.cut_kept = 0  # of which reached the image (subset mode)
        self._trigger: tuple[int, str, int] | None = None
        self._flush_trigger: tuple[str, int, Callable[[], bool] | None] | None = None
        self.powered_off = threading.Event()
        self.writes = 0  # counted since the last power-on: plain writes, with FUA, flushes
        self.fua_writes = 0
        socket_path.unlink(missing_ok=True)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(socket_path))
        self._server.listen(2)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    # -- the power switch --------------------------------------------------------------------

    def cut(self, mode: str = "drop", seed: int = 0) -> None:
        """Power off: the write cache is lost (``drop``) or partly written back (``subset``)."""
        with self._lock:
            self._powered = False
            self._flush_trigger = None
            self.powered_off.set()
            self.cut_pending = len(self._cache)
            self.cut_kept = 0
            if mode == "subset" and self._cache:
                rng = random.Random(seed)
                numbers = sorted({number for number, _ in self._cache.values()})
                kept = {number for number in numbers if rng.random() < 0.5}
                for sector, (number, data) in sorted(self._cache.items()):
                    if number in kept:
                        os.pwrite(self._fd, data, sector * SECTOR)
                        self.cut_kept += 1
            elif mode != "drop":
                raise ValueError(f"unknown cut mode {mode!r}")
            self._cache.clear()

    def cut_at_next_flush(
        self, mode: str = "drop", seed: int = 0, when: Callable[[], bool] | None = None
    ) -> None:
        """Cut the power when the guest next asks for a flush: the moment with the most
        acknowledged writes in the cache, and the one an fsync waits for. With ``when``, the
        first flush at which ``when()`` is true (asked at each flush, the flush waits)."""
        with self._lock:
            self._flush_trigger = (mode, seed, when)

    def cut_on_read(self, offset: int, mode: str = "drop", seed: int = 0) -> None:
        """Cut the power when the guest reads ``offset``: a cut at an exact moment (tests)."""
        self._trigger = (offset, mode, seed)

    def power_on(self) -> None:
        with self._lock:
            self._cache.clear()
            self._powered = True
            self._trigger = self._flush_trigger = None  # a new boot starts unarmed
            self.powered_off.clear()
            self.writes = self.fua_writes = self.flushes = 0

    def close(self) -> None:
        self.cut()
        self._server.close()
        self.socket_path.unlink(missing_ok=True)
        os.close(self._fd)

    def cached_sectors(self) -> int:
        with self._lock:
            return len(self._cache)

    # -- block operations ----------------------------------------------------------------------

    def _read(self, offset: int, length: int) -> bytes:
        with self._lock:
            if not self._powered:
                raise _Cut
            data = bytearray(os.pread(self._fd, length, offset))
            data.extend(bytes(length - len(data)))
            if self._cache:
                first, last = offset // SECTOR, (offset + length - 1) // SECTOR
                for sector in range(first, last + 1):
                    entry = self._cache.get(sector)
                    if entry is not None:
                        start = sector * SECTOR - offset
                        data[start : start + SECTOR] = entry[1]
            return bytes(data)

    def _write(self, offset: int, data: bytes, fua: bool) -> None:
        with self._lock:
            if not self._powered:
                raise _Cut
            self._writes += 1
            self.writes += 1
            self.fua_writes += fua
            first = offset // SECTOR
            for index in range(len(data) // SECTOR):
                chunk = data[index * SECTOR : (index + 1) * SECTOR]
                if fua:
                    self._cache.pop(first + index, None)
                else:
                    self._cache[first + index] = (self._writes, chunk)
            if fua:
                os.pwrite(self._fd, data, offset)

    def _flush(self) -> None:
        with self._lock:
            trigger = self._flush_trigger
        if trigger is not None and (trigger[2] is None or trigger[2]()):
            self.cut(trigger[0], trigger[1])
            raise _Cut
        with self._lock:
            if not self._powered:
                raise _Cut
            for sector, (_, data) in sorted(self._cache.items()):
                os.pwrite(self._fd, data, sector * SECTOR)
            self._cache.clear()
            self.flushes += 1

    # -- NBD protocol ----------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                if self._handshake(conn):
                    self._transmission(conn)
        except (_Cut, ConnectionError, OSError):
            return

    def _handshake(self, conn: socket.socket) -> bool:
        conn.sendall(struct.pack(">QQH", NBDMAGIC, IHAVEOPT, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES))
        (client_flags,) = struct.unpack(">I", _recv(conn, 4))
        tx_flags = TX_HAS_FLAGS | TX_SEND_FLUSH | TX_SEND_FUA
        while True:
            magic, option, length = struct.unpack(">QII", _recv(conn, 16))
            if magic != IHAVEOPT:
                return False
            payload = _recv(conn, length)
            if option == OPT_EXPORT_NAME:
                zeroes = b"" if client_flags & FLAG_NO_ZEROES else bytes(124)
                conn.sendall(struct.pack(">QH", self.size, tx_flags) + zeroes)
                return True
            if option == OPT_ABORT:
                self._option_reply(conn, option, REP_ACK)
                return False
            if option == OPT_GO:
                info = struct.pack(">HQH", INFO_EXPORT, self.size, tx_flags)
                self._option_reply(conn, option, REP_INFO, info)
                self._option_reply(conn, option, REP_ACK)
                del payload
                return True
            self._option_reply(conn, option, REP_ERR_UNSUP)

    @staticmethod
    def _option_reply(conn: socket.socket, option: int, kind: int, data: bytes = b"") -> None:
        conn.sendall(struct.pack(">QIII", REPLY_MAGIC, option, kind, len(data)) + data)

    def _transmission(self, conn: socket.socket) -> None:
        while True:
            magic, flags, kind, handle, offset, length = struct.unpack(">IHHQQI", _recv(conn, 28))
            if magic != REQUEST_MAGIC:
                return
            error, data = 0, b""
            if kind == CMD_READ and self._trigger and self._trigger[0] == offset:
                self.cut(self._trigger[1], self._trigger[2])
                self._trigger = None
                raise _Cut
            if kind == CMD_READ:
                data = self._read(offset, length)
            elif kind == CMD_WRITE:
                payload = _recv(conn, length)
                if offset % SECTOR or length % SECTOR:
                    error = EINVAL
                else:
                    self._write(offset, payload, bool(flags & CMD_FLAG_FUA))
            elif kind == CMD_FLUSH:
                self._flush()
            elif kind == CMD_DISC:
                return
            else:
                error = EINVAL
            with self._lock:
                if not self._powered:
                    raise _Cut
            conn.sendall(struct.pack(">IIQ", SIMPLE_REPLY_MAGIC, error, handle) + data)


def _recv(conn: socket.socket, length: int) -> bytes:
    chunks, left = [], length
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the NBD client went away")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
