"""Experiments that measure (issue 22): variants x repeats, scores, usage and cost, timeouts, errors of every
kind, sessions another experiment holds, forks, and the experiment stored and loaded in a fresh process.

Agents are scripted (no model). A hanging agent waits on an event the test sets at its end, so the
"hang" is real: the experiment returning while that agent still waits proves it did not wait for it.
How soon after the timeout it returns (the issue's "within timeout + 1 s") is a figure that
``benchmarks/bench_experiments.py`` prints beside that target, not a bound a busy machine could break.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from jupyter_think import RunEnded, SessionManager, aexperiment, compare, experiment
from jupyter_think.cli import main as cli
from jupyter_think.experiments.results import RunResult
from jupyter_think.experiments.tool import RunTool

WAIT = 60


def step(n: int, total: int, text: str | None = None) -> dict[str, Any]:
    return {
        "thought": text or f"step {n}",
        "thoughtNumber": n,
        "totalThoughts": total,
        "nextThoughtNeeded": n < total,
    }


def counting_agent(config: int, tool: RunTool) -> str:
    for n in range(1, config + 1):
        tool.call(step(n, config))
    tool.record_usage(input_tokens=100 * config, output_tokens=10 * config, model="m-small", seconds=0.25)
    return f"{config} steps\nand a second line"


@pytest.fixture
def manager() -> Iterator[SessionManager]:
    with SessionManager(persist=False) as running:
        yield running


def test_variants_times_repeats_name_their_runs_and_sessions(manager: SessionManager) -> None:
    runs = experiment("grid", counting_agent, {"short": 1, "long": 3}, repeat=2, manager=manager)
    assert [(r.run, r.variant, r.repeat, r.session_id) for r in runs] == [
        (1, "short", 1, "grid-short-1"),
        (2, "short", 2, "grid-short-2"),
        (3, "long", 1, "grid-long-1"),
        (4, "long", 2, "grid-long-2"),
    ]
    assert [len(r.session) for r in runs] == [1, 1, 3, 3]
    listed = experiment("listed", counting_agent, [1, 2], repeat=2, manager=manager)
    assert [r.session_id for r in listed] == ["listed-1-1", "listed-1-2", "listed-2-1", "listed-2-2"]
    assert [r.session_id for r in experiment("once", counting_agent, [1, 2], manager=manager)] == [
        "once-1",
        "once-2",
    ]


def test_the_score_gets_the_result_and_its_failures_stay_on_the_score(manager: SessionManager) -> None:
    seen: list[RunResult] = []

    def score(result: RunResult) -> Any:
        seen.append(result)
        if result.config == 2:
            raise KeyError("no answer key")
        if result.config == 3:
            return "three"
        return result.value.startswith("1")

    def agent(config: int, tool: RunTool) -> str:
        if config == 4:
            raise ValueError("gave up")
        return counting_agent(config, tool)

    runs = experiment("scored", agent, [1, 2, 3, 4], score=score, manager=manager)
    assert [(r.status, r.score, r.score_error) for r in runs] == [
        ("ok", True, None),
        ("ok", None, "KeyError: 'no answer key'"),
        ("ok", None, "the score must be True, False, a number or None, got 'three'"),
        ("error", None, None),  # a run that errored is not scored: it fails pass@k anyway
    ]
    assert sorted(r.config for r in seen) == [1, 2, 3] and all(r.status == "ok" for r in seen)
    assert seen[0].usage.input_tokens in (100, 200, 300)  # the result it gets is the run's whole result


def test_usage_is_summed_per_run_and_priced_per_model(manager: SessionManager) -> None:
    prices = {"m-small": (2.0, 8.0)}
    runs = experiment("priced", counting_agent, [1, 3], prices=prices, manager=manager)
    usage = runs[1].usage
    assert (usage.input_tokens, usage.output_tokens, usage.model_calls, usage.model_seconds) == (
        300,
        30,
        1,
        0.25,
    )
    assert usage.cost == pytest.approx((300 * 2 + 30 * 8) / 1e6)
    unpriced = experiment("unpriced", counting_agent, [1], prices={"other": (1, 1)}, manager=manager)
    assert unpriced[0].usage.cost is None  # m-small has no price: no cost is known
    tool = RunTool(manager, "usage-check")
    for bad in ({"input_tokens": -1}, {"output_tokens": True}, {"seconds": float("nan")}):
        with pytest.raises(ValueError, match="record_usage"):
            tool.record_usage(**bad)
    with pytest.raises(ValueError, match="prices=\\{model: "):
        experiment("bad-prices", counting_agent, [1], prices={"m": (1,)}, manager=manager)


def test_a_hanging_sync_run_times_out_and_its_thread_is_left_to_end(manager: SessionManager) -> None:
    release = threading.Event()
    after: list[BaseException] = []
    finished = threading.Event()

    def agent(config: str, tool: RunTool) -> str:
        tool.call(step(1, 2))
        if config == "hang":
            release.wait(WAIT)  # a thread cannot be killed: it goes on after the deadline
            try:
                tool.call(step(2, 2))
            except BaseException as exc:
                after.append(exc)
            finally:
                finished.set()
        return config

    runs = experiment("hang", agent, ["quick", "hang"], timeout=5.0, manager=manager)
    assert not release.is_set()  # the hanging thread is still waiting: the experiment did not wait for it
    assert [(r.status, r.message) for r in runs] == [("ok", None), ("timeout", "timed out after 5 s")]
    assert runs[1].duration is not None and runs[1].duration >= 5.0  # ended at its deadline, not before
    assert len(runs[1].session) == 1  # its thoughts are kept
    release.set()
    assert finished.wait(WAIT)
    assert len(after) == 1 and isinstance(after[0], RunEnded) and len(runs[1].session) == 1


def test_a_hanging_async_run_is_cancelled_at_its_timeout(manager: SessionManager) -> None:
    cancelled = []

    async def agent(config: int, tool: RunTool) -> int:
        await tool.acall(step(1, 2))
        try:
            await anyio.sleep(WAIT)
        except anyio.get_cancelled_exc_class():
            cancelled.append(config)
            raise
        return config

    runs = anyio.run(lambda: aexperiment("async-hang", agent, [1, 2], timeout=1.0, manager=manager))
    assert runs.statuses() == {"timeout": 2} and sorted(cancelled) == [1, 2]


class Stop(BaseException):
    """An agent's own BaseException."""


def test_every_exception_of_an_agent_is_its_runs_even_system_exit(manager: SessionManager) -> None:
    def agent(config: str, tool: RunTool) -> str:
        tool.call(step(1, 1))
        if config == "exit":
            raise SystemExit(3)
        if config == "stop":
            raise Stop("stopped")
        return config

    runs = experiment("exits", agent, ["fine", "exit", "stop"], manager=manager)
    assert [(r.status, r.message) for r in runs] == [
        ("ok", None),
        ("error", "SystemExit: 3"),
        ("error", "Stop: stopped"),
    ]


def test_a_keyboard_interrupt_from_an_agent_comes_out_as_itself(manager: SessionManager) -> None:
    def agent(config: int, tool: RunTool) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        experiment("interrupted", agent, [1, 2], manager=manager)
    assert type(caught.value) is KeyboardInterrupt  # never inside an exception group


def test_a_session_another_experiments_run_holds_is_refused(manager: SessionManager) -> None:
    first = experiment("coins", counting_agent, {"a-1": 2}, manager=manager)
    assert first[0].session_id == "coins-a-1-1"
    with pytest.raises(
        ValueError, match="session 'coins-a-1-1' is a run of experiment 'coins'; starting it anew"
    ):
        experiment("coins-a", counting_agent, {"1": 1}, manager=manager)
    assert len(manager.session("coins-a-1-1")) == 2  # untouched, not archived
    assert (
        experiment("coins", counting_agent, {"a-1": 1}, manager=manager)[0].status == "ok"
    )  # its own: replaced


def test_a_fork_starts_with_exactly_the_sources_first_thoughts(manager: SessionManager) -> None:
    seen: list[tuple[str, ...]] = []

    def agent(config: int, tool: RunTool) -> int:
        seen.append(tuple(t.thought for t in tool.prefix))
        for n in range(len(tool.prefix) + 1, config + 1):
            tool.call(step(n, config, f"{tool.session_id} step {n}"))
        return config

    runs = experiment("fork", agent, {"long": 4}, manager=manager)
    source = runs[0].session
    source.branch("aside", from_thought=2)
    source.think("a branch thought, not on the trunk")
    forked = runs.rerun("fork-long-1", 3, repeat=2)
    assert [r.session_id for r in forked] == ["fork-long-1-from3-1", "fork-long-1-from3-2"]
    assert [(r.variant, r.fork.session_id, r.fork.thought) for r in forked] == [
        ("long", "fork-long-1", 3)
    ] * 2
    trunk = [(t.thought, t.thought_number, t.total_thoughts) for t in source.trunk[:3]]
    for result in forked:
        copied = [(t.thought, t.thought_number, t.total_thoughts) for t in result.session.thoughts[:3]]
        assert copied == trunk  # exactly the source's first three trunk thoughts, then its own
        assert [t.thought for t in result.session.thoughts[3:]] == [f"{result.session_id} step 4"]
    assert seen[-2:] == [tuple(t[0] for t in trunk)] * 2
    with pytest.raises(ValueError, match="has no run in session 'nope'"):
        runs.rerun("nope", 1)
    with pytest.raises(ValueError, match="from_thought must be a whole number from 1 to 4"):
        runs.rerun("fork-long-1", 9)


RELOAD = """
import json, sys
from jupyter_think import SessionManager, load_experiment
with SessionManager(store=sys.argv[1]) as manager:
    runs = load_experiment("kept", manager)
    print(json.dumps([[r.run, r.variant, r.repeat, r.session_id, r.status, r.score, r.score_error, r.message,
                       r.value, repr(r.value), r.usage.model_dump(), [t.thought for t in r.session.thoughts]]
                      for r in runs]))
"""


def as_stored(value: Any) -> Any:
    """A value as the store keeps it: JSON when it is JSON (a tuple becomes a list), else its repr."""
    try:
        return json.loads(json.dumps(value))
    except TypeError:
        return repr(value)


def snapshot(runs: Any) -> list[list[Any]]:
    return [
        [r.run, r.variant, r.repeat, r.session_id, r.status, r.score, r.score_error, r.message,
         as_stored(r.value), repr(r.value) if isinstance(r.value, set) else repr(as_stored(r.value)),
         json.loads(r.usage.model_dump_json()), [t.thought for t in r.session.thoughts]]
        for r in runs
    ]  # fmt: skip


def test_an_experiment_reloaded_in_a_fresh_process_equals_the_original(store_location: str) -> None:
    def agent(config: str, tool: RunTool) -> Any:
        counting_agent(2, tool)
        if config == "bad":
            raise RuntimeError("broke\non two lines")
        return {"tuple": ("a", 1)} if config == "json" else {1, 2}  # JSON, and something that is not

    with SessionManager(store=store_location) as manager:
        runs = experiment("kept", agent, {"json": "json", "set": "set", "bad": "bad"}, repeat=2,
                          score=lambda r: r.repeat == 1, prices={"m-small": (1, 2)}, manager=manager)  # fmt: skip
        expected = snapshot(runs)
    done = subprocess.run(
        [sys.executable, "-c", RELOAD, store_location], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    reloaded = json.loads(done.stdout)
    assert reloaded == expected  # a set is kept as its repr, and shows as it showed
    assert reloaded[1][5] is False and reloaded[4][7] == "RuntimeError: broke\non two lines"


def test_jupyter_think_runs_lists_and_prints_experiments(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with SessionManager(tmp_path) as manager:
        experiment("listed", counting_agent, {"one": 1, "two": 2}, repeat=2, score=lambda r: r.repeat == 1,
                   manager=manager)  # fmt: skip
    assert cli(["--dir", str(tmp_path), "runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "OWNER", "RUNS", "STATUSES", "STORED"]
    assert lines[1].split()[:5] == ["listed", lines[1].split()[1], "4", "4", "ok"]
    assert cli(["--dir", str(tmp_path), "runs", "listed"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Experiment listed · 4 runs · 4 ok\n")
    assert "listed-two-2" in out and "pass@2" in out
    assert cli(["--dir", str(tmp_path), "runs", "missing"]) == 2
    assert "no experiment 'missing'" in capsys.readouterr().err
    assert cli(["--dir", str(tmp_path), "runs", "../etc"]) == 2


def test_compare_takes_an_experiment_with_its_repeat_as_k(manager: SessionManager) -> None:
    runs = experiment(
        "k", counting_agent, {"a": 1, "b": 2}, repeat=3, score=lambda r: r.repeat < 3, manager=manager
    )
    rows = compare(runs, by="variant", dataframe=False)
    assert [(r["variant"], r["pass@1"], r["pass@3"], r["pass^3"]) for r in rows] == [
        ("a", 2 / 3, 1.0, 0.0),
        ("b", 2 / 3, 1.0, 0.0),
    ]
    assert [r["thoughts"] for r in rows] == [1.0, 2.0]
