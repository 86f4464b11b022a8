"""Dates, times and sizes as a person reads them: German ``1.12.2026, 23:07:24`` (local time)
and ``20 KB``; English ``2026-12-01 23:07:24`` and ``20 KB``."""

from __future__ import annotations

from datetime import datetime

from tsed.texts.catalogue import Lang


def _moment(value: float | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value)).astimezone()
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone()  # naive values count as local time


def when(value: float | str | None, lang: Lang, missing: str = "-") -> str:
    """A moment (Unix time or ISO 8601) in local time; ``missing`` when there is none."""
    moment = _moment(value)
    if moment is None:
        return missing if value in (None, "") else str(value)
    if lang == "de":
        return f"{moment.day}.{moment.month}.{moment.year}, {moment:%H:%M:%S}"
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def day(value: float | str | None, lang: Lang, missing: str = "-") -> str:
    moment = _moment(value)
    if moment is None:
        return missing
    return f"{moment.day}.{moment.month}.{moment.year}" if lang == "de" else f"{moment:%Y-%m-%d}"


def size(count: float | None, lang: Lang, missing: str = "-") -> str:
    """Bytes as ``512 B``, ``20 KB``, ``1,5 MB`` (1 KB = 1024 B; German decimal comma)."""
    if count is None:
        return missing
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024 or unit == "GB":
            if unit == "B" or value >= 100 or value == int(value):
                shown = f"{value:.0f}"
            else:
                shown = f"{value:.1f}"
            return f"{shown.replace('.', ',') if lang == 'de' else shown} {unit}"
        value /= 1024
    return missing


def number(value: float | None, lang: Lang, digits: int = 1, missing: str = "-") -> str:
    if value is None:
        return missing
    shown = f"{value:.{digits}f}"
    return shown.replace(".", ",") if lang == "de" else shown
