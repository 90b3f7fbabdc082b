"""Benchmark of the session store: durable append cost vs session size, a rewrite baseline, restore time.

Run: ``python benchmarks/bench_store.py [--dir DIR] [--chars 300]``. Prints, in one run:

- the durable cost of appending one thought (``append`` with ``durable=True``: one journal line
  and one ``fdatasync``) to a 100-thought and to a 100 000-thought session, and their ratio
  (target <= 1.5), plus the amortised share of compaction at 100 000 thoughts;
- the same for a baseline that atomically rewrites the whole session per thought, at 100 and
  at 10 000 thoughts;
- restore time per thought for a 100 000-thought session (target <= 5 us).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from jupyter_think import fsutil
from jupyter_think.journal import encode_snapshot
from jupyter_think.models import SessionRecord, Thought, ThoughtAdded
from jupyter_think.store import SessionStore


def make_record(session_id: str, count: int, chars: int) -> SessionRecord:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    body = ("lorem ipsum dolor sit amet " * (chars // 27 + 1))[:chars]
    thoughts = [
        Thought(
            thought=f"{number}: {body}",
            thought_number=number,
            total_thoughts=count,
            next_thought_needed=True,
            created_at=start + timedelta(microseconds=number),
        )
        for number in range(1, count + 1)
    ]
    return SessionRecord(
        id=session_id, created_at=start, last_activity=thoughts[-1].created_at, thoughts=thoughts
    )


def new_change(number: int, chars: int) -> ThoughtAdded:
    return ThoughtAdded(
        thought=Thought(
            thought=f"new {number} " + "y" * chars,
            thought_number=number,
            total_thoughts=number,
            next_thought_needed=True,
        )
    )


def per_append(store: SessionStore, sessions: dict[str, int], appends: int, chars: int) -> dict[str, float]:
    """Median seconds of one durable single-thought append, per session (session id -> its size).

    The sessions take turns, so that both see the same disk conditions on a shared machine.
    """
    times: dict[str, list[float]] = {session_id: [] for session_id in sessions}
    for index in range(appends):
        for session_id, size in sessions.items():
            change = new_change(size + index + 1, chars)
            started = time.perf_counter()
            store.append(session_id, [change], durable=True)
            times[session_id].append(time.perf_counter() - started)
    return {session_id: statistics.median(values) for session_id, values in times.items()}


def per_rewrite(root: Path, record: SessionRecord, rewrites: int, chars: int) -> float:
    """Median seconds of the baseline: append the thought in memory, atomically rewrite everything."""
    directory = root / f"rewrite-{len(record.thoughts)}"
    directory.mkdir(parents=True)
    dir_fd = fsutil.open_dir(directory)
    thoughts = list(record.thoughts)
    times = []
    try:
        for index in range(rewrites):
            started = time.perf_counter()
            thoughts.append(new_change(len(thoughts) + 1, chars).thought)
            current = record.model_copy(update={"thoughts": thoughts})
            fsutil.atomic_write(dir_fd, "snapshot.json", encode_snapshot(index + 1, current))
            times.append(time.perf_counter() - started)
    finally:
        os.close(dir_fd)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to write: a real disk, not tmpfs (default: the temp dir)",
    )
    parser.add_argument("--chars", type=int, default=300, help="characters per thought (default 300)")
    parser.add_argument("--big", type=int, default=100_000, help="thoughts in the big session")
    parser.add_argument("--appends", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-store-", dir=args.dir))
    try:
        store = SessionStore(work / "store")
        print(f"store in {work} ({args.chars}-character thoughts)")

        small, big = make_record("small", 100, args.chars), make_record("big", args.big, args.chars)
        store.save("small", small)
        started = time.perf_counter()
        store.save("big", big)  # one snapshot written through the compaction path
        print(
            f"wrote the {args.big}-thought snapshot in {time.perf_counter() - started:.2f} s "
            f"({(work / 'store' / 'big' / 'snapshot.json').stat().st_size / 1e6:.1f} MB)"
        )

        costs = per_append(store, {"small": 100, "big": args.big}, args.appends, args.chars)
        cost_small, cost_big = costs["small"], costs["big"]
        print(f"append (durable), 100 thoughts:      {cost_small * 1e3:8.3f} ms per thought")
        print(f"append (durable), {args.big} thoughts: {cost_big * 1e3:8.3f} ms per thought")
        print(f"  ratio big/small: {cost_big / cost_small:.2f} (target <= 1.5)")

        started = time.perf_counter()
        store.compact("big")
        compaction = time.perf_counter() - started
        print(
            f"  compaction of the big session: {compaction:.2f} s, runs once per >= {args.big} appended records: "
            f"+{compaction / args.big * 1e6:.1f} us per thought amortised"
        )

        rewrite_small = per_rewrite(work, small, 50, args.chars)
        rewrite_mid = per_rewrite(work, make_record("mid", 10_000, args.chars), 20, args.chars)
        print(f"baseline whole-snapshot rewrite, 100 thoughts:    {rewrite_small * 1e3:8.3f} ms per thought")
        print(f"baseline whole-snapshot rewrite, 10000 thoughts:  {rewrite_mid * 1e3:8.3f} ms per thought")
        print(f"  ratio 10000/100: {rewrite_mid / rewrite_small:.1f} (grows with the session)")

        loads, cpu = [], []
        for _ in range(5):
            fresh = SessionStore(work / "store")
            started, started_cpu = time.perf_counter(), time.process_time()
            loaded = fresh.load("big", max_thoughts=10**9)
            loads.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            assert loaded is not None and len(loaded.session) == args.big + args.appends
        count = len(loaded.session)
        print(
            f"restore of {count} thoughts (best of 5): {min(loads):.3f} s wall = {min(loads) / count * 1e6:.2f} us per thought "
            f"(target <= 5); CPU {min(cpu) / count * 1e6:.2f} us per thought"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
