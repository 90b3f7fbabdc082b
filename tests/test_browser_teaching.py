"""The graph widget teaching a class, seen in a real browser: JupyterLab + Debian's Chromium (SPEC §7).

The shared notebook works a problem in 30 thoughts: a Markdown thought, a typo amended, a dead end
retracted, a branch ``proof`` chosen with a note, a branch ``search`` abandoned, ``proof`` merged back
into the trunk, a conclusion. Tests read the page as a class would: the chosen path bold, the
abandoned lane faded, the retracted thought greyed and struck through, labels, the merge edge, the
replay pane stepping with the keyboard, zoom and the presenter view. Tests that change a session
(changes made in later cells, closing a graph, re-running a cell, ten thousand thoughts) open a
notebook of their own. Every test passes alone and in any order and fails on a console error.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_harness import RENDER_WAIT, Browser, Lab, run_cell, wait_cell_done

from jupyter_think.views.layout import label_lines
from jupyter_think.views.theme import GEOMETRY, KIND_COLORS, LABELS, STATES

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("no_console_errors")]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
GRAPH = ".jp-NotebookPanel:not(.lm-mod-hidden) .jt-graph"

LESSON = """import jupyter_think
s = jupyter_think.get_manager().session("{session_id}")
s.think("Restate: for which n is two to the n, minus one, prime?", total=30)
s.think("Small cases: **n = 2, 3, 5, 7** give primes")
for n in range(3, 12):
    s.think(f"Case {{n}}: compute the number and test it")
s.think("Teh pattern: a prime n only?")
s.amend(12, "The pattern: a prime n only?")
s.think("A dead end: every odd n works")
s.retract(13)
s.branch("proof", from_thought=12)
s.think("Proof: if n = ab, then 2^a - 1 divides 2^n - 1")
s.think("So a composite n gives a composite number")
s.think("Hence n must be prime")
s.branch("search", from_thought=12)
s.think("Search by computer up to n = 60")
s.think("Found 2^11 - 1 = 2047 = 23 x 89")
s.decide("proof", "chosen", note="a proof beats a search")
s.decide("search", "abandoned", note="a search never ends")
s.merge("proof", into="main")
for n in range(1, 12):
    s.think(f"Write up part {{n}} of the answer")
s.think("Conclusion: n must be prime, and that is not enough (n = 11)", done=True)
s.graph()"""
NODES, STEPS = 30, 35
AMENDED, RETRACTED, MERGED_FROM, MERGED_INTO, FINAL = 11, 12, 15, 18, 29
STEP_OF = {
    "amend": 13,
    "retract": 15,
    "decide proof": 21,
    "decide search": 22,
    "merge": 23,
}  # 1-based step counts

LATER = """import jupyter_think
s = jupyter_think.get_manager().session("{session_id}")
s.think("Restate the question", total=5)
s.think("Teh first idea")
s.think("A guess that turns out wrong")
s.branch("other", from_thought=1)
s.think("Another way in")
s.switch_branch("main")
s.graph()"""
LATER_CELLS = [
    's.amend(2, "The first idea")',
    "s.retract(3)",
    's.decide("other", "chosen", note="it is shorter")',
    's.merge("other", into="main")\ns.think("Carry on from the other way", done=True)',
]
DROPPED = """from jupyter_think import Session
gone = Session("dropped-{number}", max_thoughts=2_000)
gone.think("The first of a thousand thoughts", total=1_000)
for i in range(2, 1_001):
    gone.think(f"Thought {{i}} of a thousand")
gone.graph()"""
SHOWN_AGAIN = """import jupyter_think
kept = jupyter_think.get_manager().session("kept-{number}")
if not len(kept):
    for i in range(1, 301):
        kept.think(f"Thought {{i}} of three hundred", total=300)
kept.graph()"""
TEN_THOUSAND = """from jupyter_think import Session
big = Session("marks-{number}", max_thoughts=20_000)
big.think("The first of ten thousand thoughts", total=10_000)
for i in range(2, 10_001):
    if i % 500 == 0:
        big.revise(i - 2, f"Revision at {{i}}")
    else:
        big.think(f"Thought {{i}} of ten thousand")
big.graph()"""
_numbers = itertools.count(1)


def open_notebook(lab: Lab, browser: Browser, cells: list[str], nodes: int) -> tuple[Any, str]:
    """A new notebook whose first cell draws a graph of ``nodes`` thoughts (the others not run yet)."""
    number = next(_numbers)
    name = f"teaching-{number}.ipynb"
    lab.write_notebook(name, [cell.format(session_id=f"teaching-{number}", number=number) for cell in cells])
    opened = browser.open_notebook(lab, name)
    run_cell(opened, 0)
    wait_cell_done(opened, 0, timeout=120)
    opened.wait_for_function(
        f"document.querySelector('{GRAPH} .jt-step-label')?.textContent.endsWith(' / {nodes}')"
        if nodes > 100
        else f"document.querySelectorAll('{GRAPH} .jt-node').length > 0 && "
        f"document.querySelector('{GRAPH} .jt-step-label').textContent.includes('/')",
        timeout=60_000,
    )
    return opened, name


@pytest.fixture(scope="module")
def page(lab: Lab, browser: Browser) -> Iterator[Any]:
    opened, name = open_notebook(lab, browser, [LESSON], NODES)
    opened.wait_for_function(
        f"document.querySelector('{GRAPH} .jt-step-label').textContent === '{STEPS} / {STEPS}'"
    )
    yield opened
    opened.close()
    lab.stop_kernels(name)


def fresh(page: Any) -> None:
    """The view as first drawn: live, every lane, nothing selected, labels on, 100 %, not presenting."""
    page.click(f"{GRAPH} .jt-first")  # step 0 clears the selection
    page.check(f"{GRAPH} .jt-follow")
    page.select_option(f"{GRAPH} .jt-filter", "")
    page.check(f"{GRAPH} .jt-labels")
    page.click(f"{GRAPH} .jt-zoom-level")
    if page.locator(f"{GRAPH}.jt-presenter").count():
        page.click(f"{GRAPH} .jt-present")


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(GRAPH).first.screenshot(path=str(ARTIFACTS / f"teaching-{name}.png"))


def scroll_to(page: Any, index: int) -> None:
    """Scroll the graph (at 100 %, labels on) so node ``index`` is drawn in the middle of the viewport."""
    page.evaluate(
        """([graph, index, gutter, column]) => {
            const viewport = document.querySelector(graph + ' .jt-viewport');
            const store = [...globalThis.jupyterThinkGraphs].find(store => store.session.startsWith('teaching-'));
            const x = gutter + (store.nodes[index].col + 0.5) * column;
            viewport.scrollLeft = Math.max(0, x - viewport.clientWidth / 2);
            viewport.dispatchEvent(new Event('scroll'));
        }""",
        [GRAPH, index, GEOMETRY["gutter"], LABELS["column"]],
    )
    page.wait_for_selector(f'{GRAPH} .jt-node[data-index="{index}"]', timeout=30_000)


def node(page: Any, index: int) -> str:
    return f'{GRAPH} .jt-node[data-index="{index}"]'


def style(page: Any, selector: str, prop: str) -> str:
    """The computed ``prop`` of the first element ``selector`` finds, found and read in one step: each redraw
    empties and rebuilds the SVG, and an element a separate call found before a redraw is detached, its
    computed style empty (``eval_on_selector`` finds, then evaluates: a loaded run read '' there)."""
    found = page.wait_for_function(
        """([selector, prop]) => {
            const element = document.querySelector(selector);
            return element && getComputedStyle(element).getPropertyValue(prop);
        }""",
        arg=[selector, prop],
        timeout=30_000,
    )
    return str(found.json_value())


def rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def pane(page: Any) -> dict[str, str]:
    return page.evaluate(
        """(graph) => {
            const pane = document.querySelector(graph + ' .jt-detail');
            const text = (cls) => pane.querySelector(cls).textContent;
            return {hidden: pane.hidden, step: text('.jt-detail-step'), head: text('.jt-detail-head'),
                    state: text('.jt-detail-state'), text: text('.jt-detail-text'), earlier: text('.jt-detail-earlier')};
        }""",
        GRAPH,
    )


def wait_pane_text(page: Any, text: str) -> None:
    page.wait_for_function(
        f"(text) => document.querySelector('{GRAPH} .jt-detail-text.jt-markdown')?.textContent === text",
        arg=text,
        timeout=RENDER_WAIT,
    )


# --- the teaching state drawn --------------------------------------------------------------------------


def test_the_chosen_path_is_bold_and_the_abandoned_lane_faded(page: Any) -> None:
    fresh(page)
    scroll_to(page, MERGED_FROM)
    chosen = f"{GRAPH} .jt-lane-edges[data-lane='1'] .jt-seq"
    assert "jt-on-path" in page.get_attribute(chosen, "class")
    assert style(page, chosen, "stroke-width") == f"{STATES['chosen']['width']}px"
    assert style(page, chosen, "stroke") == rgb(STATES["chosen"]["color"])
    trunk = f"{GRAPH} .jt-lane-edges[data-lane='0'] .jt-seq"
    assert "jt-on-path" in page.get_attribute(trunk, "class")
    search = f"{GRAPH} .jt-lane-nodes[data-lane='2']"
    assert "jt-abandoned" in page.get_attribute(search, "class")
    assert float(page.get_attribute(search, "opacity")) == STATES["abandoned"]["opacity"]
    assert "jt-on-path" not in page.get_attribute(f"{GRAPH} .jt-lane-edges[data-lane='2'] .jt-seq", "class")
    outcomes = page.eval_on_selector_all(
        f"{GRAPH} .jt-lane-label .jt-outcome", "o => o.map(t => t.textContent)"
    )
    assert outcomes == ["chosen", "abandoned"]
    shot(page, "path")


def test_a_retracted_thought_is_greyed_struck_through_and_still_opens(page: Any) -> None:
    fresh(page)
    scroll_to(page, RETRACTED)
    retracted = node(page, RETRACTED)
    assert page.get_attribute(retracted, "data-state") == "retracted"
    dot = f"{retracted} .jt-dot"
    assert page.get_attribute(dot, "fill") == STATES["retracted"]["color"]
    assert float(page.get_attribute(dot, "opacity")) == STATES["retracted"]["opacity"]
    assert page.locator(f"{retracted} .jt-strike").count() == 1
    assert style(page, f"{retracted} .jt-label", "text-decoration-line") == "line-through"
    page.click(retracted)
    wait_pane_text(page, "A dead end: every odd n works")
    shown = pane(page)
    assert shown["head"] == "Thought 13/30 · retracted"
    assert shown["state"] == STATES["retracted"]["title"]
    assert page.locator(f"{GRAPH} .jt-detail-text.jt-struck").count() == 1


def test_an_amended_thought_is_marked_and_its_detail_shows_the_earlier_text(page: Any) -> None:
    fresh(page)
    scroll_to(page, AMENDED)
    amended = node(page, AMENDED)
    assert page.get_attribute(amended, "data-state") == "amended"
    assert page.text_content(f"{amended} .jt-amended-mark") == STATES["amended"]["mark"]
    labels = page.eval_on_selector_all(f"{amended} .jt-label", "ls => ls.map(l => l.textContent)")
    assert labels == list(label_lines("The pattern: a prime n only?"))
    page.click(amended)
    wait_pane_text(page, "The pattern: a prime n only?")
    shown = pane(page)
    assert shown["head"] == "Thought 12/30 · amended"
    assert shown["earlier"] == "Earlier textTeh pattern: a prime n only?"


def test_labels_show_the_first_words_and_never_overlap(page: Any) -> None:
    fresh(page)
    checked = 0
    for index in (0, 10, 17, 25, 29):
        scroll_to(page, index)
        found = page.evaluate(
            """(graph) => {
                const nodes = [...document.querySelectorAll(graph + ' .jt-node')];
                const boxes = nodes.map(n => ({
                    i: +n.dataset.index,
                    labels: [...n.querySelectorAll('.jt-label')].map(l => l.getBoundingClientRect()),
                    dot: n.querySelector('.jt-dot').getBoundingClientRect(),
                    text: [...n.querySelectorAll('.jt-label')].map(l => l.textContent),
                    size: n.querySelector('.jt-label') ? +n.querySelector('.jt-label').getAttribute('font-size') : 0,
                }));
                const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
                const overlaps = [];
                for (const a of boxes) for (const b of boxes) {
                    if (a.i >= b.i) continue;
                    for (const la of a.labels) {
                        if (b.labels.some(lb => meet(la, lb)) || meet(la, b.dot)) overlaps.push([a.i, b.i]);
                    }
                    if (b.labels.some(lb => meet(lb, a.dot))) overlaps.push([b.i, a.i]);
                }
                return {boxes: boxes.map(b => ({i: b.i, text: b.text, size: b.size, width: Math.min(...b.labels.map(l => l.width))})), overlaps};
            }""",
            GRAPH,
        )
        assert found["overlaps"] == [], found["overlaps"]
        for box in found["boxes"]:
            assert box["text"] and box["size"] == LABELS["size"] and box["width"] > 0, box
        checked += len(found["boxes"])
    assert checked >= NODES
    scroll_to(page, 1)
    labels = page.eval_on_selector_all(f"{node(page, 1)} .jt-label", "ls => ls.map(l => l.textContent)")
    assert labels == list(label_lines("Small cases: **n = 2, 3, 5, 7** give primes"))
    shot(page, "labels")
    page.uncheck(f"{GRAPH} .jt-labels")  # the toolbar toggle
    assert page.locator(f"{GRAPH} .jt-label").count() == 0 and page.locator(f"{GRAPH} .jt-node").count() > 0
    page.check(f"{GRAPH} .jt-labels")
    assert page.locator(f"{GRAPH} .jt-label").count() > 0


def test_the_merge_is_drawn_as_an_edge_into_the_trunk_and_the_conclusion_is_ringed(page: Any) -> None:
    fresh(page)
    scroll_to(page, MERGED_INTO)
    merge = f'{GRAPH} .jt-merge[data-from="{MERGED_FROM}"][data-to="{MERGED_INTO}"]'
    assert page.locator(merge).count() == 1
    assert "jt-on-path" in page.get_attribute(merge, "class")  # proof is chosen: its merge is on the path
    scroll_to(page, FINAL)
    assert page.locator(f"{GRAPH} .jt-final-ring").count() == 1
    assert page.locator(f"{node(page, FINAL)} .jt-final-ring").count() == 1
    shot(page, "merge")


# --- the replay a class follows -------------------------------------------------------------------------


def test_the_replay_pane_shows_each_steps_text_and_the_arrow_keys_advance(page: Any) -> None:
    fresh(page)
    page.focus(f"{GRAPH} .jt-viewport")
    page.keyboard.press("Home")
    assert page.text_content(f"{GRAPH} .jt-step-label") == f"0 / {STEPS}"
    assert pane(page)["hidden"] is True
    page.keyboard.press("ArrowRight")
    wait_pane_text(page, "Restate: for which n is two to the n, minus one, prime?")
    assert pane(page)["step"] == f"Step 1 of {STEPS}" and pane(page)["head"] == "Thought 1/30"
    page.keyboard.press("ArrowRight")
    wait_pane_text(page, "Small cases: n = 2, 3, 5, 7 give primes")
    assert page.text_content(f"{GRAPH} .jt-detail-text strong") == "n = 2, 3, 5, 7"  # Markdown, rendered
    assert page.locator(f"{GRAPH} .jt-node").count() == 2
    page.keyboard.press("ArrowLeft")
    assert page.locator(f"{GRAPH} .jt-node").count() == 1
    shot(page, "replay-step-1")
    page.keyboard.press(" ")  # space plays from here ...
    assert page.text_content(f"{GRAPH} .jt-play") == "❚❚ pause"
    page.wait_for_function(f"document.querySelector('{GRAPH} .jt-step-label').textContent !== '1 / {STEPS}'")
    page.keyboard.press(" ")  # ... and pauses
    assert page.text_content(f"{GRAPH} .jt-play") == "▶ play"


def test_teaching_changes_replay_at_the_step_they_were_made(page: Any) -> None:
    fresh(page)
    page.focus(f"{GRAPH} .jt-viewport")
    page.keyboard.press("Home")
    for _ in range(STEP_OF["amend"] - 1):
        page.keyboard.press("ArrowRight")
    before = page.eval_on_selector_all(f"{node(page, AMENDED)} .jt-label", "ls => ls.map(l => l.textContent)")
    assert before == list(label_lines("Teh pattern: a prime n only?"))  # as first written
    page.keyboard.press("ArrowRight")
    wait_pane_text(page, "The pattern: a prime n only?")
    assert pane(page)["head"] == "Thought 12 amended"
    assert page.get_attribute(node(page, AMENDED), "data-state") == "amended"
    for _ in range(STEP_OF["retract"] - STEP_OF["amend"]):
        page.keyboard.press("ArrowRight")
    assert pane(page)["head"] == "Thought 13 retracted"
    assert page.get_attribute(node(page, RETRACTED), "data-state") == "retracted"
    for _ in range(STEP_OF["decide proof"] - STEP_OF["retract"]):
        page.keyboard.press("ArrowRight")
    assert pane(page)["head"] == "Branch proof chosen" and pane(page)["text"] == "a proof beats a search"
    assert page.locator(f"{GRAPH} .jt-seq.jt-on-path").count() >= 1
    page.keyboard.press("ArrowRight")
    assert pane(page)["head"] == "Branch search abandoned"
    page.keyboard.press("ArrowRight")
    assert pane(page)["head"] == "Branch proof merged into main"
    assert page.locator(f"{GRAPH} .jt-merge.jt-waiting").count() == 1  # main has no thought since yet
    page.keyboard.press("ArrowRight")
    assert page.locator(f'{GRAPH} .jt-merge[data-to="{MERGED_INTO}"]').count() == 1
    page.keyboard.press("End")
    assert page.text_content(f"{GRAPH} .jt-step-label") == f"{STEPS} / {STEPS}"


def test_the_speed_control_plays_many_steps_a_second(page: Any) -> None:
    fresh(page)
    page.select_option(f"{GRAPH} .jt-speed", "200")
    page.click(f"{GRAPH} .jt-first")
    page.click(f"{GRAPH} .jt-play")
    # 35 steps at the old fixed 700 ms a step took 25 s; at 200 steps/s they take a fraction of one
    page.wait_for_function(
        f"document.querySelector('{GRAPH} .jt-step-label').textContent === '{STEPS} / {STEPS}'",
        timeout=15_000,
    )
    assert page.text_content(f"{GRAPH} .jt-play") == "▶ play"  # stopped at the end
    page.select_option(f"{GRAPH} .jt-speed", "1")
    page.eval_on_selector(
        f"{GRAPH} .jt-step", "s => { s.value = '20'; s.dispatchEvent(new Event('input')); }"
    )
    assert page.text_content(f"{GRAPH} .jt-step-label") == f"20 / {STEPS}"  # the slider jumps


def node_xs(page: Any, *indices: int) -> list[float]:
    """The screen x of the centre of each node, once the graph has settled (two animation frames)."""
    return page.evaluate(
        """async ([graph, indices]) => {
            await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
            return indices.map(i => {
                const r = document.querySelector(`${graph} .jt-node[data-index="${i}"] .jt-dot`).getBoundingClientRect();
                return r.left + r.width / 2;
            });
        }""",
        [GRAPH, list(indices)],
    )


def test_zoom_scales_the_graph_and_keeps_the_selected_thought_in_place(page: Any) -> None:
    fresh(page)
    scroll_to(page, 5)
    page.click(node(page, 5))
    where, right = node_xs(page, 5, 6)
    at_full_size = page.locator(f"{GRAPH} .jt-node").count()
    spacing = right - where
    page.click(f"{GRAPH} .jt-zoom-in")
    assert page.text_content(f"{GRAPH} .jt-zoom-level") == "125%"
    x5, x6 = node_xs(page, 5, 6)
    assert x6 - x5 == pytest.approx(spacing * 1.25, rel=0.02)
    assert x5 == pytest.approx(where, abs=2)  # the selected thought stays where it was
    box = page.locator(f"{GRAPH} .jt-viewport").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, 400)  # ctrl+wheel (a trackpad pinch arrives as one) zooms out
    page.keyboard.up("Control")
    page.wait_for_function(f"document.querySelector('{GRAPH} .jt-zoom-level').textContent !== '125%'")
    zoom = int(page.text_content(f"{GRAPH} .jt-zoom-level").rstrip("%"))
    assert zoom < 125
    assert node_xs(page, 5)[0] == pytest.approx(where, abs=2)
    for _ in range(12):
        page.click(f"{GRAPH} .jt-zoom-out")
    assert page.text_content(f"{GRAPH} .jt-zoom-level") == "20%"  # the smallest: labels left out
    assert page.locator(f"{GRAPH} .jt-label").count() == 0
    assert page.locator(f"{GRAPH} .jt-node").count() > at_full_size  # more of the graph in view
    viewport = page.locator(f"{GRAPH} .jt-viewport").bounding_box()
    assert viewport["x"] <= node_xs(page, 5)[0] <= viewport["x"] + viewport["width"]
    shot(page, "zoomed-out")
    page.click(f"{GRAPH} .jt-zoom-level")
    assert page.text_content(f"{GRAPH} .jt-zoom-level") == "100%"


def test_the_presenter_view_fills_the_screen_with_the_graph_and_the_steps_text(page: Any) -> None:
    fresh(page)
    page.click(f"{GRAPH} .jt-present")
    page.wait_for_selector(f"{GRAPH}.jt-presenter")
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    wait_pane_text(page, "Restate: for which n is two to the n, minus one, prime?")
    size = page.viewport_size
    graph = page.locator(GRAPH).bounding_box()
    assert graph["width"] == pytest.approx(size["width"], abs=2) and graph["height"] == pytest.approx(
        size["height"], abs=2
    )
    viewport = page.locator(f"{GRAPH} .jt-viewport").bounding_box()
    text = page.locator(f"{GRAPH} .jt-detail").bounding_box()
    assert text["y"] >= viewport["y"] + viewport["height"] - 1  # under the graph, the whole width each
    assert viewport["width"] > 0.95 * size["width"] and text["width"] > 0.95 * size["width"]
    assert viewport["height"] > 0.5 * size["height"] and text["height"] > 0.2 * size["height"]
    assert float(style(page, f"{GRAPH} .jt-detail-text", "font-size").rstrip("px")) > 18
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "teaching-presenter.png"))
    assert page.text_content(f"{GRAPH} .jt-zoom-level") == "100%"  # the whole graph fitted is 100 %
    page.keyboard.press("Escape")
    page.wait_for_function(f"!document.querySelector('{GRAPH}').classList.contains('jt-presenter')")
    assert page.text_content(f"{GRAPH} .jt-zoom-level") == "100%"


# --- changes from the kernel, and the page's memory ------------------------------------------------------


def test_amend_retract_decide_and_merge_made_in_later_cells_reach_the_drawn_graph(
    lab: Lab, browser: Browser
) -> None:
    page, name = open_notebook(lab, browser, [LATER, *LATER_CELLS], 4)
    try:
        page.wait_for_function(f"document.querySelectorAll('{GRAPH} .jt-node').length === 4")

        def run(cell: int, ready: str) -> None:
            run_cell(page, cell)
            wait_cell_done(page, cell)
            page.wait_for_function(ready, timeout=60_000)

        run(1, f"document.querySelector('{node(page, 1)}').dataset.state === 'amended'")
        assert page.eval_on_selector_all(
            f"{node(page, 1)} .jt-label", "ls => ls.map(l => l.textContent)"
        ) == ["The first idea"]
        run(2, f"document.querySelector('{node(page, 2)}').dataset.state === 'retracted'")
        run(
            3,
            f"document.querySelectorAll('{GRAPH} .jt-seq.jt-on-path, {GRAPH} .jt-fork.jt-on-path').length >= 2",
        )
        assert page.text_content(f"{GRAPH} .jt-outcome") == "chosen"
        run(4, f"document.querySelectorAll('{GRAPH} .jt-node').length === 5")
        assert page.locator(f'{GRAPH} .jt-merge[data-from="3"][data-to="4"]').count() == 1
        assert page.locator(f"{node(page, 4)} .jt-final-ring").count() == 1
        assert page.text_content(f"{GRAPH} .jt-step-label") == "9 / 9"
        shot(page, "later-cells")
    finally:
        page.close()
        lab.stop_kernels(name)


HELD = """(session) => [...(globalThis.jupyterThinkGraphs ?? [])]
    .filter(store => store.session.startsWith(session)).map(store => store.nodes.length)"""


def test_a_closed_graph_and_a_rerun_cell_leave_no_graph_data_in_the_page(lab: Lab, browser: Browser) -> None:
    page, name = open_notebook(lab, browser, [DROPPED, "gone.graph().close()"], 1_000)
    try:
        assert page.evaluate(HELD, "dropped-") == [1_000]
        for _ in range(3):  # each run makes a new session and a new graph; the old view goes with its data
            run_cell(page, 0)
            wait_cell_done(page, 0, timeout=120)
            page.wait_for_function(
                f"({HELD})('dropped-').length === 1 && ({HELD})('dropped-')[0] === 1000", timeout=30_000
            )
        assert page.evaluate(HELD, "dropped-") == [1_000]
        run_cell(page, 1)
        wait_cell_done(page, 1)
        page.wait_for_function(f"({HELD})('dropped-').length === 0", timeout=60_000)
        assert page.locator(f"{GRAPH}").count() == 0
    finally:
        page.close()
        lab.stop_kernels(name)


def test_a_graph_shown_again_after_its_data_was_dropped_is_drawn_whole(lab: Lab, browser: Browser) -> None:
    page, name = open_notebook(lab, browser, [SHOWN_AGAIN], 300)
    try:
        for _ in range(2):  # the same widget shown again: its data comes back from the kernel
            run_cell(page, 0)
            wait_cell_done(page, 0)
            page.wait_for_function(
                f"document.querySelector('{GRAPH} .jt-step-label')?.textContent === '300 / 300'",
                timeout=30_000,
            )
        assert page.evaluate(HELD, "kept-") == [300]
        assert page.locator(f'{GRAPH} .jt-node[data-index="299"]').count() == 1
    finally:
        page.close()
        lab.stop_kernels(name)


def test_revision_marks_stay_visible_in_the_overview_of_ten_thousand_thoughts(
    lab: Lab, browser: Browser
) -> None:
    page, name = open_notebook(lab, browser, [TEN_THOUSAND], 10_000)
    try:
        runs = page.evaluate(
            """async ([graph, colour]) => {
                const viewport = document.querySelector(graph + ' .jt-viewport');
                viewport.scrollLeft = 0;  // the view box away from the marks at the right end
                viewport.dispatchEvent(new Event('scroll'));
                await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                const canvas = document.querySelector(graph + ' .jt-overview');
                const ctx = canvas.getContext('2d');
                const ratio = window.devicePixelRatio || 1;
                const y = Math.floor(4 * ratio);  // through the trunk's row
                const data = ctx.getImageData(0, y, canvas.width, 1).data;
                const [r, g, b] = [1, 3, 5].map(i => parseInt(colour.slice(i, i + 2), 16));
                let runs = 0, inside = false;
                for (let x = 0; x < canvas.width; x++) {
                    const hit = data[4 * x] === r && data[4 * x + 1] === g && data[4 * x + 2] === b;
                    if (hit && !inside) runs += 1;
                    inside = hit;
                }
                return runs;
            }""",
            [GRAPH, KIND_COLORS["revision"]],
        )
        assert runs == 20  # every revision (the 500th thought, the 1 000th, ... the 10 000th) still shows
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(GRAPH).screenshot(path=str(ARTIFACTS / "teaching-overview-10000.png"))
    finally:
        page.close()
        lab.stop_kernels(name)
