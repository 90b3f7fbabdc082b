"""Benchmark of the session store on both engines, side by side in one run.

Run: ``python benchmarks/bench_store.py [--chars 300] [--postgres URL] [--tiny]``. ``--postgres`` names a
server (a role that may create databases): each measurement gets a fresh database on it, dropped at
the end; without it a private PostgreSQL server is started for the run (``tests/pg_server.py``,
Debian's postgresql). ``--tiny`` is a smoke run of a few seconds (a 1 000-thought big session, one
short stall round): the same figures, not to be read as measurements.
Prints, for SQLite and for PostgreSQL:

- the durable cost of appending one thought (one committed transaction) to a 100-thought and to a
  100 000-thought session, and their ratio (target <= 1.5);
- the commit cost in sync mode, as seen by the caller of ``think()``;
- restore time per thought of a 100 000-thought session (target <= 5 us for SQLite), and beside it the
  same restore with Python's garbage collector paused for the measurement (the collector's share);
- the caller-side cost of ``think()`` with the persistence loop running, against a bare pydantic
  construction of the same thought (target <= 8x);
- beside the append cost, the same append measured in the same run on a checkout of an earlier commit
  (``--baseline REV``, default :data:`BASELINE`: where this round of work started), so the cost of the
  checks and checksums is a ratio of two figures taken side by side;
- the longest ``think()`` stall while the loop commits big batches (target <= 20 ms; the median of five
  rounds, and the worst round), beside the same
  flood with no store; calls that a full garbage collection of Python's overlapped are counted apart
  (that pause is Python's, grows with the objects a process holds, and is the same without a store).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from typing_extensions import Self

from jupyter_think import SessionManager, Thought
from jupyter_think.core.models import ThoughtAdded
from jupyter_think.persistence import Persistence
from jupyter_think.store import SessionWrite, Store, open_store

BIG = 100_000
BASELINE = "63c2f1c"
"""The commit the store's hardening started from (``--baseline``): its append cost is measured beside today's."""

_BASELINE_APPEND = """
import json, statistics, sys, time
from datetime import datetime, timedelta, timezone
from jupyter_think import Thought
from jupyter_think.store import SessionWrite, open_store
try:
    from jupyter_think.core.models import ThoughtAdded
except ImportError:  # (a checkout from before the package's layout)
    from jupyter_think.models import ThoughtAdded
location, chars, appends = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
text = ("lorem ipsum dolor sit amet " * (chars // 27 + 1))[:chars]
at = datetime(2026, 1, 1, tzinfo=timezone.utc)
def change(number):
    return ThoughtAdded(thought=Thought(thought=f"{number}: {text}", thought_number=number, total_thoughts=10**6,
                                        next_thought_needed=True, created_at=at + timedelta(microseconds=number)))
store = open_store(location)
key = store.append([SessionWrite("small", [change(n) for n in range(1, 101)])])[0].key
samples = []
for number in range(101, 101 + appends):
    item = [change(number)]
    start = time.perf_counter()
    store.append([SessionWrite("small", item, expected_key=key)])
    samples.append(time.perf_counter() - start)
store.close()
print(json.dumps(statistics.median(samples)))
"""
"""Run in a checkout of the baseline: the median committed single-thought append into a 100-thought session."""
STALL_ROUNDS = 5
"""Rounds of the stall measurement: the table shows the median round's longest stall and the worst."""
STALL_SECONDS = 3.0
"""Seconds of paced think() calls in one stall round."""


def body(chars: int) -> str:
    return ("lorem ipsum dolor sit amet " * (chars // 27 + 1))[:chars]


def thoughts(count: int, chars: int, start: int = 1) -> list[ThoughtAdded]:
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    text = body(chars)
    return [
        ThoughtAdded(
            thought=Thought(
                thought=f"{number}: {text}",
                thought_number=number,
                total_thoughts=count,
                next_thought_needed=True,
                created_at=at + timedelta(microseconds=number),
            )
        )
        for number in range(start, start + count)
    ]


def fill(store: Store, session_id: str, count: int, chars: int) -> int:
    """A session of ``count`` thoughts, written in batches of 5 000; returns its row key."""
    key = None
    for start in range(1, count + 1, 5000):
        batch = thoughts(min(5000, count - start + 1), chars, start)
        key = store.append([SessionWrite(session_id, batch, expected_key=key)])[0].key
    assert key is not None
    return key


def append_cost(store: Store, sessions: dict[str, int], appends: int, chars: int) -> dict[str, float]:
    """Median seconds of one committed single-thought append, per session (alternating sessions)."""
    samples: dict[str, list[float]] = {session_id: [] for session_id in sessions}
    for number in range(appends):
        for session_id, key in sessions.items():
            change = thoughts(1, chars, start=BIG + 10 + number)
            start = time.perf_counter()
            store.append([SessionWrite(session_id, change, expected_key=key)])
            samples[session_id].append(time.perf_counter() - start)
    return {session_id: statistics.median(values) for session_id, values in samples.items()}


def restore_cost(
    location: str, session_id: str, count: int, rounds: int = 3, *, collector: bool = True
) -> float:
    """Microseconds per thought to restore a session the way a kernel does (load + rebuild).

    ``collector=False`` pauses Python's garbage collector for the measurement only (the product never
    does): the figure beside it shows how much of a restore is the collector's work over the objects
    a session holds, the same objects a session built in memory holds.
    """
    settings = SessionManager(persist=False).settings.model_copy(update={"max_thoughts": 10**7})
    figures = []
    for _ in range(rounds):
        persistence = Persistence(location, settings)
        gc.collect()
        if not collector:
            gc.disable()
        try:
            start = time.perf_counter()
            session = persistence.restore(session_id)
            figures.append((time.perf_counter() - start) / count * 1e6)
        finally:
            gc.enable()
        assert session is not None and len(session) >= count
        persistence.store.close()
        del session  # (the next round restores in a process that does not hold this one)
    return min(figures)


def bare_pydantic(chars: int, count: int) -> float:
    text = body(chars)
    start = time.perf_counter()
    for number in range(1, count + 1):
        Thought(thought=text, thought_number=number, total_thoughts=count, next_thought_needed=True)
    return (time.perf_counter() - start) / count * 1e6


def think_cost(location: str, chars: int, count: int, durability: str = "async") -> tuple[float, float]:
    """(median microseconds per think(), longest single think() in ms) with the loop running."""
    text = body(chars)
    with SessionManager(store=location, durability=durability, max_thoughts=10**7) as manager:
        session = manager.session(f"think-{durability}-{time.monotonic_ns()}")
        session.think("warm up")
        manager.flush(timeout=60)
        times = []
        for _ in range(count):
            start = time.perf_counter()
            session.think(text)
            times.append(time.perf_counter() - start)
        manager.flush(timeout=120)
    return statistics.median(times) * 1e6, max(times) * 1e3


class FullCollections:
    """The intervals of Python's full (generation 2) garbage collections while it is entered."""

    def __init__(self) -> None:
        self.passes: list[tuple[float, float]] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                self._start = time.perf_counter()
            else:
                self.passes.append((self._start, time.perf_counter()))

    def __enter__(self) -> Self:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self)

    def overlaps(self, start: float, end: float) -> bool:
        return any(a < end and b > start for a, b in self.passes)

    def longest(self) -> float:
        return max((b - a for a, b in self.passes), default=0.0)


def stall_under_load(location: str | None, chars: int) -> tuple[float, float, float]:
    """think() in a paced loop while another session floods the loop with big batches (``location``
    None: the same in memory, no store). Returns milliseconds: the longest think() that no full garbage
    collection overlapped, the longest of all, and the longest full collection (Python's own pause,
    the same without a store: it grows with the objects a kernel holds)."""
    text = body(chars)
    store = {"persist": False} if location is None else {"store": location}
    with SessionManager(max_thoughts=10**7, **store) as manager, FullCollections() as collections:
        flood, paced = (
            manager.session(f"flood-{time.monotonic_ns()}"),
            manager.session(f"paced-{time.monotonic_ns()}"),
        )
        paced.think("warm up")
        manager.flush(timeout=60)
        stop = threading.Event()

        def flooding() -> None:
            while not stop.is_set():
                for _ in range(2000):
                    flood.think(text)
                time.sleep(0.01)

        worker = threading.Thread(target=flooding, daemon=True)
        worker.start()
        calls: list[tuple[float, float]] = []
        deadline = time.monotonic() + STALL_SECONDS
        while time.monotonic() < deadline:
            start = time.perf_counter()
            paced.think(text)
            calls.append((start, time.perf_counter()))
            time.sleep(0.001)
        stop.set()
        worker.join()
        manager.flush(timeout=300)
        clean = max((b - a for a, b in calls if not collections.overlaps(a, b)), default=0.0)
        overall = max(b - a for a, b in calls)
        return clean * 1e3, overall * 1e3, collections.longest() * 1e3


@contextmanager
def postgres(url: str | None) -> Iterator[Callable[[], str]]:
    """A function giving a fresh, empty database URL per call: on the server of ``url`` (its role may
    create databases; they are dropped at the end), else on a private server started for the run."""
    if url is not None:
        yield from _databases_on(url)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pg_server import PostgresServer

    server = PostgresServer()
    try:
        yield server.new_database
    finally:
        server.close()


def run_engine(
    name: str, new_location: Callable[[], str], chars: int, appends: int, count: int
) -> dict[str, float]:
    location = new_location()
    store = open_store(location)
    fill(store, "small", 100, chars)
    fill(store, "big", BIG, chars)
    keys = {row.id: row.key for row in store.sessions()}
    costs = append_cost(store, keys, appends, chars)
    store.close()
    restore = restore_cost(location, "big", BIG)
    restore_paused = restore_cost(location, "big", BIG, collector=False)
    sync_median, _ = think_cost(new_location(), chars, max(count // 10, 100), "sync")
    async_median, _ = think_cost(new_location(), chars, count)
    rounds = [stall_under_load(new_location(), chars) for _ in range(STALL_ROUNDS)]
    in_memory = [stall_under_load(None, chars) for _ in range(STALL_ROUNDS)]
    stall = statistics.median(r[0] for r in rounds)
    stall_worst = max(r[0] for r in rounds)
    stall_all = max(r[1] for r in rounds)
    memory_stall = statistics.median(r[0] for r in in_memory)
    memory_all = max(r[1] for r in in_memory)
    return {
        "append_100": costs["small"] * 1e3,
        "append_100k": costs["big"] * 1e3,
        "ratio": costs["big"] / costs["small"],
        "sync_ms": sync_median / 1e3,
        "restore_us": restore,
        "restore_paused_us": restore_paused,
        "think_us": async_median,
        "stall_ms": stall,
        "stall_worst_ms": stall_worst,
        "stall_all_ms": stall_all,
        "collection_ms": max(r[2] for r in rounds),
        "memory_collection_ms": max(r[2] for r in in_memory),
        "memory_stall_ms": memory_stall,
        "memory_all_ms": memory_all,
    }


def _databases_on(url: str) -> Iterator[Callable[[], str]]:
    import psycopg

    parts = urlsplit(url)
    made: list[str] = []

    def new_database() -> str:
        name = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # (a name made here: nothing to quote)
        made.append(name)
        return urlunsplit(parts._replace(path=f"/{name}"))

    try:
        yield new_database
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for name in made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """The package directory of commit ``rev`` of this repository, extracted to a temporary directory."""
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as scratch:
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", rev], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
        root = Path(scratch)
        yield root / "src" if (root / "src" / "jupyter_think").is_dir() else root


def baseline_append(package_root: Path, location: str, chars: int, appends: int) -> float:
    """Seconds of one committed append on the baseline's code (a child process importing it)."""
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    done = subprocess.run(
        [sys.executable, "-c", _BASELINE_APPEND, location, str(chars), str(appends)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    global BIG, STALL_ROUNDS, STALL_SECONDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=300, help="characters per thought")
    parser.add_argument("--appends", type=int, default=200, help="single-thought appends timed per session")
    parser.add_argument(
        "--thoughts", type=int, default=5000, help="think() calls timed with the loop running"
    )
    parser.add_argument("--postgres", metavar="URL", default=None, help="an existing server's database URL")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        default=BASELINE,
        help="the commit measured beside (default: %(default)s)",
    )
    parser.add_argument(
        "--big", type=int, default=BIG, help="thoughts in the big session (default: %(default)s)"
    )
    parser.add_argument("--tiny", action="store_true", help="a smoke run of a few seconds (small sizes)")
    args = parser.parse_args()
    if args.tiny:
        args.big, args.appends, args.thoughts = 1_000, 10, 100
        STALL_ROUNDS, STALL_SECONDS = 1, 0.3
    BIG = args.big

    bare = statistics.median(bare_pydantic(args.chars, args.thoughts) for _ in range(5))
    results: dict[str, dict[str, float]] = {}
    with checkout(args.baseline) as baseline, tempfile.TemporaryDirectory() as root:
        counter = iter(range(1000))
        results["SQLite"] = run_engine(
            "SQLite",
            lambda: str(Path(root) / f"store-{next(counter)}"),
            args.chars,
            args.appends,
            args.thoughts,
        )
        results["SQLite"]["append_base"] = (
            baseline_append(baseline, str(Path(root) / "baseline"), args.chars, args.appends) * 1e3
        )
        with postgres(args.postgres) as new_database:
            results["PostgreSQL"] = run_engine(
                "PostgreSQL", new_database, args.chars, args.appends, args.thoughts
            )
            results["PostgreSQL"]["append_base"] = (
                baseline_append(baseline, new_database(), args.chars, args.appends) * 1e3
            )
    for values in results.values():
        values["append_vs_base"] = values["append_100"] / values["append_base"]

    print(f"session store, {args.chars}-character thoughts; bare pydantic Thought(...): {bare:.2f} us")
    header = f"{'':44}" + "".join(f"{name:>14}" for name in results)
    print(header)
    rows = [
        ("append 1 thought, 100-thought session (ms)", "append_100", "{:.3f}"),
        (f"  the same on {args.baseline} (ms)", "append_base", "{:.3f}"),
        ("  today / then", "append_vs_base", "{:.2f}"),
        (f"append 1 thought, {BIG:_}-thought session (ms)".replace("_", " "), "append_100k", "{:.3f}"),
        ("  ratio (target <= 1.5)", "ratio", "{:.2f}"),
        ("sync mode: think() until committed (ms)", "sync_ms", "{:.3f}"),
        (f"restore {BIG:_} thoughts (us/thought)".replace("_", " "), "restore_us", "{:.2f}"),
        ("  Python's collector paused (bench only)", "restore_paused_us", "{:.2f}"),
        ("think() with the loop running (us)", "think_us", "{:.2f}"),
        ("longest think() while the loop commits (ms)", "stall_ms", "{:.2f}"),
        ("  worst round (ms)", "stall_worst_ms", "{:.2f}"),
        ("  the same flood in memory, no store (ms)", "memory_stall_ms", "{:.2f}"),
        ("  with full garbage collections (ms)", "stall_all_ms", "{:.2f}"),
        ("  ... in memory, no store (ms)", "memory_all_ms", "{:.2f}"),
        ("  longest full garbage collection (ms)", "collection_ms", "{:.2f}"),
        ("  ... in memory, no store (ms)", "memory_collection_ms", "{:.2f}"),
    ]
    for label, key, fmt in rows:
        print(f"{label:44}" + "".join(f"{fmt.format(values[key]):>14}" for values in results.values()))
    print(
        "think() with the loop / bare pydantic (target <= 8x): "
        + ", ".join(f"{name} {values['think_us'] / bare:.1f}x" for name, values in results.items())
    )


if __name__ == "__main__":
    main()
