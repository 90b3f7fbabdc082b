"""Races and rare moments of the persistence loop, each found by a review and fixed: a fork while a
store call waits, a loop stopped while another thread thinks, a batch whose commit answer was lost
around a reset, a store that recovers while thoughts keep coming, a session started anew elsewhere
while a thought of ours waits in the queue, another process moving the database aside."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from test_store_conformance import thought

from jupyter_think import SessionManager
from jupyter_think.store import SessionWrite, open_store
from jupyter_think.store.sqlite.store import SQLiteStore


def texts(session: Any) -> list[str]:
    return [t.thought for t in session.thoughts]


def waiting_for_the_write_lock(store: Any) -> threading.Event:
    """An event set when the store's connection begins a write transaction (``BEGIN IMMEDIATE``): the
    writer then holds the store's locks and waits for SQLite's, which the test holds."""
    began = threading.Event()
    connection = store._file._conn  # (no public hook: SQLite's trace says when a statement begins)
    assert connection is not None, "the store is not connected yet"
    connection.set_trace_callback(lambda sql: began.set() if sql == "BEGIN IMMEDIATE" else None)
    return began


def wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


@pytest.fixture
def quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_a_forked_child_can_use_the_store_while_the_parent_waits_inside_a_store_call(
    tmp_path: Path, quiet: Any
) -> None:
    with SessionManager(tmp_path) as manager:
        session = manager.session("a")
        session.think("first")
        manager.flush(timeout=30)
        other = sqlite3.connect(tmp_path / "sessions.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the loop's next commit waits for this lock, holding the store's
        inside = waiting_for_the_write_lock(manager.store)
        session.think("second")
        assert inside.wait(60), "the loop never began its commit"  # it holds the store's locks now
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: a store call must not wait for the parent's lock, held at the fork
            code = 1
            try:
                os.close(read)
                found = [row.id for row in manager.store.sessions()]  # type: ignore[union-attr]
                os.write(write, ",".join(found).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        ready, _, _ = select.select([read], [], [], 60)  # (the child answers at once, or is stuck)
        answer = os.read(read, 100) if ready else b""
        other.execute("COMMIT")
        if not answer:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert answer == b"a", "the forked child waited for a lock the parent held at the fork"
        assert os.waitstatus_to_exitcode(status) == 0
        manager.flush(timeout=30)
    assert [c.thought.thought for c in open_store(str(tmp_path)).load("a").changes] == ["first", "second"]  # type: ignore[union-attr]


def test_a_loop_stopped_while_another_thread_thinks_keeps_waking_up(tmp_path: Path, quiet: Any) -> None:
    with SessionManager(tmp_path) as manager:
        session = manager.session("a")
        session.think("first")
        manager.flush(timeout=30)
        persistence = manager._persistence
        assert persistence is not None
        other = sqlite3.connect(tmp_path / "sessions.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        inside = waiting_for_the_write_lock(manager.store)
        session.think("second")  # the loop takes it and waits for the lock
        assert inside.wait(60), "the loop never began its commit"
        loop = persistence._loop
        stopper = threading.Thread(target=persistence.before_fork)  # what os.fork() runs first
        stopper.start()
        wait_for(lambda: not loop.running)  # stopped: the stopper now waits for the stuck thread to end
        session.think("third")  # meanwhile: starts a new loop thread
        wait_for(lambda: loop.running)
        other.execute("COMMIT")
        stopper.join()
        persistence.after_fork_in_parent()
        session.think("fourth")
        manager.flush(timeout=60)
    assert len(open_store(str(tmp_path)).load("a").changes) == 4  # type: ignore[union-attr]


def test_a_lost_commit_answer_around_a_reset_stores_nothing_twice(tmp_path: Path, quiet: Any) -> None:
    with SessionManager(tmp_path, flush_interval=5) as manager:
        session = manager.session("s")
        session.think("before")
        manager.flush(timeout=30)
        store = manager.store
        assert store is not None
        real, lost = store.append, []

        def committed_but_unconfirmed(writes: Any) -> Any:
            done = real(writes)
            if not lost:
                lost.append(True)
                raise OSError(errno.ECONNRESET, "connection lost while committing")
            return done

        store.append = committed_but_unconfirmed  # type: ignore[method-assign]
        session.think("old row")
        manager.new_session("s")
        session.think("new row")
        with contextlib.suppress(OSError):  # raised when the lost answer comes after flush() began
            manager.flush(timeout=30)
        manager.flush(timeout=30)
        assert lost == [True]  # the commit's answer was lost once, whenever the loop made it
    fresh = open_store(str(tmp_path))
    assert [c.thought.thought for c in fresh.load("s").changes] == ["new row"]  # type: ignore[union-attr]
    assert fresh.load("s").row.thoughts == 1  # type: ignore[union-attr]
    assert [c.thought.thought for c in fresh.load("s", state="archived").changes] == ["before", "old row"]  # type: ignore[union-attr]


def test_a_store_that_recovers_while_thoughts_keep_coming_stops_looking_back(
    tmp_path: Path, quiet: Any
) -> None:
    """After one refused write, later batches must not re-read the session (the cost per thought stays flat)."""
    with SessionManager(tmp_path) as manager:
        session = manager.session("s")
        session.think("x")
        manager.flush(timeout=30)
        store = manager.store
        assert store is not None
        real_append, real_since, counts = store.append, store.changes_since, {"fail": 1, "read": 0}

        def append(writes: Any) -> Any:
            if counts["fail"]:
                counts["fail"] = 0
                raise OSError(errno.ENOSPC, "disk full")
            return real_append(writes)

        def since(key: int, seq: int) -> Any:
            rows = real_since(key, seq)
            counts["read"] += len(rows)
            return rows

        store.append, store.changes_since = append, since  # type: ignore[method-assign]
        for round_number in range(40):  # thoughts keep coming while the store has recovered
            for _ in range(20):
                session.think(f"thought {round_number}")
            time.sleep(0.05)
        manager.flush(timeout=60)
        assert manager.persistence_status()["last_error"] is None
    assert counts["read"] < 100, f"{counts['read']} rows re-read after the store recovered"
    assert len(open_store(str(tmp_path)).load("s").changes) == 801  # type: ignore[union-attr]


def test_a_thought_waiting_in_the_queue_survives_a_reset_made_elsewhere(tmp_path: Path, quiet: Any) -> None:
    with SessionManager(tmp_path, flush_interval=4) as here, SessionManager(tmp_path) as elsewhere:
        mine = here.session("s")
        mine.think("a1")
        here.flush(timeout=30)
        theirs = elsewhere.session("s")
        elsewhere.new_session("s")
        theirs.think("b1")
        elsewhere.flush(timeout=30)
        mine.think(
            "a2"
        )  # queued: the writer lets a burst gather for 1 s; the follower may apply the reset first
        wait_for(lambda: "b1" in texts(mine))
        here.flush(timeout=30)
        wait_for(lambda: texts(theirs) == ["b1", "a2"])
        assert texts(mine) == ["b1", "a2"]
    assert [c.thought.thought for c in open_store(str(tmp_path)).load("s").changes] == ["b1", "a2"]  # type: ignore[union-attr]


def test_a_writer_whose_database_another_process_moved_aside_writes_to_the_fresh_one(
    tmp_path: Path, quiet: Any
) -> None:
    first, second = SQLiteStore(tmp_path), SQLiteStore(tmp_path)
    second.append([SessionWrite("s", [thought("one", 1)])])
    first.sessions()  # connected too
    database = tmp_path / "sessions.db"
    with sqlite3.connect(database) as live, sqlite3.connect(tmp_path / "fresh.db") as fresh:
        live.backup(fresh)  # (moved aside by hand, or by an older jupyter-think: a fresh file in its place)
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{database}{suffix}").exists():
            os.replace(f"{database}{suffix}", tmp_path / f"aside.db{suffix}")
    os.replace(tmp_path / "fresh.db", database)
    second.append([SessionWrite("s", [thought("two", 2)])])  # acknowledged: it must be in the live file
    assert [c.thought.thought for c in SQLiteStore(tmp_path).load("s").changes] == ["one", "two"]  # type: ignore[union-attr]
