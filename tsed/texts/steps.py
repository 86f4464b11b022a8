"""A connection test step's detail and hint in a language, from its id and values.

The step results (:mod:`tsed.provisioning.conntest_steps`) carry ``detail_id`` and
``detail_args``; ``conn.error`` is a step that failed with an error of the tree, whose values
hold its ``code``: its text is the error catalogue's (:func:`tsed.texts.error_text`).
"""

from __future__ import annotations

from collections.abc import Mapping

from tsed.texts.catalogue import Lang, error_text, lines, text

ERROR_ID = "conn.error"


def step_detail(detail_id: str, args: Mapping[str, str], lang: Lang) -> str:
    if detail_id == ERROR_ID:
        return str(error_text(str(args.get("code") or "INTERNAL"), lang)["message"])
    return text(detail_id, lang, **args)


def step_hint(detail_id: str, args: Mapping[str, str], lang: Lang) -> str | None:
    """The step's hint in ``lang``; None when the outcome needs nothing done."""
    if detail_id == ERROR_ID:
        return error_text(str(args.get("code") or "INTERNAL"), lang)["hint"]
    hint_id = f"{detail_id}.hint"
    return text(hint_id, lang, **args) if hint_id in lines(lang) else None
