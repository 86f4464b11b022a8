"""The one-time setup code on its own: its form, the hash at rest, comparing, using it up."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tsed.logs import redact
from tsed.net.setupcode import ALPHABET, SetupCode, SetupCodeWrong, normalize


def test_a_new_code_is_readable_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    code = SetupCode(tmp_path / "setup_code.json")
    shown = code.renew()
    assert len(shown) == 9 and shown[4] == "-" and code.shown() == shown
    assert all(ch in ALPHABET for ch in shown.replace("-", ""))
    stored = (tmp_path / "setup_code.json").read_text()
    assert shown.replace("-", "") not in stored and shown not in stored
    record = json.loads(stored)
    assert set(record) == {"salt", "sha256", "created_at"} and len(record["sha256"]) == 64
    assert (tmp_path / "setup_code.json").stat().st_mode & 0o077 == 0


def test_typed_forms_match_and_others_do_not(tmp_path: Path) -> None:
    code = SetupCode(tmp_path / "setup_code.json")
    shown = code.renew()
    assert code.matches(shown) and code.matches(shown.lower().replace("-", " "))
    assert normalize(" ab-cd ") == "ABCD"
    wrong = ("A" if shown[0] != "A" else "B") + shown[1:]
    assert not code.matches(wrong) and not code.matches("") and not code.matches("x" * 10_000)
    with pytest.raises(SetupCodeWrong) as caught:
        code.check(wrong)
    assert caught.value.status == 401 and caught.value.code == "SETUP_CODE_WRONG"


def test_a_used_code_is_gone_and_a_renewed_one_replaces_it(tmp_path: Path) -> None:
    code = SetupCode(tmp_path / "setup_code.json")
    first = code.renew()
    second = code.renew()
    assert first != second and not code.matches(first) and code.matches(second)
    code.discard()
    assert not code.active and code.shown() is None and not code.matches(second)
    assert not (tmp_path / "setup_code.json").exists()


def test_the_code_never_reaches_a_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    code = SetupCode(tmp_path / "setup_code.json")
    shown = code.renew()
    assert redact(f"code {shown} or {shown.replace('-', '')}").count(shown[:4]) == 0
    assert all(shown not in record.getMessage() for record in caplog.records)
