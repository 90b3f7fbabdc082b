"""The package's import graph: no module imports, at import time, one that imports it back."""

from __future__ import annotations

import graphlib
from pathlib import Path

import pytest
from import_graph import import_graph, imports_at_import_time


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (module -> the modules it imports), or ``None`` when there is none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    assert len(graph) > 50 and graph["jupyter_think.manager"], "the graph reads the package's imports"
    assert cycle_in(graph) is None, " -> ".join(cycle_in(graph) or [])


def test_a_cycle_added_between_two_modules_is_found() -> None:
    graph = import_graph()
    graph["jupyter_think.core.ids"] = {*graph["jupyter_think.core.ids"], "jupyter_think.core.session.session"}
    found = cycle_in(graph)
    assert (
        found is not None
        and "jupyter_think.core.ids" in found
        and "jupyter_think.core.session.session" in found
    )


@pytest.mark.parametrize(
    ("source", "imported"),
    [
        (
            "import json\nfrom jupyter_think.core import ids",
            {"json", "jupyter_think.core", "jupyter_think.core.ids"},
        ),
        ("if TYPE_CHECKING:\n    import pandas\nelse:\n    import csv", {"csv"}),
        ("def later():\n    import pandas\nclass Now:\n    import csv", {"csv"}),
        ("try:\n    import tomllib\nexcept ImportError:\n    import tomli", {"tomllib", "tomli"}),
        (
            "from . import sibling\nfrom ..up import name",
            {"pkg.sub", "pkg.sub.sibling", "pkg.up", "pkg.up.name"},
        ),
    ],
)
def test_only_what_runs_at_import_time_counts(tmp_path: Path, source: str, imported: set[str]) -> None:
    module = tmp_path / "module.py"
    module.write_text(source, encoding="utf-8")
    assert imports_at_import_time(module, "pkg.sub.module") == imported


PACKAGE = Path(__file__).resolve().parent.parent / "jupyter_think"


def test_no_module_is_over_500_lines_and_the_root_keeps_only_the_public_face() -> None:
    sizes = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert len(sizes) > 50, "the package's modules are found"
    assert {name: lines for name, lines in sizes.items() if lines > 500} == {}
    root = sorted(name for name in sizes if "/" not in name)
    assert len(root) <= 10, root
