"""The OpenAPI document: structurally valid, every $ref resolves, exactly the implemented routes."""

from __future__ import annotations

import re
from typing import Any

from tsed.net.api import RegisterApiDeps, build_register_app
from tsed.net.auth import PairingManager
from tsed.net.lockout import FailureLimiter
from tsed.net.openapi import openapi_document
from tsed.signing.outcome import TxOutcome


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


def test_every_operation_has_a_unique_operation_id_and_the_405() -> None:
    ids = []
    for path, item in openapi_document()["paths"].items():
        for method, op in item.items():
            assert re.fullmatch(r"[a-z][A-Za-z]+", op.get("operationId", "")), (method, path)
            ids.append(op["operationId"])
            assert "405" in op["responses"], (method, path)
            assert "Allow" in op["responses"]["405"]["headers"]
            if "401" in op["responses"]:
                assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
            if "429" in op["responses"]:
                assert "Retry-After" in op["responses"]["429"]["headers"]
    assert len(ids) == len(set(ids))


def test_the_examples_have_every_required_field_of_their_schema() -> None:
    schemas = openapi_document()["components"]["schemas"]
    for name in ("Transaction", "Receipt"):
        example = schemas[name]["example"]
        assert set(schemas[name]["required"]) <= set(example), name
        assert set(example) <= set(schemas[name]["properties"]), name
    result = schemas["Transaction"]["example"]["result"]
    assert set(schemas["SignedResult"]["required"]) == set(result)


def test_the_idempotency_key_rule_is_the_enforced_one() -> None:
    from tsed.net.api import IDEMPOTENCY_RE

    op = openapi_document()["paths"]["/api/v1/receipts"]["post"]
    (param,) = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
    assert param["schema"]["pattern"] == "^" + IDEMPOTENCY_RE.pattern.strip("^$") + "$"
    assert param["required"] is False
