"""The branch-graph widget seen in a real browser: JupyterLab + Debian's Chromium (SPEC §7).

One JupyterLab and one browser for the module (``lab`` and ``browser`` of conftest.py, see ``lab_harness.py``). The notebook builds a
session with a trunk, two branches, a revision, a very long thought, a thought in Markdown and a
thought holding ``<script>``, then shows ``s.graph()``. Tests read the page as a user would: nodes
drawn per lane, click, replay, filter, and thoughts that arrive after display.

Each test passes alone and in any order: the tests that only look (and set the view back first)
share one notebook; a test that changes the session (adds thoughts, reloads the page, draws ten
thousand thoughts) opens its own notebook with its own session, and stops its kernel afterwards.
Every test fails on a browser console error. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_harness import NOTEBOOK, RENDER_WAIT, Browser, Lab, run_cell, wait_cell_done, wait_idle

from jupyter_think.views.theme import KIND_COLORS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("no_console_errors")]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
EXTENSION = Path(__file__).resolve().parent.parent / "jupyter_think" / "ipython" / "extension.py"

BUILD = """import jupyter_think
s = jupyter_think.get_manager().session("{session_id}")
s.think("Restate the problem: sum of the first n odd numbers", total=5)
s.think("Try small cases: 1, 1+3=4, 1+3+5=9")
s.think("Guess: the sum is **n squared**, see [the table](https://example.org/odd) or [this](javascript:window.__pwned=2)")
s.branch("induction", from_thought=2)
s.think("Prove by induction: base case n=1 holds")
s.think("Step: n^2 + (2n+1) = (n+1)^2. " + "And so on. " * 400 + "END-OF-LONG-THOUGHT")
s.switch_branch("main")
s.revise(2, "Small cases again, carefully: 1, 4, 9, 16 <script>window.__pwned = 1</script>")
s.branch("geometry", from_thought=3)
s.think("Picture: L-shaped layers of a square")
s.switch_branch("main")
s.think("Conclusion: the sum of the first n odd numbers is n squared", done=True)
s.graph()"""
ADD_IN_KERNEL = """s.switch_branch("geometry")
s.think("Added from the kernel after display")"""
ADD_FROM_THREAD_AS_REMOTE = """import threading
from jupyter_think.core.models import Thought, ThoughtAdded
remote = Thought(thought="Written by another process", thought_number=6, total_thoughts=6,
                 next_thought_needed=False)
worker = threading.Thread(target=lambda: s.apply(ThoughtAdded(thought=remote), remote=True))
worker.start(); worker.join()"""
TEN_THOUSAND = """from jupyter_think import Session
big = Session("big", max_thoughts=20_000)
big.think("The first of ten thousand thoughts", total=10_000)
for i in range(2, 10_001):
    if i % 1000 == 0:
        big.branch(f"b{i}", from_thought=big.trunk[-1].thought_number)
    elif i % 1000 == 100:
        big.switch_branch("main")
    big.think(f"Thought {i} of ten thousand")
big.graph()"""
_numbers = itertools.count(1)

GRAPH = ".jp-NotebookPanel:not(.lm-mod-hidden) .jt-graph"


def open_graph(lab: Lab, browser: Browser, *more_cells: str) -> tuple[Any, str]:
    """A new notebook whose first cell builds a new session and shows its graph (8 thoughts drawn)."""
    number = next(_numbers)
    name = f"graph-{number}.ipynb"
    first = ("%load_ext jupyter_think\n" if EXTENSION.exists() else "") + BUILD.format(
        session_id=f"browser-demo-{number}"
    )
    lab.write_notebook(name, [first, *more_cells])
    opened = browser.open_notebook(lab, name)
    run_cell(opened, 0)
    wait_cell_done(opened, 0)
    opened.wait_for_function(f"document.querySelectorAll('{GRAPH} .jt-node').length === 8", timeout=30_000)
    return opened, name


@pytest.fixture(scope="module")
def page(lab: Lab, browser: Browser) -> Iterator[Any]:
    """The notebook the looking-only tests share (each sets the view back first, see ``show_all``)."""
    opened, name = open_graph(lab, browser)
    yield opened
    opened.close()
    lab.stop_kernels(name)


@pytest.fixture
def own_page(lab: Lab, browser: Browser) -> Iterator[Any]:
    """A notebook of this test's own (cells 1-3: add in the kernel, add as remote, ten thousand)."""
    opened, name = open_graph(lab, browser, ADD_IN_KERNEL, ADD_FROM_THREAD_AS_REMOTE, TEN_THOUSAND)
    yield opened
    opened.close()
    lab.stop_kernels(name)


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(GRAPH).screenshot(path=str(ARTIFACTS / f"browser-{name}.png"))


DRAWN = """async (graphs) => {
    // A node scrolled under the lane names is not drawn: look at both ends of each graph's scroll
    // (each scroll redraws in the next frame), then put the scroll back.
    const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    const found = new Map();
    for (const graph of document.querySelectorAll(graphs)) {
        const viewport = graph.querySelector('.jt-viewport');
        const was = viewport.scrollLeft;
        for (const left of [0, viewport.scrollWidth, was]) {
            viewport.scrollLeft = left;
            viewport.dispatchEvent(new Event('scroll'));
            await frame();
            graph.querySelectorAll('.jt-node').forEach(n =>
                found.set(n, {i: +n.dataset.index, lane: +n.dataset.lane, kind: n.dataset.kind}));
        }
    }
    const seen = new Map([...found.values()].map(n => [n.i, n]));
    return [...seen.values()];
}"""


def drawn(page: Any) -> list[dict[str, Any]]:
    """The nodes the graph draws, wherever it is scrolled: index, lane and kind of each (in page order)."""
    return page.evaluate(DRAWN, GRAPH)


def per_lane(page: Any) -> dict[int, int]:
    counts: dict[int, int] = {}
    for node in drawn(page):
        counts[node["lane"]] = counts.get(node["lane"], 0) + 1
    return counts


def lane_labels(page: Any) -> list[str]:
    """The lane names shown at the left, with the count of thoughts drawn in each."""
    return page.eval_on_selector_all(
        f"{GRAPH} .jt-lane-label", "labels => labels.map(l => l.firstChild.data)"
    )


def show_all(page: Any) -> None:
    """The view as first drawn: every lane, following the latest thought, nothing selected."""
    page.select_option(f"{GRAPH} .jt-filter", "")
    page.check(f"{GRAPH} .jt-follow")
    page.evaluate(  # scrolled to the start, as first drawn
        """(graph) => { const v = document.querySelector(graph + ' .jt-viewport');
                        v.scrollLeft = 0; v.dispatchEvent(new Event('scroll')); }""",
        GRAPH,
    )


def detail_html(page: Any) -> str:
    return page.locator(f"{GRAPH} .jt-detail-text").inner_html()


def wait_detail_text(page: Any, text: str) -> None:
    """Wait until the detail pane shows ``text`` (its rendered Markdown arrives from the kernel)."""
    page.wait_for_function(
        f"(text) => document.querySelector('{GRAPH} .jt-detail-text').textContent === text",
        arg=text,
        timeout=RENDER_WAIT,
    )


def test_graph_draws_each_lane_with_its_thoughts(page: Any) -> None:
    show_all(page)
    assert per_lane(page) == {0: 5, 1: 2, 2: 1}
    assert lane_labels(page) == ["main (5)", "induction ↱2 (2)", "geometry ↱3 (1)"]
    kinds = {node["i"]: node["kind"] for node in drawn(page)}
    assert kinds[5] == "revision" and kinds[3] == "branch" and kinds[7] == "final"
    arcs = page.eval_on_selector_all(
        f"{GRAPH} .jt-revision", "arcs => arcs.map(a => [+a.dataset.from, +a.dataset.to])"
    )
    assert arcs == [[5, 1]]  # the revision (5th thought to arrive) links back to thought 2
    assert page.locator(f"{GRAPH} .jt-fork").count() == 2
    assert page.locator(f'{GRAPH} .jt-node[data-index="7"] .jt-final-ring').count() == 1
    shot(page, "lanes")


def test_nodes_and_legend_are_drawn_in_the_theme_colours(page: Any) -> None:
    show_all(page)
    fills = page.eval_on_selector_all(
        f"{GRAPH} .jt-node",
        "nodes => nodes.map(n => [n.dataset.kind, n.querySelector(':scope > circle:last-of-type').getAttribute('fill')])",
    )
    assert fills and all(fill == KIND_COLORS[kind] for kind, fill in fills), fills
    legend = page.eval_on_selector_all(
        f"{GRAPH} .jt-legend-item",
        "items => items.map(i => [i.textContent, getComputedStyle(i.firstChild).backgroundColor])",
    )
    assert [kind for kind, _ in legend] == list(KIND_COLORS)
    for kind, colour in legend:
        red, green, blue = (int(KIND_COLORS[kind][i : i + 2], 16) for i in (1, 3, 5))
        assert colour == f"rgb({red}, {green}, {blue})"


def test_hover_text_names_the_thought(page: Any) -> None:
    show_all(page)
    title = page.locator(f'{GRAPH} .jt-node[data-index="0"] > title').text_content()
    assert title == "Thought 1/5\nRestate the problem: sum of the first n odd numbers"


def test_click_shows_the_full_thought(page: Any) -> None:
    show_all(page)
    page.click(f'{GRAPH} .jt-node[data-index="4"]')  # 4 000+ characters: the rest loads from the kernel
    page.wait_for_function(
        f"document.querySelector('{GRAPH} .jt-detail-text').textContent.endsWith('END-OF-LONG-THOUGHT')",
        timeout=RENDER_WAIT,
    )
    text = page.locator(f"{GRAPH} .jt-detail-text").text_content()
    assert text.startswith("Step: n^2 + (2n+1) = (n+1)^2.") and len(text) > 4000
    assert (
        page.locator(f"{GRAPH} .jt-detail-head").text_content() == "Thought 4/5 · branch induction (from 2)"
    )
    shot(page, "click-long")


def wait_rendered(page: Any, index: int) -> None:
    """Wait until the detail pane shows the kernel's rendering of node ``index``'s Markdown (the pane of
    the test before may still show another node's, rendered too)."""
    page.wait_for_selector(
        f'{GRAPH} .jt-detail[data-index="{index}"] .jt-detail-text.jt-markdown', timeout=RENDER_WAIT
    )


def test_click_shows_markup_as_text_never_as_html(page: Any) -> None:
    show_all(page)
    page.click(f'{GRAPH} .jt-node[data-index="5"]')
    wait_rendered(page, 5)
    detail = page.locator(f"{GRAPH} .jt-detail-text")
    assert (
        detail.text_content()
        == "Small cases again, carefully: 1, 4, 9, 16 <script>window.__pwned = 1</script>"
    )
    assert detail.locator("script").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_click_shows_the_thought_as_rendered_markdown(page: Any) -> None:
    show_all(page)
    page.click(f'{GRAPH} .jt-node[data-index="2"]')
    wait_rendered(page, 2)
    detail = page.locator(f"{GRAPH} .jt-detail-text")
    assert detail.locator("strong").text_content() == "n squared"
    links = detail.locator("a")
    assert links.count() == 1 and links.first.get_attribute("href") == "https://example.org/odd"
    assert "[this](javascript:window.__pwned=2)" in detail.text_content()  # not a link: shown as typed
    assert page.evaluate("window.__pwned") is None
    shot(page, "markdown-detail")


def test_replay_steps_through_the_history_in_arrival_order(page: Any) -> None:
    show_all(page)
    page.click(f"{GRAPH} .jt-first")
    assert drawn(page) == []
    assert page.locator(f"{GRAPH} .jt-step-label").text_content() == "0 / 8"
    for _ in range(3):
        page.click(f"{GRAPH} .jt-next")
    assert [n["i"] for n in drawn(page)] == [0, 1, 2]
    wait_detail_text(
        page, "Guess: the sum is n squared, see the table or [this](javascript:window.__pwned=2)"
    )
    assert lane_labels(page) == ["main (3)"]  # branches appear when their first thought does
    page.click(f"{GRAPH} .jt-next")  # the fourth thought to arrive opens the induction lane
    assert per_lane(page) == {0: 3, 1: 1}
    assert lane_labels(page) == ["main (3)", "induction ↱2 (1)"]
    shot(page, "replay-step-4")
    page.click(f"{GRAPH} .jt-prev")
    assert len(drawn(page)) == 3
    assert not page.is_checked(f"{GRAPH} .jt-follow")  # replaying stops following the latest
    page.click(f"{GRAPH} .jt-last")
    assert len(drawn(page)) == 8
    assert page.locator(f"{GRAPH} .jt-step-label").text_content() == "8 / 8"
    page.focus(f"{GRAPH} .jt-viewport")
    page.keyboard.press("ArrowLeft")  # the arrow keys step too
    assert len(drawn(page)) == 7
    page.keyboard.press("ArrowRight")
    assert len(drawn(page)) == 8


def test_play_advances_on_its_own(page: Any) -> None:
    show_all(page)
    page.select_option(f"{GRAPH} .jt-speed", "0.5")  # 12 s from step 2 to the end (step 8) for the pause
    try:
        page.click(f"{GRAPH} .jt-first")
        page.click(f"{GRAPH} .jt-play")
        page.wait_for_function(f"document.querySelectorAll('{GRAPH} .jt-node').length >= 2", timeout=60_000)
        page.click(f"{GRAPH} .jt-play")  # pause
        assert page.text_content(f"{GRAPH} .jt-play") == "▶ play"  # paused (a play that ended says so too)
        shown = len(drawn(page))
        assert 2 <= shown < 8  # not ended: the pause stopped it
        page.wait_for_timeout(3_000)  # longer than a step at ½ step/s
        assert len(drawn(page)) == shown
    finally:
        page.select_option(f"{GRAPH} .jt-speed", "1")


def test_branch_filter_shows_a_branch_with_the_trunk_it_forks_from(page: Any) -> None:
    show_all(page)
    page.select_option(f"{GRAPH} .jt-filter", "induction")
    assert per_lane(page) == {0: 5, 1: 2}
    shot(page, "filter-induction")
    page.select_option(f"{GRAPH} .jt-filter", "main")
    assert per_lane(page) == {0: 5}
    page.select_option(f"{GRAPH} .jt-filter", "")
    assert per_lane(page) == {0: 5, 1: 2, 2: 1}


def test_thought_added_in_the_kernel_after_display_appears_without_rerunning(own_page: Any) -> None:
    page = own_page
    run_cell(page, 1)
    wait_cell_done(page, 1)
    page.wait_for_function(f"document.querySelectorAll('{GRAPH} .jt-node').length === 9", timeout=60_000)
    assert per_lane(page) == {0: 5, 1: 2, 2: 2}
    assert page.locator(f"{GRAPH} .jt-final-ring").count() == 0  # the session is open again
    shot(page, "live-kernel")


def test_remote_thought_from_another_thread_appears(own_page: Any) -> None:
    page = own_page
    run_cell(page, 2)
    wait_cell_done(page, 2)
    page.wait_for_function(f"document.querySelectorAll('{GRAPH} .jt-node').length === 9", timeout=60_000)
    assert per_lane(page) == {0: 6, 1: 2, 2: 1}
    assert page.locator(f'{GRAPH} .jt-node[data-index="8"] .jt-final-ring').count() == 1
    shot(page, "live-remote")


def test_reloaded_page_shows_thoughts_that_arrived_after_the_snapshot(own_page: Any) -> None:
    page = own_page
    for cell in (1, 2):  # one thought from the kernel, one as if from another process
        run_cell(page, cell)
        wait_cell_done(page, cell)
    page.wait_for_function(f"document.querySelectorAll('{GRAPH} .jt-node').length === 10", timeout=60_000)
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_timeout(500)
    page.reload(wait_until="domcontentloaded", timeout=90_000)  # a whole JupyterLab boot, as in open_notebook
    page.wait_for_selector(NOTEBOOK, timeout=90_000)
    wait_idle(page)
    page.wait_for_function(f"document.querySelectorAll('{GRAPH} .jt-node').length === 10", timeout=60_000)
    assert per_lane(page) == {0: 6, 1: 2, 2: 2}


def test_ten_thousand_thoughts_draw_only_what_is_in_view(own_page: Any) -> None:
    page = own_page
    big = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").nth(3).locator(".jt-graph")
    run_cell(page, 3)
    wait_cell_done(page, 3, timeout=120)
    big.locator(".jt-node").first.wait_for(timeout=30_000)
    assert big.locator(".jt-step-label").text_content() == "10000 / 10000"
    drawn_now = big.locator(".jt-node").count()
    assert 0 < drawn_now < 400, drawn_now  # the visible window only, not 10 000 elements
    assert big.locator(".jt-node").last.get_attribute("data-index") == "9999"  # follows the latest
    # How fast this is at 10 000 thoughts is measured in benchmarks/bench_widget.py, not asserted here.
    page.evaluate(
        """(root) => {
            const viewport = root.querySelector('.jt-viewport');
            viewport.scrollLeft = 0;
            viewport.dispatchEvent(new Event('scroll'));
            root.querySelector('.jt-first').click();
            root.querySelector('.jt-next').click();
        }""",
        big.element_handle(),
    )
    assert [n.get_attribute("data-index") for n in big.locator(".jt-node").all()] == ["0"]
    big.locator(".jt-detail-text.jt-markdown").wait_for(timeout=RENDER_WAIT)  # this kernel's first
    assert big.locator(".jt-detail-text").text_content() == "The first of ten thousand thoughts"
    ARTIFACTS.mkdir(exist_ok=True)
    big.screenshot(path=str(ARTIFACTS / "browser-ten-thousand.png"))
