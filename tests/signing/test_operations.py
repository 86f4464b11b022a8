"""The signing operations are declared once: the register API depends on the Protocol, and the
service and the unit's proxy both do every operation with the Protocol's signature."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest

from tests.support.unit import running_unit
from tsed.net import api
from tsed.signing.operations import SigningOperations
from tsed.signing.service import SigningService
from tsed.unit.signing_ops import SigningProxy, _Forward

OPERATIONS = {
    "start_transaction",
    "update_transaction",
    "finish_transaction",
    "cancel_transaction",
    "sign_receipt",
    "get_transaction",
    "list_transactions",
    "status",
}


def _declared() -> set[str]:
    members = vars(SigningOperations).items()
    return {name for name, value in members if inspect.isfunction(value) and name[0] != "_"}


def _signature(function: object) -> inspect.Signature:
    return inspect.signature(function, eval_str=True)  # type: ignore[arg-type]


def test_the_protocol_declares_the_seven_operations_and_status() -> None:
    assert _declared() == OPERATIONS


def test_the_register_api_depends_on_the_protocol_only() -> None:
    assert typing.get_type_hints(api.RegisterApiDeps)["signing"] is SigningOperations
    tree = ast.parse(Path(api.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "tsed.signing.operations" in imported
    assert not {m for m in imported if m and m.startswith(("tsed.unit", "tsed.signing.service"))}
    # No second spelling of the operations in the API module (its handlers are functions).
    spelled = {
        f"{node.name}.{item.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for item in node.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in OPERATIONS
    }
    assert spelled == set(), spelled


def test_the_service_has_the_protocols_signatures() -> None:
    for name in OPERATIONS:
        protocol = getattr(SigningOperations, name)
        service = getattr(SigningService, name)
        assert _signature(service) == _signature(protocol), name
        assert inspect.iscoroutinefunction(service) == inspect.iscoroutinefunction(protocol)


def test_a_proxy_cannot_forward_under_another_name() -> None:
    """update and finish look alike to mypy; the proxy refuses to swap them at import time."""
    with pytest.raises((RuntimeError, TypeError)) as caught:  # 3.11 wraps __set_name__'s
        type("Swapped", (), {"update_transaction": _Forward(SigningOperations.finish_transaction)})
    error = caught.value.__cause__ or caught.value
    assert isinstance(error, TypeError) and "forwards finish_transaction" in str(error)


async def test_both_implementations_satisfy_the_protocol_at_runtime(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        service = unit.daemon.signing
        proxy = SigningProxy(lambda: service)
        assert isinstance(service, SigningOperations)
        assert isinstance(proxy, SigningOperations)
        assert not isinstance(object(), SigningOperations)  # the check can fail
        for name in OPERATIONS:
            forwarded = getattr(proxy, name)
            assert forwarded == getattr(service, name), name  # the service's own method
            assert _signature(forwarded) == _signature(getattr(service, name)), name
        assert proxy.status() == service.status()
