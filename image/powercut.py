"""Power cuts on the device image: every answered receipt survives a cut at any moment.

    python image/powercut.py OUT_DIR [--cuts N] [--seed S] [--cut-mode drop|subset]

Boots a copy of ``OUT_DIR/rootfs.ext4`` in qemu on a disk with a volatile write cache
(``image/nbddisk.py``: only what the guest flushed is on the image when the power goes), pairs
registers on the host, signs receipts under load through the forwarded HTTPS port while the
guest saves the configuration, writes the vault, exports the TSS or runs the fiscal archive,
and cuts the power
(the disk drops its cache, qemu gets SIGKILL) at a moment drawn from the seed. After each cut
it boots again and checks (see docs/power-loss.md): every answered receipt by id and by a
replay of its Idempotency-Key, no signature counter or transaction number given twice,
nothing ACTIVE at the simulator, ``PRAGMA integrity_check``, the configuration and the admin
password old or new, export jobs and downloads whole, no archive file counted as done unless
whole (index, file and manifest agree), the archive without gap or overlap and never behind a
run that ended before the cut, the device key the registers pinned.

Prints a JSON report and one ``PASS``/``FAIL`` line per check; a failing cut is printed with
its seed, moment and offset (``--seed S --cuts N`` draws the same moments again).
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from check import _debugfs, _free_port
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from nbddisk import VolatileDisk
from powercut_checks import Answer, Retrying, check_state, headers, note_acks, verify_receipts

HERE = Path(__file__).resolve().parent
# "all": configuration save, vault write, export and archive run side by side.
MOMENTS = ("all", "config", "vault", "export", "archive", "receipts")
WRITES = ("config", "vault", "export", "archive")  # the guest's loops; cuts fall into each
# The cuts of moment "all" wait until these are under way together, in turn.
ALL_TARGETS = (("config", "archive"), ("vault", "export"))
REGISTERS = 2
# Budgets of one boot (docs/power-loss.md, "Measured", states the figures they come from):
# BOOT_TIMEOUT from power-on until the register API answers; after that the agent reports
# every BEAT (10) s however slow the guest is, so QUIET_TIMEOUT without a line from it is a
# hung or dead agent; BOOT_LIMIT caps one boot whatever happens.
BOOT_TIMEOUT = 900.0
QUIET_TIMEOUT = 120.0
BOOT_LIMIT = 1800.0
TARGET_WAIT = 60.0  # for the cut's targets to be under way, after the offset
PR_SET_PDEATHSIG = 1
FLUSH_WAIT = 20.0
GUEST_UNIT = """[Unit]
Description=tsed power-cut test agent (test image only)
After=tsed.service
Wants=tsed.service

[Service]
Type=simple
ExecStart=/opt/tsed/venv/bin/python /usr/local/sbin/tsed-powercut
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS1

[Install]
WantedBy=multi-user.target
"""
RECEIPT = {
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
}



@dataclass
class Cut:
    number: int
    moment: str
    seed: int
    offset: float
    receipts: int = 0
    tse_failures: int = 0  # of which answered with tse_failure (the simulator too slow)
    pending_sectors: int = 0
    kept_sectors: int = 0
    recovery: float = 0.0
    first_answers: list[str] = field(default_factory=list)
    targets: tuple[str, ...] = ()  # armed once these were under way together
    in_flight: list[str] = field(default_factory=list)  # operations the cut fell into
    target_wait: float = 0.0  # seconds after the offset until the targets were under way
    checked_after: float = 0.0  # the agent's report of the recovered state (the guest's clock)
    daemon_restarts: str = ""  # tsed.service restarts before the agent saw it READY
    daemon_ready: float = 0.0  # READY after the kernel started (the guest's clock)
    # where the cut fell: "flush" (a cache flush with the targets under way), "next-flush"
    # (the first flush after TARGET_WAIT without them), "time" (FLUSH_WAIT without a flush)
    at: str = "flush"
    archive_after: str = ""  # the archive the next boot found: files, set aside, how far
    disk_io: str = ""


class Guest:
    """One boot: qemu on the volatile disk, the agent's serial lines in a file."""

    def __init__(self, out: Path, work: Path, disk: VolatileDisk, port: int, boot: int,
                 args: dict[str, str]) -> None:  # fmt: skip
        self.log = work / f"agent-{boot}.log"
        self._busy: tuple[int, tuple[str, ...]] | None = None  # (log size, writes under way)
        self.kernel_log = work / f"kernel-{boot}.log"
        cmdline = "root=/dev/vda rw console=ttyS0 panic=-1 quiet systemd.show_status=false " + (
            " ".join(f"tsed_pc.{k}={v}" for k, v in {"boot": str(boot), **args}.items())
        )
        cmd = [
            "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", "1024", "-smp", "2",
            "-display", "none", "-no-reboot", "-monitor", "none",
            "-kernel", str(out / "vmlinuz"), "-initrd", str(out / "initrd.img"),
            "-append", cmdline,
            "-blockdev", f"driver=nbd,server.type=unix,server.path={disk.socket_path},"
            "node-name=disk0,cache.direct=off",
            "-device", "virtio-blk-pci,drive=disk0",
            "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:8443",
            "-serial", f"file:{self.kernel_log}", "-serial", f"file:{self.log}",
        ]  # fmt: skip
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # noqa: S603
                                     preexec_fn=_die_with_parent)  # fmt: skip

    def lines(self) -> dict[str, str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        found: dict[str, str] = {}
        for line in re.findall(r"TSED_PC (.*)", text):
            for word in line.split():
                key, _, value = word.partition("=")
                found[key] = value
                found[f"_all_{key}"] = ",".join(filter(None, (found.get(f"_all_{key}"), value)))
        return found

    def all_values(self, key: str) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return re.findall(rf"TSED_PC .*\b{re.escape(key)}=(\S+)", text)

    def wait(self, key: str) -> str:
        """The guest's report of ``key``: while it keeps reporting (its heartbeat), however
        slowly; QUIET_TIMEOUT without a new line, or BOOT_LIMIT after power-on, is a hang."""
        size, heard = -1, time.monotonic()
        while time.monotonic() < self.started + BOOT_LIMIT:
            value = self.lines().get(key)
            if value is not None:
                return value
            if self.proc.poll() is not None:
                raise SystemExit(f"qemu exited before the guest reported {key}")
            now = self.log.stat().st_size if self.log.exists() else 0
            if now != size:
                size, heard = now, time.monotonic()
            elif time.monotonic() - heard > QUIET_TIMEOUT:
                raise SystemExit(f"the guest said nothing for {QUIET_TIMEOUT:.0f} s while the "
                                 f"host waited for {key}; its last line: {self.last_line()!r}")  # fmt: skip
            time.sleep(0.5)
        raise SystemExit(f"the guest did not report {key} within {BOOT_LIMIT:.0f} s of power-on")

    def when(self, key: str) -> float:
        """The guest's uptime on its first line with ``key``."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        found = re.search(rf"TSED_PC up=(\S+) (?:.* )?{re.escape(key)}=", text)
        return float(found.group(1)) if found else 0.0

    def last_line(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return (text.strip().splitlines() or [""])[-1][-200:]

    def under_way(self) -> list[str]:
        """The guest's writes begun and neither acknowledged nor failed (in its log so far).
        Asked at every cache flush of the guest: read again only when the log grew."""
        size = self.log.stat().st_size if self.log.exists() else 0
        if self._busy is not None and self._busy[0] == size:
            return list(self._busy[1])
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        busy = []
        for moment in WRITES:
            began = re.findall(rf"TSED_PC .*\b{moment}_started=(\d+)", text)
            ended = re.findall(rf"TSED_PC .*\b{moment}_(?:acked|error)=(?:export-)?(\d+)", text)
            if began and began[-1] not in ended:
                busy.append(moment)
        self._busy = (size, tuple(busy))  # a log grown while read: read again next time
        return busy

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _die_with_parent() -> None:
    """qemu gets SIGKILL when this script dies, however it dies (a test's time limit)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _fingerprint(port: int) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    pem = ssl.get_server_certificate(("127.0.0.1", port), timeout=30)
    spki = x509.load_pem_x509_certificate(pem.encode()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def _client(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=False, timeout=60.0,  # noqa: S501 - the device key is pinned by _fingerprint
                        trust_env=False)  # fmt: skip


def _wait_ready(port: int, guest: Guest, deadline: float) -> tuple[float, list[str]]:
    """Seconds from power-on until the register API answers status; what it saw before."""
    seen: list[str] = []
    with _client(port) as client:
        while time.monotonic() < deadline:
            try:
                answer = client.get("/api/v1/status", timeout=10.0)
                what = f"HTTP {answer.status_code}"
                if answer.status_code == 200:
                    seen.append(what)
                    return time.monotonic() - guest.started, seen
                what += f" {answer.text[:120]}"
            except httpx.HTTPError as err:
                what = type(err).__name__
            if not seen or seen[-1] != what:
                seen.append(what)
            if guest.proc.poll() is not None:
                raise SystemExit("qemu exited before the unit was READY")
            time.sleep(0.5)
    raise SystemExit(f"the unit did not become READY within {BOOT_TIMEOUT:.0f} s of power-on")


class Load:
    """Registers on the host, each signing receipts one after the other until stopped."""

    def __init__(self, port: int, tokens: list[str], boot: int, answers: list[Answer]) -> None:
        self.stop = threading.Event()
        self._answers = answers
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(port, token, f"b{boot}-r{index}", boot))
            for index, token in enumerate(tokens)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, port: int, token: str, prefix: str, boot: int) -> None:
        with _client(port) as client:
            for number in range(100_000):
                if self.stop.is_set():
                    return
                key = f"powercut-{prefix}-{number}"
                cents = 100 + number % 900
                amount = f"{cents // 100}.{cents % 100:02d}"
                body = {**RECEIPT, "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": amount}],
                        "amounts_per_payment_type": [{"payment_type": "CASH", "amount": amount}]}  # fmt: skip
                answer = Answer(key, token, body, None, boot)
                with self._lock:
                    self._answers.append(answer)
                reply = None
                for _ in range(3):  # a register retries with the same key
                    try:
                        reply = client.post("/api/v1/receipts", json=body,
                                            headers=headers(token, key))  # fmt: skip
                        break
                    except httpx.HTTPError:
                        if self.stop.wait(1.0):
                            return  # the power went
                if reply is None:
                    return
                if reply.status_code in (200, 201):
                    answer.data = reply.json()

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=120)



def _prepare(out: Path, work: Path) -> Path:
    image = work / "rootfs.ext4"
    subprocess.run(["cp", "--sparse=always", str(out / "rootfs.ext4"), str(image)], check=True)
    unit = work / "tsed-powercut.service"
    unit.write_text(GUEST_UNIT)
    # Under TCG on a shared build box the daemon's first Python imports alone can take a
    # minute: a start cut off by TimeoutStartSec would be the emulator's fault, not a cut's.
    dropin = work / "powercut.conf"
    dropin.write_text("[Service]\nTimeoutStartSec=900\n")
    _debugfs(
        image,
        f"write {HERE / 'powercut_guest.py'} /usr/local/sbin/tsed-powercut\n"
        f"write {unit} /etc/systemd/system/tsed-powercut.service\n"
        "symlink /etc/systemd/system/multi-user.target.wants/tsed-powercut.service "
        "/etc/systemd/system/tsed-powercut.service\n"
        "mkdir /etc/systemd/system/tsed.service.d\n"
        f"write {dropin} /etc/systemd/system/tsed.service.d/powercut.conf\n",
    )
    return image


def run(out: Path, cuts: int, seed: int, mode: str, moments: tuple[str, ...] = MOMENTS) -> int:
    rng = random.Random(seed)
    plan = [Cut(n, moments[n % len(moments)], rng.randrange(2**32), rng.uniform(10.0, 60.0))
            for n in range(cuts)]  # fmt: skip
    for cut in plan:
        earlier = sum(1 for c in plan[: cut.number] if c.moment == "all")
        cut.targets = (ALL_TARGETS[earlier % len(ALL_TARGETS)] if cut.moment == "all"
                       else (cut.moment,) if cut.moment in WRITES else ())  # fmt: skip
    answers: list[Answer] = []
    problems: list[str] = []
    report: dict[str, Any] = {"seed": seed, "cut_mode": mode, "cuts": []}
    acked: dict[str, Any] = {"config": None, "vault": -1}
    downloads: dict[str, str] = {}
    started = time.monotonic()
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        disk = VolatileDisk(_prepare(out, work), work / "disk.sock")
        tokens: list[str] = []
        pinned = ""
        guest: Guest | None = None
        try:
            for boot in range(cuts + 1):
                cut = plan[boot] if boot < cuts else None
                args = {"moment": cut.moment if cut else "final", "start": str(boot * 1000),
                        "vault_acked": str(acked["vault"]),
                        "vault_next": str(acked.get("vault_next", -1))}  # fmt: skip
                if boot == 0:
                    args["pair"] = str(REGISTERS)
                disk.power_on()
                guest = Guest(out, work, disk, port, boot, args)
                recovery, first = _wait_ready(port, guest, guest.started + BOOT_TIMEOUT)
                guest.wait("checked")
                lines = guest.lines()
                checked_after = guest.when("checked")
                label = f"boot {boot}" + (f" after cut {boot - 1} ({plan[boot - 1].moment}, "
                                          f"seed {plan[boot - 1].seed}, offset "
                                          f"{plan[boot - 1].offset:.1f} s)" if boot else "")  # fmt: skip
                if boot:
                    plan[boot - 1].recovery = recovery
                    plan[boot - 1].first_answers = first
                    plan[boot - 1].daemon_ready = float(lines.get("ready_after") or 0)
                    plan[boot - 1].checked_after = checked_after
                    plan[boot - 1].daemon_restarts = lines.get("restarts", "?")
                    plan[boot - 1].archive_after = (
                        f"{lines.get('archive_entries')} files, {lines.get('archive_unrecorded')}"
                        f" set aside, to {lines.get('archive_to')}"
                    )
                else:
                    report["first_boot_ready"] = round(recovery, 1)
                    report["first_boot_daemon_ready"] = float(lines.get("ready_after") or 0)
                    report["first_boot_checked"] = checked_after
                    report["first_boot_restarts"] = lines.get("restarts", "?")
                    report["mount"] = lines.get("mount")
                    report["write_cache"] = lines.get("write_cache")
                found = check_state(lines, acked, downloads, pinned or None)
                fingerprint = _fingerprint(port)
                if pinned and fingerprint != pinned:
                    found.append(f"device key changed: {fingerprint} != pinned {pinned}")
                if boot:
                    found += verify_receipts(port, answers, boot)
                problems += [f"{label}: {p}" for p in found]
                for problem in found:  # at once: a later time-out must not hide the moment
                    print(f"FAIL  {label}: {problem}", file=sys.stderr, flush=True)
                if boot == 0:
                    for index in range(REGISTERS):
                        code = guest.wait(f"pairing_code_{index}")
                        with _client(port) as client:
                            paired = client.post("/api/v1/pairings", json={
                                "code": code, "register_serial": f"ERS powercut {index}"})  # fmt: skip
                        paired.raise_for_status()
                        tokens.append(paired.json()["token"])
                        pinned = pinned or paired.json()["fingerprint"]
                    if pinned != fingerprint:
                        problems.append(f"{label}: pairing fingerprint {pinned} != {fingerprint}")
                if cut is None:  # the last receipt tells the guest the host is done
                    with Retrying(base_url=f"https://127.0.0.1:{port}", verify=False,
                                   timeout=60.0, trust_env=False) as client:  # fmt: skip
                        client.post("/api/v1/receipts", json=RECEIPT,
                                    headers=headers(tokens[0], "powercut-final"))  # fmt: skip
                    guest.wait("done")
                    final = guest.lines()
                    problems += [f"{label} (at the end): {p}" for p in check_state(
                        final, acked, downloads, pinned)]  # fmt: skip
                    if final.get("archive_acked") is None:  # the run after the last cut
                        problems.append(f"{label}: the last archive run did not end done: "
                                        f"{final.get('archive_error')}")  # fmt: skip
                    report["archive_at_the_end"] = final.get("archive_to")
                    report["poweroff_clean"] = guest.proc.wait(timeout=300) == 0
                    break
                guest.wait("moment_started")
                load = Load(port, tokens, boot, answers)
                time.sleep(cut.offset)
                cut.target_wait = _wait_under_way(guest, cut.targets)
                # The cut falls on the guest's next cache flush (an fsync or a journal commit
                # waiting for it) at which the targets are still under way: the most
                # acknowledged writes are in the cache then. (Armed without that condition, a
                # short configuration save could end between the wait and the flush.)
                disk.cut_at_next_flush(mode, cut.seed, partial(_under_way, guest, cut.targets))
                if not disk.powered_off.wait(TARGET_WAIT):
                    disk.cut_at_next_flush(mode, cut.seed)  # the report says where it fell
                    cut.at = "next-flush"
                    if not disk.powered_off.wait(FLUSH_WAIT):
                        disk.cut(mode, cut.seed)
                        cut.at = "time"
                guest.kill()
                cut.disk_io = f"{disk.writes} writes ({disk.fua_writes} FUA), {disk.flushes} flushes"
                load.join()
                cut.pending_sectors, cut.kept_sectors = disk.cut_pending, disk.cut_kept
                cut.receipts = sum(1 for a in answers if a.boot == boot and a.data is not None)
                cut.tse_failures = sum(1 for a in answers if a.boot == boot
                                       and (a.data or {}).get("tse_failure"))  # fmt: skip
                note_acks(guest, cut, acked, downloads)
                print(f"cut {boot}: {cut.moment} seed {cut.seed} offset {cut.offset:.1f} s, "
                      f"{cut.receipts} receipts answered ({cut.tse_failures} TSE failures), "
                      f"{cut.pending_sectors} cached sectors lost, in flight: "
                      f"{','.join(cut.in_flight) or '-'} (this boot: READY "
                      f"{recovery:.0f} s after power-on, checked {checked_after:.0f} s)",
                      file=sys.stderr, flush=True)  # fmt: skip
        except SystemExit as stop:
            where = f"boot {boot}" + (f" after cut {boot - 1}: {vars(plan[boot - 1])}" if boot else "")
            print(f"FAIL  {where}: {stop}", flush=True)
            raise
        finally:
            if guest is not None:
                guest.kill()
            for log in work.glob("*.log"):
                shutil.copyfile(log, out / f"powercut-{log.name}")
            disk.close()
    report["cuts"] = [vars(c) for c in plan]
    report["receipts_answered"] = sum(1 for a in answers if a.data is not None)
    report["longest_recovery"] = round(max((c.recovery for c in plan), default=0.0), 1)
    report["moments_hit"] = sorted({m for c in plan for m in c.in_flight})
    for c in plan:
        if not set(c.targets) <= set(c.in_flight):
            print(f"note: cut {c.number} armed for {','.join(c.targets)}, fell into "
                  f"{','.join(c.in_flight) or 'none of the writes'}", file=sys.stderr)  # fmt: skip
    report["seconds_total"] = round(time.monotonic() - started)
    report["problems"] = problems
    print(json.dumps(report, indent=2, default=str))
    checks = {
        f"{cuts} cuts survived": not problems,
        "root mounted as on a unit (ext4 data=ordered, barriers on)": {
            "data=ordered", "barrier", "noatime"} <= set(str(report["mount"]).split(",")),
        "the guest's disk has a volatile write cache": report["write_cache"] == "write_back",
        "power-off clean after the last cut": bool(report.get("poweroff_clean")),
    }
    for problem in problems:
        print(f"FAIL  {problem}")
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


def _under_way(guest: Guest, targets: tuple[str, ...]) -> bool:
    return set(targets) <= set(guest.under_way())


def _wait_under_way(guest: Guest, targets: tuple[str, ...]) -> float:
    """Seconds until the guest's writes ``targets`` are under way together (at most
    TARGET_WAIT: then the cut falls wherever the next flush falls, the report says where)."""
    began = time.monotonic()
    while targets and time.monotonic() - began < TARGET_WAIT:
        if _under_way(guest, targets):
            break
        time.sleep(0.1)
    return round(time.monotonic() - began, 1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="image/out", type=Path)
    parser.add_argument("--cuts", type=int, default=int(os.environ.get("TSED_POWERCUT_CUTS", 3)))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--cut-mode", choices=["drop", "subset"], default="drop")
    parser.add_argument("--moments", default=",".join(MOMENTS),
                        help=f"moments of the cuts, in turn (default {','.join(MOMENTS)})")  # fmt: skip
    args = parser.parse_args(argv[1:])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up: qemu, the disk
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    print(f"powercut: seed {seed}, {args.cuts} cuts, mode {args.cut_mode}", file=sys.stderr)
    moments = tuple(args.moments.split(","))
    if not set(moments) <= set(MOMENTS):
        parser.error(f"--moments: choose from {','.join(MOMENTS)}")
    return run(args.out, args.cuts, seed, args.cut_mode, moments)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
