"""tsectl's help in German: every command's ``--help`` walked with ``--lang de``, no English
word in what it says (the catalogue test's word check), every catalogue id used, English with
``--lang en``."""

from __future__ import annotations

import argparse
import contextlib
import io
import re

import pytest

from tests.texts.test_catalogue import ENGLISH_WORDS, _words
from tsed.cli import tsectl
from tsed.cli.helptext import action_name, command_path, german, help_id
from tsed.texts.help_de import HELP


def parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every parser of tsectl by its command path (``()`` is tsectl itself)."""
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    todo = [tsectl.build_parser()]
    while todo:
        parser = todo.pop()
        path = command_path(parser)
        assert path is not None
        found[path] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    return found


def shown_help(lang: str, path: tuple[str, ...]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        tsectl.main(["--lang", lang, *path, "--help"])
    assert done.value.code == 0
    return out.getvalue()


def said(page: str) -> str:
    """What a help page says: without the usage lines and the options' own spelling (the
    column left of the help texts), which are syntax."""
    body = page.split("\n\n", 1)[1] if "\n\n" in page else ""
    kept = []
    for line in body.splitlines():
        item = re.match(r"^  (\S.*?)(?:\s{2,}(.*))?$", line)
        if item and line.startswith("  ") and not line.startswith("   " * 4):
            kept.append(item.group(2) or "")  # an option or command: its help text only
        else:
            kept.append(line)
    return "\n".join(kept)


def names(parser: argparse.ArgumentParser) -> set[str]:
    """The commands and choices a parser offers: names, not words (``run``, ``set``)."""
    found: set[str] = set()
    for action in parser._actions:
        found |= {str(choice) for choice in action.choices or ()}
    return found


PATHS = sorted(parsers())


def test_the_walk_sees_every_command() -> None:
    assert len(PATHS) > 40 and ("archive", "run") in PATHS and ("decommission", "tss") in PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "tsectl")
def test_every_help_page_is_german(path: tuple[str, ...]) -> None:
    page = shown_help("de", path)
    assert page.startswith(f"Aufruf: {' '.join(('tsectl', *path))}"), page
    english = sorted(_words(said(page)) & ENGLISH_WORDS - names(parsers()[path]))
    assert english == [], f"English in tsectl {' '.join(path)} --help: {english}\n{page}"


def test_the_check_finds_an_english_help_text() -> None:
    page = "Aufruf: tsectl x\n\nOptionen:\n  --wait WAIT  give up waiting after (s)\n"
    assert _words(said(page)) & ENGLISH_WORDS == {"give", "after"}  # not the WAIT
    assert not _words(said("Aufruf: tsectl x [--wait WAIT]\n\nOptionen:\n  --wait WAIT  x\n")) & (
        ENGLISH_WORDS
    )


def test_every_help_text_has_its_german_and_every_id_is_used() -> None:
    used: set[str] = set()
    untranslated: list[str] = []
    for path, parser in parsers().items():
        for attribute in ("description", "epilog"):
            if getattr(parser, attribute):
                text_id = help_id(path, f"@{attribute}")
                used.add(text_id)
                if text_id not in HELP:
                    untranslated.append(text_id)
        items: list[tuple[str, str | None]] = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                items += [(c.dest, c.help) for c in action._choices_actions]
            elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
                items.append((action_name(action), action.help))
        for name, own in items:
            if not own:
                continue
            found = german(path, name)
            used |= {help_id(path, name), help_id((), name)}
            english = _words(own) & ENGLISH_WORDS - names(parser)
            if found is None and english:  # without: the code's own help is German already
                untranslated.append(help_id(path, name))
    assert untranslated == [], "help texts without German"
    assert sorted(set(HELP) - used) == [], "German help texts of no command or option"


def test_english_stays_the_codes_own_and_german_does_not_stick() -> None:
    german_page = shown_help("de", ("pair",))
    english_page = shown_help("en", ("pair",))
    assert "wie lange das Fenster offen bleibt" in german_page
    assert "how long the window stays open" in english_page
    assert "Fenster" not in english_page and english_page.startswith("usage: tsectl pair")
