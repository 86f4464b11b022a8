"""The one-time setup code: what lets a person at the box set the first admin password in the
browser.

While no admin password is set, the unit holds a code of eight characters (``K7QM-4TZD``: no
0/O or 1/I/L to mix up). Only a person at the box sees it: the serial console shows it, and
``tsectl setup-code`` (root or the service user, on the admin socket) prints it. It never
reaches a log (it is registered as a secret), mDNS, the setup page's answers or a command line.

At rest only its salted SHA-256 lies in the state directory (``setup_code.json``); the code
itself lives in the daemon's memory. A restart before the password is set therefore makes a new
code (the old one could not be shown again). The code of the printed label that the vendor's
provisioning makes (``tsed-vendor label``, :mod:`tsed.net.setuplabel`) stays valid across
restarts; both codes work until the password is set. Setting the admin password by any path
(the page, ``tsectl password``, the console) ends the code; wrong codes count towards the
setup page's lockout like wrong passwords (:mod:`tsed.net.lockout`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from pathlib import Path

from tsed.errors import AuthError
from tsed.logs import register_secret
from tsed.net.setuplabel import label_matches
from tsed.state.files import atomic_write

_LOGGER = logging.getLogger(__name__)

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a console, typed on a phone
LENGTH = 8


class SetupCodeWrong(AuthError, code="SETUP_CODE_WRONG"):
    """The one-time setup code typed on the setup page is wrong, used or unknown."""

    default_hint = (
        "Type the setup code of the label on the housing, the one the serial console shows, "
        "or that 'tsectl setup-code' prints on the unit. It is valid until the admin password "
        "is set."
    )


def normalize(code: str) -> str:
    """What a person typed, as the code is compared: upper case, without spaces and dashes."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def grouped(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def _digest(salt: bytes, code: str) -> str:
    return hashlib.sha256(salt + normalize(code).encode()).hexdigest()


class SetupCode:
    """The unit's setup code: made while no admin password is set, ended once one is.

    ``label``: where the printed label's code is kept, hashed (:mod:`tsed.net.setuplabel`);
    while no admin password is set it works like the console's code, and it ends with it.
    """

    def __init__(self, path: Path, label: Path | None = None) -> None:
        self.path = path
        self.label = label
        self._code: str | None = None
        self._salt = b""
        self._digest = ""

    @property
    def active(self) -> bool:
        return self._code is not None

    def shown(self) -> str | None:
        """The code as people read it (``K7QM-4TZD``), or None once the password is set."""
        return grouped(self._code) if self._code is not None else None

    def renew(self) -> str:
        """A new code (first boot, a restart before the password is set, a factory reset)."""
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        register_secret(code)
        register_secret(grouped(code))
        self._code, self._salt = code, secrets.token_bytes(16)
        self._digest = _digest(self._salt, code)
        record = {"salt": self._salt.hex(), "sha256": self._digest, "created_at": time.time()}
        atomic_write(self.path, json.dumps(record).encode(), mode=0o600)
        _LOGGER.info(
            "setup code made: the serial console and tsectl setup-code show it",
            extra={"TSED_EVENT": "setup_code_made"},
        )
        return grouped(code)

    def matches(self, typed: str) -> bool:
        """Whether ``typed`` is the code (compared with its hash, in constant time)."""
        if self._code is None or not typed:
            return False
        register_secret(typed)  # a near miss may be the code with a typo: never logged either
        if hmac.compare_digest(_digest(self._salt, typed[:64]), self._digest):
            return True
        return self.label is not None and label_matches(self.label, typed)

    def check(self, typed: str) -> None:
        if not self.matches(typed):
            raise SetupCodeWrong("the setup code is wrong or no longer valid")

    def discard(self) -> None:
        """The admin password is set: the code is used up, its hash removed."""
        if self._code is not None:
            _LOGGER.info("setup code used up", extra={"TSED_EVENT": "setup_code_used"})
        self._code, self._salt, self._digest = None, b"", ""
        self.path.unlink(missing_ok=True)
        if self.label is not None:
            self.label.unlink(missing_ok=True)  # the printed label's code ends with it
