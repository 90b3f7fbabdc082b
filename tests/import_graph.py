"""What the package's modules import when they are imported, read from their source (no import runs).

Import time is what runs when a module is first imported: its top-level statements, class bodies,
and the branches of ``if``/``try``/``with``/``for`` at that level, but neither function bodies (they
run when called) nor the body of ``if TYPE_CHECKING:`` (false at run time).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "jupyter_think"


def module_name(path: Path) -> str:
    """``jupyter_think/core/ids.py`` -> ``jupyter_think.core.ids`` (a package is its ``__init__``)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_at_import(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of ``body`` that run when the module is imported, nested ones included."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _run_at_import(node.body)
            yield from _run_at_import(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _run_at_import(block)
        elif isinstance(node, (ast.With, ast.For, ast.While, ast.ClassDef)):
            yield from _run_at_import(node.body)
            yield from _run_at_import(getattr(node, "orelse", []))


def imports_at_import_time(path: Path, module: str | None = None) -> set[str]:
    """Every name a module imports when it is imported: ``a.b`` for ``import a.b``, and both ``a.b``
    and ``a.b.c`` for ``from a.b import c`` (``c`` may be a module or a name in ``a.b``). ``module``
    is the module's dotted name (relative imports are read from it), by default its place in the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in _run_at_import(tree.body):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                dotted = (module or module_name(path)).split(".")
                package = dotted if path.name == "__init__.py" else dotted[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports at import time, leaving out its own packages
    (``a`` and ``a.b`` for ``a.b.c``): Python has begun importing them before the module runs, so
    naming them runs nothing."""
    modules = package_modules()
    graph = {}
    for name, path in modules.items():
        parts = name.split(".")
        own = {".".join(parts[:end]) for end in range(1, len(parts) + 1)}
        graph[name] = {
            target for target in imports_at_import_time(path) if target in modules and target not in own
        }
    return graph
