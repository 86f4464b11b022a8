"""A notice of ``tsectl status`` and ``tsectl health``: its English text (the journal, the
field ``notices`` of the admin API, ``--lang en``) and the catalogue line it reads in every
language (``notice_ids``: ``{"id": …, "args": {…}}``; the lines are in
:mod:`tsed.texts.lines_notices`).

The English text is the instance's own and may say more (an error's message); the catalogue
line names the same thing with data only (ids, counters, dates, codes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tsed.texts.catalogue import Lang, text


@dataclass(frozen=True, slots=True)
class Notice:
    text: str  # English
    text_id: str
    args: Mapping[str, str] = field(default_factory=dict)

    def shown(self, lang: Lang) -> str:
        return self.text if lang == "en" else text(self.text_id, lang, **self.args)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.text_id, "args": dict(self.args)}


def notice(english: str, text_id: str, **values: object) -> Notice:
    return Notice(english, text_id, {name: str(value) for name, value in values.items()})


def texts(notices: tuple[Notice, ...] | list[Notice]) -> list[str]:
    """The English texts (the admin API's ``notices``)."""
    return [n.text for n in notices]


def ids(notices: tuple[Notice, ...] | list[Notice]) -> list[dict[str, Any]]:
    """The catalogue ids and values (the admin API's ``notice_ids``)."""
    return [n.to_json() for n in notices]
