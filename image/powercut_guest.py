"""Guest half of the power-cut test (``image/powercut.py``): test image only.

Runs at every boot as a oneshot unit after ``tsed.service`` and reports on its own serial
port as lines ``TSED_PC key=value``. What it does comes from the kernel command line
(``tsed_pc.*``, set by the host for each boot):

1. waits for READY, then reports what survived the last cut: ``PRAGMA integrity_check`` of
   the unit's store and of the simulator, transactions left ACTIVE at the simulator, the
   configured name, which admin password the vault holds, the export jobs counted as done
   (every file's size and SHA-256 against its record), the exports ``tsectl`` downloaded,
   the fiscal archive (every indexed file whole with the SHA-256 of its row and of
   ``MANIFEST.sha256``, no file in it without a row, the counters of each TSS without gap or
   overlap, how far each TSS is archived), the mount options of ``/`` and the disk's write
   cache mode;
2. on the first boot opens pairing windows for the host's registers, one after the other;
3. runs the moment's workload until the power goes: ``config`` saves the configuration in a
   loop, ``vault`` sets the admin password in a loop, ``export`` exports the TSS with
   ``tsectl export`` in a loop, ``archive`` runs the fiscal archive (``tsectl archive run``)
   in a loop, ``all`` the four loops side by side, ``receipts`` only the host's load; each
   step is reported when it begins and once it was acknowledged. ``final`` runs the archive
   once more (it must continue where it stood) and powers off cleanly instead.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import tarfile
import threading
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tsed.cli.adminclient import AdminClient

STATE = Path("/var/lib/tsed")
OWN = Path("/var/lib/tsed-powercut")  # what tsectl downloaded
SOCKET = STATE / "admin.sock"
CONFIG = Path("/etc/tsed/tsed.toml")
ARCHIVE = STATE / "archive"
WRITES = ("config", "vault", "export", "archive")  # the loops of moment "all"
STEPS = 10_000  # every loop is bounded; the cut ends it long before
BEAT = 10.0  # seconds between the agent's heartbeats: the host tells a slow guest from a hung one
_SAY = threading.Lock()


def say(**values: object) -> None:
    """One line on the serial port, with the guest's uptime (seconds since the kernel started).

    One ``write`` per line under a lock: the loops of ``all`` report from three threads, and
    two ``print`` calls can interleave their text and newlines, which garbles both lines.
    """
    uptime = Path("/proc/uptime").read_text().split()[0]
    words = " ".join(f"{k}={v}" for k, v in {"up": uptime, **values}.items())
    with _SAY:
        os.write(1, f"TSED_PC {words}\n".encode())


def heartbeat() -> None:
    for number in range(100_000):
        time.sleep(BEAT)
        say(beat=number)


def cmdline() -> dict[str, str]:
    words = Path("/proc/cmdline").read_text().split()
    pairs = (word.split("=", 1) for word in words if word.startswith("tsed_pc."))
    return {key.removeprefix("tsed_pc."): value for key, value in pairs}


def admin(method: str, path: str, body: dict[str, object] | None = None) -> dict[str, Any]:
    """What ``tsectl`` asks the daemon, on its admin socket, without a ``tsectl`` start-up per
    call (under emulation on a busy box each one is 20-30 s of Python imports); {} on an error."""
    from tsed.cli.adminclient import AdminClient, CommandFailed

    client = AdminClient(SOCKET, timeout=120)
    try:
        return dict(client.call(method, path, body))
    except CommandFailed as err:
        say(admin_error=f"{method}:{path}:{err.code}")
        return {}
    finally:
        client.close()


def wait_ready() -> None:
    for tick in range(1200):
        active = subprocess.run(["systemctl", "is-active", "--quiet", "tsed"], check=False)
        if active.returncode == 0:
            break
        if tick % 60 == 59:  # every 30 s: what the daemon is doing (for a failing run)
            journal = subprocess.run(["journalctl", "-u", "tsed", "-n", "3", "--no-pager"],
                                     capture_output=True, text=True, check=False)  # fmt: skip
            for line in journal.stdout.splitlines():
                print(f"TSED_PC_JOURNAL {line}", flush=True)
        time.sleep(0.5)
    ready = subprocess.run(
        ["systemctl", "show", "-P", "ActiveEnterTimestampMonotonic", "tsed"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    restarts = subprocess.run(["systemctl", "show", "-P", "NRestarts", "tsed"],
                              capture_output=True, text=True, check=False)  # fmt: skip
    # A restart (the watchdog's, or a failed start) moves READY on: the host reports both.
    say(ready_after=f"{int(ready.stdout.strip() or 0) / 1e6:.1f}",
        restarts=restarts.stdout.strip() or "?")


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read-only, beside the running daemon (a busy database is waited for, up to 60 s)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)) as db:
        return db.execute(sql).fetchall()


def integrity(path: Path) -> str:
    """``ok``, ``missing``, or what is wrong: an error is a finding, not the agent's end."""
    if not path.exists():
        return "missing"
    try:
        return str(query(path, "PRAGMA integrity_check")[0][0]).replace(" ", "_")
    except sqlite3.Error as err:
        return f"error:{err}".replace(" ", "_")


def simulator_active() -> int:
    """Transactions ACTIVE at the simulator; -1 when its state cannot be read."""
    path = STATE / "simulator" / "simulator.sqlite"
    if not path.exists():
        return 0
    try:
        rows = query(path, "SELECT body FROM objects WHERE kind = 'tx'")
    except sqlite3.Error:
        return -1
    return sum(1 for (body,) in rows if json.loads(body).get("state") == "ACTIVE")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def exports() -> tuple[int, int]:
    done = bad = 0
    for record in sorted((STATE / "exports").glob("*/job.json")):
        done += 1
        try:
            data = json.loads(record.read_text())
            for item in data["files"]:
                path = record.parent / Path(str(item["path"])).name
                content = path.read_bytes()
                if len(content) != int(item["size"]) or sha256(path) != item["sha256"]:
                    raise ValueError(path.name)
        except (OSError, ValueError, KeyError, TypeError):
            bad += 1
    return done, bad


def whole_tar(path: Path) -> bool:
    """Every member of the TAR reads to its recorded size (a cut file ends early)."""
    try:
        with tarfile.open(path, mode="r:") as archive:
            members = archive.getmembers()
            for member in members:
                data = archive.extractfile(member) if member.isfile() else None
                if data is not None and len(data.read()) != member.size:
                    return False
        return bool(members)
    except (OSError, tarfile.TarError):
        return False


def archived_to() -> str:
    """How far each TSS is archived: ``<tss id prefix>:<last counter>,...`` or ``-``."""
    index = ARCHIVE / "index.sqlite"
    if not index.exists():
        return "-"
    rows = query(index, "SELECT tss_id, MAX(last_counter) FROM entries "
                        "WHERE state = 'archived' GROUP BY tss_id ORDER BY tss_id")  # fmt: skip
    return ",".join(f"{tss[:8]}:{last}" for tss, last in rows) or "-"


def archive_state() -> dict[str, object]:
    """The archive as the unit counts it (its index) against its files and manifest: a file
    counts only with its row, whole and with the row's SHA-256, listed so in the manifest; a
    file without a row must have been set aside (``unrecorded/``) when the daemon started."""
    index = ARCHIVE / "index.sqlite"
    if not index.exists():
        return {"archive_entries": 0, "archive_bad": 0, "archive_stray": 0,
                "archive_unrecorded": 0, "archive_chain": "ok", "archive_to": "-"}  # fmt: skip
    try:
        rows = query(index, "SELECT tss_id, state, first_counter, last_counter, path, size, "
                            "sha256 FROM entries ORDER BY tss_id, first_counter, id")  # fmt: skip
        listed = ARCHIVE / "MANIFEST.sha256"  # written with the first file
        text = listed.read_text(encoding="utf-8") if rows or listed.exists() else ""
    except (OSError, sqlite3.Error) as err:
        return {"archive_entries": f"error:{err}".replace(" ", "_")}
    manifest = {rel: digest for digest, _, rel in (ln.partition("  ") for ln in text.splitlines())}
    bad, gaps, last = [], [], dict[str, int]()
    for tss, state, first, final, rel, size, digest in rows:
        path = ARCHIVE / rel
        if (rel.split("/")[0] not in ("tss", "rejected") or not path.is_file()
                or path.stat().st_size != size or sha256(path) != digest
                or manifest.get(rel) != digest):  # fmt: skip
            bad.append(Path(rel).name)
        if state == "archived":
            if tss in last and first != last[tss] + 1:
                gaps.append(f"{tss[:8]}:{last[tss]}-{first}")
            last[tss] = max(final, last.get(tss, final))
    known = {row[4] for row in rows}
    stray = [p for kind in ("tss", "rejected") for p in sorted((ARCHIVE / kind).glob("*/*.tar"))
             if p.relative_to(ARCHIVE).as_posix() not in known]  # fmt: skip
    aside = ARCHIVE / "unrecorded"
    return {"archive_entries": len(rows), "archive_bad": len(bad),
            "archive_bad_files": ",".join(bad) or "-", "archive_stray": len(stray),
            "archive_unrecorded": len(list(aside.iterdir())) if aside.exists() else 0,
            "archive_chain": ",".join(gaps) or "ok", "archive_to": archived_to()}  # fmt: skip


def config_name() -> str:
    try:
        data = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "unsaved"
    except (OSError, ValueError):
        return "unreadable"
    return str(data.get("name", "unset")).replace(" ", "_")


def vault_password(candidates: list[int]) -> str:
    try:
        stored = json.loads((STATE / "vault.json").read_text()).get("admin.password_hash")
    except (OSError, ValueError):
        return "unreadable"
    if not stored:
        return "none"
    from tsed.net.passwords import verify_password  # after the first report: see main()

    for number in candidates:
        if number >= 0 and verify_password(f"powercut-pw-{number}", stored):
            return str(number)
    return "other"


def report(args: dict[str, str]) -> None:
    mount = next(line for line in Path("/proc/mounts").read_text().splitlines()
                 if line.split()[1] == "/")  # fmt: skip
    cache = Path("/sys/block/vda/queue/write_cache").read_text().strip().replace(" ", "_")
    ext4 = Path("/proc/fs/ext4/vda/options")  # every option, the defaults too
    options = ",".join([mount.split()[3], *(ext4.read_text().split() if ext4.exists() else [])])
    say(mount=options, write_cache=cache)
    say(integrity_store=integrity(STATE / "tsed.sqlite"),
        integrity_simulator=integrity(STATE / "simulator" / "simulator.sqlite"))  # fmt: skip
    active, waited = simulator_active(), 0.0
    while active and waited < 120:  # the daemon finishes or cancels them in the background
        time.sleep(1)
        waited += 1
        active = simulator_active()
    say(simulator_active=active, active_waited=f"{waited:.0f}")
    say(config_name=config_name())
    candidates = [int(args.get("vault_acked", "-1")), int(args.get("vault_next", "-1"))]
    say(vault_password=vault_password(candidates))
    done, bad = exports()
    say(exports_done=done, exports_bad=bad)
    broken = 0
    for path in sorted(OWN.glob("export-*.tar")):  # a download still under way: *.tar.partial
        say(download=f"{path.stem}:{sha256(path)}")
        broken += not whole_tar(path)
    say(downloads_broken=broken)
    say(**archive_state())
    fingerprint = admin("GET", "/admin/v1/status").get("device", {}).get("key_sha256", "")
    say(fingerprint=fingerprint, checked=1)


def pair(count: int) -> None:
    for index in range(count):
        say(**{f"pairing_code_{index}": admin("POST", "/admin/v1/pairing", {})["code"]})
        for _ in range(600):
            if len(admin("GET", "/admin/v1/registers").get("registers", [])) > index:
                break
            time.sleep(0.5)


def step(moment: str, number: int, admin: AdminClient) -> None:
    """One configuration save, vault write, export or archive run, reported when begun and
    when done."""
    from tsed.cli.adminclient import CommandFailed
    from tsed.cli.tsectl_archive import run_archive_command
    from tsed.cli.tsectl_setup import _export

    say(**{f"{moment}_started": number})
    try:
        if moment == "config":  # what `tsectl config set name ...` sends, without its start-up
            admin.call("PUT", "/admin/v1/config/name", {"value": f"Powercut {number}"})
            say(config_acked=number)
        elif moment == "vault":
            admin.call("PUT", "/admin/v1/password", {"password": f"powercut-pw-{number}"})
            say(vault_acked=number)
        elif moment == "export":  # `tsectl export -o ...`: start, wait, download
            target = OWN / f"export-{number}.tar"
            options = argparse.Namespace(tss=None, tenant=None, start=None, end=None,
                                         output=str(target), wait=600.0)  # fmt: skip
            _export(admin, options)
            say(export_acked=f"export-{number}:{sha256(target)}")
        elif moment == "archive":  # `tsectl archive run`: start, wait until it ended, done
            run = argparse.Namespace(action="run", no_wait=False, json=True, wait=600.0)
            run_archive_command(admin, run)
            say(archive_acked=number, archive_to=archived_to())
    except CommandFailed as err:
        say(**{f"{moment}_error": f"{number}:{err.code}"})


def loop(moment: str, start: int) -> None:
    from tsed.cli.adminclient import AdminClient

    admin = AdminClient(SOCKET, timeout=600)
    for number in range(start, start + STEPS):
        step(moment, number, admin)
        time.sleep(0.5)  # an installer, not a flood: the registers' receipts go on


def workload(moment: str, start: int) -> None:
    """The moment's loop, or all three side by side (``all``); ``receipts``: only the load."""
    OWN.mkdir(exist_ok=True)
    moments = list(WRITES) if moment == "all" else [moment]
    moments = [m for m in moments if m in WRITES]
    threads = [threading.Thread(target=loop, args=(m, start)) for m in moments]
    for thread in threads:
        thread.start()
    say(moment_started=moment)
    for thread in threads:
        thread.join()
    while True:  # receipts only: the host's load runs until the cut
        time.sleep(60)


def wait_for_host() -> None:
    """The host signs a last receipt with the key ``powercut-final`` once it is done."""
    for _ in range(1800):
        with contextlib.suppress(sqlite3.Error):
            if query(STATE / "tsed.sqlite", "SELECT 1 FROM idempotency WHERE key = 'powercut-final'"):
                return
        time.sleep(1)


def main() -> None:
    # The first line and the heartbeat come before any import of tsed (seconds of CPU under
    # emulation): from now on the host hears from the agent every BEAT seconds.
    args = cmdline()
    say(boot=args.get("boot", "?"), moment=args.get("moment", "?"))
    threading.Thread(target=heartbeat, daemon=True).start()
    wait_ready()
    report(args)
    if int(args.get("pair", "0")):
        pair(int(args["pair"]))
    if args.get("moment") == "final":
        wait_for_host()
        from tsed.cli.adminclient import AdminClient

        step("archive", int(args.get("start", "0")), AdminClient(SOCKET, timeout=600))
        report(args)  # once more, after the host's checks and a last archive run
        say(done=1)
        subprocess.run(["systemctl", "--no-block", "poweroff"], check=False)
        return
    workload(args.get("moment", "receipts"), int(args.get("start", "0")))


if __name__ == "__main__":
    main()
