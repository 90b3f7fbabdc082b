"""Benchmark of experiments: 1 000 scored runs stored, compared and loaded; the live grid's cost per thought.

Prints, each figure beside its floor or its baseline measured in the same run:

- an experiment of 1 000 runs x 20 thoughts (4 variants x 250 repeats, each run scored), stored in a
  SQLite store: the wall time of the experiment, then ``compare(runs, by="variant")`` (with and
  without a baseline) and ``load_experiment`` in a new process, each beside its floor of 1 s;
- the grid: kernel time per thought with and without a live grid following 50 runs (thoughts
  recorded by 8 threads, as at concurrency 8), for this code and for the code at commit
  ``63c2f1c`` (the turn's starting point), each measured in a child process in the same run (the old
  code is extracted with ``git archive`` into a temporary directory);
- how long after its 1 s timeout an experiment whose sync run hangs returns (target: within the
  timeout + 1 s; the hanging thread is released afterwards);
- ``diff()`` of two runs of 1 000 thoughts that share half their steps.

Speed targets are figures to read here, never assertions in the test suite.
Run: ``.venv/bin/python benchmarks/bench_experiments.py [--tiny]`` (``--tiny``: 40 runs, small sizes and
one try each, a smoke run of a few seconds; its figures are not the ones to read).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_store import checkout

from jupyter_think import Session, SessionManager, compare, diff, experiment

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "63c2f1c"
FLOOR = 1.0
"""Seconds: what compare() and load_experiment() of 1 000 runs x 20 thoughts should stay under."""

GRID_COST = """
import json, sys, threading, time
from jupyter_think import Session
try:
    from jupyter_think.widgets.grid import ExperimentGrid
except ImportError:  # the code before the package moved to its layout
    from jupyter_think.grid import ExperimentGrid

RUNS, THREADS, PER_RUN = 50, 8, int(sys.argv[1])

def record(sessions):
    chunks = [sessions[k::THREADS] for k in range(THREADS)]
    def work(mine):
        for n in range(1, PER_RUN + 1):
            for session in mine:
                session.think(f"thought {n} of run {session.id}, with some words " + "x" * 40)
    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started

def sessions(prefix):
    return [Session(f"{prefix}-{k}", max_thoughts=PER_RUN + 10) for k in range(RUNS)]

without = record(sessions("bare"))
live = sessions("live")
grid = ExperimentGrid("bench", live)
grid.comm.send = lambda data=None, metadata=None, buffers=None: json.dumps(data, separators=(",", ":"))
with_grid = record(live)
grid.close()
total = RUNS * PER_RUN
print(json.dumps({"without": without / total * 1e6, "with": with_grid / total * 1e6}))
"""

LOAD = """
import sys, time
from jupyter_think import SessionManager, load_experiment
with SessionManager(sys.argv[1]) as manager:
    started = time.perf_counter()
    runs = load_experiment("bench", manager)
    elapsed = time.perf_counter() - started
    assert len(runs) == int(sys.argv[2]) and sum(len(r.session) for r in runs) == 20 * int(sys.argv[2])
print(elapsed)
"""


def grid_cost(package_root: Path, per_run: int = 200, tries: int = 3) -> tuple[float, float]:
    """(µs per thought without a grid, with a grid following 50 runs): medians of ``tries`` child processes."""
    figures = []
    for _ in range(tries):
        done = subprocess.run(
            [sys.executable, "-c", GRID_COST, str(per_run)],
            env={**os.environ, "PYTHONPATH": str(package_root)},
            check=True,
            capture_output=True,
            text=True,
        )
        figures.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return statistics.median(f["without"] for f in figures), statistics.median(f["with"] for f in figures)


def grid_versus_baseline(per_run: int = 200, tries: int = 3) -> None:
    now = grid_cost(ROOT, per_run, tries)
    with checkout(BASELINE) as old_root:
        before = grid_cost(old_root, per_run, tries)
    print(
        f"grid    50 live runs x {per_run} thoughts from 8 threads (µs per thought, median of {tries} processes):"
    )
    print(
        f"          this code:       {now[0]:6.1f} without a grid, {now[1]:6.1f} with it (+{now[1] - now[0]:.1f})"
    )
    print(
        f"          commit {BASELINE}:  {before[0]:6.1f} without a grid, {before[1]:6.1f} with it "
        f"(+{before[1] - before[0]:.1f})"
    )


def scored_agent(config: int, tool: Any) -> str:
    for n in range(1, 21):
        tool.call(
            {"thought": f"variant {config} step {n} of the plan", "thoughtNumber": n, "totalThoughts": 20,
             "nextThoughtNeeded": n < 20}
        )  # fmt: skip
    tool.record_usage(input_tokens=900, output_tokens=120, model="bench")
    return f"answer of variant {config}"


def thousand_runs(repeat: int = 250, tries: int = 3) -> None:
    """4 variants x ``repeat`` runs of 20 thoughts, scored and stored; compare and load them."""
    total = 4 * repeat
    rng = random.Random(22)
    with tempfile.TemporaryDirectory(prefix="bench-experiments-") as store:
        with SessionManager(store) as manager:
            started = time.perf_counter()
            runs = experiment(
                "bench", scored_agent, {f"v{k}": k for k in range(4)}, repeat=repeat, concurrency=8,
                score=lambda result: rng.random() < 0.3 + 0.1 * result.config, prices={"bench": (1.0, 4.0)},
                manager=manager, display=False,
            )  # fmt: skip
            ran = time.perf_counter() - started
            manager.flush()
            assert runs.statuses() == {"ok": total}
            print(f"experiment {total:,} runs x 20 thoughts, scored, stored: {ran:6.2f} s")
            for label, options in (
                ("by variant          ", {}),
                ("by variant, baseline", {"baseline": "v0"}),
            ):
                times = []
                for _ in range(tries):
                    began = time.perf_counter()
                    table = compare(runs, by="variant", dataframe=False, **options)
                    times.append(time.perf_counter() - began)
                assert len(table) == 4
                print(f"compare {label}: {min(times) * 1000:7.1f} ms (floor {FLOOR * 1000:.0f} ms)")
        loads = []
        for _ in range(tries):
            done = subprocess.run(
                [sys.executable, "-c", LOAD, store, str(total)], check=True, capture_output=True, text=True
            )
            loads.append(float(done.stdout.strip().splitlines()[-1]))
        print(
            f"load_experiment in a new process ({total:,} runs, {total * 20:,} thoughts): {min(loads) * 1000:7.1f} ms "
            f"(floor {FLOOR * 1000:.0f} ms)"
        )


def timeout_return(tries: int = 3, timeout: float = 1.0) -> None:
    """Seconds an experiment takes to return when one of its sync runs hangs past ``timeout``."""
    times = []
    for _ in range(tries):
        release = threading.Event()

        def agent(config: str, tool: Any, release: threading.Event = release) -> str:
            tool.call({"thought": "start", "thoughtNumber": 1, "totalThoughts": 2, "nextThoughtNeeded": True})
            if config == "hang":
                release.wait(60)
            return config

        with SessionManager(persist=False) as manager:
            started = time.perf_counter()
            runs = experiment(
                "hang", agent, ["quick", "hang"], timeout=timeout, manager=manager, display=False
            )
            times.append(time.perf_counter() - started)
            release.set()
        assert [r.status for r in runs] == ["ok", "timeout"]
    print(
        f"timeout a sync run hanging past its {timeout:.0f} s timeout: the experiment returned after "
        f"{max(times):.2f} s (worst of {tries}; target: under {timeout + 1:.0f} s)"
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="40 runs and small sizes: a smoke run")
    if parser.parse_args().tiny:
        thousand_runs(repeat=10, tries=1)
        grid_versus_baseline(per_run=10, tries=1)
        timeout_return(tries=1)
        diff_cost(count=100)
        return
    thousand_runs()
    grid_versus_baseline()
    timeout_return()
    diff_cost()


if __name__ == "__main__":
    main()
