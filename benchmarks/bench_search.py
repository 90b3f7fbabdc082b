"""Benchmark of search: 100 000 thoughts in 1 000 sessions, on both engines side by side.

Run: ``python benchmarks/bench_search.py [--sessions 1000] [--per-session 100] [--postgres URL] [--tiny]``
(``--tiny``: 2 000 thoughts, a smoke run).
Without ``--postgres`` a private PostgreSQL server is started for the run (``tests/pg_server.py``).
Prints, for SQLite and PostgreSQL, the median milliseconds of one ``store.search`` (first 50 hits) for
a rare word, a word in every tenth thought, a word in every thought, and two words together, and the
cost per thought of storing them, index included. On PostgreSQL the tables are analysed after the
fill first (``ANALYZE``, which autovacuum does within a minute of such a change). Target: under 50 ms
per query.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from jupyter_think import Thought
from jupyter_think.core.models import ThoughtAdded
from jupyter_think.store import SessionWrite, Store, open_store

WORDS = [
    "cache",
    "serializer",
    "latency",
    "budget",
    "query",
    "index",
    "page",
    "render",
    "network",
    "thread",
    "lock",
    "queue",
    "retry",
    "batch",
    "schema",
    "migration",
    "token",
    "parser",
    "buffer",
    "socket",
    "cluster",
    "replica",
    "shard",
    "vector",
    "model",
    "prompt",
]
QUERIES = {
    "rare word (1 thought)": "xylophone",
    "word in 1 of 10 thoughts": "serializer",
    "word in every thought": "step",
    "two words together": "serializer latency",
}


def thought_text(rng: random.Random, session: int, number: int, sessions: int) -> str:
    words = rng.sample(WORDS, 8)
    if number % 10 == 0:
        words.append("serializer latency")
    if session == sessions // 2 and number == 50:
        words.append("xylophone")
    return f"step {number}: " + " ".join(words)


def fill(store: Store, sessions: int, per_session: int) -> float:
    """Store the thoughts (100 sessions per transaction); return seconds spent."""
    rng = random.Random(7)
    start = time.perf_counter()
    for first in range(0, sessions, 100):
        writes = []
        for session in range(first, min(first + 100, sessions)):
            changes = [
                ThoughtAdded(
                    thought=Thought(
                        thought=thought_text(rng, session, number, sessions),
                        thought_number=number,
                        total_thoughts=per_session,
                        next_thought_needed=number < per_session,
                    )
                )
                for number in range(1, per_session + 1)
            ]
            writes.append(SessionWrite(f"run-{session:04d}", changes))
        store.append(writes)
    return time.perf_counter() - start


def query_ms(store: Store, words: str, rounds: int) -> tuple[float, int]:
    times, hits = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        hits = len(store.search(words))
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), hits


def run_engine(location: str, sessions: int, per_session: int, rounds: int) -> dict[str, float]:
    store = open_store(location)
    seconds = fill(store, sessions, per_session)
    if "://" in location:  # what PostgreSQL's autovacuum does within a minute of such a fill
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute("ANALYZE")
    figures = {"store_us": seconds / (sessions * per_session) * 1e6}
    for label, words in QUERIES.items():
        figures[label], figures[label + " hits"] = query_ms(store, words, rounds)
    store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--per-session", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres", metavar="URL", default=None, help="an empty database to fill")
    parser.add_argument("--tiny", action="store_true", help="20 sessions of 100 thoughts: a smoke run")
    args = parser.parse_args()
    if args.tiny:
        args.sessions, args.rounds = 20, 3
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as root:
        results["SQLite"] = run_engine(
            str(Path(root) / "store"), args.sessions, args.per_session, args.rounds
        )
    if args.postgres:
        results["PostgreSQL"] = run_engine(args.postgres, args.sessions, args.per_session, args.rounds)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from pg_server import PostgresServer

        server = PostgresServer()
        try:
            results["PostgreSQL"] = run_engine(
                server.new_database(), args.sessions, args.per_session, args.rounds
            )
        finally:
            server.close()
    total = args.sessions * args.per_session
    print(
        f"search over {total:,} thoughts in {args.sessions:,} sessions; median of {args.rounds} queries (first 50 hits)"
    )
    print(f"{'':34}" + "".join(f"{name:>14}" for name in results))
    for label in QUERIES:
        print(f"{label + ' (ms)':34}" + "".join(f"{values[label]:>14.2f}" for values in results.values()))
    print(
        f"{'storing, indexed (us/thought)':34}"
        + "".join(f"{values['store_us']:>14.1f}" for values in results.values())
    )
    print("target: under 50 ms per query")


if __name__ == "__main__":
    main()
