"""The language of a command line run and its lines: ``t("status.registers", count=2)``.

The language is chosen once per run (:func:`choose_language`: ``--lang``, ``TSED_LANG``, the
setting ``language`` of the configuration file, German) and kept in a context variable, so
runs in parallel threads of one process (the tests) do not mix. :class:`Parser` is argparse
in that language: ``Aufruf:`` and German error messages.
"""

from __future__ import annotations

import argparse
import errno
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NoReturn

from tsed.cli.helptext import german_help
from tsed.errors import TsedError
from tsed.texts import LANG_ENV, Lang, choose, error_text, text
from tsed.unit.options import DEFAULT_CONFIG

_LANG: ContextVar[Lang] = ContextVar("tsed_cli_lang", default="de")
CONFIG_ENV = "TSED_CONFIG"


def lang() -> Lang:
    return _LANG.get()


def set_lang(value: Lang) -> None:
    _LANG.set(value)


def t(text_id: str, /, **params: Any) -> str:
    return text(text_id, _LANG.get(), **params)


def _flag(argv: Sequence[str]) -> str | None:
    for index, item in enumerate(argv):
        if item == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if item.startswith("--lang="):
            return item.partition("=")[2]
    return None


def _configured(environ: Mapping[str, str]) -> str | None:
    path = Path(environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("language")
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, str) else None


def choose_language(argv: Sequence[str], environ: Mapping[str, str]) -> Lang:
    """``--lang``, else ``TSED_LANG``, else the configuration's ``language``, else German."""
    return choose(_flag(argv), environ.get(LANG_ENV), _configured(environ))


_OS_REASONS = {errno.ENOENT: "os.ENOENT", errno.EACCES: "os.EACCES", errno.EISDIR: "os.EISDIR"}


def os_reason(err: OSError) -> str:
    """Why a file could not be read or written, in the run's language."""
    text_id = _OS_REASONS.get(err.errno or 0)
    return t(text_id) if text_id else t("os.other", reason=err.strerror or type(err).__name__)


def add_lang(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang", choices=["de", "en"], help=f"language of the output (env {LANG_ENV})"
    )


def error_lines(err: TsedError, language: Lang | None = None) -> tuple[str, str]:
    """An error's message and hint in ``language`` (default: the run's)."""
    language = language or lang()
    relayed = getattr(err, "relayed", None)
    if isinstance(relayed, Mapping) and isinstance(relayed.get(language), Mapping):
        found = relayed[language]
        return str(found.get("message") or err.message), str(found.get("hint") or "")
    texts = error_text(
        err.code, language, text_id=err.text_id, params=err.text_params, field=err.field,
        message=err.message, hint=err.hint,
    )  # fmt: skip
    return str(texts["message"]), str(texts["hint"] or "")


_ARGPARSE = (
    (re.compile(r"the following arguments are required: (?P<names>.+)"), "cli.arg_required"),
    (
        re.compile(
            r"argument (?P<name>\S+): invalid choice: '(?P<value>.*)' \(choose from "
            r"(?P<choices>.*)\)"
        ),
        "cli.arg_choice",
    ),
    (re.compile(r"unrecognized arguments: (?P<names>.+)"), "cli.arg_unknown"),
    (re.compile(r"argument (?P<name>\S+): expected one argument"), "cli.arg_value"),
    (re.compile(r"argument (?P<name>\S+): invalid \S+ value: '(?P<value>.*)'"), "cli.arg_type"),
)


def argparse_message(message: str) -> str:
    """argparse's English error message in the run's language."""
    for pattern, text_id in _ARGPARSE:
        found = pattern.fullmatch(message)
        if found:
            return t(text_id, **found.groupdict())
    return t("cli.arg_other", detail=message)


# argparse's own words in a help text (the options' own: tsed.cli.helptext)
_HELP_WORDS = (
    ("\npositional arguments:\n", "cli.help_positional"),
    ("\noptions:\n", "cli.help_options"),
    ("show this help message and exit", "cli.help_help"),
    ("show program's version number and exit", "cli.help_version"),
)


class Parser(argparse.ArgumentParser):
    """argparse speaking the run's language: ``Aufruf:``, German errors, exit code 2."""

    def format_usage(self) -> str:
        return self._translated(super().format_usage())

    def format_help(self) -> str:
        if lang() != "de":
            return super().format_help()
        with german_help(self):  # the commands' and options' help texts (tsed.cli.helptext)
            return self._translated(super().format_help())

    @staticmethod
    def _translated(shown: str) -> str:
        if lang() != "de":
            return shown
        if shown.startswith("usage: "):
            shown = t("cli.usage", usage=shown[len("usage: ") :])
        for english, text_id in _HELP_WORDS:
            shown = shown.replace(english, t(text_id))
        return shown

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(t("cli.usage_error", detail=argparse_message(message)), file=sys.stderr)
        print(t("cli.hint", hint=t("cli.usage_error.hint")), file=sys.stderr)
        sys.exit(2)
