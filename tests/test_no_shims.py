"""No compatibility shims (issue 22, item 7): a 0.x package moves its names and says so, it does not keep them
reachable from their old place. Walks the sources with ``ast``; no import of the package is needed."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted((REPO / "baiseg").rglob("*.py"))
BENCH = sorted((REPO / "bench").glob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def test_no_module_getattr_but_the_lazy_top_level_predictor():
    """``baiseg.__getattr__`` only makes ``from baiseg import Predictor`` lazy (no torch on ``import baiseg``)."""
    found = [_rel(p) for p in SOURCES
             if any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in ast.parse(p.read_text()).body)]
    assert found == ["baiseg/__init__.py"]


def test_no_re_export_kept_for_old_imports():
    """An import marked unused (``noqa: F401``) is a name kept reachable from a second place."""
    found = [f"{_rel(p)}:{i}" for p in SOURCES for i, line in enumerate(p.read_text().splitlines(), 1)
             if "import" in line and "noqa: F401" in line and not p.name == "__init__.py"]  # fmt: skip
    assert found == []


def _package_imports(tree: ast.AST) -> list[str]:
    """Every ``baiseg...`` module named by an import, or by a string in a list or tuple (an import list such as a
    preload's, or a registry's ``"module:attr"``)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, (ast.Tuple, ast.List)):
            names += [e.value.split(":")[0] for e in node.elts
                      if isinstance(e, ast.Constant) and isinstance(e.value, str)]  # fmt: skip
    dotted = re.compile(r"baiseg(\.[A-Za-z_][A-Za-z0-9_]*)*")
    return [n for n in names if dotted.fullmatch(n)]


def _exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def test_no_fallback_to_an_old_module_path():
    """Every package module that the sources and benches import exists (a ``try``/``except ImportError`` falling
    back to a module that moved away, or a stale name in an import list, is dead code)."""
    missing = [f"{_rel(p)}: {name}" for p in SOURCES + BENCH for name in _package_imports(ast.parse(p.read_text()))
               if not _exists(name)]  # fmt: skip
    assert missing == []
