"""What persistence costs the caller of ``Session.think()``: in memory, with the loop, in sync mode.

Run: ``python benchmarks/bench_persistence.py [--thoughts N] [--rounds N] [--tiny]`` (``--tiny``: one
round of 100 thoughts, a smoke run). Prints microseconds per thought
as seen by the caller (the median of several rounds), and how long the loop then needs to make
everything durable. "burst" thinks back to back (the loop batches); "paced" leaves 1 ms between
thoughts, so every thought wakes the loop on its own.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

from jupyter_think import SessionManager

TEXT = "A thought of about a hundred characters, typical of an agent's step-by-step reasoning. " * 2


def per_thought(manager: SessionManager, session_id: str, count: int, pause: float = 0.0) -> float:
    """Microseconds spent inside ``think()`` per thought (pauses excluded)."""
    session = manager.session(session_id)
    spent = 0.0
    for _ in range(count):
        start = time.perf_counter()
        session.think(TEXT)
        spent += time.perf_counter() - start
        if pause:
            time.sleep(pause)
    return spent / count * 1e6


def measure(
    label: str, make: Callable[[str], SessionManager], count: int, rounds: int, pause: float = 0.0
) -> float:
    figures, drains = [], []
    for round_number in range(rounds):
        with tempfile.TemporaryDirectory() as root, make(root) as manager:
            manager.session("warm").think("warm up the loop")
            manager.flush(timeout=30)
            figures.append(per_thought(manager, f"bench-{round_number}", count, pause))
            start = time.perf_counter()
            manager.flush(timeout=60)
            drains.append(time.perf_counter() - start)
    median = statistics.median(figures)
    drain = statistics.median(drains) * 1e3
    print(f"{label:<44} {median:9.1f} us/thought   (then flush: {drain:7.1f} ms)")
    return median


def subscriber_only(count: int, rounds: int) -> float:
    """The loop's cost on the caller's path alone: the loop is held off the disk while timing."""
    figures = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as root, SessionManager(root) as manager:
            manager.session("warm").think("warm up the loop")
            manager.flush(timeout=30)
            manager.session("held")  # restored before the lock is taken
            with manager._persistence._writer.io:  # the loop waits: no write competes for the GIL
                figures.append(per_thought(manager, "held", count))
            manager.flush(timeout=60)
    median = statistics.median(figures)
    print(f"{'loop (async), writes held off, ' + str(count):<44} {median:9.1f} us/thought")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thoughts", type=int, default=2000, help="thoughts per round (burst)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="one round of 100 thoughts: a smoke run")
    args = parser.parse_args()
    if args.tiny:
        args.thoughts, args.rounds = 100, 1
    count, rounds = args.thoughts, args.rounds
    paced = max(count // 10, 50)

    print(f"caller-side cost of Session.think(), {len(TEXT)}-character thoughts, median of {rounds} rounds")
    memory = measure(
        f"persist=False, burst of {count}", lambda _root: SessionManager(persist=False), count, rounds
    )
    loop = measure(f"loop (async), burst of {count}", SessionManager, count, rounds)
    held = subscriber_only(count, rounds)
    memory_paced = measure(
        f"persist=False, paced 1 ms, {paced}",
        lambda _root: SessionManager(persist=False),
        paced,
        rounds,
        0.001,
    )
    loop_paced = measure(f"loop (async), paced 1 ms, {paced}", SessionManager, paced, rounds, 0.001)
    sync = measure(
        f"durability='sync', {paced}", lambda root: SessionManager(root, durability="sync"), paced, rounds
    )
    print()
    print(
        f"loop overhead per thought: burst {loop - memory:+.1f} us (the subscriber itself {held - memory:+.1f} us, "
        f"the rest is the loop thread's serialisation competing for the GIL), paced {loop_paced - memory_paced:+.1f} us"
    )
    print(f"sync mode: {sync / 1e3:.2f} ms per durable thought ({sync / memory:.0f}x in-memory)")


if __name__ == "__main__":
    main()
