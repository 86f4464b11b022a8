"""tsectl's help texts in German (:data:`tsed.texts.help_de.HELP`), put into argparse while it
formats a help page: every command's and option's own (English) help is the ``--lang en``
text, the catalogue's German the ``--lang de`` one.

An action's id: ``help.`` + the command path + the option's long name (``--minutes``) or a
positional argument's name, or a command's name in its parent's list. Not in the catalogue:
the generic id without the path (``help.--config``), else the code's own text stays.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from tsed.texts.help_de import HELP

PROGRAM = "tsectl"


def action_name(action: argparse.Action) -> str:
    """``--minutes`` for an option (its long name), the ``dest`` of a positional argument."""
    longs = [o for o in action.option_strings if o.startswith("--")]
    return longs[0] if longs else (action.option_strings or [action.dest])[0]


def command_path(parser: argparse.ArgumentParser) -> tuple[str, ...] | None:
    """``("archive", "run")`` for ``tsectl archive run``; None for another program."""
    words = parser.prog.split()
    if not words or words[0] != PROGRAM:
        return None
    return tuple(words[1:])


def help_id(path: tuple[str, ...], name: str) -> str:
    return ".".join(("help", *path, name))


def german(path: tuple[str, ...], name: str) -> str | None:
    """The German help of ``name`` under ``path``, or the generic one of the option."""
    return HELP.get(help_id(path, name)) or (HELP.get(help_id((), name)) if path else None)


def _helped(parser: argparse.ArgumentParser) -> Iterator[tuple[object, str, str]]:
    """(holder, attribute, German) for every text of ``parser``'s help page that has one."""
    path = command_path(parser)
    if path is None:
        return
    for attribute in ("description", "epilog"):
        found = HELP.get(help_id(path, f"@{attribute}"))
        if found and getattr(parser, attribute):
            yield parser, attribute, found
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                found = german(path, choice.dest)
                if found and choice.help:
                    yield choice, "help", found
            continue
        found = german(path, action_name(action))
        if found and action.help not in (None, argparse.SUPPRESS):
            yield action, "help", found


@contextlib.contextmanager
def german_help(parser: argparse.ArgumentParser) -> Iterator[None]:
    """While formatting ``parser``'s help page: its texts in German, then the English again."""
    saved = [(holder, attribute, getattr(holder, attribute)) for holder, attribute, _ in
             _helped(parser)]  # fmt: skip
    try:
        for holder, attribute, found in _helped(parser):
            setattr(holder, attribute, found)
        yield
    finally:
        for holder, attribute, before in saved:
            setattr(holder, attribute, before)
