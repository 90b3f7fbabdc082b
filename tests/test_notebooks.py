"""The committed notebooks (SPEC §9): run once from the top, with their outputs, and still true.

nbval (``pytest --nbval notebooks/``) checks that each notebook's outputs come out the same on a
fresh kernel. These tests check what nbval cannot: that each notebook was committed from one clean
run (a python3 kernelspec, every code cell executed in order, no error), and the tour's
restart-and-restore walk-through, which nbval cannot do because it never restarts a kernel: run
the cells, kill the kernel, ``%load_ext jupyter_think`` and ``%session tour``, and the same session
comes back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kernel_harness import ExecResult, Kernel

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TOUR = NOTEBOOKS / "tour.ipynb"
NAMES = ["tour.ipynb", "teaching.ipynb", "agent_experiment.ipynb"]


def ok(kernel: Kernel, code: str) -> ExecResult:
    result = kernel.execute(code)
    assert result.ok, str(result)
    return result


def code_cells() -> list[str]:
    notebook = json.loads(TOUR.read_text())
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def load(name: str) -> dict[str, Any]:
    return json.loads((NOTEBOOKS / name).read_text())


@pytest.mark.parametrize("name", NAMES)
def test_notebook_opens_on_a_python3_kernel_and_starts_with_its_title(name: str) -> None:
    notebook = load(name)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    first = notebook["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# ")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_from_one_clean_run(name: str) -> None:
    cells = [cell for cell in load(name)["cells"] if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in cells] == list(range(1, len(cells) + 1))
    kinds = [output["output_type"] for cell in cells for output in cell["outputs"]]
    assert "error" not in kinds
    streams = [
        output["name"] for cell in cells for output in cell["outputs"] if output["output_type"] == "stream"
    ]
    assert "stderr" not in streams


@pytest.mark.parametrize("name", NAMES)
def test_every_code_cell_follows_markdown_that_explains_it(name: str) -> None:
    """No long run of bare code: at most three code cells in a row after a Markdown cell."""
    run = 0
    for cell in load(name)["cells"]:
        run = run + 1 if cell["cell_type"] == "code" else 0
        assert run <= 3, f"{name}: a run of code cells without Markdown, ending at {cell['source']!r}"


@pytest.mark.kernel
def test_the_tour_session_comes_back_after_the_kernel_is_killed(make_kernel: Callable[..., Kernel]) -> None:
    kernel = make_kernel()
    for source in code_cells():
        ok(kernel, source)
    before = ok(kernel, "%session tour").plain
    graph_before = ok(kernel, "%session tour --graph").plain
    assert "11 thoughts" in before  # the number the walk-through's Markdown names

    kernel.kill()  # SIGKILL: no exit handler runs, only what the background thread wrote counts
    after = ok(kernel, "%load_ext jupyter_think\n%session tour").plain
    assert after == before
    assert ok(kernel, "%session --graph").plain == graph_before
    continued = ok(kernel, "%think Picked up after the restart").plain
    assert continued.startswith("Thought 8/8")
