"""restic's messages, times and command names, read."""

from __future__ import annotations

from tsed.archive.resticout import args_name, classify, parse_time
from tsed.errors import OffboxFull


def test_a_full_target_is_named() -> None:
    # rest-server answers 507 when its quota is reached; restic reports ENOSPC of the box's
    # own temporary files verbatim. (rclone's REST server answers a plain 500 on a full disk.)
    for text in (
        "Fatal: unable to save snapshot: server response unexpected: 507 Insufficient Storage",
        "Fatal: unable to create temporary file: write /tmp/x: no space left on device",
    ):
        assert isinstance(classify(text, 1, "backup", "rest:https://b/"), OffboxFull)


def test_helpers() -> None:
    assert args_name(["--cache-dir", "/c", "-o", "sftp.command=ssh x", "backup", "."]) == "backup"
    moment = parse_time("2026-12-02T02:17:26.170561866Z")
    assert moment.isoformat() == "2026-12-02T02:17:26.170561+00:00"
    assert parse_time("2026-12-02T03:17:26+01:00") == parse_time("2026-12-02T02:17:26Z")
