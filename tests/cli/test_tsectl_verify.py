"""``tsectl export verify FILE``: runs on the file alone (no daemon), report or JSON, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.fiskaly.simulator.conftest import Api, api, server, sim  # noqa: F401 - fixtures
from tests.support.tar import build, members, rich_export
from tsed.cli import tsectl


@pytest.fixture
async def tar_file(api: Api, tmp_path: Path) -> Path:  # noqa: F811
    path = tmp_path / "export.tar"
    path.write_bytes((await rich_export(api)).tar)
    return path


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    # no daemon: the state directory and its socket do not exist
    code = tsectl.main(["--state-dir", "/nonexistent", *argv], out=out)
    return code, out.getvalue()


async def test_a_good_export_exits_0_with_a_readable_report(tar_file: Path) -> None:
    code, text = _run("export", "verify", str(tar_file))
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == f"{tar_file}: OK"
    assert "7 transaction logs (3 transactions)" in lines[1] and "2 certificates" in lines[1]


async def test_json_after_the_command_and_before_it(tar_file: Path) -> None:
    for argv in (["export", "verify", str(tar_file), "--json"],
                 ["--json", "export", "verify", str(tar_file)]):  # fmt: skip
        code, text = _run(*argv)
        data = json.loads(text)
        assert code == 0 and data["ok"] is True and data["findings"] == []
        assert data["first_counter"] == 23 and data["transaction_logs"] == 7


async def test_any_finding_exits_1_and_names_it(tar_file: Path, tmp_path: Path) -> None:
    files = members(tar_file.read_bytes())
    removed = sorted(n for n in files if "_Log-Sys_registerClient" in n)[0]
    del files[removed]
    damaged = tmp_path / "damaged.tar"
    damaged.write_bytes(build(files))
    code, text = _run("export", "verify", str(damaged))
    assert code == 1
    assert "1 finding(s)" in text and "counter_gap: signature counter" in text
    assert "hint:" in text
    code, text = _run("export", "verify", str(damaged), "--json")
    assert code == 1 and [f["code"] for f in json.loads(text)["findings"]] == ["counter_gap"]


def test_a_file_that_is_not_a_tar_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "receipt.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"x" * 2000)
    code, text = _run("export", "verify", str(path))
    assert code == 1
    assert "not_a_tar: cannot read the file as a TAR archive" in text
    assert "Traceback" not in text


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run("export", "verify", str(tmp_path / "missing.tar"))
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "No such file" in err and "hint:" in err
    assert _run("export", "verify")[0] == 2
    assert "needs the FILE" in capsys.readouterr().err
    path = tmp_path / "x.tar"
    path.write_bytes(b"")
    assert _run("export", "verify", str(path), "--start-counter", "9", "--end-counter", "3")[0] == 2
    with pytest.raises(SystemExit) as exit_info:
        _run("export", "verify", str(path), "--start-counter", "nine")
    assert exit_info.value.code == 2


async def test_range_and_filtered_options_reach_the_verifier(tar_file: Path) -> None:
    code, text = _run("export", "verify", str(tar_file), "--start-counter", "20", "--json")
    assert code == 1  # the TAR starts at 23: counters 20..22 are missing from the range
    assert [f["message"] for f in json.loads(text)["findings"]] == [
        "signature counter 20..22 missing"
    ]
    assert _run("export", "verify", str(tar_file), "--filtered")[0] == 0


def test_export_without_output_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run("export")
    assert code == 2
    assert "export needs -o FILE" in capsys.readouterr().err
