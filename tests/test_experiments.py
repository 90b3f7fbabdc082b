"""Experiments (issue 13): many runs of an agent in parallel, each in its own session, with results.

Agents here are scripted (no model): each run records its own numbered thoughts, waits a random
few milliseconds between them, and some raise. Nothing asserts on timing: parallelism is shown by
a barrier that only opens when eight runs are inside it at once, cancellation points are reached by
waiting for what the runs report, and every wait has a generous timeout.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from jupyter_think import (
    Experiment,
    RunEnded,
    RunResult,
    SessionManager,
    aexperiment,
    experiment,
    load_experiment,
)
from jupyter_think.experiments.run import RunTool

WAIT = 60  # seconds: a bound for waits on other threads, never reached when things work


def thought(run: int, n: int, total: int) -> dict[str, Any]:
    return {
        "thought": f"run {run} step {n}",
        "thoughtNumber": n,
        "totalThoughts": total,
        "nextThoughtNeeded": n < total,
    }


class Plan:
    """What one run does: ``steps`` thoughts, a random pause before each, maybe a failure after ``fail_after``."""

    def __init__(
        self,
        run: int,
        steps: int,
        fail_after: int | None,
        pauses: list[float],
        barrier: threading.Barrier | None,
    ) -> None:
        self.run = run
        self.steps = steps
        self.fail_after = fail_after
        self.pauses = pauses
        self.barrier = barrier

    def expected(self) -> list[str]:
        count = self.steps if self.fail_after is None else self.fail_after
        return [f"run {self.run} step {n}" for n in range(1, count + 1)]


def plans(count: int, seed: int, barrier: threading.Barrier | None = None) -> list[Plan]:
    rng = random.Random(seed)
    result = []
    for run in range(1, count + 1):
        steps = rng.randint(1, 6)
        fail_after = rng.randint(0, steps - 1) if rng.random() < 0.3 else None
        pauses = [rng.uniform(0, 0.004) for _ in range(steps)]
        result.append(Plan(run, steps, fail_after, pauses, barrier if run <= 8 else None))
    return result


class Tracker:
    """Counts runs inside an agent at once (the largest number seen is what concurrency allowed)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0
        self.sessions: set[str] = set()

    def enter(self, tool: RunTool) -> None:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
            self.sessions.add(tool.session_id or "")

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1


def sync_agent(tracker: Tracker) -> Callable[[Plan, RunTool], str]:
    def agent(plan: Plan, tool: RunTool) -> str:
        tracker.enter(tool)
        try:
            if plan.barrier is not None:
                plan.barrier.wait(timeout=WAIT)  # opens only with eight runs inside at once
            for n in range(1, plan.steps + 1):
                if plan.fail_after is not None and n > plan.fail_after:
                    raise ValueError(f"run {plan.run} failed after step {plan.fail_after}")
                time.sleep(plan.pauses[n - 1])
                result = tool.call(thought(plan.run, n, plan.steps))
                assert not result["isError"], result
            return f"run {plan.run} done"
        finally:
            tracker.leave()

    return agent


def async_agent(tracker: Tracker) -> Callable[[Plan, RunTool], Awaitable[str]]:
    async def agent(plan: Plan, tool: RunTool) -> str:
        tracker.enter(tool)
        try:
            if plan.barrier is not None:
                await anyio.to_thread.run_sync(plan.barrier.wait, WAIT)
            for n in range(1, plan.steps + 1):
                if plan.fail_after is not None and n > plan.fail_after:
                    raise ValueError(f"run {plan.run} failed after step {plan.fail_after}")
                await anyio.sleep(plan.pauses[n - 1])
                result = await tool.acall(thought(plan.run, n, plan.steps))
                assert not result["isError"], result
            return f"run {plan.run} done"
        finally:
            tracker.leave()

    return agent


@pytest.fixture
def manager() -> Iterator[SessionManager]:
    with SessionManager(persist=False) as running:
        yield running


def check_results(results: list[RunResult], runs: list[Plan], name: str, manager: SessionManager) -> None:
    assert [r.run for r in results] == [p.run for p in runs]
    for result, plan in zip(results, runs, strict=True):
        assert result.session_id == f"{name}-{plan.run}"
        assert [t.thought for t in manager.session(result.session_id).thoughts] == plan.expected()
        if plan.fail_after is None:
            assert (result.status, result.value, result.message, result.error) == (
                "ok",
                f"run {plan.run} done",
                None,
                None,
            )
        else:
            assert result.status == "error"
            assert result.message == f"ValueError: run {plan.run} failed after step {plan.fail_after}"
            assert isinstance(result.error, ValueError) and result.value is None


# --- many runs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_fifty_runs_at_concurrency_eight_each_keep_exactly_their_thoughts(kind: str, tmp_path: Path) -> None:
    runs = plans(50, seed=13 if kind == "sync" else 31, barrier=threading.Barrier(8, timeout=WAIT))
    assert any(p.fail_after is not None for p in runs) and any(p.fail_after is None for p in runs)
    tracker = Tracker()
    agent = sync_agent(tracker) if kind == "sync" else async_agent(tracker)
    with SessionManager(tmp_path / "store") as manager:
        results = experiment("fifty", agent, runs, concurrency=8, manager=manager)
        assert tracker.most == 8  # the barrier proves eight at once; the limiter allows no more
        assert results.done and len(results) == 50
        check_results(list(results), runs, "fifty", manager)
        assert tracker.sessions == {
            f"fifty-{k}" for k in range(1, 51)
        }  # each run's tool is bound to its session
    # What the runs recorded is in the store: a new manager reads the same thoughts back.
    with SessionManager(tmp_path / "store") as reopened:
        for plan in runs:
            assert [t.thought for t in reopened.session(f"fifty-{plan.run}").thoughts] == plan.expected()


def test_await_runs_on_the_callers_event_loop(manager: SessionManager) -> None:
    threads: set[int] = set()

    async def agent(config: int, tool: RunTool) -> int:
        threads.add(threading.get_ident())
        await tool.acall(thought(config, 1, 1))
        return config * 10

    async def cell() -> tuple[Experiment, int]:
        finished = await aexperiment("awaited", agent, [1, 2, 3], manager=manager)
        return finished, threading.get_ident()

    finished, loop_thread = anyio.run(cell)
    assert threads == {loop_thread}
    assert [(r.status, r.value) for r in finished] == [("ok", 10), ("ok", 20), ("ok", 30)]


def test_a_blocking_call_works_while_an_event_loop_runs_in_the_thread(manager: SessionManager) -> None:
    """A kernel cell without await, or a coroutine that calls it: a loop is running in the thread.
    ``experiment()`` always blocks (no look at the caller's frame decides it)."""

    async def agent(config: int, tool: RunTool) -> int:
        await tool.acall(thought(config, 1, 1))
        return config

    def cell_without_await() -> Experiment:
        return experiment("blocking", agent, [1, 2], manager=manager)

    async def kernel() -> Experiment:
        return cell_without_await()  # called straight from a coroutine: it still runs to the end

    runs = anyio.run(kernel)
    assert runs.done and [r.status for r in runs] == ["ok", "ok"]


def test_a_sync_agent_that_returns_a_coroutine_is_awaited(manager: SessionManager) -> None:
    async def later(config: int) -> int:
        return config + 1

    runs = experiment("lambda", lambda config, tool: later(config), [1], manager=manager)
    assert runs[0].value == 2


# --- sessions ------------------------------------------------------------------------------------------


def test_running_the_experiment_again_starts_each_session_anew(manager: SessionManager) -> None:
    def agent(config: str, tool: RunTool) -> None:
        tool.call({"thought": config, "thoughtNumber": 1, "totalThoughts": 1, "nextThoughtNeeded": False})

    experiment("again", agent, ["first"], manager=manager)
    again = experiment("again", agent, ["second"], manager=manager)
    assert [t.thought for t in again[0].session.thoughts] == ["second"]
    assert [t.thought for t in manager.archived[0].thoughts] == ["first"]  # the old content is archived


def test_a_second_chain_of_a_run_stays_in_the_runs_session(manager: SessionManager) -> None:
    """An agent that concludes and starts again at thoughtNumber 1 re-opens its run's session: no
    ``<name>-<k>-1`` session the grid and compare would not see, the same ids on every re-run."""

    def agent(config: str, tool: RunTool) -> None:
        for chain in ("first", "second"):
            for number in (1, 2):
                step = {"thought": f"{config} {chain} {number}", "thoughtNumber": number, "totalThoughts": 2}
                tool.call(step | {"nextThoughtNeeded": number == 1})

    for _ in range(2):
        runs = experiment("chains", agent, ["a"], manager=manager)
        assert runs[0].status == "ok"
        assert [t.thought for t in runs[0].session.thoughts] == [
            "a first 1",
            "a first 2",
            "a second 1",
            "a second 2",
        ]
        assert runs[0].session.status == "complete"
        assert manager.sessions() == ["chains-1"]


def test_the_persons_active_session_is_left_alone(manager: SessionManager) -> None:
    manager.activate("notes")
    manager.active.think("My own notes")

    def agent(config: int, tool: RunTool) -> None:
        for n in (1, 2):  # a second chain (thoughtNumber 1 after a completed one) stays out of "notes"
            tool.call(
                {"thought": f"chain {n}", "thoughtNumber": 1, "totalThoughts": 1, "nextThoughtNeeded": False}
            )

    experiment("polite", agent, [1], manager=manager)
    assert manager.active_id == "notes"
    assert [t.thought for t in manager.active.thoughts] == ["My own notes"]
    assert [t.thought for t in manager.session("polite-1").thoughts] == ["chain 1", "chain 2"]
    assert sorted(manager.sessions()) == ["notes", "polite-1"]


def test_one_runs_exception_never_stops_the_others(manager: SessionManager) -> None:
    def agent(config: str, tool: RunTool) -> str:
        if config == "bad":
            raise KeyError("no such coin")
        return config

    runs = experiment("mixed", agent, ["good", "bad", "fine"], concurrency=1, manager=manager)
    assert [(r.status, r.value, r.message) for r in runs] == [
        ("ok", "good", None),
        ("error", None, "KeyError: 'no such coin'"),
        ("ok", "fine", None),
    ]
    assert runs.statuses() == {"ok": 2, "error": 1}


# --- cancellation -----------------------------------------------------------------------------------------


class Gate:
    """Agents record ``before`` thoughts, report in, and wait here until released (or WAIT passes)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.arrived = threading.Semaphore(0)
        self.release = threading.Event()
        self.after: list[BaseException] = []  # what a released agent met when it tried to go on
        self.finished = threading.Semaphore(0)  # released by each slow run as its thread ends

    def wait_for_arrivals(self) -> None:
        for _ in range(self.expected):
            assert self.arrived.acquire(timeout=WAIT), "the runs did not reach the gate"

    def agent(self, config: str, tool: RunTool) -> str:
        if config == "quick":
            for n in (1, 2, 3):
                tool.call(thought(0, n, 3))
            return "quick"
        try:
            tool.call(thought(0, 1, 4))
            tool.call(thought(0, 2, 4))
            self.arrived.release()
            self.release.wait(WAIT)
            try:
                tool.call(thought(0, 3, 4))  # after the cancel: refused
            except BaseException as exc:
                self.after.append(exc)
                raise
            return "slow"
        finally:
            self.finished.release()


def check_cancelled(runs: list[RunResult], manager: SessionManager, name: str) -> None:
    statuses = [r.status for r in runs]
    assert statuses[:4] == ["ok"] * 4
    assert statuses[4:] == ["cancelled"] * 16
    for result in runs:
        session = manager.session(result.session_id)
        if result.status == "ok":
            assert len(session) == 3
        else:
            assert len(session) in (0, 2)
            assert result.value is None and result.message is None
    # The eight that were thinking kept their two thoughts; the eight never started kept none.
    assert sorted(len(manager.session(r.session_id)) for r in runs[4:]) == [0] * 8 + [2] * 8


def test_cancelling_the_await_cancels_every_run_and_keeps_what_each_recorded(manager: SessionManager) -> None:
    gate = Gate(expected=8)
    configs = ["quick"] * 4 + ["slow"] * 16

    async def cell() -> None:
        async def awaiting_cell() -> None:
            await aexperiment("cancel", gate.agent, configs, concurrency=8, manager=manager)

        async with anyio.create_task_group() as group:
            group.start_soon(awaiting_cell)
            await anyio.to_thread.run_sync(gate.wait_for_arrivals)
            group.cancel_scope.cancel()  # what interrupting an awaiting cell does

    anyio.run(cell)
    runs = load_experiment("cancel", manager)  # the experiment as it was left
    assert runs.done
    check_cancelled(list(runs), manager, "cancel")
    before = [len(s) for s in runs.sessions]
    gate.release.set()  # the abandoned worker threads go on: their tools refuse to record
    for _ in range(8):
        assert gate.finished.acquire(timeout=WAIT)
    assert [len(s) for s in runs.sessions] == before
    assert len(gate.after) == 8 and all(isinstance(exc, RunEnded) for exc in gate.after)


def test_keyboard_interrupt_during_a_blocking_call_cancels_every_run(manager: SessionManager) -> None:
    gate = Gate(expected=8)
    configs = ["quick"] * 4 + ["slow"] * 16
    main = threading.main_thread().ident
    assert main == threading.get_ident()

    def interrupt_when_all_wait() -> None:
        gate.wait_for_arrivals()
        signal.pthread_kill(main, signal.SIGINT)  # what the kernel's interrupt button sends

    helper = threading.Thread(target=interrupt_when_all_wait)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        experiment("interrupt", gate.agent, configs, concurrency=8, manager=manager)
    helper.join(WAIT)
    sessions = [manager.session(f"interrupt-{k}") for k in range(1, 21)]
    counts = [len(s) for s in sessions]
    assert counts[:4] == [3] * 4 and sorted(counts[4:]) == [0] * 8 + [2] * 8
    gate.release.set()
    for _ in range(8):
        assert gate.finished.acquire(timeout=WAIT)
    assert [len(s) for s in sessions] == counts  # nothing lands after the interrupt
    # The runs are over: the same experiment can run again at once.
    again = experiment("interrupt", lambda config, tool: config, ["x"], manager=manager)
    assert again[0].status == "ok"


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "agent", "configs", "concurrency", "error", "message"),
    [
        ("a/b", print, [1], 8, ValueError, "experiment"),
        ("", print, [1], 8, ValueError, "experiment"),
        ("x" * 128, print, [1], 8, ValueError, "experiment"),
        ("ok", "not callable", [1], 8, TypeError, "agent must be a callable"),
        ("ok", print, "abc", 8, TypeError, "configs must be a list"),
        ("ok", print, 5, 8, TypeError, "configs must be a list"),
        ("ok", print, {"a/b": 1}, 8, ValueError, "invalid variant id"),
        ("ok", print, [1], 0, ValueError, "concurrency must be a whole number from 1"),
        ("ok", print, [1], True, ValueError, "concurrency must be a whole number from 1"),
    ],
)
def test_bad_input_is_refused_before_any_session_is_touched(
    name: str,
    agent: Any,
    configs: Any,
    concurrency: Any,
    error: type[Exception],
    message: str,
    manager: SessionManager,
) -> None:
    with pytest.raises(error, match=message):
        experiment(name, agent, configs, concurrency=concurrency, manager=manager)
    assert manager.loaded() == []


def test_the_same_name_cannot_run_twice_at_once(manager: SessionManager) -> None:
    gate = threading.Event()
    inside = threading.Event()

    def agent(config: int, tool: RunTool) -> None:
        inside.set()
        gate.wait(WAIT)

    first = threading.Thread(target=experiment, args=("busy", agent, [1]), kwargs={"manager": manager})
    first.start()
    assert inside.wait(WAIT)
    try:
        with pytest.raises(RuntimeError, match="experiment 'busy' is already running"):
            experiment("busy", agent, [1], manager=manager)
    finally:
        gate.set()
        first.join(WAIT)


# --- display ---------------------------------------------------------------------------------------------------


def test_the_finished_experiment_shows_a_deterministic_table(manager: SessionManager) -> None:
    def agent(config: str, tool: RunTool) -> str:
        tool.call({"thought": "Plan <b>", "thoughtNumber": 1, "totalThoughts": 2, "nextThoughtNeeded": True})
        if config == "bad":
            raise ValueError("the scale broke")
        tool.call({"thought": "Answer", "thoughtNumber": 2, "totalThoughts": 2, "nextThoughtNeeded": False})
        return config

    runs = experiment("table", agent, ["good", "bad"], manager=manager)
    assert repr(runs) == (
        "Experiment table · 2 runs · 1 ok · 1 error\n"
        "  run  session  status  thoughts  branches  revisions  result\n"
        "    1  table-1  ok             2         0          0  'good'\n"
        "    2  table-2  error          1         0          0  ValueError: the scale broke"
    )
    assert "<td>table-2</td>" in runs._repr_html_() and "&lt;b&gt;" not in runs._repr_html_()
    again = experiment("table", agent, ["good", "bad"], manager=manager)
    assert repr(again) == repr(runs) and again._repr_html_() == runs._repr_html_()
