"""The face of :mod:`tsed.fiskaly`: every public name, where it lives, and that it is complete.

In the spirit of encode/httpx's ``tests/test_exported_members.py``: ``__all__`` is the list,
sorted; each name is the very object of its home module; every name another domain of tsed
imports from a fiskaly submodule is in it; and the names load on first use, so importing the
errors does not load the HTTP client.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import tsed.fiskaly

PACKAGE = Path(tsed.fiskaly.__file__).resolve().parent
TSED = PACKAGE.parent


def _type_checking_homes() -> dict[str, str]:
    """Name → module, from the ``if TYPE_CHECKING:`` imports of the package's ``__init__``."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    homes: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                for alias in imp.names:
                    assert alias.asname is None, f"{alias.name} is renamed"
                    homes[alias.name] = imp.module
    return homes


def _imported_from_fiskaly(source: str) -> set[str]:
    """The names a module imports from ``tsed.fiskaly`` or one of its submodules."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if node.module == "tsed.fiskaly" or node.module.startswith("tsed.fiskaly."):
            names.update(alias.name for alias in node.names)
    return names


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's order of ``__all__`` (RUF022): CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_all_is_sorted_without_duplicates() -> None:
    assert tsed.fiskaly.__all__ == sorted(set(tsed.fiskaly.__all__), key=_isort_key)


def test_all_matches_what_the_type_checker_sees() -> None:
    assert set(_type_checking_homes()) == set(tsed.fiskaly.__all__)


@pytest.mark.parametrize("name", tsed.fiskaly.__all__)
def test_each_name_is_the_object_of_its_home(name: str) -> None:
    home = _type_checking_homes()[name]
    value = getattr(tsed.fiskaly, name)
    if home == "tsed.fiskaly":  # a submodule that is a name itself (errors)
        assert value is importlib.import_module(f"tsed.fiskaly.{name}")
    else:
        assert value is getattr(importlib.import_module(home), name)
    assert name in dir(tsed.fiskaly)


def test_the_face_holds_every_name_other_domains_import() -> None:
    used: dict[str, set[str]] = {}
    for path in sorted(TSED.rglob("*.py")):
        if PACKAGE in path.parents:
            continue
        for name in _imported_from_fiskaly(path.read_text(encoding="utf-8")):
            used.setdefault(name, set()).add(str(path.relative_to(TSED.parent)))
    assert len(used) > 20  # the scan sees the imports (FiskalyClient, the errors, …)
    missing = {name: sorted(where) for name, where in used.items()}
    for name in tsed.fiskaly.__all__:
        missing.pop(name, None)
    assert not missing, f"imported from fiskaly submodules but not in tsed.fiskaly: {missing}"


def test_the_scan_sees_submodule_and_package_imports() -> None:
    source = (
        "from tsed.fiskaly.client import FiskalyClient\nfrom tsed.fiskaly import errors as e\n"
        "from tsed.config.model import Config\ndef f():\n    from tsed.fiskaly.simulator import X\n"
    )
    assert _imported_from_fiskaly(source) == {"FiskalyClient", "errors", "X"}


def test_star_import_gives_the_whole_face() -> None:
    namespace: dict[str, object] = {}
    exec("from tsed.fiskaly import *", namespace)
    assert set(tsed.fiskaly.__all__) <= set(namespace)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'FiskalyKlient'"):
        _ = tsed.fiskaly.FiskalyKlient  # type: ignore[attr-defined]
    assert not hasattr(tsed.fiskaly, "path_id")  # internal: only the client uses it


def test_importing_the_errors_loads_neither_client_nor_simulator() -> None:
    code = (
        "import sys, tsed.errors, tsed.fiskaly\n"
        "heavy = ('httpx', 'aiohttp', 'tsed.fiskaly.client', 'tsed.fiskaly.simulator')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "tsed.fiskaly.FiskalyClient\n"
        "print('tsed.fiskaly.client' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=TSED.parent, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.split("\n")[:2] == ["[]", "True"]
