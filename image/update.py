"""Signed A/B updates and the automatic rollback on the unit's disk, in qemu (TCG).

    python image/update.py OUT_DIR --ca CA.pem --cert CERT.pem --key KEY.pem \
        --forged-cert F.pem --forged-key F.key [--short | --no-rollback]
        [--next-bundle FILE] [--keep-bundle FILE] [--comp lz4]

The disk is ``image/disk`` of a copy of ``OUT_DIR/rootfs.ext4`` (the vendor's update CA of
the test, and a test agent on the second serial port, written into the copy with debugfs);
one qemu process boots it through GRUB and follows the guest's reboots:

1. slot A, the built version: the data partition is mounted, the health check marks A good;
   a register paired from the host signs receipts; a bundle with a forged signature, one for
   another device class and one older than the running version are refused (``--short``
   stops here: power-off);
2. the next version (a bundle of the same root filesystem, ``image/bundle``, squashfs with
   ``--comp``, lz4 unless told otherwise: shipped bundles use gzip) is installed from
   a URL (downloaded onto the data partition) and the unit reboots into slot B: it is marked
   good, the register's next receipt continues the TSS counters;
3. a version whose daemon does not start is installed into slot A: its health check fails,
   it is marked bad and the unit reboots by itself into slot B, which runs on with the same
   counters; ``tsectl update status`` says ``rolled_back``.

Prints a JSON report (bundle size, install time, reboot to READY, rollback time) and one
``PASS``/``FAIL`` line per check; exit 0 only when all pass.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from check import _debugfs, _free_port
from powercut import RECEIPT, _client, _die_with_parent, _fingerprint

HERE = Path(__file__).resolve().parent
STEP_LIMIT = 1500.0  # seconds for one boot's report (TCG on a busy 2-core box: 100-300 s)
GUEST_UNIT = """[Unit]
Description=tsed update test agent (test image only)
After=tsed.service
Wants=tsed.service

[Service]
Type=simple
ExecStart=/usr/local/sbin/tsed-updatetest
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS1

[Install]
WantedBy=multi-user.target
"""
# The agent: reports each boot on ttyS1, does the boot's step, reboots or powers off. Its
# state (the step, the boot count, the host's URL) is on the data partition, like the unit's.
GUEST_SCRIPT = r"""#!/bin/bash
set -x  # the trace goes to the serial port too (lines starting with "+")
say() { echo "TSED_UPD up=$(cut -d' ' -f1 /proc/uptime) $*"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" 2>/dev/null; }
step=$(cat /data/test/step 2>/dev/null || echo 1)
boot=$(( $(cat /data/test/boots 2>/dev/null || echo 0) + 1 )); echo $boot >/data/test/boots
url=$(cat /data/test/url)
slot=$(sed -n 's/.*rauc\.slot=\([AB]\).*/\1/p' /proc/cmdline)
say "boot=$boot step=$step slot=$slot version=$(cat /usr/share/tsed/release)"
say "mounts=$(findmnt -n -o SOURCE /var/lib/tsed | tr -d ' ')"
state=none
set +x
for i in $(seq 600); do  # at most 600 polls and 900 s of uptime
    s=$(systemctl is-active tsed)
    [ "$s" = active ] && { state=active; break; }
    [ "$s" = failed ] && { state=failed; break; }
    restarts=$(systemctl show -P NRestarts tsed)
    [ "${restarts:-0}" -ge 3 ] && { state=failed; break; }
    [ "$(cut -d. -f1 /proc/uptime)" -gt 900 ] && break
    [ $((i % 20)) = 0 ] && journalctl -u tsed --no-pager -o cat -n 3 | sed 's/^/TSED_UPD_LOG /'
    sleep 1
done
say "ready=$state restarts=$(systemctl show -P NRestarts tsed)"
[ "$state" = active ] || journalctl -u tsed --no-pager -o cat -n 12 | sed 's/^/TSED_UPD_LOG /'
for i in $(seq 900); do
    h=$(systemctl is-active tsed-update-health)
    [ "$h" = active ] || [ "$h" = failed ] && break
    sleep 1
done
say "health=$h"
journalctl -u tsed-update-health --no-pager -o cat | tail -3 | sed 's/^/TSED_UPD_LOG /'
say "marks=$(rauc status --detailed --output-format=json 2>/dev/null | field '",".join(n + "=" + str(s.get("boot_status")) for e in d["slots"] for n, s in e.items())')"
[ "$state" = active ] || exit 0  # the broken version: the health check reboots the unit
say "update_status=$(tsectl --json update status | python3 -c 'import json,sys; d=json.load(sys.stdin); l=d.get("last") or {}; print(",".join(str(x) for x in (d["booted_slot"], d["running_version"], l.get("state"), l.get("version"), (d.get("other_slot") or {}).get("version"))))')"
install() {
    local t0 t1 out
    t0=$(date +%s.%N)
    out=$(tsectl --json update install "$1" 2>&1)
    t1=$(date +%s.%N)
    say "$2=$(echo "$out" | field 'd.get("error", {}).get("code") or d["last"]["state"]') $2_seconds=$(python3 -c "print(round($t1 - $t0, 1))")"
    echo "$out" | head -c 400 | tr '\n' ' ' | sed 's/^/TSED_UPD_LOG /'; echo
}
if [ "$step" = 1 ]; then
    say "pairing_code=$(tsectl --json pair | field 'd["code"]')"
    # the host pairs with the code and signs two receipts through the register API
    for i in $(seq 600); do
        n=$(tsectl --json status | field 'd.get("receipts_signed", 0)')
        [ "${n:-0}" -ge 2 ] && break; sleep 1
    done
    say "receipts_before=$n"
    install /data/bundles/forged.raucb forged
    install /data/bundles/other.raucb other
    install /data/bundles/older.raucb older
    if [ -e /data/test/short ]; then say "done=1"; systemctl --no-block poweroff; exit 0; fi
    install "$url/next.raucb" next
    echo 2 >/data/test/step; sync
    say "rebooting=1"; systemctl reboot; exit 0
fi
# steps 2 and 3: wait for the host's receipt on this boot (the counters go on)
for i in $(seq 600); do
    n=$(tsectl --json status | field 'd.get("receipts_signed", 0)')
    [ "${n:-0}" -ge 1 ] && break; sleep 1
done
say "receipts_now=$n"
if [ "$step" = 2 ] && [ -e /data/test/no-rollback ]; then say "done=1"; systemctl --no-block poweroff; exit 0; fi
if [ "$step" = 2 ]; then
    install "$url/broken.raucb" broken
    echo 3 >/data/test/step; sync
    say "rebooting=1"; systemctl reboot; exit 0
fi
say "done=1"
systemctl --no-block poweroff
"""
BROKEN_TSED = "#!/bin/sh\necho 'tsed: this build does not start (update test)' >&2\nexit 1\n"


class Guest:
    """One qemu process on the disk, through all its reboots; the agent's lines by boot."""

    def __init__(self, disk: Path, work: Path, port: int) -> None:
        self.log, self.kernel_log = work / "agent.log", work / "console.log"
        cmd = [
            "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", "1024", "-smp", "2",
            "-display", "none", "-monitor", "none",
            "-drive", f"file={disk},format=raw,if=virtio",
            "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:8443",
            "-serial", f"file:{self.kernel_log}", "-serial", f"file:{self.log}",
        ]  # fmt: skip
        self.started = time.monotonic()
        self.heard: dict[tuple[int, str], float] = {}  # (boot, key): host seconds since start
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # noqa: S603
                                     preexec_fn=_die_with_parent)  # fmt: skip

    def boots(self) -> list[dict[str, str]]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        found: list[dict[str, str]] = []
        for line in re.findall(r"^TSED_UPD (.*)", text, re.MULTILINE):
            words = dict(word.partition("=")[::2] for word in line.split() if "=" in word)
            if "boot" in words:
                found.append({})
            if found:
                found[-1].update(words)
        for number, boot in enumerate(found, 1):
            for key in boot:
                self.heard.setdefault((number, key), time.monotonic() - self.started)
        return found

    def wait(self, boot: int, key: str, limit: float = STEP_LIMIT) -> str:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            found = self.boots()
            if len(found) >= boot and key in found[boot - 1]:
                return found[boot - 1][key]
            if self.proc.poll() is not None:
                raise SystemExit(f"qemu exited before boot {boot} reported {key}")
            time.sleep(0.5)
        raise SystemExit(f"boot {boot} did not report {key} within {limit:.0f} s")

    def at(self, boot: int, key: str) -> float:
        return self.heard.get((boot, key), 0.0)

    def stop(self, limit: float = 300.0) -> int:
        try:
            return self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def _bundle(rootfs: Path, version: str, out: Path, cert: Path, key: Path,
            compatible: str = "tsed-lan-unit", comp: str = "gzip") -> Path:  # fmt: skip
    made = subprocess.run(
        [str(HERE / "bundle"), str(rootfs), version, str(out), "--cert", str(cert),
         "--key", str(key), "--compatible", compatible, "--comp", comp],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    if made.returncode != 0:
        raise SystemExit(f"image/bundle {version} failed: {made.stderr[-1500:]}")
    return out


def _prepare(out: Path, work: Path, args: argparse.Namespace) -> tuple[Path, Path, str]:
    """The base root filesystem (test CA, agent), the data partition's files, the version."""
    base = work / "rootfs.ext4"
    subprocess.run(["cp", "--sparse=always", str(out / "rootfs.ext4"), str(base)], check=True)
    (work / "tsed-updatetest").write_text(GUEST_SCRIPT)
    (work / "tsed-updatetest.service").write_text(GUEST_UNIT)
    # qemu without KVM on a shared box starts the daemon several times slower than a unit:
    # the first start (keys, simulator, TSS) may take minutes, and the watchdog must wait too
    (work / "slow.conf").write_text("[Service]\nTimeoutStartSec=600s\nWatchdogSec=120s\n")
    _debugfs(
        base,
        "rm /etc/rauc/update-ca.pem\n"
        f"write {args.ca} /etc/rauc/update-ca.pem\n"
        f"write {work / 'tsed-updatetest'} /usr/local/sbin/tsed-updatetest\n"
        "sif /usr/local/sbin/tsed-updatetest mode 0100755\n"
        f"write {work / 'tsed-updatetest.service'} /etc/systemd/system/tsed-updatetest.service\n"
        "symlink /etc/systemd/system/multi-user.target.wants/tsed-updatetest.service "
        "/etc/systemd/system/tsed-updatetest.service\n"
        "mkdir /etc/systemd/system/tsed.service.d\n"
        f"write {work / 'slow.conf'} /etc/systemd/system/tsed.service.d/tcg.conf\n",
    )
    version = (out / "version").read_text().strip()
    data = work / "data"
    (data / "test").mkdir(parents=True)
    (data / "bundles").mkdir()
    small = work / "small.ext4"  # the refused bundles' payload: never installed
    (work / "small" / "usr" / "share" / "tsed").mkdir(parents=True)
    (work / "small" / "filler").write_bytes(random.Random(7).randbytes(1 << 16))
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(work / "small"), str(small), "8M"],
                   check=True, capture_output=True)  # fmt: skip
    _bundle(small, "9.0.0", data / "bundles" / "forged.raucb", args.forged_cert, args.forged_key)
    _bundle(small, "9.0.0", data / "bundles" / "other.raucb", args.cert, args.key,
            compatible="tsed-kassendrucker")  # fmt: skip
    _bundle(small, "0.0.1", data / "bundles" / "older.raucb", args.cert, args.key)
    if args.short:
        (data / "test" / "short").write_text("1\n")
    if args.no_rollback:
        (data / "test" / "no-rollback").write_text("1\n")
    return base, data, version


def _next_version(version: str, step: int) -> str:
    parts = [int(p) for p in version.split(".")] + [0, 0]
    return f"{parts[0]}.{parts[1] + step}.0"


def _sign(port: int, token: str, key: str) -> dict[str, Any]:
    with _client(port) as client:
        for _attempt in range(30):
            try:
                answer = client.post("/api/v1/receipts", json=RECEIPT, headers={
                    "Authorization": f"Bearer {token}", "Idempotency-Key": key})  # fmt: skip
            except Exception:  # noqa: BLE001 - the unit may still be starting: try again
                time.sleep(2)
                continue
            if answer.status_code == 200:
                return dict(answer.json().get("result") or {})
            time.sleep(2)
    raise SystemExit(f"receipt {key} was not signed")


def run(out: Path, args: argparse.Namespace) -> int:
    results: dict[str, Any] = {}
    checks: dict[str, bool] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tsed-update-") as tmp:
        work = Path(tmp)
        base, data, version = _prepare(out, work, args)
        served = work / "served"
        served.mkdir()
        if not args.short and args.next_bundle:  # made by an earlier run of the same image
            shutil.copyfile(args.next_bundle, served / "next.raucb")
            results["bundle_bytes"] = (served / "next.raucb").stat().st_size
        elif not args.short:
            t0 = time.monotonic()
            _bundle(base, _next_version(version, 1), served / "next.raucb", args.cert, args.key,
                    comp=args.comp)  # fmt: skip
            results["bundle_seconds"] = round(time.monotonic() - t0)
            results["bundle_comp"] = args.comp
            results["bundle_bytes"] = (served / "next.raucb").stat().st_size
            if args.keep_bundle:
                shutil.copyfile(served / "next.raucb", args.keep_bundle)
        if not args.short and not args.no_rollback:
            broken = work / "broken.ext4"
            subprocess.run(["cp", "--sparse=always", str(base), str(broken)], check=True)
            (work / "tsed-broken").write_text(BROKEN_TSED)
            _debugfs(broken, "rm /opt/tsed/venv/bin/tsed\n"
                     f"write {work / 'tsed-broken'} /opt/tsed/venv/bin/tsed\n"
                     "sif /opt/tsed/venv/bin/tsed mode 0100755\n")  # fmt: skip
            t0 = time.monotonic()
            _bundle(broken, _next_version(version, 2), served / "broken.raucb", args.cert,
                    args.key, comp=args.comp)  # fmt: skip
            results["broken_bundle_seconds"] = round(time.monotonic() - t0)
            results["broken_bundle_bytes"] = (served / "broken.raucb").stat().st_size
            broken.unlink()
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        (data / "test" / "url").write_text(f"http://10.0.2.2:{server.server_address[1]}\n")
        disk = work / "disk.img"
        subprocess.run([str(HERE / "disk"), str(base), str(disk), "--data", str(data)],
                       check=True, capture_output=True)  # fmt: skip
        port = _free_port()
        guest = Guest(disk, work, port)
        try:
            results.update(_scenario(guest, port, version, args.short, checks, args.no_rollback))
        finally:
            rc = guest.stop(600)
            server.shutdown()
            variant = "short" if args.short else "long"
            for name in ("agent.log", "console.log"):  # image/out/update-long-agent.log, ...
                if (work / name).exists():
                    shutil.copyfile(work / name, out / f"update-{variant}-{name}")
        checks["power-off clean"] = rc == 0
    results["seconds_total"] = round(time.monotonic() - started)
    print(json.dumps(results, indent=2))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if checks and all(checks.values()) else 1


def _scenario(guest: Guest, port: int, version: str, short: bool,
              checks: dict[str, bool], no_rollback: bool = False) -> dict[str, Any]:  # fmt: skip
    r: dict[str, Any] = {}
    first = guest.wait(1, "ready")
    b1 = guest.boots()[0]
    r["boot1"] = b1
    r["boot1_ready_uptime"] = b1.get("up")
    checks["GRUB boots slot A of the disk"] = b1.get("slot") == "A"
    checks["state on the data partition"] = "tsed-data" in b1.get("mounts", "") or (
        "vda5" in b1.get("mounts", ""))  # fmt: skip
    checks["slot A READY"] = first == "active"
    checks["health check marks A good"] = guest.wait(1, "health") == "active"
    code = guest.wait(1, "pairing_code")
    pin = _fingerprint(port)
    with _client(port) as client:
        paired = client.post("/api/v1/pairings", json={"code": code, "register_serial": "ERS 1"})
    token = paired.json()["token"]
    before = [_sign(port, token, f"update-b1-{n}") for n in range(2)]
    r["counters_before"] = [b.get("signature_counter") for b in before]
    guest.wait(1, "receipts_before")
    for name, expected in (("forged", "UPDATE_BAD_SIGNATURE"),
                           ("other", "UPDATE_OTHER_DEVICE_CLASS"), ("older", "UPDATE_DOWNGRADE")):  # fmt: skip
        got = guest.wait(1, name)
        checks[f"{name} bundle refused ({expected})"] = got == expected
    if short:
        guest.wait(1, "done")
        return r
    r["install_next"] = guest.wait(1, "next")
    r["install_seconds"] = float(guest.wait(1, "next_seconds"))
    checks["next version installed"] = r["install_next"] == "installed"
    guest.wait(1, "rebooting")
    reboot_at = guest.at(1, "rebooting")
    ready2 = guest.wait(2, "ready")
    b2 = guest.boots()[1]
    r["boot2"] = b2
    r["reboot_to_ready_seconds"] = round(guest.at(2, "ready") - reboot_at)
    checks["slot B runs the next version"] = (b2.get("slot"), b2.get("version"), ready2) == (
        "B", _next_version(version, 1), "active")  # fmt: skip
    checks["health check marks B good"] = guest.wait(2, "health") == "active"
    after = _sign(port, token, "update-b2-0")
    r["counter_after_update"] = after.get("signature_counter")
    checks["counters go on after the update"] = int(after.get("signature_counter") or 0) > max(
        int(b.get("signature_counter") or 0) for b in before)  # fmt: skip
    checks["device key the register pinned unchanged"] = _fingerprint(port) == pin
    status2 = guest.wait(2, "update_status").split(",")
    checks["update status: B, good"] = status2[:3] == ["B", _next_version(version, 1), "good"]
    if no_rollback:
        guest.wait(2, "done")
        return r
    r["install_broken"] = guest.wait(2, "broken")
    guest.wait(2, "rebooting")
    broken_at = guest.at(2, "rebooting")
    ready3 = guest.wait(3, "ready")
    r["boot3"] = guest.boots()[2]
    checks["broken version booted in A and did not get READY"] = (
        guest.boots()[2].get("slot"), ready3) == ("A", "failed")  # fmt: skip
    ready4 = guest.wait(4, "ready")
    b4 = guest.boots()[3]
    r["boot4"] = b4
    r["rollback_seconds"] = round(guest.at(4, "ready") - broken_at)
    checks["rolled back to B by itself"] = (b4.get("slot"), b4.get("version"), ready4) == (
        "B", _next_version(version, 1), "active")  # fmt: skip
    marks = guest.wait(4, "marks")
    r["marks_after_rollback"] = marks
    checks["A marked bad, B good"] = "rootfs.0=bad" in marks and "rootfs.1=good" in marks
    last = _sign(port, token, "update-b4-0")
    r["counter_after_rollback"] = last.get("signature_counter")
    checks["counters go on after the rollback"] = int(last.get("signature_counter") or 0) > int(
        after.get("signature_counter") or 0)  # fmt: skip
    status4 = guest.wait(4, "update_status").split(",")
    r["update_status_after_rollback"] = status4
    checks["update status says rolled_back"] = status4[2] == "rolled_back"
    guest.wait(4, "done")
    return r


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="image/update.py", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    for name in ("ca", "cert", "key", "forged-cert", "forged-key"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--short", action="store_true", help="boot, refusals, power-off")
    parser.add_argument("--no-rollback", action="store_true", help="stop after the update")
    parser.add_argument("--next-bundle", type=Path, help="reuse this bundle of the next version")
    parser.add_argument("--keep-bundle", type=Path, help="copy the next version's bundle here")
    parser.add_argument("--comp", default="lz4",
                        help="squashfs compressor of the bundles (image/bundle --comp)")  # fmt: skip
    return run(args.out, args) if (args := parser.parse_args(argv)) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
