"""Per-call cost of recording a thought, side by side with a bare pydantic model construction.

Run: ``.venv/bin/python benchmarks/bench_core.py [--repeat N] [--number N] [--tiny]`` (``--tiny``: a
second's smoke run, the same figures from few calls)

Prints, from one run, the median cost per call (microseconds) of

- ``bare``: constructing a plain ``pydantic.BaseModel`` with the nine fields of a thought and no
  validators (the baseline: the least any validated thought can cost);
- ``think``: ``Session.think()`` on an in-memory session (``SessionManager(persist=False)``);
- ``call``: ``SequentialThinkingTool.call()`` with wire-name arguments, same kind of manager;
- ``think, 1 subscriber``: ``Session.think()`` while a subscriber queues every change event (what
  the persistence loop or a widget does; a session nobody listens to builds no events);

and the ratios to ``bare``. The target is think/bare <= 3.
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from jupyter_think import SequentialThinkingTool, SessionManager

TARGET_RATIO = 3.0


class BareThought(BaseModel):
    """The nine fields of a thought, no aliases, no validators, no defaults computed."""

    thought: str
    thought_number: int
    total_thoughts: int
    next_thought_needed: bool
    is_revision: bool | None = None
    revises_thought: int | None = None
    branch_from_thought: int | None = None
    branch_id: str | None = None
    needs_more_thoughts: bool | None = None


def per_call(
    cases: dict[str, tuple[Callable[[], object], Callable[[], None]]], repeat: int, number: int
) -> dict[str, float]:
    """Median seconds per call of each case over ``repeat`` rounds of ``number`` calls.

    Rounds of the cases are interleaved (bare, think, call, bare, ...), so a load change on a shared
    machine hits every case alike; each round starts with the case's ``setup()``.
    """
    rounds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (func, setup) in cases.items():
            setup()
            rounds[name].append(timeit.timeit(func, number=number) / number)
    return {name: statistics.median(times) for name, times in rounds.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds; the median is reported")
    parser.add_argument("--number", type=int, default=2000, help="calls per round")
    parser.add_argument("--tiny", action="store_true", help="2 rounds of 200 calls: a smoke run")
    options = parser.parse_args(argv)
    if options.tiny:
        options.repeat, options.number = 2, 200
    text = "Consider the smaller case first, then generalise the argument to n."
    arguments = {"thought": text, "thoughtNumber": 3, "totalThoughts": 5, "nextThoughtNeeded": True}
    state: dict[str, Any] = {}

    def fresh() -> None:
        # A new in-memory manager per round: every round starts from empty sessions, so what is
        # measured is sessions of `number` thoughts, not ever-growing ones.
        manager = SessionManager(persist=False, max_thoughts=options.number + 10)
        state["session"] = manager.session("bench")
        state["tool"] = SequentialThinkingTool(manager, session_id="tool-bench")

    def fresh_listened() -> None:
        fresh()
        received: deque[object] = deque()
        state["session"].subscribe(received.append)  # like the persistence loop: queue the event

    cases = {
        "bare": (
            lambda: BareThought(thought=text, thought_number=3, total_thoughts=5, next_thought_needed=True),
            lambda: None,
        ),
        "think": (lambda: state["session"].think(text), fresh),
        "call": (lambda: state["tool"].call(arguments), fresh),
        "listened": (lambda: state["session"].think(text), fresh_listened),
    }
    results = per_call(cases, options.repeat, options.number)
    print(f"per call, median of {options.repeat} rounds x {options.number} calls:")
    for name, label in [
        ("bare", "bare BaseModel(9 fields)"),
        ("think", "Session.think()"),
        ("call", "SequentialThinkingTool.call()"),
        ("listened", "Session.think(), 1 subscriber"),
    ]:
        print(f"  {label:<32} {results[name] * 1e6:8.2f} us")
    ratios = {f"{name}_ratio": results[name] / results["bare"] for name in ("think", "call", "listened")}
    verdict = "within" if ratios["think_ratio"] <= TARGET_RATIO else "ABOVE"
    print(f"  think/bare = {ratios['think_ratio']:.2f}x  ({verdict} the {TARGET_RATIO:g}x target)")
    print(f"  call/bare  = {ratios['call_ratio']:.2f}x")
    print(f"  think with a subscriber (event built and delivered)/bare = {ratios['listened_ratio']:.2f}x")
    return {**results, **ratios}


if __name__ == "__main__":
    main()
