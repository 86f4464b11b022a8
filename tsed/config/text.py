"""Free text from outside: settings an installer types, strings a register sends, and showing
either on a terminal.

* **Settings** (:func:`setting_text`, :func:`console_port`): no control, format or bidi
  characters at all, and a length limit per setting (:data:`LIMITS`). The mask names no
  lengths; the limits are what the consumers of each value accept (the mDNS label, fiskaly's
  organization name, a proxy's Basic credentials, a device path).
* **Register strings** (labels and the like, :func:`clean_register_text`): control, format and
  bidi characters are removed on input, so a label cannot move the cursor, recolour the
  terminal or reorder a line of ``tsectl registers``.
* **On output** (:func:`shown`): every character that is not printable is written as an escape
  (``\\x1b``, ``\\u202e``), so even a value that predates these rules prints as one plain line.
"""

from __future__ import annotations

import re
import unicodedata

from tsed.errors import ConfigError

# Cc: C0/C1 controls (ESC, CR, BEL, ...); Cf: format characters (the bidi embeddings,
# overrides and isolates U+202A..U+202E and U+2066..U+2069, zero-width joiners, U+FEFF);
# Zl/Zp: line and paragraph separators; Cs/Co/Cn: surrogates, private use, unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})

LIMITS: dict[str, int] = {
    "console_port": 200,
    "proxy.username": 128,
    "telemetry.gateway": 200,
    "telemetry.ca_file": 200,
    "tenants.*.name": 100,
    "workplaces.*": 70,  # a register serial (the register API allows 1-70 characters)
}

# pyserial URL schemes that make sense for the installer's console: a local serial device
# (a path), a serial port shared over the network for service (rfc2217://, socket://), and
# the test loops. spy://, alt:// and hwgrep:// wrap or search other ports and are refused.
CONSOLE_SCHEMES = ("rfc2217", "socket", "loop")
_DEVICE_RE = re.compile(r"^/dev/[A-Za-z0-9._/-]{1,100}$")
_NET_URL_RE = re.compile(
    r"^(rfc2217|socket)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):[0-9]{1,5}"
    r"(\?[A-Za-z0-9=&_.-]{0,60})?$"
)
_LOOP_RE = re.compile(r"^loop://(\?[A-Za-z0-9=&_.-]{0,60})?$")


def _refused(char: str) -> bool:
    return unicodedata.category(char) in _REFUSED_CATEGORIES


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control, format, bidi or separator character."""
    return any(_refused(ch) for ch in text)


def clean_register_text(text: str) -> str:
    """``text`` without control, format and bidi characters (tabs and newlines become
    spaces), stripped at both ends."""
    out = []
    for ch in text:
        if ch in "\t\n\r":
            out.append(" ")
        elif not _refused(ch):
            out.append(ch)
    return "".join(out).strip()


def shown(text: str) -> str:
    """``text`` safe to print on a terminal line: non-printable characters as escapes."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def setting_text(key: str, value: str, limit_key: str | None = None) -> str:
    """A free-text setting: no control characters, at most its length limit."""
    limit = LIMITS[limit_key or key]
    if has_control(value):
        bad = next(ch for ch in value if _refused(ch))
        raise ConfigError(
            f"{key}: the value contains the control character U+{ord(bad):04X}; "
            "settings are plain text",
            hint="Type the value again without special characters "
            "(Steuerzeichen sind nicht erlaubt).",
        ).localized("config.control", field=key, char=f"U+{ord(bad):04X}")
    if len(value) > limit:
        raise ConfigError(
            f"{key}: {len(value)} characters, at most {limit} are allowed",
            hint=f"Shorten the value (höchstens {limit} Zeichen).",
        ).localized("config.too_long", field=key, count=len(value), limit=limit)
    return value


def console_port(value: str) -> str:
    """The serial console's port: a device path or a pyserial URL that suits a console."""
    setting_text("console_port", value)
    if (
        (_DEVICE_RE.fullmatch(value) and ".." not in value.split("/"))
        or _NET_URL_RE.fullmatch(value)
        or _LOOP_RE.fullmatch(value)
    ):
        return value
    raise ConfigError(
        f"console_port: {value!r} is not a serial device (/dev/...) or a pyserial URL "
        f"({', '.join(s + '://' for s in CONSOLE_SCHEMES)})",
        hint="Usually /dev/ttyGS0 (the USB port of the unit); for service over the network "
        "rfc2217://HOST:PORT. (Serielle Schnittstelle, z. B. /dev/ttyGS0.)",
    )


def checked_setting(value: str | None, key: str) -> str | None:
    """A free-text setting through its rule here (empty or ``None``: unset, kept as is)."""
    if not value:
        return value
    return console_port(value) if key == "console_port" else setting_text(key, value)


_USERINFO = re.compile(r"(?<=//)[^/@?#]*@")
_SHORT_USERINFO = re.compile(r"^((?:[a-z]+:)?[^:/@]*):[^@/]*@")


def without_userinfo(value: str) -> str:
    """An address as an error may show it: a user or password in it replaced by ``…``
    (``https://u:secret@host`` → ``https://…@host``, ``sftp:u:secret@host`` → ``sftp:u:…@``)."""
    return _SHORT_USERINFO.sub(r"\1:…@", _USERINFO.sub("…@", value))
