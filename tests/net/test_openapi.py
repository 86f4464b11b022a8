"""The OpenAPI document: structurally valid, every $ref resolves, exactly the implemented routes."""

from __future__ import annotations

import re
from typing import Any

from tsed.net.api import RegisterApiDeps, build_register_app
from tsed.net.auth import PairingManager
from tsed.net.lockout import FailureLimiter
from tsed.net.openapi import openapi_document
from tsed.outcome import TxOutcome


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        for value in node.values():
            found += _refs(value)
        return found
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _routes() -> set[tuple[str, str]]:
    deps = RegisterApiDeps(
        signing=None,
        registers=None,
        pairing=PairingManager(),  # type: ignore[arg-type]
        limiter=FailureLimiter(),
        fingerprint="x",
    )
    app = build_register_app(deps)
    routes = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical if route.resource else ""
        routes.add((route.method.lower(), path))
    return routes


def test_document_is_structurally_valid() -> None:
    doc = openapi_document()
    assert doc["openapi"].startswith("3.0")
    assert {"title", "version"} <= set(doc["info"])
    for ref in _refs(doc):
        name = re.fullmatch(r"#/components/schemas/(\w+)", ref)
        assert name and name.group(1) in doc["components"]["schemas"], ref
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["responses"], (method, path)
            for param in op.get("parameters", []):
                assert param["in"] in ("path", "header", "query")
                if param["in"] == "path":
                    assert "{" + param["name"] + "}" in path


def test_document_lists_exactly_the_implemented_routes() -> None:
    documented = {
        (method, path) for path, item in openapi_document()["paths"].items() for method in item
    }
    assert documented == _routes()


def test_example_outcome_matches_the_schema() -> None:
    schema = openapi_document()["components"]["schemas"]["Transaction"]
    body = TxOutcome(local_id="x", state="journaled", mode="TEST", pending=True).to_json()
    assert set(schema["required"]) <= set(body)
    assert set(body) <= set(schema["properties"])
    assert body["state"] in schema["properties"]["state"]["enum"]
