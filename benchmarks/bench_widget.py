"""Benchmark of the branch-graph widget: layout time, bytes per live update, time to draw in a browser.

Prints:
- layout time for 100 / 1 000 / 10 000 thoughts (best of 5),
- the widget's first snapshot at 10 000 thoughts: time to build it and its size,
- bytes sent to the front end per added thought at 100 and at 10 000 thoughts, labels on (must be
  equal within 10 %: live updates carry plain text and the label; the Markdown goes only to a click),
- bytes per change of every other kind (amend, retract, decide, merge, the thought after a merge,
  a thought that concludes) at 100 and at 10 000 thoughts (flat too),
- the kernel's answer to a click (full text + Markdown rendered by markdown-it-py): time and
  bytes for a short thought and for a 2 000-character Markdown thought, at 10 000 thoughts,
- in JupyterLab + Chromium (``tests/lab_harness.py``): time from running the cell that displays
  the graph of 10 000 thoughts, labels on, to the graph drawn (target under 1 s), and how long a
  scroll, a replay step, a zoom step, the presenter view and a live update take at that size; and
  the graph data the page holds after the cell is re-run three times and after the graph is closed.

Run: ``.venv/bin/python benchmarks/bench_widget.py`` (``--no-browser`` skips the browser part; ``--tiny`` is
a smoke run of a few seconds: 1 000 thoughts for 10 000, the browser part skipped).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from jupyter_think import Session
from jupyter_think.views.layout import layout
from jupyter_think.widgets.graph import BranchGraph

BUILD = """
def build(session, count):
    session.think("Restate the problem " + "x" * 60, total=count)
    for i in range(1, count):
        if i % 500 == 0:
            session.branch(f"b{i}", from_thought=session.trunk[-1].thought_number)
        elif i % 500 == 60:
            session.switch_branch("main")
        if i % 37 == 0:
            session.revise(session.thoughts[-2].thought_number, f"Revision {i} " + "y" * 60)
        else:
            session.think(f"Thought {i} " + "z" * 60)
    return session
"""
SMALL, LARGE = 100, 10_000
"""The session sizes compared (``--tiny``: 100 and 1 000)."""


def spaced(count: int) -> str:
    """``10 000``: a count as the figures print it."""
    return f"{count:,}".replace(",", " ")


namespace: dict = {}
exec(BUILD, namespace)
build = namespace["build"]


def layout_times() -> None:
    for count in sorted({SMALL, 1_000, LARGE}):
        session = build(Session("bench", max_thoughts=count), count)
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            layout(session)
            runs.append(time.perf_counter() - started)
        print(
            f"layout  {count:>6} thoughts: {min(runs) * 1000:8.2f} ms (median {statistics.median(runs) * 1000:.2f} ms)"
        )


def bytes_per_thought() -> dict[int, int]:
    sizes = {}
    for count in (SMALL, LARGE):
        session = build(Session("bench", max_thoughts=count + 1), count)
        graph = BranchGraph(session)
        sent: list[int] = []
        original = graph.comm.send

        def send(data=None, metadata=None, buffers=None, original=original, sent=sent):
            sent.append(len(json.dumps(data, separators=(",", ":"))))
            original(data=data, metadata=metadata, buffers=buffers)

        graph.comm.send = send
        session.think("One more thought, the same at every size " + "w" * 60)
        sizes[count] = sum(sent)
        print(
            f"bytes sent for one added thought at {count:>6} thoughts, labels on: {sizes[count]} ({len(sent)} message)"
        )
        graph.close()
    ratio = sizes[LARGE] / sizes[SMALL]
    print(
        f"ratio {spaced(LARGE)} / {SMALL}: {ratio:.3f} ({'OK' if abs(ratio - 1) <= 0.10 else 'FAIL'}: must be within 10 %)"
    )
    return sizes


def snapshot_cost() -> None:
    """What showing a graph of LARGE thoughts costs the kernel: its first snapshot, labels included."""
    session = build(Session("bench", max_thoughts=LARGE), LARGE)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        graph = BranchGraph(session)
        runs.append(time.perf_counter() - started)
        size = len(json.dumps(graph.snapshot, separators=(",", ":")))
        graph.close()
    print(
        f"widget snapshot at {spaced(LARGE)} thoughts (labels on): built in {min(runs) * 1000:.0f} ms, {size / 1e6:.2f} MB"
    )


def teaching_session(count: int) -> Session:
    """The bench session with a branch ``lesson`` of three thoughts, active."""
    session = build(Session("bench", max_thoughts=count + 20), count)
    session.branch("lesson", from_thought=session.trunk[-1].thought_number)
    for text in ("A lesson thought with a typo, teh", "A dead end", "The lesson's result"):
        session.think(text + " " + "v" * 40)
    return session


CHANGES = {
    "amend": lambda s: s.amend(
        s.branches["lesson"].thoughts[0].thought_number, "A lesson thought with its typo fixed " + "v" * 40
    ),
    "retract": lambda s: s.retract(s.branches["lesson"].thoughts[1].thought_number),
    "decide": lambda s: s.decide("lesson", "chosen", note="the shortest way to the answer"),
    "merge": lambda s: s.merge("lesson", into="main"),
    "thought after the merge": lambda s: s.think("Go on from the lesson's result " + "w" * 40),
    "concluding thought": lambda s: s.think("The answer " + "w" * 50, done=True),
}


def bytes_per_change() -> None:
    """Bytes of the one message each kind of change sends, at SMALL and at LARGE thoughts."""
    sizes: dict[str, dict[int, int]] = {kind: {} for kind in CHANGES}
    for count in (SMALL, LARGE):
        session = teaching_session(count)
        graph = BranchGraph(session)
        sent: list[int] = []
        original = graph.comm.send

        def send(data=None, metadata=None, buffers=None, original=original, sent=sent):
            sent.append(len(json.dumps(data, separators=(",", ":"))))
            original(data=data, metadata=metadata, buffers=buffers)

        graph.comm.send = send
        for kind, change in CHANGES.items():
            sent.clear()
            change(session)
            sizes[kind][count] = sum(sent)
        graph.close()
    for kind, by_count in sizes.items():
        ratio = by_count[LARGE] / by_count[SMALL]
        print(
            f"bytes sent for one {kind + ':':<25} {by_count[SMALL]:>5} at {SMALL}, {by_count[LARGE]:>5} at {spaced(LARGE)} thoughts "
            f"(ratio {ratio:.3f}, {'OK' if abs(ratio - 1) <= 0.10 else 'FAIL'})"
        )


def detail_answers() -> None:
    """What a click on a node costs the kernel: the full text and its Markdown rendered to HTML."""
    session = build(Session("bench", max_thoughts=LARGE + 10), LARGE)
    long_markdown = (
        "A **long** thought with `code`, a [link](https://example.org) and a list:\n" + "- item\n" * 280
    )
    session.think("A short thought")
    session.think(long_markdown[:2_000])
    graph = BranchGraph(session)
    sent: list[int] = []
    original = graph.comm.send

    def send(data=None, metadata=None, buffers=None):
        sent.append(len(json.dumps(data, separators=(",", ":"))))
        original(data=data, metadata=metadata, buffers=buffers)

    graph.comm.send = send
    for label, index in (("short thought", len(session) - 2), ("2 000-character Markdown", len(session) - 1)):
        runs = []
        for _ in range(20):
            started = time.perf_counter()
            graph._on_front_end_message(graph, {"type": "text", "gen": 0, "i": index}, [])
            runs.append(time.perf_counter() - started)
        print(
            f"click -> detail ({label}) at {spaced(LARGE)} thoughts: median {statistics.median(runs) * 1000:.2f} ms, "
            f"{sent[-1]} bytes"
        )
    graph.close()


def browser_times() -> None:
    from lab_harness import Browser, Lab, run_cell, wait_cell_done

    graph = ".jp-NotebookPanel:not(.lm-mod-hidden) .jt-graph"
    with (
        tempfile.TemporaryDirectory() as tmp,
        Lab(env={"JUPYTER_THINK_DIR": str(Path(tmp) / "store")}) as lab,
        Browser() as browser,
    ):
        lab.write_notebook(
            "bench.ipynb",
            [
                "from jupyter_think import Session\n"
                + BUILD
                + '\ns = build(Session("bench", max_thoughts=20_000), 10_000)\nlen(s)',
                "s.graph()",
                's.switch_branch("main")\ns.think("A live thought at 10 000")',
                'again = build(Session("again", max_thoughts=20_000), 10_000)\nagain.graph()',
                "import ipywidgets\nfor w in list(ipywidgets.widgets.widget._instances.values()): w.close()",
            ],
        )
        page = browser.open_notebook(lab, "bench.ipynb")
        run_cell(page, 0)
        wait_cell_done(page, 0, timeout=120)
        elapsed = page.evaluate(
            """async (graph) => {
                const app = window.jupyterapp;
                const panel = app.shell.currentWidget;
                panel.content.activeCellIndex = 1;
                const started = performance.now();
                app.commands.execute('notebook:run-cell');
                while (!document.querySelector(graph + ' .jt-node')) {
                    await new Promise(r => requestAnimationFrame(r));
                }
                await new Promise(r => requestAnimationFrame(r));
                return performance.now() - started;
            }""",
            graph,
        )
        count = page.evaluate(f"document.querySelector('{graph} .jt-step-label').textContent")
        print(
            f"browser: run cell -> graph of 10 000 thoughts drawn: {elapsed:.0f} ms "
            f"({'OK' if elapsed < 1000 else 'over'} target 1 000 ms; shows {count})"
        )
        scroll = page.evaluate(
            """async (graph) => {
                const viewport = document.querySelector(graph + ' .jt-viewport');
                const times = [];
                for (const fraction of [0.1, 0.3, 0.5, 0.7, 0.9]) {
                    const started = performance.now();
                    viewport.scrollLeft = fraction * viewport.scrollWidth;
                    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                    times.push(performance.now() - started);
                }
                return times;
            }""",
            graph,
        )
        print(
            f"browser: scroll to a new place and redraw (two animation frames): median {statistics.median(scroll):.1f} ms "
            f"(max {max(scroll):.1f} ms)"
        )
        steps = page.evaluate(
            """(graph) => {
                const root = document.querySelector(graph);
                const times = [];
                root.querySelector('.jt-first').click();
                for (let i = 0; i < 20; i++) {
                    const started = performance.now();
                    root.querySelector('.jt-next').click();
                    times.push(performance.now() - started);
                }
                const started = performance.now();
                root.querySelector('.jt-last').click();
                times.push(performance.now() - started);
                root.querySelector('.jt-follow').click();
                return times;
            }""",
            graph,
        )
        print(
            f"browser: replay step (click -> drawn): median {statistics.median(steps):.1f} ms (max {max(steps):.1f} ms)"
        )
        zoom = page.evaluate(
            """(graph) => {
                const root = document.querySelector(graph);
                const times = [];
                for (const cls of ['.jt-zoom-out', '.jt-zoom-out', '.jt-zoom-in', '.jt-zoom-in', '.jt-zoom-level']) {
                    const started = performance.now();
                    root.querySelector(cls).click();
                    times.push(performance.now() - started);
                }
                return times;
            }""",
            graph,
        )
        print(
            f"browser: zoom step (click -> drawn): median {statistics.median(zoom):.1f} ms (max {max(zoom):.1f} ms)"
        )
        present = page.evaluate(
            """async (graph) => {
                const root = document.querySelector(graph);
                const started = performance.now();
                root.querySelector('.jt-present').click();
                await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                const elapsed = performance.now() - started;
                root.querySelector('.jt-present').click();
                return elapsed;
            }""",
            graph,
        )
        print(f"browser: presenter view on (click -> drawn, two frames): {present:.0f} ms")
        started = time.perf_counter()
        run_cell(page, 2)
        page.wait_for_function(
            f"document.querySelector('{graph} .jt-step-label').textContent.startsWith('10001')",
            timeout=30_000,
        )
        print(
            f"browser: live thought at 10 000 (run cell -> drawn, incl. kernel round trip): "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )
        page.locator(graph).screenshot(path=str(ROOT / "test-artifacts" / "bench-10000.png"))
        wait_cell_done(page, 2)
        held = """() => [...(globalThis.jupyterThinkGraphs ?? [])].map(store => store.nodes.length)"""
        for _ in range(3):  # each run shows a new session's graph; the old view goes
            run_cell(page, 3)
            wait_cell_done(page, 3, timeout=120)
            page.wait_for_function(f"({held})().includes(10000)", timeout=60_000)
        print(
            f"browser: graphs held by the page after the display cell ran 3 times: nodes per graph {page.evaluate(held)}"
        )
        run_cell(page, 4)
        wait_cell_done(page, 4)
        page.wait_for_timeout(500)
        print(f"browser: graphs held by the page after closing them: nodes per graph {page.evaluate(held)}")
        if browser.errors:
            print("browser console errors:", browser.errors)


if __name__ == "__main__":
    tiny = "--tiny" in sys.argv
    if tiny:
        LARGE = 1_000
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    layout_times()
    snapshot_cost()
    bytes_per_thought()
    bytes_per_change()
    detail_answers()
    if "--no-browser" not in sys.argv and not tiny:
        browser_times()
