"""Metadata of TSS, clients, transactions and exports: validation and fiskaly's merge rules.

A PATCH merges into what is stored; a key set to ``null`` is removed, a key set to ``""`` keeps
the empty string (fiskaly's standard scenario sends both and expects 200). At most 40 keys of
at most 40 characters, values of at most 500 characters (contract 2.1.22 and later).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from tsed.fiskaly.simulator.model import SimError, schema_error

MAX_KEYS, MAX_KEY, MAX_VALUE = 40, 40, 500
Patch = dict[str, str | None]


def check(metadata: Any, where: str = "metadata") -> Patch:
    """A metadata object as sent (values may be ``null`` to remove a key)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or len(metadata) > MAX_KEYS:
        raise schema_error(f"{where} must be an object with at most {MAX_KEYS} keys")
    for key, value in metadata.items():
        if len(key) > MAX_KEY or not (value is None or isinstance(value, str)):
            raise schema_error(f"{where}.{key}: a string value (or null), key ≤ {MAX_KEY} chars")
        if value is not None and len(value) > MAX_VALUE:
            raise schema_error(f"{where}.{key}: at most {MAX_VALUE} characters")
    return dict(metadata)


def merge(current: Mapping[str, str], patch: Mapping[str, str | None]) -> dict[str, str]:
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_KEYS:
        raise schema_error(f"metadata would have more than {MAX_KEYS} keys")
    return merged


def initial(patch: Mapping[str, str | None]) -> dict[str, str]:
    return merge({}, patch)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def add_routes(
    app: web.Application,
    tss_path: str,
    owner: Callable[[web.Request], Awaitable[tuple[Any, Callable[[], None]]]],
    body: Callable[[web.Request], Awaitable[Any]],
    answer: Callable[[Any], web.Response],
) -> None:
    """GET and PATCH ``…/metadata`` of TSS, clients, transactions and exports. ``owner``
    finds the object with a ``metadata`` attribute and returns it with its save function."""

    async def handle(request: web.Request) -> web.Response:
        obj, save = await owner(request)
        if request.method == "PATCH":
            obj.metadata = merge(obj.metadata, check(await body(request)))
            save()
        return answer(dict(obj.metadata))

    for sub in ("", "/client/{client_id}", "/tx/{tx}", "/export/{export_id}"):
        app.router.add_route("GET", tss_path + sub + "/metadata", handle)
        app.router.add_route("PATCH", tss_path + sub + "/metadata", handle)


__all__ = ["SimError", "add_routes", "check", "initial", "merge"]
