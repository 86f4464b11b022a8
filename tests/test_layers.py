"""Import-direction test: the folders are layers and imports only go one way.

* ``tsed.fiskaly`` imports nothing else of tsed;
* ``tsed.net`` never imports ``tsed.fiskaly``;
* the service layer (``tsed`` top-level modules) never imports ``tsed.net``, except the
  wiring modules (daemon, cli, tsectl) that put the layers together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tsed"
WIRING = {
    "tsed.daemon",
    "tsed.runtime",
    "tsed.runtime_ops",
    "tsed.runtime_setup",
    "tsed.cli",
    "tsed.tsectl",
    "tsed.tsectl_setup",
    "tsed.__main__",
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str | None = None) -> set[str]:
    module = module or _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "tsed" or name.startswith("tsed.")}


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_package_has_modules() -> None:
    assert len(MODULES) > 3


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_import_direction(path: Path) -> None:
    module = _module_name(path)
    imported = _imports(path)
    if module.startswith("tsed.fiskaly"):
        bad = {name for name in imported if not name.startswith("tsed.fiskaly")}
        assert not bad, f"{module} (fiskaly layer) must not import {sorted(bad)}"
    elif module.startswith("tsed.net"):
        bad = {name for name in imported if name.startswith("tsed.fiskaly")}
        assert not bad, f"{module} (net layer) must not talk to fiskaly: {sorted(bad)}"
    elif module not in WIRING and module != "tsed":
        bad = {name for name in imported if name.startswith("tsed.net")}
        assert not bad, f"{module} (service layer) must not import the net layer: {sorted(bad)}"


def test_checker_sees_violations(tmp_path: Path) -> None:
    """The checker must find forbidden imports, absolute and relative alike."""
    fake = tmp_path / "client.py"
    fake.write_text("from tsed.config import Config\nfrom ..store import Store\nimport os\n")
    found = _imports(fake, "tsed.fiskaly.client")
    assert "tsed.config" in found
    assert "tsed.store" in found
    assert "os" not in found
