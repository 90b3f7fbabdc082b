"""The compact core (issue 24): think() with the loop, its longest pause, memory per thought, restore.

Run: ``.venv/bin/python benchmarks/bench_compact.py [--loaded N] [--calls N] [--rounds N] [--tiny]``
(``--tiny``: a few seconds' smoke run on small sessions; its figures are not the acceptance ones).
Thoughts are about 60 characters. Each figure is printed beside its floor, measured in the same run
(the median of ``--rounds`` rounds; the machine is shared, so read the ratios):

- ``think() mean``: the mean of ``--calls`` calls with the persistence loop (SQLite), against the same
  calls in memory (target: at most 1.5x);
- ``think() longest``: the longest of ``--calls`` calls, with a ``--loaded``-thought session loaded and
  the loop writing, against the same in memory (target: at most 20 ms: no full collection over the
  thoughts), and what one full collection costs with the session loaded and before it was, with the
  number of objects the collector tracks then (what the thoughts add to every full collection);
- ``memory``: bytes per thought of a restored ``--loaded``-thought session (tracemalloc, less the figure
  after restoring a one-thought session in the same process; target: at most 400 B), beside the text
  itself;
- ``restore``: restoring that session from SQLite, against a plain ``SELECT`` + ``json.loads`` of rows
  holding only each thought's four fields (text, number, total, next) in a table of this benchmark's
  own (target: at most 2x).
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from jupyter_think import SessionManager

TEXT = "Consider the smaller case first, then generalise to any n."  # 60 characters with the number


def text(number: int) -> str:
    return f"{TEXT[:54]} #{number:05d}"[:60]


def timed_calls(think: Callable[[str], object], count: int) -> tuple[float, float]:
    """(mean, longest) seconds of ``count`` calls of ``think``."""
    longest = 0.0
    start_all = time.perf_counter()
    for number in range(count):
        start = time.perf_counter()
        think(text(number))
        spent = time.perf_counter() - start
        if spent > longest:
            longest = spent
    return (time.perf_counter() - start_all) / count, longest


def full_collection() -> float:
    """Seconds of one full collection: the median of five in a row (the first also frees what was garbage)."""
    spent = []
    for _ in range(5):
        start = time.perf_counter()
        gc.collect()
        spent.append(time.perf_counter() - start)
    return statistics.median(spent)


def fill(root: str, session_id: str, count: int) -> None:
    """A stored session of ``count`` thoughts (written through the loop)."""
    with SessionManager(root, max_thoughts=10**7) as manager:
        session = manager.session(session_id)
        for number in range(count):
            session.think(text(number))
        manager.flush(timeout=600)


def think_figures(root: str, loaded: int, calls: int, work: str) -> dict[str, float]:
    """Mean and longest think() into session ``work`` with the loop and in memory, while a
    ``loaded``-thought session is loaded in the same manager."""
    figures: dict[str, float] = {}
    with SessionManager(root, max_thoughts=10**7) as manager:
        manager.session(work).think("warm up the loop")
        manager.flush(timeout=60)
        figures["empty_collection"] = full_collection()
        figures["tracked_before"] = len(gc.get_objects())
        big = manager.session("big")  # restored: loaded in this process, followed by the loop
        assert len(big) == loaded
        gc.collect()
        figures["tracked_loaded"] = len(gc.get_objects())
        figures["loop_mean"], figures["loop_longest"] = timed_calls(manager.session(work).think, calls)
        manager.flush(timeout=600)
        figures["full_collection"] = full_collection()
    with SessionManager(persist=False, max_thoughts=10**7) as memory:
        copy = memory.session("big")
        for number in range(loaded):  # (an in-memory session as large, thought by thought)
            copy.think(text(number))
        figures["memory_mean"], figures["memory_longest"] = timed_calls(memory.session(work).think, calls)
    return figures


def memory_per_thought(root: str, loaded: int) -> float:
    """Bytes per thought of the restored ``big`` session, less those of the restored one-thought ``one``."""
    with SessionManager(root, max_thoughts=10**7) as manager:
        manager.session("warm")  # (the store opened, its caches warm)
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            one = manager.session("one")
            gc.collect()
            after_one = tracemalloc.get_traced_memory()[0]
            big = manager.session("big")
            gc.collect()
            after_big = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert len(one) == 1 and len(big) >= loaded
        return ((after_big - after_one) - (after_one - base)) / len(big)


def restore_time(root: str) -> float:
    with SessionManager(root, max_thoughts=10**7) as manager:
        manager.session("warm")
        start = time.perf_counter()
        manager.session("big")
        return time.perf_counter() - start


def plain_rows(path: Path, count: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE thoughts (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        conn.executemany(
            "INSERT INTO thoughts (payload) VALUES (?)",
            (
                (
                    json.dumps(
                        {
                            "thought": text(n),
                            "thoughtNumber": n + 1,
                            "totalThoughts": n + 1,
                            "nextThoughtNeeded": True,
                        }
                    ),
                )
                for n in range(count)
            ),
        )


def plain_select(path: Path) -> float:
    start = time.perf_counter()
    with sqlite3.connect(path) as conn:
        rows = [
            json.loads(payload) for (payload,) in conn.execute("SELECT payload FROM thoughts ORDER BY seq")
        ]
    spent = time.perf_counter() - start
    assert rows
    return spent


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loaded", type=int, default=100_000, help="thoughts of the loaded session")
    parser.add_argument("--calls", type=int, default=50_000, help="think() calls timed")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--tiny", action="store_true", help="1 000 loaded, 500 calls, 1 round: a smoke run")
    options = parser.parse_args(argv)
    if options.tiny:
        options.loaded, options.calls, options.rounds = 1_000, 500, 1
    loaded, calls, rounds = options.loaded, options.calls, options.rounds
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as root:
        fill(root, "big", loaded)
        fill(root, "one", 1)
        fill(root, "warm", 1)
        plain = Path(root) / "plain.sqlite"
        plain_rows(plain, loaded)
        for round_number in range(rounds):
            measured = {
                "restore": restore_time(root),
                "plain_select": plain_select(plain),
                "bytes_per_thought": memory_per_thought(root, loaded),
            }
            measured.update(think_figures(root, loaded, calls, f"work-{round_number}"))
            for name, value in measured.items():
                results.setdefault(name, []).append(value)
    figures = {name: statistics.median(values) for name, values in results.items()}
    report(figures, loaded, calls, rounds)
    return figures


def report(figures: dict[str, float], loaded: int, calls: int, rounds: int) -> None:
    us, ms = 1e6, 1e3
    print(f"compact core, {len(text(0))}-character thoughts, median of {rounds} round(s)")
    mean_ratio = figures["loop_mean"] / figures["memory_mean"]
    print(
        f"think() mean of {calls}, {loaded} loaded:   loop {figures['loop_mean'] * us:7.2f} us   "
        f"in memory {figures['memory_mean'] * us:7.2f} us   x{mean_ratio:.2f} (target <= 1.5x)"
    )
    print(
        f"think() longest of {calls}:             loop {figures['loop_longest'] * ms:7.2f} ms   "
        f"in memory {figures['memory_longest'] * ms:7.2f} ms   (target <= 20 ms)"
    )
    print(
        f"one full collection:                  {figures['full_collection'] * ms:7.2f} ms with the session loaded, "
        f"{figures['empty_collection'] * ms:.2f} ms before it was; objects it walks: "
        f"{figures['tracked_loaded']:.0f} with the session loaded, {figures['tracked_before']:.0f} before"
    )
    print(
        f"memory per restored thought ({loaded}): {figures['bytes_per_thought']:7.0f} B   "
        f"the text itself {len(text(0)) + 49} B   (target <= 400 B)"
    )
    restore_ratio = figures["restore"] / figures["plain_select"]
    print(
        f"restore of {loaded} thoughts:           {figures['restore'] * ms:7.1f} ms   "
        f"plain SELECT + json.loads of four fields {figures['plain_select'] * ms:7.1f} ms   "
        f"x{restore_ratio:.2f} (target <= 2x)"
    )


if __name__ == "__main__":
    main()
