"""Look-ups in the message catalogue: lines by id, errors by code, settings by path.

Every text a person reads on ``tsectl``, the serial console or in an admin-API error comes
from here, in German (the default) or English. A template names its data with placeholders
(``{count}``); German and English of one id have the same placeholders
(``tests/texts/test_catalogue.py`` checks it, and that every id the code uses exists).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any, Literal

from tsed.texts import (
    errors_backup,
    errors_de,
    errors_en,
    lines_conntest,
    lines_de,
    lines_decommission,
    lines_en,
    lines_label,
    lines_notices,
)
from tsed.texts.fields import FIELDS, pattern

Lang = Literal["de", "en"]
LANGUAGES: tuple[Lang, ...] = ("de", "en")
DEFAULT_LANGUAGE: Lang = "de"
LANG_ENV = "TSED_LANG"
# the catalogue's parts besides lines_de/lines_en, each with DE and EN of the same ids
_PARTS = (lines_decommission, lines_conntest, lines_notices, lines_label)

_LINES: dict[Lang, Mapping[str, str]] = {
    lang: {
        **(lines_de.LINES if lang == "de" else lines_en.LINES),
        **{k: v for part in _PARTS for k, v in (part.DE if lang == "de" else part.EN).items()},
    }
    for lang in LANGUAGES
}
_ERRORS: dict[Lang, Mapping[str, tuple[str, str]]] = {
    "de": {**errors_de.ERRORS, **errors_backup.DE},
    "en": {**errors_en.ERRORS, **errors_backup.EN},
}
_FORMATTER = string.Formatter()


def language(value: str | None) -> Lang | None:
    """``de``/``en`` from a setting, flag or locale-like value (``de_DE.UTF-8``); else None."""
    if not value:
        return None
    head = re.split(r"[_.\-@]", value.strip().lower(), maxsplit=1)[0]
    if head in ("de", "deutsch", "german"):
        return "de"
    if head in ("en", "english", "englisch"):
        return "en"
    return None


def choose(*candidates: str | None) -> Lang:
    """The first candidate that names a language (flag, environment, setting), else German."""
    for candidate in candidates:
        found = language(candidate)
        if found is not None:
            return found
    return DEFAULT_LANGUAGE


def lines(lang: Lang) -> Mapping[str, str]:
    """Every line template of ``lang`` by id."""
    return _LINES[lang]


def errors(lang: Lang) -> Mapping[str, tuple[str, str]]:
    """Every error code's ``(message, hint)`` in ``lang``."""
    return _ERRORS[lang]


def placeholders(template: str) -> set[str]:
    """The names of a template's placeholders: ``"{a} of {b:>3}"`` → ``{"a", "b"}``."""
    return {name for _, name, _, _ in _FORMATTER.parse(template) if name}


def has(text_id: str) -> bool:
    return all(text_id in _LINES[lang] for lang in LANGUAGES)


_COUNTS = ("days", "count", "n")  # the placeholders whose value picks a line's singular


def text(text_id: str, lang: Lang, /, **params: Any) -> str:
    """The line ``text_id`` in ``lang`` with its placeholders filled; its singular
    ``<text_id>.one`` instead where one exists and the count (``days``, ``count``, ``n``) is 1
    ("noch 1 Tag", not "noch 1 Tage")."""
    template = _LINES[lang].get(text_id) or _LINES["en"].get(text_id) or text_id
    if any(params.get(name) in (1, "1") and params[name] is not True for name in _COUNTS):
        template = _LINES[lang].get(f"{text_id}.one", template)
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):  # a missing value never breaks an answer
        return template


def field_label(path: str | None, lang: Lang) -> str | None:
    """The label of the setting ``path`` (the vendor mask's German field name), or None."""
    if not path:
        return None
    entry = FIELDS.get(pattern(path))
    if entry is None:
        return None
    return entry[0] if lang == "de" else entry[1]


def error_text(
    code: str,
    lang: Lang,
    *,
    text_id: str | None = None,
    params: Mapping[str, Any] | None = None,
    field: str | None = None,
    message: str | None = None,
    hint: str | None = None,
) -> dict[str, str | None]:
    """``{message, hint, field_label}`` of an error in ``lang``.

    An error with a text id of its own (it names its data: the field, the value) reads that
    line and the line ``<id>.hint`` when there is one; otherwise the code's text. In English
    the instance's own ``message`` and ``hint`` (more exact than the code's) are used when the
    error has no text id.
    """
    label = field_label(field, lang)
    code_message, code_hint = _ERRORS[lang].get(code) or _ERRORS[lang]["INTERNAL"]
    values = {"label": label or field or "", **(params or {})}
    if text_id and text_id in _LINES[lang]:
        found_message = text(text_id, lang, **values)
        hint_id = f"{text_id}.hint"
        found_hint = text(hint_id, lang, **values) if hint_id in _LINES[lang] else code_hint
    elif lang == "en" and message:
        found_message, found_hint = message, hint or code_hint
    else:
        found_message = f"{label}: {code_message}" if label else code_message
        found_hint = code_hint
    return {"message": found_message, "hint": found_hint, "field_label": label}
