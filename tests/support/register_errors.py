"""The register API's error table as docs/register-api.md (section "9. Errors") states it."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "register-api.md"
_ROW = re.compile(r"^\| (?P<status>[1-5](?:\d\d|xx)) \| (?P<codes>[^|]+) \| (?P<meaning>.+) \|$")
_CODE = re.compile(r"`([A-Z][A-Z0-9_]*)`")


@cache
def documented_register_errors() -> dict[str, str]:
    """Every code of the table with its status as written (``"404"``, or ``"4xx"``)."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("\n## 9. Errors\n") :]
    section = section[: section.index("\n## ", 1)]
    codes: dict[str, str] = {}
    for line in section.splitlines():
        row = _ROW.match(line)
        if row is None:
            continue
        found = _CODE.findall(row["codes"])
        assert found, f"a row of the error table names no code: {line}"
        for code in found:
            assert code not in codes, f"{code} stands twice in the error table"
            codes[code] = row["status"]
    assert codes, "docs/register-api.md has no error table in section 9"
    return codes


def status_matches(documented: str, status: int) -> bool:
    """``"409"`` matches 409 only; ``"4xx"`` any 4xx status."""
    if documented.endswith("xx"):
        return str(status)[0] == documented[0]
    return int(documented) == status
