"""The register developer's guide works as written, against a real unit on loopback.

Every ``sh`` block of docs/register-api.md runs, in order, in one shell (curl with the pinned
key, jq); when the next block is ``json`` (or ``csv``) the command's output must be that answer
(``…`` in the guide stands for any text; times and ids match any time and id). The Python example
prints the sample receipt of the guide; the Java example compiles and signs a receipt.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import subprocess
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from tests.support.unit import Unit, running_unit
from tsed.fiskaly.tr03151 import verify_qr_code

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "register-api.md"
DOC_UNIT, DOC_HOST, DOC_PORT = "https://192.0.2.20:8443", '"192.0.2.20", 8443', "8443"
DOC_CODE = "K7QX-9MBT-ZR3A-PW2D"
DOC_FP = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MARK = "\x1eBLOCK "


def _blocks() -> list[tuple[str, str]]:
    return re.findall(r"^```(\w*)\n(.*?)^```", GUIDE.read_text(), re.S | re.M)


def _one(lang: str) -> str:
    found = [body for kind, body in _blocks() if kind == lang]
    assert len(found) == 1, lang
    return found[0]


def _text_matches(expected: str, actual: str) -> bool:
    if "…" in expected:
        pattern = ".*".join(re.escape(part) for part in expected.split("…"))
        return re.fullmatch(pattern, actual, re.S) is not None
    for shape in (ISO, UUID):
        if shape.fullmatch(expected) and shape.fullmatch(actual):
            return True
    return expected == actual


def _same(expected: Any, actual: Any, where: str = "$") -> None:
    """``actual`` is the answer the guide shows (``…``, times and ids as wildcards)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), (where, actual)
        assert set(expected) == set(actual), (where, sorted(expected), sorted(actual))
        for key in expected:
            _same(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(expected) == len(actual), (where, actual)
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            _same(want, got, f"{where}[{index}]")
    elif isinstance(expected, str):
        assert isinstance(actual, str) and _text_matches(expected, actual), (where, actual)
    else:
        assert type(expected) is type(actual) or {type(expected), type(actual)} <= {int, float}
        assert expected == actual, (where, expected, actual)


def _walk(unit: Unit, code: str) -> list[tuple[str, str | None, str]]:
    """The guide's shell blocks as one script, with what each must answer (and its kind)."""
    steps: list[tuple[str, str | None, str]] = []
    blocks = _blocks()
    for index, (kind, body) in enumerate(blocks):
        if kind != "sh":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else ("", "")
        script = (
            body.replace(DOC_UNIT, unit.base_url)
            .replace(DOC_FP, unit.daemon.identity.fingerprint_sha256)
            .replace(DOC_CODE, code)
        )
        answer = following[1] if following[0] in ("json", "csv") else None
        if answer is not None:
            answer = answer.replace(DOC_FP, unit.daemon.identity.fingerprint_sha256)
        steps.append((script, answer, following[0]))
    return steps


def _run_walk(steps: list[tuple[str, str | None, str]]) -> list[str]:
    script = "set -e -o pipefail\n" + "".join(
        f"printf '\\n{MARK}{index}\\n'\n{body}\n" for index, (body, *_answer) in enumerate(steps)
    )
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout[-2000:]
    outputs = done.stdout.split(MARK)[1:]
    return [out.split("\n", 1)[1].strip() for out in outputs]


@pytest.mark.skipif(
    not all(shutil.which(t) for t in ("curl", "jq", "xxd")),
    reason="curl, jq or xxd missing (scripts/bootstrap installs them)",
)
async def test_the_guide_walks_from_zero_to_a_printed_receipt(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        _rc, out = await unit.tsectl("--json", "pair")
        steps = _walk(unit, json.loads(out)["code"])
        assert len(steps) >= 12 and sum(1 for _s, answer, _k in steps if answer) >= 10
        outputs = await asyncio.to_thread(_run_walk, steps)
        for (script, answer, kind), output in zip(steps, outputs, strict=True):
            if answer is None:
                assert output == "", (script, output)
            elif kind == "csv":
                assert _text_matches(answer.strip(), output), (script, output)
            else:
                _same(json.loads(answer), json.loads(output), script.strip().splitlines()[0])
        # The pin is what protects: another key is refused before anything is sent.
        wrong = await asyncio.to_thread(
            subprocess.run,
            [
                "curl",
                "-sS",
                "--insecure",
                "--pinnedpubkey",
                "sha256//" + "A" * 43 + "=",
                f"{unit.base_url}/api/v1/status",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert wrong.returncode == 90, wrong  # CURLE_SSL_PINNEDPUBKEYNOTMATCH


async def test_the_python_example_prints_the_sample_receipt(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        _rc, out = await unit.tsectl("--json", "pair")
        source = (
            _one("python")
            .replace(DOC_HOST, f'"127.0.0.1", {unit.port}')
            .replace(DOC_FP, unit.daemon.identity.fingerprint_sha256)
            .replace(DOC_CODE, json.loads(out)["code"])
        )
        printed = io.StringIO()

        def run() -> None:
            with redirect_stdout(printed):
                exec(compile(source, str(GUIDE), "exec"), {"__name__": "guide"})

        await asyncio.to_thread(run)
    lines = printed.getvalue().splitlines()
    sample = _one("text").splitlines()
    assert len(lines) == len(sample), lines
    for want, got in zip(sample, lines, strict=True):
        assert _text_matches(want, got), (want, got)
    qr = next(line for line in lines if line.startswith("[QR: "))[5:-1]
    assert verify_qr_code(qr).valid, qr


async def test_the_python_example_refuses_another_key(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "state") as unit:
        source = _one("python").replace(DOC_HOST, f'"127.0.0.1", {unit.port}')

        def run() -> None:
            exec(compile(source, str(GUIDE), "exec"), {"__name__": "guide"})

        with pytest.raises(SystemExit, match="not the unit"):
            await asyncio.to_thread(run)
        assert not unit.registers and (await unit.daemon.store.list_registers()) == []


async def test_the_java_example_compiles_and_signs_a_receipt(tmp_path: Path) -> None:
    javac, java = shutil.which("javac"), shutil.which("java")
    if javac is None or java is None:
        pytest.skip("javac is not installed (scripts/bootstrap installs openjdk-17-jdk-headless)")
    source = tmp_path / "SignReceipt.java"
    source.write_text(_one("java"))
    built = await asyncio.to_thread(
        subprocess.run,
        [javac, "-Xlint:all", "-Werror", "-d", str(tmp_path / "classes"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    async with running_unit(tmp_path / "state") as unit:
        register = await unit.pair("ERS java-1")
        fingerprint = unit.daemon.identity.fingerprint_sha256
        ran = await asyncio.to_thread(
            subprocess.run,
            [
                java,
                "-cp",
                str(tmp_path / "classes"),
                "SignReceipt",
                unit.base_url,
                fingerprint,
                register.token,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        assert verify_qr_code(ran.stdout.strip()).valid, ran.stdout
        refused = await asyncio.to_thread(
            subprocess.run,
            [
                java,
                "-cp",
                str(tmp_path / "classes"),
                "SignReceipt",
                unit.base_url,
                "0" * 64,
                register.token,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode != 0 and "not the unit" in refused.stderr
