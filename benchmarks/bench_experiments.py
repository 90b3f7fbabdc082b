"""Benchmark of experiments: the live grid's cost with 50 runs, compare() over 1 000 sessions, diff().

Prints:
- grid: kernel time per thought with and without a live grid following 50 runs (thoughts recorded by
  8 threads, as at concurrency 8), the JSON bytes the grid sends per thought at 10 and at 1 000
  thoughts per run (a card holds at most ``THUMB_NODES`` nodes, so this stays flat), and the wall
  time of a whole 50-run experiment with and without the grid;
- compare(): 1 000 sessions of 100 thoughts (100 000 thoughts), as rows and as a DataFrame;
- diff(): two runs of 1 000 thoughts that share half their steps.

No thresholds: these are figures to read, each beside the same work without the part measured. Run:
``.venv/bin/python benchmarks/bench_experiments.py [--tiny]`` (``--tiny``: 5 runs and small sizes, a
smoke run of a second or two).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Any

from jupyter_think import Session, SessionManager, compare, diff, experiment
from jupyter_think.widgets.grid import THUMB_NODES, ExperimentGrid

RUNS = 50
THREADS = 8


def measure_sends(grid: ExperimentGrid) -> list[int]:
    """Serialise every message the grid sends (as the kernel would) and keep its size."""
    sizes: list[int] = []
    lock = threading.Lock()

    def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        size = len(json.dumps(data, separators=(",", ":")))
        with lock:
            sizes.append(size)

    grid.comm.send = send
    return sizes


def record(sessions: list[Session], per_run: int) -> float:
    """Record ``per_run`` thoughts in every session from THREADS threads; return the wall time."""
    chunks = [sessions[k::THREADS] for k in range(THREADS)]

    def work(mine: list[Session]) -> None:
        for n in range(1, per_run + 1):
            for session in mine:
                session.think(f"thought {n} of run {session.id}, with some words " + "x" * 40)

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def grid_cost(per_run: int = 200, run_sizes: tuple[int, ...] = (10, 1_000)) -> None:
    total = RUNS * per_run
    bare = [Session(f"bare-{k}", max_thoughts=per_run + 10) for k in range(RUNS)]
    without = record(bare, per_run)
    live = [Session(f"live-{k}", max_thoughts=per_run + 10) for k in range(RUNS)]
    grid = ExperimentGrid("bench", live)
    sizes = measure_sends(grid)
    with_grid = record(live, per_run)
    grid.close()
    print(f"grid    {RUNS} runs x {per_run} thoughts from {THREADS} threads:")
    print(f"          without a grid {without / total * 1e6:8.1f} µs per thought")
    print(
        f"          with the grid  {with_grid / total * 1e6:8.1f} µs per thought "
        f"(+{(with_grid - without) / total * 1e6:.1f} µs), {len(sizes)} messages"
    )
    for count in run_sizes:
        session = Session("size", max_thoughts=count + 10)
        grid = ExperimentGrid("size", [session])
        sizes = measure_sends(grid)
        for n in range(count):
            session.think(f"thought {n} " + "x" * 40)
        grid.close()
        print(
            f"          bytes per update at {count:>5} thoughts in the run: {sizes[-1]:6d} (cards hold {THUMB_NODES} nodes)"
        )


def experiment_wall_time(per_run: int = 40, attempts: int = 3) -> None:
    def agent(config: int, tool: Any) -> int:
        for n in range(1, per_run + 1):
            tool.call(
                {
                    "thought": f"step {n} of run {config}",
                    "thoughtNumber": n,
                    "totalThoughts": per_run,
                    "nextThoughtNeeded": n < per_run,
                }
            )
        return config

    for with_grid in (False, True):
        times = []
        for _ in range(attempts):
            with SessionManager(persist=False) as manager:
                grid = None
                if with_grid:  # a grid following the runs' sessions from the start, as when displayed
                    sessions = [manager.session(f"wall-{k}") for k in range(1, RUNS + 1)]
                    grid = ExperimentGrid("wall", sessions)
                    measure_sends(grid)
                started = time.perf_counter()
                runs = experiment(
                    "wall", agent, list(range(RUNS)), concurrency=8, manager=manager, display=False
                )
                times.append(time.perf_counter() - started)
                assert runs.statuses() == {"ok": RUNS}
                if grid is not None:
                    grid.close()
        label = "with a grid   " if with_grid else "without a grid"
        print(
            f"experiment {RUNS} runs x {per_run} thoughts, {label}: {statistics.median(times) * 1000:7.1f} ms "
            f"(median of {attempts})"
        )


def compare_cost(sessions: int = 1_000, per_session: int = 100) -> None:
    built = []
    for k in range(sessions):
        session = Session(f"run-{k}", max_thoughts=per_session + 10)
        session.think("Restate the problem", total=per_session)
        for n in range(2, per_session + 1):
            if n == 40 and k % 3 == 0:
                session.branch("alt", from_thought=10)
            if n == 50 and k % 3 == 0:
                session.switch_branch("main")
            if n % 17 == 0:
                session.revise(1, f"Revision at {n}")
            else:
                session.think(f"Thought {n} of run {k}", done=n == per_session)
        built.append(session)
    for label, kwargs in (("rows     ", {"dataframe": False}), ("DataFrame", {})):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            table = compare(built, **kwargs)
            times.append(time.perf_counter() - started)
        assert len(table) == sessions
        print(
            f"compare {sessions} sessions x {per_session} thoughts, {label}: {min(times) * 1000:7.1f} ms "
            f"({min(times) / sessions * 1e6:.0f} µs per session)"
        )


def diff_cost(count: int = 1_000) -> None:
    a, b = Session("a", max_thoughts=count + 10), Session("b", max_thoughts=count + 10)
    for n in range(count):
        a.think(
            f"step {n} of the shared plan" if n % 2 == 0 else f"a goes its own way at {n}, with more words"
        )
        b.think(f"step {n} of the shared plan" if n % 2 == 0 else f"b takes another road at {n} and rests")
    times = []
    for _ in range(3):
        started = time.perf_counter()
        result = diff(a, b)
        times.append(time.perf_counter() - started)
    print(
        f"diff    two runs of {count} thoughts, half shared: {min(times) * 1000:7.1f} ms ({result.agreed} steps agree)"
    )


def main() -> None:
    global RUNS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="5 runs and small sizes: a smoke run")
    if parser.parse_args().tiny:
        RUNS = 5
        grid_cost(per_run=20, run_sizes=(10, 100))
        experiment_wall_time(per_run=10, attempts=1)
        compare_cost(sessions=20, per_session=60)
        diff_cost(count=100)
        return
    grid_cost()
    experiment_wall_time()
    compare_cost()
    diff_cost()


if __name__ == "__main__":
    main()
