"""The printed setup-code label: a second setup code that lives on a sticker on the box.

The console's setup code (:mod:`tsed.net.setupcode`) lives in the daemon's memory and changes
at every restart, so it cannot be printed. The vendor's provisioning (``tsed-vendor label``)
makes a label code instead: only its salted SHA-256 goes to the state directory
(``setup_label.json``, mode 0600, owned like the state directory), and a printable label
(SVG) shows the unit's name, the setup page's address as text and as a QR code, and the code in
large characters that cannot be mixed up (no 0/O, 1/I/L, B/8, G/6, S/5, Z/2). The QR code holds
the address only, never the code.

The label code sets the first admin password like the console's code, after any number of
restarts. Once an admin password is set (by any path) both codes are used up and the label
file is removed; a factory reset makes a new console code, not a new label.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from xml.sax.saxutils import escape

import segno

from tsed.logs import register_secret
from tsed.state.files import atomic_write
from tsed.texts import Lang, text

# printed, then read off a sticker: besides 0/O and 1/I/L (the console code's rule) also
# without B/8, G/6, S/5 and Z/2; 24 characters, 8 of them: about 37 bits, behind the lockout
ALPHABET = "ACDEFHJKMNPQRTUVWXY34679"
LENGTH = 8
SETUP_PORT = 8443  # where the unit's setup page listens (tsed's default --listen)


def _normalize(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def _digest(salt: bytes, code: str) -> str:
    return hashlib.sha256(salt + _normalize(code).encode()).hexdigest()


def grouped(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def make_label_code(path: Path) -> str:
    """A new label code; its salted hash replaces any earlier label's. Returns ``K7QM-4TZD``."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    register_secret(code)
    register_secret(grouped(code))
    salt = secrets.token_bytes(16)
    record = {"salt": salt.hex(), "sha256": _digest(salt, code), "created_at": time.time()}
    atomic_write(path, json.dumps(record).encode(), mode=0o600)
    _give_to_state_owner(path)
    return grouped(code)


def _give_to_state_owner(path: Path) -> None:
    """Run as root (the vendor's provisioning on the unit): the file belongs to the state
    directory's owner, the service user, so that the daemon can read it."""
    if os.geteuid() != 0:
        return
    owner = path.parent.stat()
    os.chown(path, owner.st_uid, owner.st_gid)


def label_matches(path: Path, typed: str) -> bool:
    """Whether ``typed`` is the label's code (compared with its hash, in constant time)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        salt, digest = bytes.fromhex(str(record["salt"])), str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no label, or a damaged file: the console's code still works
    return hmac.compare_digest(_digest(salt, typed[:64]), digest)


def setup_url(short_id: str, port: int = SETUP_PORT) -> str:
    """The setup page by the unit's mDNS name (``tsed-<short id>.local``)."""
    shown_port = "" if port == 443 else f":{port}"
    return f"https://tsed-{short_id}.local{shown_port}/setup/"


def _qr_path(url: str, x: float, y: float, size: float) -> str:
    """The QR code of ``url`` as one SVG path (dark modules), ``size`` mm square."""
    qr = segno.make(url, error="m", micro=False)
    matrix = [list(row) for row in qr.matrix]
    module = size / (len(matrix) + 8)  # a quiet zone of four modules each side
    parts = []
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                left, top = x + (col + 4) * module, y + (row + 4) * module
                parts.append(f"M{left:.3f} {top:.3f}h{module:.3f}v{module:.3f}h-{module:.3f}z")
    return f'<path fill="#000" d="{"".join(parts)}"/>'


def label_svg(*, name: str, host: str, url: str, code: str, lang: Lang = "de") -> str:
    """The label, 90 × 50 mm: the unit's name, the setup address, its QR code, the code."""
    lines = [
        f'<text x="4" y="8" font-size="4.2" font-weight="bold">{escape(name)}</text>',
        f'<text x="4" y="13" font-size="3">{escape(host)}</text>',
        f'<text x="4" y="20" font-size="2.4">{escape(text("label.setup", lang))}</text>',
        f'<text x="4" y="24.5" font-size="2.3" font-family="DejaVu Sans Mono, monospace">'
        f"{escape(url)}</text>",
        f'<text x="4" y="32" font-size="2.8">{escape(text("label.code", lang))}</text>',
        f'<text x="4" y="42" font-size="8.5" font-weight="bold" letter-spacing="0.8" '
        f'font-family="DejaVu Sans Mono, monospace">{escape(code)}</text>',
        f'<text x="4" y="47.5" font-size="2.2">{escape(text("label.once", lang))}</text>',
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="90mm" height="50mm" '
        'viewBox="0 0 90 50" font-family="DejaVu Sans, sans-serif">\n'
        '<rect x="0.25" y="0.25" width="89.5" height="49.5" fill="#fff" stroke="#000" '
        'stroke-width="0.5"/>\n' + "\n".join(lines) + "\n" + _qr_path(url, 60, 4, 28) + "\n</svg>\n"
    )
