"""Typed answers to JSON (tsed.net.wire): nested views, enums, tuples, mappings, paths, and the
domain results that write their own JSON."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pytest

from tsed.net.auth import PairingAnswer, RegisterView
from tsed.net.wire import answer, to_wire
from tsed.provisioning.bindings import RegisterBinding
from tsed.provisioning.reset import ResetResult
from tsed.state.rows import RegisterRow


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True, slots=True)
class Inner:
    path: Path
    colour: Colour


@dataclass(frozen=True, slots=True)
class Outer:
    zeta: int
    alpha: tuple[Inner, ...]
    by_name: MappingProxyType[str, Inner]
    nothing: None = None


def test_nested_views_keep_field_order_and_become_plain_json() -> None:
    inner = Inner(Path("/exports/part-1.tar"), Colour.RED)
    data = to_wire(Outer(3, (inner, inner), MappingProxyType({"a": inner})))
    assert data == {
        "zeta": 3,
        "alpha": [{"path": "/exports/part-1.tar", "colour": "red"}] * 2,
        "by_name": {"a": {"path": "/exports/part-1.tar", "colour": "red"}},
        "nothing": None,
    }
    assert list(data) == ["zeta", "alpha", "by_name", "nothing"]  # declaration order
    assert json.loads(json.dumps(data)) == data


def test_a_domain_result_answers_with_its_own_json() -> None:
    binding = RegisterBinding("r1", "default", "tss-1", "client-1", ("old",), None, ("note",))
    result = ResetResult((binding,))
    assert to_wire(result) == result.to_json()
    assert to_wire([result]) == [result.to_json()]


def test_a_register_view_has_no_token_hash() -> None:
    row = RegisterRow("r1", "ERS kasse-1", None, "default", "f" * 64, 1.5, None, 2.5)
    data = to_wire(RegisterView.from_row(row))
    assert list(data) == [
        "id", "serial", "label", "tenant_id", "created_at", "revoked_at", "last_seen_at",
    ]  # fmt: skip
    assert "f" * 64 not in json.dumps(data)


def test_the_pairing_code_is_in_the_answer_but_not_in_the_repr() -> None:
    view = PairingAnswer("ABCD-EFGH-JKMN-PQRS", None, 9.0, "fp", "TSED:1;CODE=X", "data:")
    assert to_wire(view)["code"] == "ABCD-EFGH-JKMN-PQRS"
    assert "ABCD" not in repr(view)


def test_what_has_no_json_form_is_refused() -> None:
    with pytest.raises(TypeError, match="set has no JSON form"):
        to_wire({"values": {1, 2}})
    with pytest.raises(TypeError, match="type has no JSON form"):
        to_wire(Inner)  # a class, not a view


def test_the_answer_is_written_as_the_admin_api_always_wrote_it() -> None:
    inner = Inner(Path("p"), Colour.RED)
    response = answer(Outer(1, (inner,), MappingProxyType({})), status=201,
                      headers={"Cache-Control": "no-store"})  # fmt: skip
    assert response.status == 201 and response.headers["Cache-Control"] == "no-store"
    assert response.content_type == "application/json"
    assert response.text == json.dumps(
        {"zeta": 1, "alpha": [{"path": "p", "colour": "red"}], "by_name": {}, "nothing": None}
    )
