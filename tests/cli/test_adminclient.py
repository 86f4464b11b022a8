"""The admin socket's client: each failure is a class of the error tree, an error answer of
the daemon keeps the daemon's code and hint, and tsectl's exit codes follow the class."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.console import FakeAdmin
from tsed.cli import tsectl
from tsed.cli.adminclient import AdminClient, CommandFailed, NotRunning, UsageError
from tsed.errors import TsedError


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[FakeAdmin]:
    fake = FakeAdmin(tmp_path / "admin.sock")
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def _tsectl(*argv: str) -> tuple[int, dict[str, object]]:
    out = io.StringIO()
    code = tsectl.main(["--json", *argv], out=out)
    return code, json.loads(out.getvalue())


def test_an_error_answer_keeps_the_daemons_code_and_hint(admin: FakeAdmin) -> None:
    client = AdminClient(admin.socket_path, timeout=10)
    try:
        with pytest.raises(CommandFailed) as caught:
            client.call("PUT", "/admin/v1/password", {"password": "short"})
    finally:
        client.close()
    err = caught.value
    assert type(err) is CommandFailed and isinstance(err, TsedError)
    assert err.code == "PASSWORD_TOO_SHORT" and "longer" in err.hint
    assert CommandFailed.code == "FAILED"  # the instance's code did not change the class's


def test_an_answer_without_json_gets_the_class_code(admin: FakeAdmin) -> None:
    client = AdminClient(admin.socket_path, timeout=10)
    try:
        with pytest.raises(CommandFailed) as caught:
            client.call("GET", "/admin/v1/no-such-route")
    finally:
        client.close()
    assert caught.value.code == "FAILED" and "without JSON" in caught.value.message


def test_tsectl_relays_the_daemons_code_and_exits_1(admin: FakeAdmin) -> None:
    code, answer = _tsectl("--socket", str(admin.socket_path), "pair", "--minutes", "99")
    assert code == 1
    assert answer["error"] == {
        "code": "INVALID_INPUT",
        "message": "minutes: 99 is not 1..60",
        "hint": "",
    }


def test_a_missing_daemon_is_not_running_and_exits_1(tmp_path: Path) -> None:
    missing = tmp_path / "admin.sock"
    with pytest.raises(NotRunning) as caught:
        AdminClient(missing).call("GET", "/admin/v1/status")
    assert caught.value.code == "NOT_RUNNING" and "systemctl start tsed" in caught.value.hint
    code, answer = _tsectl("--socket", str(missing), "status")
    assert code == 1 and answer["error"]["code"] == "NOT_RUNNING"  # type: ignore[index]


def test_a_usage_mistake_exits_2_before_any_call(tmp_path: Path) -> None:
    code, answer = _tsectl("--socket", str(tmp_path / "admin.sock"), "reset")
    assert code == 2
    assert answer["error"] == {
        "code": UsageError.code,
        "message": "name one register (--register ID) or --all",
        "hint": "",
    }
