"""Typed answers as JSON: the one place where the admin API's views become its wire format.

The operations behind the admin API (:class:`tsed.net.admin_operations.AdminOperations`)
return frozen dataclasses; only the HTTP edge turns them into JSON, with :func:`to_wire`. An
object with a ``to_json()`` method (the domains' results: the connection report, a mode
switch, an export job, …) answers with it; any other dataclass answers with its fields in
declaration order, nested dataclasses, enums, tuples, mappings and paths included. Field names
are the wire names.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any, Protocol

from aiohttp import web


class JsonView(Protocol):
    """An answer that knows its own wire form."""

    def to_json(self) -> dict[str, Any]: ...


def to_wire(value: object) -> Any:
    """``value`` as JSON data: what :func:`json.dumps` writes, unchanged in shape and order."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    to_json = getattr(value, "to_json", None)
    if callable(to_json) and not isinstance(value, type):
        return to_wire(to_json())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_wire(value.value)
    if isinstance(value, Mapping):
        return {str(key): to_wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no JSON form")


def answer(
    value: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """The HTTP answer carrying ``value`` as JSON (as :func:`aiohttp.web.json_response` writes
    it: the admin API's wire format)."""
    return web.json_response(to_wire(value), status=status, headers=headers)
