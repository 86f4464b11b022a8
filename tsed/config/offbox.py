"""The off-box copy of the fiscal archive: where restic keeps it (``[offbox]`` in the file).

The installer sets the repository (an SFTP or a REST target) and the user; the secrets are
never settings: the repository password and the target's credential (the REST password or the
SSH private key) are kept in the vault (:data:`PASSWORD_ENTRY`, :data:`CREDENTIAL_ENTRY`).

Repository forms (restic's own, with one addition: an SFTP port)::

    sftp:[USER@]HOST:/PATH          sftp://[USER@]HOST[:PORT]/PATH
    rest:https://HOST[:PORT]/PATH   (rest:http:// only to a loopback address)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from tsed.config.check import check_keys, invalid, number_value, text_value, validate_host
from tsed.config.text import without_userinfo

PASSWORD_ENTRY = "offbox.password"  # noqa: S105 - the vault entry name
CREDENTIAL_ENTRY = "offbox.credential"
DEFAULT_CHECK_SUBSET = "2%"
DEFAULT_TIMEOUT_MINUTES = 60
KEYS = {"repository", "user", "host_key", "ca_file", "check_subset", "timeout_minutes"}
TYPES: dict[str, str] = {
    "offbox.repository": "str",
    "offbox.user": "str",
    "offbox.host_key": "str",
    "offbox.ca_file": "str",
    "offbox.check_subset": "str",
    "offbox.timeout_minutes": "int",
}

_USER_RE = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._/~+-]{0,300}$")
_SFTP_SHORT = re.compile(
    r"^sftp:(?:(?P<user>[^@/:]+)@)?(?P<host>[^:/@]+|\[[0-9A-Fa-f:.]+\]):(?P<path>/.*)$"
)
_SUBSET_RE = re.compile(r"^(?:(?:[1-9][0-9]?|100)%|[1-9][0-9]{0,2}/[1-9][0-9]{0,2})$")
_HOST_KEY_RE = re.compile(
    r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]{40,800}$"
)
_REPOSITORY_HINT = (
    "Use sftp:USER@HOST:/PATH, sftp://USER@HOST:PORT/PATH or rest:https://HOST:PORT/PATH; "
    "the password and the credential are kept in the vault, never in the URL."
)

Kind = Literal["sftp", "rest"]


@dataclass(frozen=True, slots=True)
class Repository:
    """A parsed repository: what restic and ssh are told, without any secret."""

    kind: Kind
    host: str
    port: int | None
    path: str
    user: str | None
    url: str = ""  # REST: the https URL without the "rest:" prefix

    @property
    def display(self) -> str:
        """The repository as a person reads it (never with a credential)."""
        if self.kind == "rest":
            return f"rest:{self.url}"
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"sftp://{who}{self.host}{port}{self.path}"


@dataclass(frozen=True, slots=True)
class OffboxConfig:
    repository: Repository
    user: str | None = None
    host_key: str | None = None
    ca_file: str | None = None
    check_subset: str = DEFAULT_CHECK_SUBSET
    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES
    text: str = ""  # the repository as the installer wrote it

    @property
    def login(self) -> str | None:
        """The user at the target: the one in the URL, else the ``user`` setting."""
        return self.repository.user or self.user


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_repository(text: str, key: str = "offbox.repository") -> Repository:
    """Validate a repository string; a credential inside it is refused (it belongs in the
    vault, and a URL ends up in process listings and logs)."""
    value = text.strip()
    if value.startswith("rest:"):
        url = value[5:]
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise invalid(
                key, without_userinfo(value), "not a valid URL", _REPOSITORY_HINT
            ) from None
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise invalid(
                key,
                without_userinfo(value),
                "a REST repository needs an https:// URL",
                _REPOSITORY_HINT,
            )
        if parts.username is not None or parts.password is not None:
            raise invalid(key, "rest:…", "no user or password in the URL", _REPOSITORY_HINT)
        host = validate_host(parts.hostname, key)
        if parts.scheme == "http" and not _loopback(host):
            raise invalid(
                key,
                without_userinfo(value),
                "plain http only to a loopback address; use https",
                _REPOSITORY_HINT,
            )
        if parts.query or parts.fragment or not _PATH_RE.fullmatch(parts.path or "/"):
            raise invalid(
                key,
                without_userinfo(value),
                "a path of letters, digits and ._/~+-",
                _REPOSITORY_HINT,
            )
        path = (parts.path or "/").rstrip("/") + "/"
        return Repository("rest", host, port, path, None, url.rstrip("/") + "/")
    if value.startswith("sftp://"):
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            raise invalid(
                key, without_userinfo(value), "not a valid URL", _REPOSITORY_HINT
            ) from None
        if parts.password is not None:
            raise invalid(key, "sftp://…", "no password in the URL", _REPOSITORY_HINT)
        host_text, user, path = parts.hostname or "", parts.username, parts.path
    else:
        match = _SFTP_SHORT.fullmatch(value)
        if match is None:
            raise invalid(
                key, without_userinfo(value), "not an SFTP or REST repository", _REPOSITORY_HINT
            )
        host_text, user, path, port = match["host"], match["user"], match["path"], None
    if not host_text:
        raise invalid(
            key, without_userinfo(value), "the SFTP repository needs a host", _REPOSITORY_HINT
        )
    host = validate_host(host_text, key)
    if user is not None and not _USER_RE.fullmatch(user):
        raise invalid(
            key,
            without_userinfo(value),
            "the user is 1-64 of letters, digits and ._-",
            _REPOSITORY_HINT,
        )
    if not _PATH_RE.fullmatch(path):
        raise invalid(
            key, without_userinfo(value), "an absolute path of letters, digits and ._/~+-"
        )
    return Repository("sftp", host, port, path, user)


def offbox_from_dict(raw: Any) -> OffboxConfig | None:
    """The ``[offbox]`` table; no repository means no off-box copy."""
    if not isinstance(raw, Mapping):
        raise invalid("offbox", raw, "must be a table with repository and user")
    check_keys(raw, KEYS, "offbox.")
    text = text_value(raw, "repository", "offbox.repository", None)
    if not text:
        return None
    if len(text) > 400 or not text.isprintable():
        raise invalid(
            "offbox.repository", without_userinfo(text)[:60], "at most 400 printable characters"
        )
    repository = parse_repository(text)
    user = text_value(raw, "user", "offbox.user", None)
    if user is not None and not _USER_RE.fullmatch(user):
        raise invalid("offbox.user", user, "1-64 of letters, digits and ._-")
    host_key = text_value(raw, "host_key", "offbox.host_key", None)
    if host_key is not None:
        host_key = " ".join(host_key.split()[:2])
        if repository.kind != "sftp" or not _HOST_KEY_RE.fullmatch(host_key):
            raise invalid(
                "offbox.host_key", host_key, "an SSH public host key 'TYPE BASE64' of the "
                "SFTP target", "Read it on the target: ssh-keyscan -t ed25519 HOST.",
            )  # fmt: skip
    ca_file = text_value(raw, "ca_file", "offbox.ca_file", None)
    if ca_file is not None and (repository.kind != "rest" or not _PATH_RE.fullmatch(ca_file)):
        raise invalid("offbox.ca_file", ca_file, "an absolute path of a PEM file; REST only")
    subset = text_value(raw, "check_subset", "offbox.check_subset", DEFAULT_CHECK_SUBSET)
    if subset is None or not _SUBSET_RE.fullmatch(subset):
        raise invalid(
            "offbox.check_subset", subset, "a share of the data the check reads: 1%-100% or n/t"
        )
    timeout = number_value(
        raw, "timeout_minutes", "offbox.timeout_minutes", DEFAULT_TIMEOUT_MINUTES, 1, 1440
    )
    if timeout is None or timeout != int(timeout):
        raise invalid("offbox.timeout_minutes", timeout, "a whole number of minutes, 1-1440")
    return OffboxConfig(repository, user, host_key, ca_file, subset, int(timeout), text.strip())


def offbox_to_dict(config: OffboxConfig) -> dict[str, Any]:
    data: dict[str, Any] = {"repository": config.text or config.repository.display}
    for key, value in (
        ("user", config.user),
        ("host_key", config.host_key),
        ("ca_file", config.ca_file),
    ):
        if value is not None:
            data[key] = value
    if config.check_subset != DEFAULT_CHECK_SUBSET:
        data["check_subset"] = config.check_subset
    if config.timeout_minutes != DEFAULT_TIMEOUT_MINUTES:
        data["timeout_minutes"] = config.timeout_minutes
    return data
