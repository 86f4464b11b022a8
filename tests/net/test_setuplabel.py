"""The printed label's setup code on its own: only its hash at rest, both codes work side by
side, both end with the first password, a damaged file is no code, the label's contents."""

from __future__ import annotations

import json
import re
from pathlib import Path

import segno

from tsed.logs import redact
from tsed.net.setupcode import SetupCode
from tsed.net.setuplabel import (
    ALPHABET,
    _qr_path,
    label_matches,
    label_svg,
    make_label_code,
    setup_url,
)


def test_only_the_hash_is_stored_and_it_matches_what_people_type(tmp_path: Path) -> None:
    path = tmp_path / "label.json"
    code = make_label_code(path)
    assert re.fullmatch(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", code)
    stored = path.read_text()
    assert code not in stored and code.replace("-", "") not in stored
    assert set(json.loads(stored)) == {"salt", "sha256", "created_at"}
    assert label_matches(path, code) and label_matches(path, code.lower().replace("-", " "))
    assert not label_matches(path, "AAAA-AAAA") and not label_matches(path, "")
    shown = redact(f"typed {code} or {code.replace('-', '')}")  # registered as a secret
    assert code[:4] not in shown and code[5:] not in shown


def test_both_codes_work_until_the_password_is_set(tmp_path: Path) -> None:
    label = tmp_path / "label.json"
    printed = make_label_code(label)
    code = SetupCode(tmp_path / "setup_code.json", label)
    console = code.renew()
    assert code.matches(console) and code.matches(printed)
    code.renew()  # a restart: a new console code, the label's stays
    assert code.matches(printed) and not code.matches(console)
    code.discard()  # the admin password is set
    assert not label.exists() and not code.matches(printed)
    code.renew()  # a factory reset: a new console code, no label any more
    assert not code.matches(printed)


def test_a_damaged_label_is_no_code_and_breaks_nothing(tmp_path: Path) -> None:
    label = tmp_path / "label.json"
    label.write_text("{not json")
    code = SetupCode(tmp_path / "setup_code.json", label)
    console = code.renew()
    assert not label_matches(label, "ABCD-EFGH") and code.matches(console)
    label.write_text(json.dumps({"salt": "zz", "sha256": 1}))
    assert not label_matches(label, "ABCD-EFGH")
    assert not label_matches(tmp_path / "none.json", "ABCD-EFGH")


def test_the_label_shows_name_address_and_code_and_its_qr_code_is_the_address() -> None:
    url = setup_url("a1b2c3")
    assert url == "https://tsed-a1b2c3.local:8443/setup/"
    assert setup_url("a1b2c3", 443) == "https://tsed-a1b2c3.local/setup/"
    svg = label_svg(name="Optik <Muster> & Söhne", host="tsed-a1b2c3.local", url=url,
                    code="K7QM-4TZD")  # fmt: skip
    assert "Optik &lt;Muster&gt; &amp; Söhne" in svg and url in svg and ">K7QM-4TZD<" in svg
    assert "Einrichtungscode" in svg and 'font-size="8.5"' in svg  # the code, large
    assert _qr_path(url, 60, 4, 28) in svg
    dark = sum(sum(row) for row in segno.make(url, error="m", micro=False).matrix)
    assert _qr_path(url, 60, 4, 28).count("z") == dark  # every dark module, nothing else
    assert "Setup code" in label_svg(name="x", host="h", url=url, code="K7QM-4TZD", lang="en")


def test_a_label_made_after_the_password_opens_nothing(tmp_path: Path) -> None:
    label = tmp_path / "label.json"
    code = SetupCode(tmp_path / "setup_code.json", label)
    code.discard()  # the unit's start with an admin password set
    printed = make_label_code(label)  # a label made too late
    assert not code.matches(printed)
    code.discard()  # the next start removes it
    assert not label.exists()
