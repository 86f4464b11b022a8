"""The state directory's entries: named in tsed.state.paths, and nowhere else in tsed."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from tsed.state import paths
from tsed.state.paths import STATE_NAMES, StatePaths

PACKAGE = Path(paths.__file__).resolve().parent.parent
HOME = Path(paths.__file__).resolve()
# names that are ordinary words too ("mode": a dict key, "simulator": a backend): only a path
# built with them counts; the others count wherever they appear as a whole string
WORDS = {
    paths.MODE_FILE, paths.EXPORTS_DIR, paths.SIMULATOR_DIR, paths.ARCHIVE_DIR, paths.OFFBOX_DIR,
    paths.AUDITOR_DIR,
}  # fmt: skip


def _is_path_part(node: ast.expr, names: frozenset[str] | set[str]) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names


def strays(source: str) -> list[str]:
    """Where ``source`` spells a file name of the state directory: ``line: name``."""
    distinct = STATE_NAMES - WORDS
    found = []
    for node in ast.walk(ast.parse(source)):
        hit: str | None = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            tail = node.value.rsplit("/", 1)[-1]
            if node.value in distinct or ("/" in node.value and tail in distinct):
                hit = node.value
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if _is_path_part(node.right, STATE_NAMES):
                hit = f"/ {node.right.value!r}"  # type: ignore[attr-defined]
        elif isinstance(node, ast.Assign) and _is_path_part(node.value, WORDS):
            named = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if any(n.endswith(("_FILE", "_DIR", "_NAME", "_PATH")) for n in named):
                hit = f"{named[0]} = {node.value.value!r}"  # type: ignore[attr-defined]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"Path", "joinpath", "PurePath"}:
                parts = [a for a in node.args if _is_path_part(a, STATE_NAMES)]
                if parts and (name == "joinpath" or len(node.args) > 1):
                    hit = f"{name}(… {parts[0].value!r})"  # type: ignore[attr-defined]
        if hit is not None:
            found.append(f"{getattr(node, 'lineno', 0)}: {hit}")
    return found


def test_no_module_spells_a_state_file_name() -> None:
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if p.resolve() != HOME]
    assert len(modules) > 50
    found = {
        str(path.relative_to(PACKAGE.parent)): hits
        for path in modules
        if (hits := strays(path.read_text(encoding="utf-8")))
    }
    assert not found, f"state-dir names outside tsed/state/paths.py: {found}"


@pytest.mark.parametrize(
    "source",
    [
        'Vault(state_dir / "vault.json")',
        'marker = self.state_dir / "mode"',
        'root.joinpath("exports")',
        'Path(state_dir, "credentials.json")',
        'NAME = "admin.sock"',
        'DEFAULT = "/var/lib/tsed/tsed.sqlite"',
        'x = {"name": "device.crt"}',
        'MODE_FILE = "mode"',
    ],
)
def test_the_check_finds_a_stray_name(source: str) -> None:
    assert strays(source), source


@pytest.mark.parametrize(
    "source",
    [
        'body = {"mode": self.mode}',
        'self.backend = "simulator"',
        'paths.exports / job_id / "part.tar"',
        '"""Kept in ``<state_dir>/credentials.json`` (a docstring)."""',
        "StatePaths(state_dir).vault",
        'MODE = "mode"',
    ],
)
def test_the_check_leaves_ordinary_words_alone(source: str) -> None:
    assert not strays(source), source


def test_every_entry_is_under_the_root_and_has_its_own_name(tmp_path: Path) -> None:
    state = StatePaths(tmp_path)
    entries = {
        name: getattr(state, name)
        for name, value in vars(StatePaths).items()
        if isinstance(value, property)
    }
    assert len(entries) == len(STATE_NAMES) - 1  # job.json sits in exports/<job id>/
    assert all(path.parent == tmp_path for path in entries.values())
    assert {path.name for path in entries.values()} == STATE_NAMES - {paths.EXPORT_JOB_FILE}
    assert state.store.name == "tsed.sqlite" and state.admin_socket.name == "admin.sock"
    assert state.mode == tmp_path / "mode" and state.exports == tmp_path / "exports"


def test_state_paths_is_frozen(tmp_path: Path) -> None:
    state = StatePaths(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.root = tmp_path / "other"  # type: ignore[misc]
    assert StatePaths(tmp_path) == state
