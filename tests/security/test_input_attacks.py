"""Malformed input against every server of the unit: deep nesting, duplicate keys, odd digits.

Issue 13 items 6, 7 and 11. Every answer is a 400 in the documented envelope, never a 500 and
never a traceback in the log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from pathlib import Path

import httpx
import pytest

from tests.support.security import admin_call, set_admin_password, web_login
from tests.support.unit import RECEIPT, running_unit
from tsed.net.http import MAX_JSON_DEPTH, json_depth, parse_json

DEEP = b"[" * 2000 + b"]" * 2000
DEEP_OBJECT = b'{"a":' * 2000 + b"1" + b"}" * 2000
DUPLICATE = (
    b'{"receipt_type": "RECEIPT", "receipt_type": "TRAINING",'
    b' "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "1.00"}],'
    b' "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "1.00"}]}'
)
JSON = {"Content-Type": "application/json"}


def test_the_parser_refuses_depth_and_duplicates_and_skips_brackets_in_strings() -> None:
    assert json_depth('{"a": "[[[[{{{{", "b": [1, {"c": "\\"]]]"}]}') == 3
    assert parse_json(b'{"a": "[[[[", "b": [1]}') == {"a": "[[[[", "b": [1]}
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(nested) is not None  # the limit itself is fine
    for body in (DEEP, DEEP_OBJECT, "[" * (MAX_JSON_DEPTH + 1)):
        with pytest.raises(Exception, match="levels deep") as caught:
            parse_json(body)
        assert type(caught.value).__name__ == "InputError"
    with pytest.raises(Exception, match="'receipt_type' appears more than once"):
        parse_json(DUPLICATE)
    with pytest.raises(Exception, match="'b' appears more than once"):
        parse_json('{"a": [{"b": 1, "b": 1}]}')  # also nested, also with equal values


async def test_deep_json_is_400_on_every_server_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        await set_admin_password(unit)
        web, csrf = await web_login(unit)
        try:
            answers = [
                await register.http.post("/api/v1/pairings", content=DEEP, headers=JSON),
                await register.http.post(
                    "/api/v1/receipts", content=DEEP_OBJECT, headers={**JSON, **register.auth}
                ),
                await web.post("/setup/login", content=DEEP, headers=JSON),
                await web.put(
                    "/setup/api/admin/v1/config",
                    content=DEEP_OBJECT,
                    headers={**JSON, "X-CSRF-Token": csrf},
                ),
            ]
            transport = httpx.AsyncHTTPTransport(uds=str(unit.daemon.options.admin_socket))
            async with httpx.AsyncClient(transport=transport, base_url="http://tsed") as admin:
                answers.append(await admin.post("/admin/v1/tenants", content=DEEP, headers=JSON))
        finally:
            await web.aclose()
        for answer in answers:
            assert answer.status_code == 400, answer.text
            error = answer.json()["error"]
            assert error["code"] == "INVALID_REQUEST"
            assert "levels deep" in error["message"]
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
    assert "internal_error" not in [getattr(r, "TSED_EVENT", "") for r in caplog.records]


async def test_duplicate_keys_are_refused_naming_the_key(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair()
        answer = await register.http.post(
            "/api/v1/receipts", content=DUPLICATE, headers={**JSON, **register.auth}
        )
        assert answer.status_code == 400, answer.text
        assert "'receipt_type' appears more than once" in answer.json()["error"]["message"]
        assert await unit.daemon.store.count_open() == 0  # nothing was journaled
        twice = await register.http.post(
            "/api/v1/pairings",
            content=b'{"code": "A", "code": "B", "register_serial": "ERS 2"}',
            headers=JSON,
        )
        assert twice.status_code == 400 and "'code'" in twice.json()["error"]["message"]
        # the same receipt without the duplicate signs
        assert (await register.call("POST", "/api/v1/receipts", RECEIPT)).status_code == 200


@pytest.mark.parametrize("part", ["%C2%B2", "%D9%A3", "%EF%BC%91", "1%C2%B2"])
async def test_export_part_numbers_are_ascii_digits_only(tmp_path: Path, part: str) -> None:
    """Superscript two, Arabic-Indic three, fullwidth one: str.isdigit says yes, int() no."""
    async with running_unit(tmp_path / "state") as unit:
        answer = await admin_call(unit, "GET", f"/admin/v1/exports/some-job/files/{part}")
        assert answer.status_code == 400, answer.text
        assert "is not a number" in answer.json()["error"]["message"]


def test_request_bodies_go_through_the_one_parser() -> None:
    """No server module parses a request body with json.loads of its own."""
    net = Path(__file__).parents[2] / "tsed" / "net"
    for module in net.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert "await request.json(" not in text, module.name
        # limits.py reads its own state file (register_sources.json) and setuplabel.py the
        # printed label's record, never a request body
        if module.name not in ("http.py", "identity.py", "api.py", "limits.py", "setuplabel.py"):
            assert "json.loads(" not in text, module.name
    # api.py reads only its own error answers back (to add the mode), never a request body
    api = (net / "api.py").read_text(encoding="utf-8")
    assert api.count("json.loads(") == 1 and "json.loads(response.text)" in api
    assert json.loads("{}") == {}


FAKE_LINE = "\x1b[2K\rdeadbeef  ERS chef  default  active\n\u202egnal"


async def test_a_label_cannot_fake_a_line_of_tsectl_registers(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        await unit.pair("ERS kasse-1", label=FAKE_LINE)
        label = next(iter(unit.daemon.registers.rows.values())).label
        assert label is not None and "\x1b" not in label and "\u202e" not in label
        assert "\r" not in label and "\n" not in label
        # a label stored before the rule (or by other means) is escaped on output
        row = next(iter(unit.daemon.registers.rows.values()))
        unit.daemon.registers.rows[row.id] = dataclasses.replace(row, label=FAKE_LINE)
        _code, out = await unit.tsectl("registers")
        lines = out.splitlines()
        assert len(lines) == 2, out  # the header and exactly one register
        assert "\x1b" not in out and "\u202e" not in out and "\\x1b" in out and "\\u202e" in out


async def test_one_register_cannot_open_every_transaction_of_the_tss(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state", config="max_open_per_register = 3\n") as unit:
        greedy, other = await unit.pair("ERS gierig"), await unit.pair("ERS andere")
        answers = await asyncio.gather(
            *(greedy.call("POST", "/api/v1/transactions") for _ in range(10))
        )
        opened = [a for a in answers if a.status_code == 201]
        refused = [a for a in answers if a.status_code != 201]
        assert len(opened) <= 3 and len(opened) + len(refused) == 10
        for answer in refused:
            assert answer.status_code == 409, answer.text
            error = answer.json()["error"]
            assert error["code"] == "TOO_MANY_OPEN_TRANSACTIONS"
            assert "at most 3" in error["message"] and "max_open_per_register" in error["hint"]
        while len(opened) < 3:  # concurrency may have refused early; sequentially up to 3
            answer = await greedy.call("POST", "/api/v1/transactions")
            assert answer.status_code == 201, answer.text
            opened.append(answer)
        assert (await greedy.call("POST", "/api/v1/transactions")).status_code == 409
        # another register of the same TSS is not affected
        assert (await other.call("POST", "/api/v1/transactions")).status_code == 201
        assert (await other.call("POST", "/api/v1/receipts", RECEIPT)).status_code == 200
        # ending one makes room again
        tx_id = opened[0].json()["id"]
        done = await greedy.call("POST", f"/api/v1/transactions/{tx_id}/finish", RECEIPT)
        assert done.status_code == 200, done.text
        assert (await greedy.call("POST", "/api/v1/transactions")).status_code == 201
