"""The package's architecture: domain folders, one-way imports, no circle, small modules.

The folders of :mod:`tsed` are its domains. Imports run one way, from the top down::

    cli → unit → net → {signing, provisioning} → archive → tss → config → state
        → {errors, logs, systemd, texts}

with :mod:`tsed.fiskaly` at the bottom (it imports nothing else of tsed). A module may import
its own folder and any folder below its own; ``signing`` and ``provisioning`` never import each
other; nothing imports ``cli``; ``net`` never imports ``tsed.fiskaly`` (it reaches fiskaly only
through the domains below it); only ``tss`` builds a fiskaly client. Every import counts:
deferred ones inside functions and type-only ones under ``TYPE_CHECKING`` included, and the
rules hold for what a module reaches transitively, so no module is part of an import circle.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tsed"
MAX_LINES = 500

# rank: a module may import modules of its own folder and of lower ranks
RANK = {
    "fiskaly": 0,
    "errors": 1, "logs": 1, "systemd": 1, "": 1,  # "" is tsed/__init__ (the version)
    "texts": 1,  # the message catalogue: a leaf folder every domain may use
    "state": 2,
    "config": 3,
    "tss": 4,
    "archive": 5,
    "signing": 6, "provisioning": 6,
    "net": 7,
    "unit": 8,
    "cli": 9,
}  # fmt: skip
FOLDERS = {
    "fiskaly", "state", "config", "tss", "archive", "signing", "provisioning", "net", "unit", "cli",
    "texts",
}  # fmt: skip
LEAVES = {"errors", "logs", "systemd"}
CLIENT_BUILDS = re.compile(r"\b(FiskalyClient|ManagementClient)\(")


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str | None = None) -> set[str]:
    """Every tsed module ``path`` imports, deferred and type-only imports included."""
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
BY_NAME = {_module_name(path): path for path in MODULES}


def _resolve(name: str) -> str | None:
    """The module an imported name lives in (``tsed.x.Y`` → ``tsed.x``)."""
    while name:
        if name in BY_NAME:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def _edges(module: str) -> frozenset[str]:
    found = {_resolve(name) for name in _imports(BY_NAME[module], module)}
    # a module's own parent packages are not its imports: importing anything runs them
    return frozenset(
        name for name in found if name and name != module and not module.startswith(name + ".")
    )


def _reach(module: str) -> set[str]:
    seen: set[str] = set()
    todo = list(_edges(module))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_edges(name))
    return seen


def _domain(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _violations(module: str, imported: set[str]) -> list[str]:
    """What ``module`` must not import among ``imported`` (module names)."""
    own = _domain(module)
    bad = []
    for name in sorted(imported):
        other = _domain(name)
        if other == own:
            continue
        if other == "cli":
            bad.append(f"{name} (nothing imports cli)")
        elif {own, other} == {"signing", "provisioning"}:
            bad.append(f"{name} (signing and provisioning never import each other)")
        elif own == "net" and other == "fiskaly":
            bad.append(f"{name} (net reaches fiskaly only through the domains below it)")
        elif RANK[other] > RANK[own]:
            bad.append(f"{name} ({other} is above {own or 'tsed'})")
    return bad


def test_package_has_modules() -> None:
    assert len(MODULES) > 50


def test_every_module_is_in_a_domain_folder() -> None:
    """Only the leaves and the package face sit beside the domain folders."""
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert top == LEAVES, f"modules outside a domain folder: {sorted(top - LEAVES)}"
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == FOLDERS


@pytest.mark.parametrize("module", sorted(BY_NAME))
def test_import_direction(module: str) -> None:
    bad = _violations(module, set(_edges(module)))
    assert not bad, f"{module} must not import: {bad}"


@pytest.mark.parametrize("module", sorted(BY_NAME))
def test_transitive_imports_keep_the_rules(module: str) -> None:
    reached = _reach(module)
    assert module not in reached, f"{module} is part of an import circle"
    bad = [
        line for line in _violations(module, reached)
        if "signing and provisioning" in line or "nothing imports cli" in line
        or "above" in line
    ]  # fmt: skip
    assert not bad, f"{module} reaches, through its imports: {bad}"


def test_no_import_circle() -> None:
    circles = sorted(module for module in BY_NAME if module in _reach(module))
    assert not circles, f"modules in an import circle: {circles}"


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_module_size(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines < MAX_LINES, f"{_module_name(path)} has {lines} lines (limit {MAX_LINES})"


def test_only_tss_builds_fiskaly_clients() -> None:
    builders = sorted(
        _module_name(path) for path in MODULES
        if _domain(_module_name(path)) not in {"tss", "fiskaly"}
        and CLIENT_BUILDS.search(path.read_text(encoding="utf-8"))
    )  # fmt: skip
    assert not builders, f"fiskaly clients built outside tsed.tss: {builders}"


def test_checker_sees_violations(tmp_path: Path) -> None:
    """The checker finds forbidden imports: absolute, relative, deferred and type-only."""
    fake = tmp_path / "client.py"
    fake.write_text(
        "from tsed.config.model import Config\nfrom ..state import store\nimport os\n"
        "def f():\n    from tsed.cli import tsectl\n"
        "if TYPE_CHECKING:\n    from tsed.unit.daemon import Daemon\n"
    )
    found = _imports(fake, "tsed.fiskaly.client")
    assert {"tsed.config.model", "tsed.state", "tsed.cli", "tsed.unit.daemon"} <= found
    assert "os" not in found
    assert _violations("tsed.signing.service", {"tsed.provisioning.activation"})
    assert _violations("tsed.net.api", {"tsed.fiskaly.client"})
    assert _violations("tsed.state.store", {"tsed.config.model"})
    assert _violations("tsed.unit.daemon", {"tsed.cli.tsectl"})
    assert not _violations("tsed.unit.daemon", {"tsed.net.api", "tsed.state.store"})
