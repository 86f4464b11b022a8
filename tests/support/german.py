"""Is a printed line German? The catalogue read backwards.

A line passes when it is a German template of :mod:`tsed.texts` (lines, error messages and
hints) with every placeholder filled by a German fragment again or by data (names, ids,
numbers, paths), or when it is data itself. Data holds no word that only the English catalogue
uses (``triggered``, ``paired``, ``the`` …): so an English sentence in German mode fails.
"""

from __future__ import annotations

import re
import string
from functools import cache

from tsed.texts import errors, lines
from tsed.texts.fields import FIELDS, pattern

_WORD = re.compile(r"[A-Za-zÄÖÜäöüß]{2,}")
# in data, a word is free-standing: not part of an identifier, option, path or file name
_DATA_WORD = re.compile(r"(?<![-\w/.:])[A-Za-zÄÖÜäöüß]{2,}(?![-\w/:])")
# quoted names ('status', the choices argparse lists) and usage syntax ([--tenant TENANT])
_SYNTAX = re.compile(r"'[^']*'|\[[^\]]*\]|\{[^}]*\}")
_FORMATTER = string.Formatter()


def _templates(lang: str) -> list[str]:
    found = list(lines(lang).values())  # type: ignore[arg-type]
    for message, hint in errors(lang).values():  # type: ignore[arg-type]
        found += [message, hint]
    found += [labels[0 if lang == "de" else 1] for labels in FIELDS.values()]
    return found


def _words(texts: list[str]) -> set[str]:
    words: set[str] = set()
    for template in texts:
        words.update(_WORD.findall(re.sub(r"\{[^}]*\}", " ", template)))
    return words


@cache
def english_only() -> frozenset[str]:
    """Words of the English catalogue that the German one never uses (case kept)."""
    return frozenset(_words(_templates("en")) - _words(_templates("de")))


def _pattern(template: str) -> re.Pattern[str] | None:
    parts: list[str] = []
    literal = ""
    for text, name, _spec, _conv in _FORMATTER.parse(template):
        literal += text
        parts.append(re.escape(text))
        if name is not None:
            parts.append("(.*?)")
    if not literal.strip():
        return None  # a template of placeholders only says nothing
    return re.compile("".join(parts))


@cache
def german_patterns() -> tuple[re.Pattern[str], ...]:
    found = (_pattern(template.rstrip()) for template in _templates("de"))
    return tuple(p for p in found if p is not None)


def is_data(fragment: str) -> bool:
    if pattern(fragment.strip()) in FIELDS:
        return True  # a setting's dotted path (proxy.port, language) is a name
    return not set(_DATA_WORD.findall(_SYNTAX.sub(" ", fragment))) & english_only()


def is_german(fragment: str, depth: int = 0) -> bool:
    fragment = fragment.rstrip()
    if not fragment.strip():
        return True
    if depth < 4:
        for pattern in german_patterns():
            found = pattern.fullmatch(fragment)
            if found and all(is_german(part, depth + 1) for part in found.groups()):
                return True
    return is_data(fragment)


def english_lines(text: str) -> list[str]:
    """The lines of ``text`` that are not German (empty: all German or data)."""
    return [line for line in text.splitlines() if not is_german(line)]
