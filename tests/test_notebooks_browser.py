"""The three notebooks in a real JupyterLab and Chromium: the graph renders in each (SPEC §9).

One JupyterLab and one browser for the module (see ``lab_harness.py``), with a private store and
notebook windowing switched off (so cells below the fold are in the page too). Each notebook is
opened as committed and run with *Run All*: every cell runs without an error, and each live graph
widget draws the thoughts of its session, including thoughts that arrived after it was displayed.
nbval cannot see any of this (it skips the widget view); only the browser shows that the front end
works, and that no console error was logged. Last, the README's headless command
(``./dev lab --headless``) writes ``tour.html`` into a new temporary directory (never into the
repository), and the graphs are visible in it. Each test passes alone and in any order.

The teaching notebook is also presented to a class at a projector's 1920x1080 (SPEC §7): run whole,
its last graph goes into the presenter view and steps through the lesson to the end. At the start
and the end every node drawn is in the viewport, labels and lane names are at least 18 px, no node is
under a lane name and the step's text shows (its maths as MathML), from the first step on entry; the
widget keeps its size while stepping (in the notebook too). A second notebook (another kernel on the
same store) follows the presenter, steps away and comes back. Screenshots of the presenter view at the
start, the middle and the end are saved under the test's temporary directory (``presenter-shots``).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_harness import NOTEBOOK, RENDER_WAIT, Browser, Lab, run_cell, wait_cell_done, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("no_console_errors")]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts"

# Nodes drawn by each live graph, in page order, once every cell has run. A graph follows its
# session, so it also shows thoughts recorded after it was displayed (checklist: 3 + 1 from the
# --quiet cell; api-demo: 5 + 1 afterthought; agent_experiment: a stepwise run's graph, 4 thoughts).
EXPECTED_NODES = {
    "tour.ipynb": [11, 4, 6],
    "teaching.ipynb": [12, 12, 12],
    "agent_experiment.ipynb": [4],
}
FOLLOWER = [  # a class's notebook: another kernel on the store, its graph following the presenter
    "import jupyter_think\n"
    'follower = jupyter_think.get_manager().session("mersenne").graph(follow_presenter=True)\n'
    "follower"
]


@pytest.fixture(scope="module")
def lab(lab: Lab) -> Lab:
    """The module's JupyterLab (conftest.py's) with notebook windowing off and the notebooks copied in."""
    tracker = lab.base / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    for name in EXPECTED_NODES:
        shutil.copy(NOTEBOOKS / name, lab.root_dir / name)
    lab.write_notebook("follower.ipynb", FOLLOWER)
    return lab


def run_all(page: Any, timeout: float = 120) -> None:
    """Clear the committed outputs, run every cell (Run → Run All Cells), and wait until each code
    cell shows its new execution count."""
    page.evaluate(
        """async () => {
            await window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs');
            await window.jupyterapp.commands.execute('notebook:run-all-cells');
        }"""
    )
    page.wait_for_function(
        f"""() => {{
            const prompts = Array.from(document.querySelectorAll('{NOTEBOOK} .jp-CodeCell .jp-InputPrompt'));
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }}""",
        timeout=timeout * 1000,
    )
    wait_idle(page)


NODES_HELD = f"""async () => {{
    // The thoughts each live graph draws, wherever its view is scrolled: a node scrolled under the lane
    // names is left out of the drawing, so look at both ends (each scroll redraws in the next frame).
    const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    const counts = [];
    for (const graph of document.querySelectorAll('{NOTEBOOK} .jt-graph')) {{
        const viewport = graph.querySelector('.jt-viewport');
        const seen = new Set();
        for (const left of [0, viewport.scrollWidth]) {{
            viewport.scrollLeft = left;
            viewport.dispatchEvent(new Event('scroll'));
            await frame();
            graph.querySelectorAll('.jt-node').forEach(n => seen.add(n.dataset.index));
        }}
        counts.push(seen.size);
    }}
    return counts;
}}"""


def live_node_counts(page: Any) -> list[int]:
    return page.evaluate(NODES_HELD)


@pytest.mark.parametrize("name", list(EXPECTED_NODES))
def test_run_all_draws_every_graph_live_without_errors(lab: Lab, browser: Browser, name: str) -> None:
    page = browser.open_notebook(lab, name)
    try:
        run_all(page)
        expected = EXPECTED_NODES[name]
        page.wait_for_function(
            f"""async (expected) => JSON.stringify(await ({NODES_HELD})()) === JSON.stringify(expected)""",
            arg=expected,
            timeout=30_000,
            polling=500,
        )
        assert live_node_counts(page) == expected
        assert page.locator(f"{NOTEBOOK} [data-mime-type='application/vnd.jupyter.error']").count() == 0
        assert page.locator(f"{NOTEBOOK} [data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(f"{NOTEBOOK} .jt-graph").last.screenshot(
            path=str(ARTIFACTS / f"notebook-{Path(name).stem}.png")
        )
    finally:
        page.close()
        lab.stop_kernels(name)


def test_headless_command_writes_the_tour_as_html_with_the_graphs_drawn(
    browser: Browser, tmp_path: Path
) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    env = {
        **{name: value for name, value in os.environ.items() if name != "JUPYTER_THINK_STORE"},
        "JUPYTER_THINK_DIR": str(tmp_path / "store"),
        "JUPYTER_THINK_VENV": sys.prefix,
        "TMPDIR": str(temp_root),
    }
    repository_tour = ROOT / "build" / "tour.html"
    before = repository_tour.stat().st_mtime_ns if repository_tour.exists() else None
    done = subprocess.run(
        [str(ROOT / "dev"), "lab", "--headless"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    store = tmp_path / "store"  # where the lab kept its sessions, said with how to read them
    assert f"sessions are kept in {store}; read them with: jupyter-think --dir {store} list" in done.stderr
    wrote = re.search(r"^dev: wrote (.+/tour\.html)$", done.stdout + done.stderr, re.MULTILINE)
    assert wrote is not None, done.stdout + done.stderr
    html = Path(wrote[1])
    assert html.parent.parent == temp_root and html.is_file()  # a new temporary directory of its own
    after = repository_tour.stat().st_mtime_ns if repository_tour.exists() else None
    assert after == before  # nothing written into the repository
    page = browser.context.new_page()
    try:
        page.route(
            "**/*",
            lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_(),
        )
        page.goto(html.as_uri(), wait_until="domcontentloaded")
        graphs = page.locator("img.jupyter-think-graph")  # the SVG as an image (survives sanitizers)
        assert graphs.count() == 3  # %session --graph, the end of %%session checklist, api.graph()
        first = graphs.first
        first.scroll_into_view_if_needed()
        assert first.is_visible()
        assert first.evaluate("image => image.complete && image.naturalWidth > 0")  # the SVG decoded
        box = first.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
        svg = base64.b64decode(first.get_attribute("src").split(",", 1)[1]).decode("utf-8")
        assert svg.count('<g class="node"') == 11
        placeholders = html.read_text().count("application/vnd.jupyter.widget-view+json")
        assert placeholders == 0  # no empty widget placeholder where the graph should be
        ARTIFACTS.mkdir(exist_ok=True)
        first.screenshot(path=str(ARTIFACTS / "headless-tour-graph.png"))
    finally:
        page.close()


def test_saved_graphs_show_in_an_untrusted_notebook_before_anything_runs(lab: Lab, browser: Browser) -> None:
    """A notebook opened from a clone is untrusted: JupyterLab strips inline SVG from its HTML, so the
    saved graphs are images (``<img src="data:image/svg+xml;base64,...">``), which it keeps."""
    shutil.copy(NOTEBOOKS / "tour.ipynb", lab.root_dir / "saved-tour.ipynb")  # never run, never trusted here
    page = browser.open_notebook(lab, "saved-tour.ipynb")
    try:
        graphs = page.locator(f"{NOTEBOOK} img.jupyter-think-graph")
        page.wait_for_function(
            f"""() => {{
                const images = Array.from(document.querySelectorAll('{NOTEBOOK} img.jupyter-think-graph'));
                return images.length === 3 && images.every(i => i.complete && i.naturalWidth > 0);
            }}""",
            timeout=30_000,
        )
        assert graphs.count() == 3
        assert (
            page.locator(f"{NOTEBOOK} .jp-CodeCell .jp-InputPrompt", has_text="[*]").count() == 0
        )  # nothing ran
        graphs.first.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        graphs.first.screenshot(path=str(ARTIFACTS / "untrusted-saved-graph.png"))
    finally:
        page.close()
        lab.stop_kernels("saved-tour.ipynb")


# --- the teaching notebook on a projector --------------------------------------------------------------

GRAPHS = f"{NOTEBOOK} .jt-graph"
MIN_TYPE = 18
PROJECTOR = {"width": 1920, "height": 1080}
# The presenter's step reaches a follower through two browsers, two kernels and the store's poll (the
# product aims at under 1 s, bench_presenter); the kernel-level twin, test_presenter_follow.py, waits 60 s.
FOLLOW_WAIT = 60_000

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
        arcs: [...root.querySelectorAll('.jt-revision')].map(box),
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
def lesson(lab: Lab, browser: Browser) -> Iterator[Any]:
    """The teaching notebook at a projector's size, run whole; its last graph drawn."""
    page = browser.open_notebook(lab, "teaching.ipynb")
    page.set_viewport_size(PROJECTOR)
    run_all(page, timeout=180)
    page.wait_for_function(
        f"[...document.querySelectorAll('{GRAPHS} .jt-step-label')].pop()?.textContent.match(/^(\\d+) \\/ \\1$/)",
        timeout=60_000,
    )
    yield page
    page.close()
    lab.stop_kernels("teaching.ipynb")


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
    for arc in seen["arcs"]:  # a revision's arc stays in the view, over the first lane too
        assert arc["top"] >= viewport["top"] - 1, (arc, viewport)
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
        f"[...document.querySelectorAll('{GRAPHS} .jt-detail-text math')].length > 0", timeout=RENDER_WAIT
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
    page.set_viewport_size({"width": 1280, "height": 800})  # a smaller projector: fitted again
    page.wait_for_function(
        f"Math.abs([...document.querySelectorAll('{GRAPHS}')].pop().getBoundingClientRect().width - 1280) < 2"
    )
    check_fitted(layout(page), nodes=12)
    page.set_viewport_size(PROJECTOR)
    page.keyboard.press("Escape")
    page.wait_for_function(
        f"![...document.querySelectorAll('{GRAPHS}')].pop().classList.contains('jt-presenter')"
    )


def test_the_graph_in_the_notebook_keeps_its_height_while_stepping_zoomed_in(lesson: Any) -> None:
    page = lesson
    page.locator(f"{GRAPHS} .jt-viewport").last.focus()
    page.keyboard.press("+")  # zoomed in: the lesson is wider than the view, so replaying scrolls it
    page.keyboard.press("+")
    page.keyboard.press("Home")
    _, total = steps_of(page)
    heights = set()
    for _ in range(total):
        page.keyboard.press("ArrowRight")
        seen = layout(page)
        heights.add(round(seen["graph"]["height"]))
        for lane in seen["lanes"]:  # never a node under a lane's name
            assert not any(meet(lane["box"], dot) for dot in seen["dots"]), (seen["step"], lane)
    assert len(heights) == 1, heights
    page.keyboard.press("0")


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
                timeout=FOLLOW_WAIT,
            )
        follower.locator(f"{GRAPHS} .jt-viewport").focus()  # a student steps away ...
        follower.keyboard.press("ArrowLeft")
        assert follower.text_content(f"{GRAPHS} .jt-step-label") == f"4 / {total}"
        assert follower.is_visible(f"{GRAPHS} .jt-back")
        page.keyboard.press("ArrowRight")  # ... the teacher moves on without them ...
        follower.wait_for_function(  # (the follower heard it: its button says where the teacher is)
            f"document.querySelector('{GRAPHS} .jt-back').textContent.includes('step 6')", timeout=FOLLOW_WAIT
        )
        assert follower.text_content(f"{GRAPHS} .jt-step-label") == f"4 / {total}"
        follower.click(f"{GRAPHS} .jt-back")  # ... and they come back to where the teacher is
        follower.wait_for_function(
            f"document.querySelector('{GRAPHS} .jt-step-label').textContent === '6 / {total}'",
            timeout=FOLLOW_WAIT,
        )
        follower.uncheck(f"{GRAPHS} .jt-follow-presenter")  # the box: not following ...
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            f"[...document.querySelectorAll('{GRAPHS} .jt-step-label')].pop().textContent === '7 / {total}'"
        )
        follower.check(f"{GRAPHS} .jt-follow-presenter")  # ... following again: to the teacher's step
        follower.wait_for_function(
            f"document.querySelector('{GRAPHS} .jt-step-label').textContent === '7 / {total}'",
            timeout=FOLLOW_WAIT,
        )
        page.keyboard.press("Escape")
    finally:
        follower.close()
        lab.stop_kernels("follower.ipynb")
