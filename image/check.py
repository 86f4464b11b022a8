"""Host side of ``image/test``: boot a copy of the image in qemu and check the unit.

The guest half is a oneshot unit written into the copy with debugfs. It reports on the serial
console as lines ``TSED_CHECK key=value`` and prints the pairing code; this script pairs a
register over the forwarded HTTPS port, signs a receipt, verifies its QR code independently,
then waits for the guest to run the watchdog check and power off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tsed.fiskaly.tr03151 import verify_qr_code

# TCG on 2 shared cores: boot plus first start of the daemon. The test suite passes what is
# left of its own time limit, so qemu is always stopped by this script, never orphaned.
TOTAL_TIMEOUT = float(os.environ.get("TSED_IMAGE_CHECK_TIMEOUT") or 840.0)
BOOT_TIMEOUT = min(600.0, TOTAL_TIMEOUT)
CONSOLE_TTY = "ttyS1"  # the USB gadget port /dev/ttyGS0 on a unit; a second UART in qemu
CONSOLE_PASSWORD = "Abnahme-Konsole-42"  # noqa: S105 - a test password, set on first boot

GUEST_SCRIPT = r"""#!/bin/bash
say() { echo "TSED_CHECK $*"; }
status_json() { tsectl --json status 2>/dev/null; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" 2>/dev/null; }
state=inactive
for i in $(seq 300); do
    state=$(systemctl is-active tsed)
    [ "$state" = active ] && break
    sleep 1
done
say "state=$state"
say "status=$(systemctl show -P StatusText tsed)"
systemctl status tsed --no-pager 2>&1 | head -6 | sed 's/^/TSED_STATUSLINE /'
say "journal_fields=$(journalctl -u tsed -o verbose --no-pager | grep -c '^ *TSED_')"
for i in $(seq 60); do
    [ "$(systemctl is-active tsed-console)" = active ] && break
    sleep 1
done
say "console=$(systemctl is-active tsed-console)"
journalctl -u tsed-console --no-pager -n 5 2>&1 | sed 's/^/TSED_CONSOLE /'
journalctl -u tsed --no-pager -n 15 2>&1 | sed 's/^/TSED_JOURNAL /'
/opt/tsed/venv/bin/python -c 'import systemd.journal, os; print("journal module ok", os.path.exists("/run/systemd/journal/socket"))' 2>&1 | sed 's/^/TSED_JOURNAL /'
say "fingerprint=$(status_json | field 'd["device"]["fingerprint"]')"
say "pairing_code=$(tsectl --json pair | field 'd["code"]')"
signed=0
for i in $(seq 240); do
    signed=$(status_json | field 'd.get("receipts_signed", 0)')
    [ "${signed:-0}" -ge 1 ] && break
    sleep 1
done
say "receipts_signed=$signed"
before=$(systemctl show -P NRestarts tsed)
pid=$(systemctl show -P MainPID tsed)
kill -STOP "$pid"
after=$before
for i in $(seq 180); do
    after=$(systemctl show -P NRestarts tsed)
    if [ "$after" -gt "$before" ] && [ "$(systemctl is-active tsed)" = active ]; then break; fi
    sleep 1
done
say "watchdog_restarts=$((after - before))"
say "result=$(journalctl -u tsed --no-pager | grep -c -i 'watchdog timeout')"
say "done=1"
systemctl --no-block poweroff
"""

GUEST_UNIT = """[Unit]
Description=tsed image check (test image only)
After=tsed.service
Wants=tsed.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/tsed-imagecheck
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _debugfs(image: Path, commands: str) -> None:
    subprocess.run(
        ["debugfs", "-w", "-f", "-", str(image)],
        input=commands.encode(),
        check=True,
        capture_output=True,
    )


def _prepare(out: Path, work: Path) -> Path:
    image = work / "rootfs.ext4"
    shutil.copyfile(out / "rootfs.ext4", image)
    script = work / "tsed-imagecheck"
    script.write_text(GUEST_SCRIPT)
    unit = work / "tsed-imagecheck.service"
    unit.write_text(GUEST_UNIT)
    # The console unit as shipped, moved from the USB gadget port to the second UART.
    console = work / "tsed-console.service"
    shipped = Path(__file__).resolve().parents[1] / "systemd" / "tsed-console.service"
    console.write_text(shipped.read_text().replace("ttyGS0", CONSOLE_TTY))
    wants = f"/etc/systemd/system/dev-{CONSOLE_TTY}.device.wants"
    _debugfs(
        image,
        f"write {script} /usr/local/sbin/tsed-imagecheck\n"
        "sif /usr/local/sbin/tsed-imagecheck mode 0100755\n"
        f"write {unit} /etc/systemd/system/tsed-imagecheck.service\n"
        "symlink /etc/systemd/system/multi-user.target.wants/tsed-imagecheck.service "
        "/etc/systemd/system/tsed-imagecheck.service\n"
        "rm /etc/systemd/system/tsed-console.service\n"
        f"write {console} /etc/systemd/system/tsed-console.service\n"
        f"mkdir {wants}\n"
        f"symlink {wants}/tsed-console.service /etc/systemd/system/tsed-console.service\n",
    )
    return image


class SerialConsole:
    """The host end of the guest's console UART (a qemu chardev on a Unix socket)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(1.0)
        self.sock.connect(str(path))
        self.received = b""

    def command(self, line: str, until: str = "\r\n> ", timeout: float = 60.0) -> str:
        self.received = b""
        self.sock.sendall(line.encode() + b"\r")
        deadline = time.monotonic() + timeout
        while until.encode() not in self.received:
            if time.monotonic() > deadline:
                raise SystemExit(f"console: no answer to {line!r}: {self.received[-400:]!r}")
            try:
                self.received += self.sock.recv(65536)
            except TimeoutError:
                continue
        return self.received.decode("utf-8", "replace")

    def close(self) -> None:
        self.sock.close()


def _console_session(path: Path, fingerprint: str) -> tuple[dict[str, str], str]:
    """status, network and pair on the serial console; the pairing code it showed."""
    console = SerialConsole(path)
    try:
        console.command("", timeout=120)  # the console may still be starting
        status = console.command("status")
        network = console.command("network")
        # The first admin password (first boot: no current one asked), then pair asks for it.
        console.command("password", until="Neues Admin-Passwort: ")
        console.command(CONSOLE_PASSWORD, until="Wiederholen: ")
        password_set = console.command(CONSOLE_PASSWORD)
        console.command("pair", until="Aktuelles Admin-Passwort: ")
        pair = console.command(CONSOLE_PASSWORD)
        garbage = console.command("\x1b[A\xff" + "x" * 2000)
    finally:
        console.close()
    # the console as shipped speaks German (English with --lang en)
    code = re.search(r"Kopplungscode:\s+(\S+)", pair)
    text = status + network + pair + garbage
    results = {
        "console_status": str(re.search(r"Modus:\s+TEST", status) is not None
                              and fingerprint in status),  # fmt: skip
        "console_network": str("10.0.2.15" in network and "DNS-Server:" in network),
        "console_pair_password": str(
            "Admin-Passwort gesetzt" in password_set and "Kopplungscode:" in pair
        ),
        "console_clean": str("Traceback" not in text and "Zeile zu lang" in garbage),
    }
    return results, code.group(1) if code else ""


def _wait_for(log: Path, key: str, deadline: float, proc: subprocess.Popen[bytes]) -> str:
    pattern = re.compile(rf"TSED_CHECK {re.escape(key)}=(.*)")
    while time.monotonic() < deadline:
        exited = proc.poll() is not None
        text = log.read_text(errors="replace") if log.exists() else ""
        match = pattern.search(text)
        if match:
            return match.group(1).strip()
        if exited:
            raise SystemExit(f"qemu exited before the guest reported {key}")
        time.sleep(1)
    raise SystemExit(f"timed out waiting for the guest to report {key}")


def _sign_receipt(port: int, code: str) -> dict[str, object]:
    base = f"https://127.0.0.1:{port}"
    with httpx.Client(base_url=base, verify=False, timeout=30.0, trust_env=False) as client:  # noqa: S501 - self-signed device cert, fingerprint checked by the caller
        paired = client.post(
            "/api/v1/pairings", json={"code": code, "register_serial": "ERS image-test"}
        )
        paired.raise_for_status()
        token = paired.json()["token"]
        receipt = {
            "receipt_type": "RECEIPT",
            "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "11.90"}],
            "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "11.90"}],
        }
        signed = client.post(
            "/api/v1/receipts",
            json=receipt,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "image-test-1"},
        )
        signed.raise_for_status()
        result: dict[str, object] = signed.json()
        return result


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "image/out")
    port = _free_port()
    results: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        image = _prepare(out, work)
        log = work / "serial.log"
        console_sock = work / "console.sock"
        started = time.monotonic()
        cmd = [
            "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", "1024", "-smp", "2",
            "-display", "none", "-no-reboot", "-monitor", "none",
            "-kernel", str(out / "vmlinuz"), "-initrd", str(out / "initrd.img"),
            "-append", "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=false",
            "-drive", f"file={image},format=raw,if=virtio",
            "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:8443",
            "-serial", f"file:{log}",
            "-chardev", f"socket,id=console,path={console_sock},server=on,wait=off",
            "-serial", "chardev:console",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
        try:
            deadline = started + BOOT_TIMEOUT
            results["state"] = _wait_for(log, "state", deadline, proc)
            results["status"] = _wait_for(log, "status", deadline, proc)
            results["journal_fields"] = _wait_for(log, "journal_fields", deadline, proc)
            results["console"] = _wait_for(log, "console", deadline, proc)
            fingerprint = _wait_for(log, "fingerprint", deadline, proc)
            _wait_for(log, "pairing_code", deadline, proc)
            ready_after = time.monotonic() - started
            console_results, code = _console_session(console_sock, fingerprint)
            results.update(console_results)
            signed = _sign_receipt(port, code)
            result = signed.get("result") or {}
            qr = str(result.get("qr_code_data", "")) if isinstance(result, dict) else ""
            verification = verify_qr_code(qr)
            results["qr_verified"] = str(verification.valid)
            results["receipts_signed"] = _wait_for(
                log, "receipts_signed", started + TOTAL_TIMEOUT, proc
            )
            results["watchdog_restarts"] = _wait_for(
                log, "watchdog_restarts", started + TOTAL_TIMEOUT, proc
            )
            _wait_for(log, "done", started + TOTAL_TIMEOUT, proc)
            rc = proc.wait(timeout=max(10.0, started + TOTAL_TIMEOUT - time.monotonic()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if log.exists():
                shutil.copyfile(log, out / "serial.log")
        serial = log.read_text(errors="replace")
        results["poweroff_clean"] = str(rc == 0 and "reboot: Power down" in serial)
        results["fingerprint"] = fingerprint
        results["seconds_to_ready"] = f"{ready_after:.0f}"
        results["seconds_total"] = f"{time.monotonic() - started:.0f}"
        checks = {
            "unit active (READY)": results["state"] == "active",
            "STATUS shows the mode": "TEST" in results["status"] or "LIVE" in results["status"],
            "journal has TSED_ fields": int(results["journal_fields"] or 0) > 0,
            "console unit active on its tty": results["console"] == "active",
            "console shows status (mode, fingerprint)": results["console_status"] == "True",
            "console shows the network": results["console_network"] == "True",
            "console pairs with the admin password": (
                results["console_pair_password"] == "True"  # noqa: S105 - a check result
            ),
            "console survives garbage, no traceback": results["console_clean"] == "True",
            "register paired with the console's code": bool(code),
            "receipt QR verifies": results["qr_verified"] == "True",
            "receipt counted by the unit": int(results["receipts_signed"] or 0) >= 1,
            "watchdog restarted the stopped daemon": int(results["watchdog_restarts"]) >= 1,
            "power-off clean": results["poweroff_clean"] == "True",
        }
    print(json.dumps(results, indent=2))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
