"""restic's output read: its messages mapped to the :class:`~tsed.errors.OffboxError`
leaves (restic 0.14, Debian 12, has no distinct exit codes for them), its times, its
command names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from tsed.errors import (
    OffboxAuthFailed,
    OffboxError,
    OffboxFull,
    OffboxMissing,
    OffboxProxyFailed,
    OffboxUnreachable,
    OffboxWrongPassword,
)


def args_name(args: Sequence[str]) -> str:
    """The restic command of an argument list (the global options skipped)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in ("--cache-dir", "--cacert", "-o"):
            skip = True
            continue
        if not arg.startswith("-"):
            return arg
    return "?"


def parse_time(text: str) -> datetime:
    """restic's RFC 3339 time with nanoseconds, as an aware datetime."""
    match = re.fullmatch(r"(.+?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        raise OffboxError(f"restic gave an unreadable time {text!r}")
    fraction = (match[2] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(f"{match[1]}.{fraction}{zone}").astimezone(UTC)


_RULES: tuple[tuple[re.Pattern[str], type[OffboxError], str], ...] = (
    (re.compile(r"wrong password or no key found", re.I), OffboxWrongPassword,
     "the repository password does not open {repo}"),
    (re.compile(r"proxyconnect|proxy authentication|\b407\b", re.I), OffboxProxyFailed,
     "the shop's proxy does not pass the connection to {repo}"),
    (re.compile(r"no space left on device|insufficient storage|\b507\b|quota exceeded|"
                r"disk quota", re.I), OffboxFull, "the backup target {repo} is full"),
    (re.compile(r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED"),
     OffboxAuthFailed, "the SSH host key of {repo} is not the one the unit knows "
     "(offbox.host_key or its first-use record)"),
    (re.compile(r"\b401 Unauthorized|\b403 Forbidden|Permission denied \(|"
                r"unexpected HTTP response \((401|403)\)", re.I), OffboxAuthFailed,
     "the backup target {repo} refuses the unit's credential"),
    (re.compile(r"connection refused|no such host|i/o timeout|network is unreachable|"
                r"no route to host|connection reset|ssh: connect to host|"
                r"Connection closed|Could not resolve|x509:|tls:|EOF|"
                r"server unexpectedly closed|subprocess ssh", re.I), OffboxUnreachable,
     "the backup target {repo} cannot be reached"),
    (re.compile(r"Is there a repository at the following location|config file does not "
                r"exist|<config/> does not exist|unable to open config file: .*(does not "
                r"exist|404)", re.I), OffboxMissing, "there is no repository at {repo}"),
)  # fmt: skip


def classify(stderr: str, code: int, command: str, repo: str = "the repository") -> OffboxError:
    """The error leaf for restic's message (its text is kept, already redacted)."""
    for pattern, kind, what in _RULES:
        if pattern.search(stderr):
            if kind is OffboxMissing and command == "init":
                continue
            if kind is OffboxUnreachable and "x509" in stderr:
                what += " (its TLS certificate is not trusted: set offbox.ca_file)"
            return kind(f"{what.format(repo=repo)}: restic {command}: {stderr or code}")
    return OffboxError(f"restic {command} failed (exit {code}): {stderr or 'no message'}")
