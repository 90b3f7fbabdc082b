"""What a durable ``think()`` costs against the cheapest commit its engine can make, side by side.

Run: ``python benchmarks/bench_commit.py [--thoughts 200] [--rounds 5] [--postgres URL] [--tiny]``.
``--postgres`` names a server whose role may create databases (a fresh one is made and dropped);
without it a private server is started for the run (``tests/pg_server.py``). ``--tiny``: one round of
20 thoughts, a smoke run.

For each engine it prints the median ``think()`` with ``durability="sync"`` (thoughts of about 60
characters, committed before the call returns) beside its floor measured in the same run: a one-row
``INSERT`` and ``COMMIT`` into a two-column table of the benchmark's own on the same database (SQLite:
a file in WAL mode with ``synchronous=FULL``, as the store's; PostgreSQL: one statement on an
autocommit connection of the same server; and again with ``synchronous_commit=off`` for both, the
round trips and the server's work without the disk's flush, which on a busy machine varies tenfold
from one minute to the next). Calls alternate think() and the floor, so a busy machine
weighs on both alike; each figure is the median of the rounds' medians. Targets (issue 24): PostgreSQL
<= 2x its floor, SQLite <= 1.5x.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from jupyter_think import SessionManager

TEXT = "A thought of about sixty characters, as an agent's step is."
NO_DISK = "PostgreSQL, commits not waiting for the disk"
TARGETS = {"SQLite": 1.5, "PostgreSQL": 2.0, NO_DISK: 2.0}


def interleaved(
    think: Callable[[], object], floor: Callable[[int], object], count: int
) -> tuple[float, float]:
    """(median seconds of ``think()``, of ``floor(i)``) over ``count`` calls of each, one after the other:
    a disk whose flush time drifts (a busy machine) weighs on both alike."""
    thinks, floors = [], []
    for number in range(count):
        start = time.perf_counter()
        floor(number)
        middle = time.perf_counter()
        think()
        floors.append(middle - start)
        thinks.append(time.perf_counter() - middle)
    return statistics.median(thinks), statistics.median(floors)


def sync_think(location: str, floor: Callable[[int], object], count: int) -> tuple[float, float]:
    """(median sync ``think()``, median ``floor``) in seconds, into a session that holds a thought."""
    with SessionManager(store=location, durability="sync", max_thoughts=10**7) as manager:
        session = manager.session(f"sync-{time.monotonic_ns()}")
        session.think("warm up")
        return interleaved(lambda: session.think(TEXT), floor, count)


@contextmanager
def sqlite_floor(directory: Path) -> Iterator[Callable[[int], None]]:
    """A one-row INSERT + COMMIT into a two-column table (WAL, synchronous=FULL, as the store's)."""
    conn = sqlite3.connect(directory / "floor.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS floor (n INTEGER, body TEXT)")

        def commit(number: int) -> None:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO floor VALUES (?, ?)", (number, TEXT))
            conn.execute("COMMIT")

        yield commit
    finally:
        conn.close()


@contextmanager
def postgres_floor(url: str) -> Iterator[Callable[[int], object]]:
    """A one-row INSERT committed on its own (one statement, autocommit) on the server of ``url``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS floor (n BIGINT, body TEXT)")
        yield lambda number: conn.execute("INSERT INTO floor VALUES (%s, %s)", (number, TEXT))


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """A fresh database: on the server of ``url`` (made and dropped here), else on a private server."""
    if url is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from pg_server import PostgresServer

        server = PostgresServer()
        try:
            yield server.new_database()
        finally:
            server.close()
        return
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"bench_commit_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # (a name made here: nothing to quote)
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def no_disk_wait(url: str) -> str:
    """``url`` whose sessions commit without waiting for the disk (``synchronous_commit=off``): the
    round trips and the server's work alone, for both figures, on a machine whose disk is busy."""
    from urllib.parse import quote

    return f"{url}{'&' if '?' in url else '?'}options={quote('-c synchronous_commit=off')}"


def rounds(measure: Callable[[], tuple[float, float]], count: int) -> tuple[float, float]:
    """(median think, median floor) in seconds: the medians of ``count`` rounds' medians."""
    figures = [measure() for _ in range(count)]
    return statistics.median(f[0] for f in figures), statistics.median(f[1] for f in figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thoughts", type=int, default=200, help="sync think() calls timed per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--postgres", metavar="URL", default=None, help="a server whose role may create databases"
    )
    parser.add_argument("--tiny", action="store_true", help="one round of 20 thoughts: a smoke run")
    args = parser.parse_args()
    if args.tiny:
        args.thoughts, args.rounds = 20, 1
    results = {}
    with tempfile.TemporaryDirectory() as root, sqlite_floor(Path(root)) as floor:
        counter = iter(range(10**6))
        results["SQLite"] = rounds(
            lambda: sync_think(str(Path(root) / f"store-{next(counter)}"), floor, args.thoughts), args.rounds
        )
    with postgres(args.postgres) as url:
        with postgres_floor(url) as floor:
            results["PostgreSQL"] = rounds(lambda: sync_think(url, floor, args.thoughts), args.rounds)
        unflushed = no_disk_wait(url)
        with postgres_floor(unflushed) as floor:
            results[NO_DISK] = rounds(lambda: sync_think(unflushed, floor, args.thoughts), args.rounds)
    print(f"durable sync think() of a {len(TEXT)}-character thought, median of {args.rounds} round(s)")
    print(f"{'engine':<46}{'think() (ms)':>14}{'one-row commit (ms)':>22}{'ratio':>8}{'target':>8}")
    for engine, (think, floor) in results.items():
        print(
            f"{engine:<46}{think * 1e3:>14.3f}{floor * 1e3:>22.3f}{think / floor:>7.2f}x"
            f"{'<= ' + format(TARGETS[engine], 'g') + 'x':>8}"
        )


if __name__ == "__main__":
    main()
