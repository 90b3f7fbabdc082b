"""The experiment grid in a real browser: JupyterLab + Debian's Chromium (issues 13 and 22).

The notebook runs four scripted runs *without* ``await``, so the kernel stays busy for the whole
experiment: the cards must still update live. Each run records two thoughts and waits for a file
the test writes; then three conclude and one raises. The test reads the page as a user would:
card statuses and counts while the cell runs and after, the error on the failed card, a click that
opens a run's full branch graph below the grid, and a thought written by "another process". A second
experiment (two variants x two repeats through the real OpenAI client and the scripted model, scored,
then a fork) shows its cards grouped by variant with their repeat, score, tokens and answer, and the
fork's copied thoughts. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lab_harness import Browser, Lab, run_cell, wait_cell_done

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
GRID = ".jp-NotebookPanel:not(.lm-mod-hidden) .jt-grid"

RUN = """import pathlib, time, jupyter_think
GATE = pathlib.Path({gate!r})

def step(n, done=False):
    return {{"thought": f"step {{n}}", "thoughtNumber": n, "totalThoughts": 3, "nextThoughtNeeded": not done}}

def agent(config, tool):
    tool.call(step(1))
    tool.call(step(2))
    (GATE / f"waiting-{{config}}").touch()
    deadline = time.monotonic() + 120
    while not (GATE / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if config == 3:
        raise ValueError("run three gave up")
    tool.call(step(3, done=True))
    return config

runs = jupyter_think.experiment("browser-grid", agent, [1, 2, 3, 4], concurrency=4)"""
REMOTE = """import threading
from jupyter_think.core.models import Thought, ThoughtAdded
remote = Thought(thought="Written by another process", thought_number=4, total_thoughts=4,
                 next_thought_needed=False)
session = runs[1].session
writer = threading.Thread(target=lambda: session.apply(ThoughtAdded(thought=remote), remote=True))
writer.start(); writer.join()"""


MEASURE = """from jupyter_think.agent.adapters import openai_agent
from jupyter_think.agent.scripted import ScriptedModel

def plan(request):
    answer = "Two weighings." if request.repeat == 1 else "Three weighings, to be safe."
    return [[step(1)], [step(2)], [step(3, done=True)], answer]

model = ScriptedModel(plan)
measured = jupyter_think.experiment("browser-measure", openai_agent("scripted", client=model.openai_client()),
                                    {"terse": "How few?", "careful": "How few weighings, step by step?"},
                                    repeat=2, score=lambda r: r.value.startswith("Two"))
forked = measured.rerun("browser-measure-careful-1", 2)"""


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gate")


@pytest.fixture(scope="module")
def page(lab: Lab, browser: Browser, gate: Path) -> Any:
    lab.write_notebook("grid.ipynb", [RUN.format(gate=str(gate)), REMOTE, MEASURE])
    return browser.open_notebook(lab, "grid.ipynb")


def start_cell(page: Any, index: int) -> None:
    """Run cell ``index`` without waiting for it to finish (``run_cell`` waits)."""
    page.evaluate(
        """(index) => {
            const app = window.jupyterapp;
            app.shell.currentWidget.content.activeCellIndex = index;
            void app.commands.execute('notebook:run-cell');
        }""",
        index,
    )


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(GRID).screenshot(path=str(ARTIFACTS / f"grid-{name}.png"))


def cards(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        f"{GRID} .jt-run",
        """items => items.map(c => ({status: c.dataset.status, thoughts: c.dataset.thoughts,
            name: c.querySelector('.jt-run-name').textContent,
            counts: c.querySelector('.jt-run-counts').textContent,
            message: c.querySelector('.jt-run-message').textContent}))""",
    )


def wait_cards(page: Any, statuses: list[str], thoughts: list[int], timeout: float = 60) -> None:
    page.wait_for_function(
        """([selector, statuses, thoughts]) => {
            const items = Array.from(document.querySelectorAll(selector));
            return items.length === statuses.length && items.every((c, i) =>
                c.dataset.status === statuses[i] && c.dataset.thoughts === String(thoughts[i]));
        }""",
        arg=[f"{GRID} .jt-run", statuses, thoughts],
        timeout=timeout * 1000,
    )


def test_cards_update_live_while_a_blocking_cell_runs(page: Any, gate: Path) -> None:
    start_cell(page, 0)
    wait_cards(page, ["running"] * 4, [2] * 4)  # the kernel is busy in the cell all this time
    assert [c["name"] for c in cards(page)] == [f"browser-grid-{k}" for k in range(1, 5)]
    assert cards(page)[0]["counts"] == "2 thoughts · 0 branches · 0 revisions"
    shot(page, "running")
    (gate / "go").touch()
    wait_cards(page, ["ok", "ok", "error", "ok"], [3, 3, 2, 3])
    wait_cell_done(page, 0)
    assert cards(page)[2]["message"] == "ValueError: run three gave up"
    head = page.text_content(f"{GRID} .jt-grid-head")
    assert head == "Experiment browser-grid · 4 runs · 3 ok · 1 error"
    shot(page, "done")


def test_clicking_a_card_opens_the_runs_full_graph(page: Any) -> None:
    detail = f"{GRID} .jt-grid-detail"
    page.click(f'{GRID} .jt-run[data-run="1"]')
    page.wait_for_function(
        f"document.querySelectorAll('{detail} .jt-graph .jt-node').length === 3", timeout=30_000
    )
    assert page.text_content(f"{detail} .jt-grid-detail-title") == "Branch graph of browser-grid-1"
    assert "jt-open" in (page.get_attribute(f'{GRID} .jt-run[data-run="1"]', "class") or "")
    shot(page, "open")
    page.click(f'{GRID} .jt-run[data-run="3"]')  # another card: its graph replaces the first
    page.wait_for_function(
        f"""document.querySelector('{detail} .jt-grid-detail-title').textContent.endsWith('-3')
            && document.querySelectorAll('{detail} .jt-graph .jt-node').length === 2""",
        timeout=30_000,
    )
    page.click(f"{detail} .jt-grid-close")
    page.wait_for_function(f"document.querySelector('{detail}').hidden === true", timeout=30_000)
    assert page.query_selector_all(f"{detail} .jt-graph") == []


def test_a_thought_from_another_process_shows_on_its_card(page: Any) -> None:
    run_cell(page, 1)
    wait_cell_done(page, 1)
    wait_cards(page, ["ok", "ok", "error", "ok"], [3, 4, 2, 3])


def test_measured_cards_are_grouped_by_variant_with_score_tokens_and_answer(page: Any) -> None:
    run_cell(page, 2)
    wait_cell_done(page, 2)
    grids = ".jp-NotebookPanel:not(.lm-mod-hidden) .jt-grid"
    page.wait_for_function(
        f"""() => {{
            const grids = document.querySelectorAll('{grids}');
            return grids.length === 3 && grids[1].querySelectorAll('.jt-run[data-status="ok"]').length === 4
                && grids[2].querySelectorAll('.jt-run[data-status="ok"]').length === 1;
        }}""",
        timeout=60_000,
    )
    seen = page.evaluate(
        f"""() => Array.from(document.querySelectorAll('{grids}')).slice(1).map(grid => ({{
            heads: Array.from(grid.querySelectorAll('.jt-grid-group-head')).map(h => h.textContent),
            cards: Array.from(grid.querySelectorAll('.jt-run')).map(c => ({{
                variant: c.closest('.jt-grid-group').dataset.variant,
                name: c.querySelector('.jt-run-name').textContent,
                session: c.querySelector('.jt-run-session').textContent,
                meta: c.querySelector('.jt-run-meta').textContent,
                score: c.querySelector('.jt-run-score').textContent,
                tokens: Number(c.dataset.tokens),
                counts: c.querySelector('.jt-run-counts').textContent,
                answer: c.querySelector('.jt-run-answer').textContent}}))}}))"""
    )
    measured, forked = seen
    assert measured["heads"] == [
        "variant terse · 2 runs · 2 ok · 1 pass",
        "variant careful · 2 runs · 2 ok · 1 pass",
    ]
    assert [(c["variant"], c["name"], c["session"], c["score"], c["answer"]) for c in measured["cards"]] == [
        ("terse", "#1", "browser-measure-terse-1", "pass", "Two weighings."),
        ("terse", "#2", "browser-measure-terse-2", "fail", "Three weighings, to be safe."),
        ("careful", "#1", "browser-measure-careful-1", "pass", "Two weighings."),
        ("careful", "#2", "browser-measure-careful-2", "fail", "Three weighings, to be safe."),
    ]
    assert all(c["tokens"] > 0 and c["meta"] == f"{c['tokens']} tokens" for c in measured["cards"])
    [fork] = forked["cards"]
    assert fork["counts"].startswith("3 thoughts") and fork["meta"].endswith(
        " · from browser-measure-careful-1 @2"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(grids).nth(1).screenshot(path=str(ARTIFACTS / "grid-measured.png"))
    page.locator(grids).nth(2).screenshot(path=str(ARTIFACTS / "grid-forked.png"))


def test_no_console_errors(page: Any, browser: Browser) -> None:
    assert browser.errors == []
