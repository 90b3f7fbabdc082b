"""The three notebooks in a real JupyterLab and Chromium: the graph renders in each (SPEC §9).

One JupyterLab and one browser for the module (see ``lab_harness.py``), with a private store and
notebook windowing switched off (so cells below the fold are in the page too). Each notebook is
opened as committed and run with *Run All*: every cell runs without an error, and each live graph
widget draws the thoughts of its session, including thoughts that arrived after it was displayed.
nbval cannot see any of this (it skips the widget view); only the browser shows that the front end
works, and that no console error was logged. Last, the README's headless command
(``./dev lab --headless``) writes ``tour.html`` into a new temporary directory (never into the
repository), and the graphs are visible in it. Each test passes alone and in any order.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lab_harness import NOTEBOOK, Browser, Lab, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("no_console_errors")]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts"

# Nodes drawn by each live graph, in page order, once every cell has run. A graph follows its
# session, so it also shows thoughts recorded after it was displayed (checklist: 3 + 1 from the
# --quiet cell; api-demo: 5 + 1 afterthought; agent_experiment: the explorer run's graph, 3 thoughts).
EXPECTED_NODES = {
    "tour.ipynb": [11, 4, 6],
    "teaching.ipynb": [12, 12, 12],
    "agent_experiment.ipynb": [3],
}


@pytest.fixture(scope="module")
def lab(lab: Lab) -> Lab:
    """The module's JupyterLab (conftest.py's) with notebook windowing off and the notebooks copied in."""
    tracker = lab.base / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    for name in EXPECTED_NODES:
        shutil.copy(NOTEBOOKS / name, lab.root_dir / name)
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


def live_node_counts(page: Any) -> list[int]:
    return page.eval_on_selector_all(
        f"{NOTEBOOK} .jt-graph", "graphs => graphs.map(g => g.querySelectorAll('.jt-node').length)"
    )


@pytest.mark.parametrize("name", list(EXPECTED_NODES))
def test_run_all_draws_every_graph_live_without_errors(lab: Lab, browser: Browser, name: str) -> None:
    page = browser.open_notebook(lab, name)
    try:
        run_all(page)
        expected = EXPECTED_NODES[name]
        page.wait_for_function(
            f"""(expected) => {{
                const graphs = Array.from(document.querySelectorAll('{NOTEBOOK} .jt-graph'));
                const counts = graphs.map(g => g.querySelectorAll('.jt-node').length);
                return JSON.stringify(counts) === JSON.stringify(expected);
            }}""",
            arg=expected,
            timeout=30_000,
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
        **os.environ,
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
