"""Benchmark: how long a class's graph takes to follow the presenter's step, on both engines.

Run: ``python benchmarks/bench_presenter.py [--moves 30] [--postgres URL] [--tiny]``. Without
``--postgres`` a private PostgreSQL server is started for the run (``tests/pg_server.py``, Debian's
postgresql); ``--tiny`` makes 3 moves (tests/test_benchmarks.py runs it so).

A presenter board moves the step of a stored session; a second board of its own (its own connections
and watcher thread, as another kernel has) follows it. Prints, per engine, the delay from calling
``present()`` (its write included) to the follower's callback (median and worst of ``--moves`` moves; the aim is under 1 s),
beside its floor measured in the same run: SQLite, a bare read of the position (the follower's poll
interval, 50 ms, is the rest); PostgreSQL, a bare ``NOTIFY`` heard by a listening connection.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from jupyter_think import SessionManager
from jupyter_think.persistence.presenter import PresenterBoard
from jupyter_think.store.presenter import open_presenter


def follow_delays(location: str, moves: int) -> list[float]:
    with SessionManager(store=location, durability="sync") as manager:
        session = manager.session("lesson")
        for n in range(1, moves + 2):
            session.think(f"Step {n}")
    presenter, follower = PresenterBoard(location), PresenterBoard(location)
    heard = threading.Event()
    seen: list[int] = []

    def moved(position: object) -> None:
        seen.append(position.step)  # type: ignore[attr-defined]
        heard.set()

    stop = follower.follow("lesson", moved)
    delays = []
    try:
        for step in range(1, moves + 1):
            heard.clear()
            start = time.perf_counter()  # (the follower may hear before present() returns: time it all)
            assert presenter.present("lesson", step, moves + 1)
            if not heard.wait(30):
                raise SystemExit(f"the follower never reached step {step} on {location}")
            delays.append(time.perf_counter() - start)
            time.sleep(0.02)  # (a teacher presses a key; the follower is waiting again by then)
    finally:
        stop()
    return delays


def sqlite_floor(location: str, reads: int = 200) -> float:
    table = open_presenter(location)
    start = time.perf_counter()
    for _ in range(reads):
        table.positions(["lesson"])
    table.close()
    return (time.perf_counter() - start) / reads


def postgres_floor(url: str, rounds: int = 30) -> float:
    import psycopg

    with psycopg.connect(url, autocommit=True) as listener, psycopg.connect(url, autocommit=True) as sender:
        listener.execute("LISTEN bench_floor")
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            sender.execute("NOTIFY bench_floor")
            for _ in listener.notifies(timeout=10, stop_after=1):
                pass
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(engine: str, delays: list[float], floor: float, floor_name: str) -> None:
    print(
        f"{engine:10} follower reaches the presenter's step: median {statistics.median(delays) * 1000:7.1f} ms, "
        f"worst {max(delays) * 1000:7.1f} ms over {len(delays)} moves (aim < 1000 ms); "
        f"floor ({floor_name}) {floor * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=30)
    parser.add_argument("--postgres", default=None, help="a postgresql:// URL (default: a private server)")
    parser.add_argument("--tiny", action="store_true", help="3 moves: that it runs, not what it measures")
    args = parser.parse_args()
    if args.tiny:
        args.moves = 3
    folder = tempfile.mkdtemp(prefix="jt-bench-presenter-")
    report("SQLite", follow_delays(folder, args.moves), sqlite_floor(folder), "one read of the position")
    server = None
    url = args.postgres
    if url is None:
        from pg_server import PostgresServer

        server = PostgresServer()
        url = server.new_database()
    try:
        report("PostgreSQL", follow_delays(url, args.moves), postgres_floor(url), "a bare NOTIFY heard")
    finally:
        if server is not None:
            server.close()


if __name__ == "__main__":
    main()
