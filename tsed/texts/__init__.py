"""The message catalogue: every text a person reads on ``tsectl``, the serial console and in
the admin API's errors, in German (the default) and English.

* lines by a stable id (:func:`text`; :mod:`tsed.texts.lines_de`, :mod:`tsed.texts.lines_en`),
* errors by their code (:func:`error_text`; :mod:`tsed.texts.errors_de`,
  :mod:`tsed.texts.errors_en`, the backup's and restore's in :mod:`tsed.texts.errors_backup`),
  or by the text id an error names (:meth:`TsedError.localized`),
* the labels of the settings, the vendor mask's German field names (:func:`field_label`),
* dates, times and sizes as people read them (:mod:`tsed.texts.formats`).

The language: ``--lang`` or ``TSED_LANG`` for the command lines, else the setting
``language`` (``de`` or ``en``), else German (:func:`choose`). A leaf: it imports nothing else
of tsed, so every domain may use it.
"""

from __future__ import annotations

from tsed.texts.catalogue import (
    DEFAULT_LANGUAGE,
    LANG_ENV,
    LANGUAGES,
    Lang,
    choose,
    error_text,
    errors,
    field_label,
    has,
    language,
    lines,
    placeholders,
    text,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANG_ENV",
    "Lang",
    "choose",
    "error_text",
    "errors",
    "field_label",
    "has",
    "language",
    "lines",
    "placeholders",
    "text",
]
