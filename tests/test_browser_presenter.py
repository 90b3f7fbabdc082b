"""The teaching notebook presented to a class, in a real browser at a projector's 1920x1080 (SPEC §7).

The notebook runs whole in JupyterLab; its last graph goes into the presenter view and steps through
the lesson to the end. At the start and the end: every node drawn is in the viewport, labels and lane
names are at least 18 px, no node is under a lane name, the step's text shows (its maths as MathML),
and the widget keeps its size while stepping (in the notebook too). A second notebook (another kernel
on the same store) follows the presenter and reaches each step it shows. Screenshots of the presenter
view at the start, the middle and the end are saved under this module's temporary directory
(``presenter-shots``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_harness import NOTEBOOK, Browser, Lab, run_cell, wait_cell_done, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEACHING = Path(__file__).resolve().parent.parent / "notebooks" / "teaching.ipynb"
GRAPHS = f"{NOTEBOOK} .jt-graph"
MIN_TYPE = 18
FOLLOWER = [
    "import jupyter_think\n"
    'follower = jupyter_think.get_manager().session("mersenne").graph(follow_presenter=True)\n'
    "follower"
]

LAYOUT = """(graph) => {
    const root = [...document.querySelectorAll(graph)].pop();
    const box = (e) => { const r = e.getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height}; };
    const size = (e) => parseFloat(e.getAttribute('font-size') || getComputedStyle(e).fontSize);
    return {
        presenting: root.classList.contains('jt-presenter'),
        graph: box(root),
        viewport: box(root.querySelector('.jt-viewport')),
        detail: box(root.querySelector('.jt-detail')),
        step: root.querySelector('.jt-step-label').textContent,
        dots: [...root.querySelectorAll('.jt-node .jt-dot')].map(box),
        labels: [...root.querySelectorAll('.jt-label')].map(size),
        lanes: [...root.querySelectorAll('.jt-lane-label')].map(e => ({box: box(e), size: size(e)})),
        text: root.querySelector('.jt-detail-text').textContent,
        maths: root.querySelectorAll('.jt-detail-text math').length,
        paneHidden: root.querySelector('.jt-detail').hidden,
    };
}"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("presenter-shots")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    with Lab(env={"JUPYTER_THINK_DIR": str(root / "store")}, root=root) as running:
        shutil.copy(TEACHING, running.root_dir / "teaching.ipynb")
        running.write_notebook("follower.ipynb", FOLLOWER)
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(width=1920, height=1080) as running:
        yield running


@pytest.fixture(scope="module")
def lesson(lab: Lab, browser: Browser) -> Iterator[Any]:
    """The teaching notebook, run whole; its last graph drawn."""
    page = browser.open_notebook(lab, "teaching.ipynb")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => { const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')];
                   return cells.length && cells.every(c => /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt').textContent)); }""",
        timeout=180_000,
    )
    wait_idle(page)
    page.wait_for_function(
        f"[...document.querySelectorAll('{GRAPHS} .jt-step-label')].pop()?.textContent.match(/^(\\d+) \\/ \\1$/)",
        timeout=60_000,
    )
    yield page
    page.close()


def layout(page: Any) -> dict[str, Any]:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page.evaluate(LAYOUT, GRAPHS)


def steps_of(page: Any) -> tuple[int, int]:
    shown, total = layout(page)["step"].split(" / ")
    return int(shown), int(total)


def meet(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


def check_fitted(seen: dict[str, Any], nodes: int) -> None:
    """Everything a class must read at the back of the room, where the presenter view shows it."""
    viewport = seen["viewport"]
    assert len(seen["dots"]) == nodes, seen["step"]
    for dot in seen["dots"]:  # every node in the viewport: nothing to scroll to
        assert viewport["left"] <= dot["left"] and dot["right"] <= viewport["right"], (dot, viewport)
        assert viewport["top"] <= dot["top"] and dot["bottom"] <= viewport["bottom"], (dot, viewport)
    assert seen["labels"] and min(seen["labels"]) >= MIN_TYPE, seen["labels"]
    assert seen["lanes"] and min(lane["size"] for lane in seen["lanes"]) >= MIN_TYPE
    for lane in seen["lanes"]:  # no node under a lane's name
        assert not any(meet(lane["box"], dot) for dot in seen["dots"]), lane
    assert not seen["paneHidden"] and seen["text"].strip(), "the step's text is shown"


def test_the_presenter_view_fits_the_lesson_at_its_start_and_end_and_keeps_still(
    lesson: Any, shots: Path
) -> None:
    page = lesson
    page.locator(f"{GRAPHS} .jt-present").last.click()
    page.wait_for_selector(f"{GRAPHS}.jt-presenter")
    start = layout(page)
    assert start["presenting"] and start["step"].startswith("1 / ")  # the first step's text on entry
    assert start["graph"]["width"] == pytest.approx(1920, abs=2) and start["graph"][
        "height"
    ] == pytest.approx(1080, abs=2)
    page.wait_for_function(
        f"[...document.querySelectorAll('{GRAPHS} .jt-detail-text math')].length > 0", timeout=10_000
    )
    start = layout(page)
    assert "Restate the question" in start["text"] and start["maths"] >= 2  # $n$ and $2^n - 1$ typeset
    assert start["text"].count("$") == 0
    check_fitted(start, nodes=1)
    assert start["detail"]["top"] >= start["viewport"]["bottom"] - 1  # the text under the graph
    page.screenshot(path=str(shots / "presenter-start.png"))
    _, total = steps_of(page)
    sizes = set()
    for step in range(2, total + 1):
        page.keyboard.press("ArrowRight")
        seen = layout(page)
        assert seen["step"] == f"{step} / {total}"
        sizes.add(
            (
                round(seen["graph"]["height"]),
                round(seen["viewport"]["height"]),
                round(seen["detail"]["height"]),
            )
        )
        if step == total // 2:
            page.screenshot(path=str(shots / "presenter-middle.png"))
    assert len(sizes) == 1, sizes  # nothing moves while stepping
    end = layout(page)
    check_fitted(end, nodes=12)
    page.screenshot(path=str(shots / "presenter-end.png"))
    page.keyboard.press("Escape")
    page.wait_for_function(
        f"![...document.querySelectorAll('{GRAPHS}')].pop().classList.contains('jt-presenter')"
    )


def test_the_graph_in_the_notebook_keeps_its_height_while_stepping(lesson: Any) -> None:
    page = lesson
    page.locator(f"{GRAPHS} .jt-viewport").last.focus()
    page.keyboard.press("Home")
    _, total = steps_of(page)
    heights = set()
    for _ in range(total):
        page.keyboard.press("ArrowRight")
        heights.add(round(layout(page)["graph"]["height"]))
    assert len(heights) == 1, heights


def test_a_graph_in_another_kernel_follows_the_presenter_and_can_step_away(
    lab: Lab, browser: Browser, lesson: Any
) -> None:
    follower = browser.open_notebook(lab, "follower.ipynb")
    try:
        run_cell(follower, 0)
        wait_cell_done(follower, 0)
        follower.wait_for_selector(f"{GRAPHS} .jt-follow-presenter:checked", timeout=30_000)
        page = lesson
        page.locator(f"{GRAPHS} .jt-present").last.click()
        page.wait_for_selector(f"{GRAPHS}.jt-presenter")
        page.keyboard.press("Home")
        _, total = steps_of(page)
        for step in (1, 2, 5):
            while steps_of(page)[0] < step:
                page.keyboard.press("ArrowRight")
            follower.wait_for_function(
                f"document.querySelector('{GRAPHS} .jt-step-label').textContent === '{step} / {total}'",
                timeout=10_000,
            )
        follower.locator(f"{GRAPHS} .jt-viewport").focus()  # a student steps away ...
        follower.keyboard.press("ArrowLeft")
        assert follower.text_content(f"{GRAPHS} .jt-step-label") == f"4 / {total}"
        assert follower.is_visible(f"{GRAPHS} .jt-back")
        page.keyboard.press("ArrowRight")  # ... the teacher moves on without them ...
        follower.wait_for_function(  # (the follower heard it: its button says where the teacher is)
            f"document.querySelector('{GRAPHS} .jt-back').textContent.includes('step 6')", timeout=10_000
        )
        assert follower.text_content(f"{GRAPHS} .jt-step-label") == f"4 / {total}"
        follower.click(f"{GRAPHS} .jt-back")  # ... and they come back to where the teacher is
        follower.wait_for_function(
            f"document.querySelector('{GRAPHS} .jt-step-label').textContent === '6 / {total}'", timeout=10_000
        )
        page.keyboard.press("Escape")
    finally:
        follower.close()
        lab.stop_kernels("follower.ipynb")
