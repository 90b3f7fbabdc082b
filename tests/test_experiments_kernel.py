"""Experiments and ``%session --diff`` in a real IPython kernel (jupyter_client).

A kernel runs its cells on an asyncio loop, so both forms are checked there: ``experiment()`` (the
call blocks; the runs get a loop of their own) and ``await aexperiment()`` (the runs use the kernel's
loop). Interrupting either cancels every run and keeps what each recorded.
Agents tell the test where they are through files, and wait for a file the test writes, so no
test depends on timing.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kernel_harness import ExecResult, Kernel

pytestmark = pytest.mark.kernel

WAIT = 60.0

SETUP = """
%load_ext jupyter_think
import threading, time, pathlib, jupyter_think
from jupyter_think import get_manager

def steps(run, count):
    return [{"thought": f"run {run} step {n}", "thoughtNumber": n, "totalThoughts": count,
             "nextThoughtNeeded": n < count} for n in range(1, count + 1)]

def agent(config, tool):
    for arguments in steps(config, config):
        tool.call(arguments)
    if config == 2:
        raise ValueError("two is unlucky")
    return config * 10

async def async_agent(config, tool):
    for arguments in steps(config, config):
        await tool.acall(arguments)
    return threading.current_thread() is threading.main_thread()

def gated(folder):
    folder = pathlib.Path(folder)
    def agent(config, tool):
        tool.call(steps(config, 3)[0])
        (folder / f"waiting-{config}").touch()
        deadline = time.monotonic() + 60
        while not (folder / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            tool.call(steps(config, 3)[1])
        finally:
            (folder / f"gone-{config}").touch()
    return agent
"""


@pytest.fixture(scope="module")
def ready(kernel: Kernel) -> Kernel:
    result = kernel.execute(SETUP)
    assert result.ok, str(result)
    return kernel


def ok(kernel: Kernel, code: str) -> ExecResult:
    result = kernel.execute(code)
    assert result.ok, str(result)
    return result


def wait_for_files(folder: Path, prefix: str, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while len(list(folder.glob(f"{prefix}-*"))) < count:
        assert time.monotonic() < deadline, (
            f"only {len(list(folder.glob(f'{prefix}-*')))} of {count} {prefix} files"
        )
        time.sleep(0.02)


def widget_outputs(result: ExecResult) -> list[dict[str, Any]]:
    return [o for o in result.outputs if "application/vnd.jupyter.widget-view+json" in o]


def test_a_cell_without_await_blocks_shows_the_grid_then_the_results(ready: Kernel) -> None:
    result = ok(ready, "runs = jupyter_think.experiment('blocking', agent, [1, 2, 3])\nruns")
    [grid] = widget_outputs(result)
    assert grid["text/plain"] == (
        "Experiment blocking · 3 runs · 3 pending\n"
        "  blocking-1  pending    0 thoughts · 0 branches · 0 revisions\n"
        "  blocking-2  pending    0 thoughts · 0 branches · 0 revisions\n"
        "  blocking-3  pending    0 thoughts · 0 branches · 0 revisions"
    )
    assert result.outputs[-1]["text/plain"] == (
        "Experiment blocking · 3 runs · 2 ok · 1 error\n"
        "  run  session     status  thoughts  branches  revisions  result\n"
        "    1  blocking-1  ok             1         0          0  10\n"
        "    2  blocking-2  error          2         0          0  ValueError: two is unlucky\n"
        "    3  blocking-3  ok             3         0          0  30"
    )
    # The grid saw the end too, and the person's active session is untouched.
    assert ready.value("[c['status'] for c in runs.grid.cards()]") == ["ok", "error", "ok"]
    assert ready.value("get_manager().active_id") != "blocking-1"


def test_await_in_a_cell_runs_the_agents_on_the_kernels_loop(ready: Kernel) -> None:
    result = ok(ready, "runs = await jupyter_think.aexperiment('awaited', async_agent, [2, 3])\nruns")
    assert len(widget_outputs(result)) == 1
    assert ready.value("[(r.status, r.value) for r in runs]") == [["ok", True], ["ok", True]]
    assert ready.value("[len(s) for s in runs.sessions]") == [2, 3]


def run_in_background(kernel: Kernel, code: str) -> tuple[threading.Thread, list[ExecResult]]:
    results: list[ExecResult] = []
    worker = threading.Thread(target=lambda: results.append(kernel.execute(code, timeout=120)))
    worker.start()
    return worker, results


@pytest.mark.parametrize(
    ("form", "error"),
    [("experiment", "KeyboardInterrupt"), ("await jupyter_think.aexperiment", "CancelledError")],
)
def test_interrupting_the_cell_cancels_every_run_and_keeps_what_each_recorded(
    ready: Kernel, tmp_path: Path, form: str, error: str
) -> None:
    name = f"stop-{'await' if 'await' in form else 'block'}"
    call = form if "await" in form else f"jupyter_think.{form}"
    code = f"{call}({name!r}, gated({str(tmp_path)!r}), [1, 2, 3, 4, 5, 6], concurrency=4)"
    worker, results = run_in_background(ready, code)
    wait_for_files(tmp_path, "waiting", 4)  # four runs are thinking; two wait for a free slot
    ready.km.interrupt_kernel()
    worker.join(120)
    [result] = results
    assert result.ename == error, str(result)
    counts = ready.value(f"[len(get_manager().session('{name}-' + str(k))) for k in range(1, 7)]")
    assert sorted(counts) == [0, 0, 1, 1, 1, 1]
    (tmp_path / "go").touch()  # the cut-off agents try to go on: their tools refuse
    wait_for_files(tmp_path, "gone", 4)
    assert ready.value(f"[len(get_manager().session('{name}-' + str(k))) for k in range(1, 7)]") == counts
    ok(ready, f"again = jupyter_think.experiment({name!r}, agent, [1])")  # nothing is left running


# --- %session --diff -------------------------------------------------------------------------------------

BUILD = """
for session_id, texts in {"diff-a": ["Restate the puzzle", "Split into three groups", "Two weighings"],
                          "diff-b": ["Restate the puzzle", "Split into halves", "Three weighings"]}.items():
    s = get_manager().new_session(session_id)
    for n, text in enumerate(texts, start=1):
        s.think(text, total=3, done=n == 3)
"""


def test_session_diff_shows_the_two_sessions_aligned(ready: Kernel) -> None:
    ok(ready, BUILD)
    result = ok(ready, "%session --diff diff-a diff-b")
    expected = ready.value(
        "repr(jupyter_think.diff(get_manager().session('diff-a'), get_manager().session('diff-b')))"
    )
    assert result.plain == expected
    assert result.plain.splitlines()[0] == "Diff diff-a vs diff-b · 3 steps · agree on 1 · diverge at step 2"
    assert 'data-kind="different"' in result.html


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%session --diff diff-a missing", "no session 'missing' to diff; see %session --list"),
        ("%session --diff ../etc diff-a", "invalid session id '../etc'"),
        ("%session diff-a --diff diff-a diff-b", "--diff takes no session ID before it"),
        ("%session --diff diff-a", "expected 2 arguments"),
        ("%session --diff diff-a diff-b --graph", "give one of --graph / --diff at a time"),
    ],
)
def test_session_diff_mistakes_are_one_line_usage_errors(ready: Kernel, line: str, message: str) -> None:
    ok(ready, BUILD)
    before = ready.value("sorted(get_manager().sessions())")
    result = ready.execute(line)
    assert result.ename == "UsageError" and message in (result.evalue or ""), str(result)
    assert "\n" not in (result.evalue or "")
    assert ready.value("sorted(get_manager().sessions())") == before
