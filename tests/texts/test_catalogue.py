"""The message catalogue is complete: every error code, every id the code uses, both languages
with the same placeholders, and German that is German.

* Every code of the error tree (``tests/test_errors.py`` TREE, and the root's ``INTERNAL``) has
  a German and an English message and hint, and the catalogue has no code the tree lacks.
* Every text id the code names (``t("…")``, ``text("…", …)``, ``.localized("…")``, ``has``) is
  in both languages; the ids built from parts (``step.<name>.<verdict>``) are checked for every
  step of the connection test.
* German and English of one id have the same placeholders.
* A German text is not its English text, and it holds none of the English words that mark a
  sentence (``the``, ``is``, ``not`` …); the few lines that are the same in both languages
  (``DNS``, ``OK``, a bare ``{key} = {value}``) are listed in :data:`SAME_IN_BOTH`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.test_errors import TREE
from tsed.provisioning.conntest_steps import _TITLES as TEST_STEPS
from tsed.texts import LANGUAGES, errors, lines, placeholders, text
from tsed.texts.catalogue import error_text, field_label
from tsed.texts.fields import FIELDS, pattern

PACKAGE = Path(__file__).resolve().parents[2] / "tsed"
CALLS = {"t", "text", "localized", "has"}
# lines whose German is rightly the English: names, marks, layouts of data
SAME_IN_BOTH = {
    "cli.arg_other", "cli.error", "config.line", "config.line_plain", "registers.col_id",
    "step.dns", "step.environment", "step.proxy", "step.tls", "step.tss", "test.line",
    "tenants.line", "verdict.ok", "status.backend", "prompt.confirm", "config.url_simulator",
    "tenants.multi", "registers.header", "offbox.minutes", "verify.head", "health.result.ok",
    "filing.error.hint",  # the filing's own German hint (tsed.filing.errors)
}  # fmt: skip
# words that make a sentence English; none of them is German
ENGLISH_WORDS = {
    "the", "is", "not", "and", "with", "of", "for", "cannot", "failed", "was", "are", "has",
    "have", "this", "that", "your", "please", "been", "does", "could", "would", "should",
    "which", "when", "where", "there", "here", "unknown", "missing", "invalid", "wrong",
    "again", "first", "check", "set", "none", "yet", "only", "every", "after", "before",
    "enter", "choose", "give", "run", "try", "wait", "ask",
}  # fmt: skip
_WORD = re.compile(r"(?<![-\w/.])[A-Za-zÄÖÜäöüß]+(?![\w/])")
_COMMAND = re.compile(r"tsectl [a-z -]+|tsed-\w+|journalctl[^;.)]*|systemctl \w+ \w+|--[\w-]+")


def _used_ids() -> dict[str, str]:
    """Every literal text id the package names, with where."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in CALLS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found[first.value] = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
    return found


def _words(template: str) -> set[str]:
    bare = re.sub(r"\{[^}]*\}", " ", template)
    bare = _COMMAND.sub(" ", bare)
    return {word.lower() for word in _WORD.findall(bare)}


def test_every_error_code_has_german_and_english() -> None:
    codes = {code for _status, code in TREE.values()} | {"INTERNAL"}
    for lang in LANGUAGES:
        missing = sorted(codes - set(errors(lang)))
        extra = sorted(set(errors(lang)) - codes)
        assert not missing, f"{lang}: codes without a text: {missing}"
        assert not extra, f"{lang}: texts for codes the tree does not have: {extra}"
        empty = sorted(code for code, (message, hint) in errors(lang).items()
                       if not message.strip() or not hint.strip())  # fmt: skip
        assert not empty, f"{lang}: empty message or hint: {empty}"


def test_both_languages_have_the_same_ids() -> None:
    assert set(lines("de")) == set(lines("en"))
    assert set(errors("de")) == set(errors("en"))
    assert set(FIELDS) == {pattern(key) for key in FIELDS}


def test_every_id_the_code_uses_exists_in_both_languages() -> None:
    used = _used_ids()
    assert len(used) > 100, "the scan finds the package's text ids"
    missing = {tid: where for tid, where in used.items()
               if not all(tid in lines(lang) for lang in LANGUAGES)}  # fmt: skip
    assert not missing, f"ids used but not in the catalogue: {missing}"


def test_the_connection_test_has_a_text_for_every_step_and_verdict() -> None:
    for step in TEST_STEPS:
        assert f"step.{step}" in lines("de"), step
        assert f"step.{step}.ok" in lines("de"), step
        assert f"step.{step}.fail" in lines("de") or f"step.{step}.warn" in lines("de"), step
    for verdict in ("ok", "warn", "fail", "skipped"):
        assert f"verdict.{verdict}" in lines("de")


@pytest.mark.parametrize("text_id", sorted(lines("de")))
def test_placeholders_match(text_id: str) -> None:
    assert placeholders(lines("de")[text_id]) == placeholders(lines("en")[text_id])


def test_error_placeholders_match() -> None:
    for code in errors("de"):
        for part in (0, 1):
            assert placeholders(errors("de")[code][part]) == placeholders(
                errors("en")[code][part]
            ), code


def test_german_is_not_the_english_text() -> None:
    same = sorted(tid for tid in lines("de")
                  if lines("de")[tid] == lines("en")[tid] and tid not in SAME_IN_BOTH)  # fmt: skip
    assert not same, f"German lines that are the English text: {same}"
    assert set(lines("de")) >= SAME_IN_BOTH, "the list names only ids of the catalogue"
    for code, (message, hint) in errors("de").items():
        assert (message, hint) != errors("en")[code], code


def test_german_texts_hold_no_english_sentence_words() -> None:
    found: dict[str, set[str]] = {}
    for tid, template in lines("de").items():
        english = _words(template) & ENGLISH_WORDS
        if english:
            found[tid] = english
    for code, (message, hint) in errors("de").items():
        english = (_words(message) | _words(hint)) & ENGLISH_WORDS
        if english:
            found[code] = english
    assert not found, f"English words in German texts: {found}"


def test_the_word_check_sees_english() -> None:
    """The check above can fail: an English sentence is caught, commands are not words."""
    assert _words("The proxy is not reachable") & ENGLISH_WORDS == {"the", "is", "not"}
    assert not _words("tsectl registers revoke ID und --all") & ENGLISH_WORDS


def test_field_labels_are_the_vendor_mask_names() -> None:
    assert field_label("proxy.port", "de") == "Proxy-Port"
    assert field_label("multi_tenant", "de") == "Mehrere Mandanten in Filialkette"
    assert field_label("extended_logging", "de") == "Erweitertes Logging"
    assert field_label("created_at", "de") == "Erstellt am"
    assert field_label("tenants.filiale-2.vat_id", "de") == "Mandant: USt-IdNr."
    assert field_label("no.such", "de") is None


def test_every_setting_has_a_label() -> None:
    from tsed.config import edit

    settings = set(edit._TYPES)
    assert not settings - set(FIELDS), f"settings without a label: {settings - set(FIELDS)}"


def test_error_text_of_a_field_error_names_the_field() -> None:
    found = error_text("CONFIG_INVALID", "de", text_id="config.port",
                       params={"value": "70000"}, field="proxy.port")  # fmt: skip
    assert found == {
        "message": "Proxy-Port: 70000 ist keine gültige Portnummer (1–65535).",
        "hint": "Den Port des Proxys beim Netzwerk-Administrator erfragen, z. B. 3128.",
        "field_label": "Proxy-Port",
    }
    english = error_text("CONFIG_INVALID", "en", text_id="config.port",
                         params={"value": "70000"}, field="proxy.port")  # fmt: skip
    assert english["message"] == "Proxy port: 70000 is not a valid port number (1–65535)."


def test_an_error_without_text_id_reads_its_code() -> None:
    found = error_text("STORAGE_FULL", "de", message="disk full", hint="free space")
    assert found["message"] == errors("de")["STORAGE_FULL"][0]
    assert error_text("STORAGE_FULL", "en", message="disk full", hint="x")["message"] == (
        "disk full"
    )


def test_a_missing_value_never_breaks_a_line() -> None:
    assert text("status.registers", "de") == lines("de")["status.registers"]
    assert text("status.registers", "de", count=2) == "Kassen:          2 gekoppelt"


def test_a_count_of_one_takes_the_singular_line() -> None:
    """``<id>.one`` is chosen for a count of 1 (days, count, n), in either language."""
    assert text("health.days_left", "de", days=1, until="3.12.2026") == "noch 1 Tag, bis 3.12.2026"
    assert text("health.days_left", "de", days=2, until="4.12.2026") == "noch 2 Tage, bis 4.12.2026"
    assert text("health.days_left", "en", days=1, until="x") == "1 day left, until x"
    assert "noch 1 Tag)" in text("filing.due", "de", due="d", days=1, what="w", subject="s",
                                 premises="p", tenant="t")  # fmt: skip
    assert "seit 1 Tag)" in text("filing.overdue", "de", due="d", days=1, what="w", subject="s",
                                 premises="p", tenant="t")  # fmt: skip
    assert "(noch 1 Tag)" in text("notice.certificate.expires", "de", tss="x", tenant="t", day="d",
                                  days=1)  # fmt: skip
    # a notice carries its values as text (tsectl status): "1" is one as well
    assert "(noch 1 Tag)" in text("notice.certificate.expires", "de", tss="x", tenant="t", day="d",
                                  days="1")  # fmt: skip
    # a count that is not a whole number (1.0 days of backup age) keeps the plural line
    assert text("health.days_left", "de", days=1.5, until="x") == "noch 1.5 Tage, bis x"


def test_every_singular_line_has_its_plural_and_its_placeholders() -> None:
    for lang in LANGUAGES:
        for text_id in lines(lang):
            if text_id.endswith(".one"):
                plural = text_id.removesuffix(".one")
                assert plural in lines(lang), text_id
                assert placeholders(lines(lang)[text_id]) <= placeholders(lines(lang)[plural])
