"""SIGKILL at random moments, on both engines: nothing acknowledged is lost, the store always reopens,
and a reset or a delete is never left half done.

Each child is forked from the test (the imports are done once) and builds its own
``SessionManager``. A writer child thinks in a loop and reports on a pipe what it may call saved:
in ``durability="sync"`` each thought once ``think()`` returned, in ``async`` the thoughts before a
``flush()`` that returned. The parent kills it after a seeded random delay (sometimes while it opens
the store or loads the session), reopens the store with a fresh connection and looks for every
reported thought. Other children start sessions anew (``new_session``: archive and a fresh row in
one transaction) or delete them, one after another, and are killed in the middle: each session is
then wholly in its old state or wholly in its new one.
"""

from __future__ import annotations

import os
import random
import select
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from jupyter_think import SessionManager
from jupyter_think.core.models import Thought, ThoughtAdded
from jupyter_think.store import SessionWrite, open_store

KILLS = 110
SESSIONS_PER_ROUND = 8
STATE_KILLS = 24  # kills in the middle of new_session, and as many in the middle of delete
TIMEOUT = 120.0  # seconds: only ever reached when something hangs
pytestmark = [pytest.mark.timeout(1800)]  # a hundred forks and kills: a loaded machine is slow, not hung


# --- children --------------------------------------------------------------------------------------


def in_child(body: Callable[[int], None]) -> tuple[int, int]:
    """Fork; run ``body(write_fd)`` in the child, which never returns. Returns (pid, read_fd)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        code = 0
        try:
            os.close(read_fd)
            body(write_fd)
        except BaseException:
            os.write(write_fd, ("error " + traceback.format_exc().replace("\n", " | ") + "\n").encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def read_until(fd: int, done: Callable[[str], bool], deadline: float) -> str:
    """Read from ``fd`` until ``done(text so far)``, end of file, or ``deadline`` (monotonic)."""
    chunks: list[bytes] = []
    while not done(b"".join(chunks).decode()):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def kill(pid: int, fd: int, already: str) -> list[str]:
    """SIGKILL ``pid``, read the rest of its pipe; return the complete lines it wrote."""
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    text = already + read_until(fd, lambda _: False, time.monotonic() + TIMEOUT)
    os.close(fd)
    lines = text.split("\n")[:-1]  # a line cut by the kill is not a report
    errors = [line for line in lines if line.startswith("error ")]
    assert not errors, errors[0].replace(" | ", "\n")
    return lines


def thinker(location: str, session_id: str, durability: str, seed: int) -> Callable[[int], None]:
    """A child that thinks forever and reports ``ack <thought id>`` for what it may call saved."""

    def body(fd: int) -> None:
        rng = random.Random(seed)
        manager = SessionManager(store=location, durability=durability)
        session = manager.session(session_id)
        os.write(fd, b"open\n")  # the parent's cue: the kills that aim at thinking wait for it
        unacked: list[str] = []
        flush_after = rng.randint(1, 20)
        number = 0
        while True:
            number += 1
            thought = session.think(f"child {seed} thought {number}")
            if durability == "sync":
                os.write(fd, f"ack {thought.id}\n".encode())
                continue
            unacked.append(thought.id)
            if len(unacked) >= flush_after:
                manager.flush(timeout=TIMEOUT)
                os.write(fd, "".join(f"ack {thought_id}\n" for thought_id in unacked).encode())
                unacked, flush_after = [], rng.randint(1, 20)

    return body


# --- the SIGKILL loop ----------------------------------------------------------------------------------


def test_every_acknowledged_thought_survives_sigkill_and_the_store_always_reopens(
    store_location: str, engine: str
) -> None:
    rng = random.Random(20240611)
    acked: dict[str, list[str]] = {}
    killed_with_acks = 0
    for kill_number in range(KILLS):
        session_id = f"crash-{kill_number // 10}"  # sessions grow by ten children each
        durability = "sync" if kill_number % 2 == 0 else "async"
        pid, fd = in_child(thinker(store_location, session_id, durability, seed=kill_number))
        # a random moment: mostly while thinking (counted from the child's "open", however slow the
        # machine), sometimes while the store opens or the session loads
        opening = kill_number % 5 == 0
        delay = rng.uniform(0.0, 0.02) if opening else rng.uniform(0.05, 0.4)
        seen = "" if opening else read_until(fd, lambda text: "open\n" in text, time.monotonic() + TIMEOUT)
        seen += read_until(fd, lambda _: False, time.monotonic() + delay)
        lines = kill(pid, fd, seen)
        reported = [line.split()[1] for line in lines if line.startswith("ack ")]
        killed_with_acks += bool(reported)
        acked.setdefault(session_id, []).extend(reported)

        reopened = open_store(store_location)  # raises if the store does not reopen
        try:
            loaded = reopened.load(session_id)
            present = (
                set()
                if loaded is None
                else {change.thought.id for change in loaded.changes if isinstance(change, ThoughtAdded)}
            )
            lost = set(acked[session_id]) - present
            assert not lost, (
                f"kill {kill_number} ({durability}, after {delay:.3f} s): {len(lost)} acknowledged thought(s) lost"
            )
            assert loaded is None or not loaded.skipped
        finally:
            reopened.close()
    assert sum(len(ids) for ids in acked.values()) > 0
    total = sum(map(len, acked.values()))
    print(f"{KILLS} kills, {killed_with_acks} after acknowledgements, {total} thoughts acknowledged")
    if engine == "sqlite":
        import sqlite3

        conn = sqlite3.connect(Path(store_location) / "sessions.db")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            conn.close()


# --- reset and delete are never half done ------------------------------------------------------------


def _prepare(location: str, session_ids: list[str], thoughts: int = 20) -> None:
    writes = []
    for session_id in session_ids:
        changes = [
            ThoughtAdded(
                thought=Thought(
                    thought=f"{session_id} {n}",
                    thought_number=n,
                    total_thoughts=thoughts,
                    next_thought_needed=True,
                )
            )
            for n in range(1, thoughts + 1)
        ]
        writes.append(SessionWrite(session_id, changes))
    store = open_store(location)
    try:
        store.append(writes)
    finally:
        store.close()


def _one_by_one(location: str, session_ids: list[str], action: str, durability: str) -> Callable[[int], None]:
    """A child that starts each session anew (or deletes it), reporting ``done <id>`` after each."""

    def body(fd: int) -> None:
        manager = SessionManager(store=location, durability=durability)
        os.write(fd, b"ready\n")
        for session_id in session_ids:
            if action == "new_session":
                manager.new_session(session_id)
                manager.flush(timeout=TIMEOUT)
            else:
                manager.session(session_id)
                manager.delete(session_id)
            os.write(fd, f"done {session_id}\n".encode())
        os.write(fd, b"finished\n")
        time.sleep(TIMEOUT)

    return body


@pytest.mark.parametrize("action", ["new_session", "delete"])
def test_a_kill_in_the_middle_of_a_reset_or_a_delete_leaves_each_session_wholly_in_one_state(
    store_location: str, action: str
) -> None:
    rng = random.Random(7 if action == "new_session" else 11)
    outcomes = {"old": 0, "new": 0}
    for kill_number in range(STATE_KILLS):
        session_ids = [f"whole-{kill_number}-{n}" for n in range(SESSIONS_PER_ROUND)]
        _prepare(store_location, session_ids)
        durability = "sync" if kill_number % 2 == 0 else "async"
        pid, fd = in_child(_one_by_one(store_location, session_ids, action, durability))
        # kill after a seeded number of sessions is done, plus a short random delay: mid-operation
        after = rng.randrange(SESSIONS_PER_ROUND)
        cue = "ready\n" if after == 0 else f"done {session_ids[after - 1]}\n"
        seen = read_until(fd, lambda text, cue=cue: cue in text, time.monotonic() + TIMEOUT)
        assert cue in seen, f"the child never reported {cue!r}: {seen!r}"
        seen += read_until(fd, lambda _: False, time.monotonic() + rng.uniform(0.0, 0.01))
        lines = kill(pid, fd, seen)
        done = {line.split()[1] for line in lines if line.startswith("done ")}

        store = open_store(store_location)
        try:
            for session_id in session_ids:
                rows = [
                    row for row in store.sessions(("live", "trashed", "archived")) if row.id == session_id
                ]
                shape = sorted((row.state, row.thoughts) for row in rows)
                old = [("live", 20)]
                new = [("archived", 20), ("live", 0)] if action == "new_session" else [("trashed", 20)]
                assert shape in (old, new), f"{session_id} is half {action}: {shape}"
                if session_id in done:
                    assert shape == new, f"{session_id} was reported done but is {shape}"
                outcomes["new" if shape == new else "old"] += 1
                for row in rows:
                    loaded = store.load(session_id, key=row.key)
                    assert loaded is not None and len(loaded.changes) == row.thoughts
        finally:
            store.close()
    print(f"{action}: {outcomes}")  # (how many sessions each kill left old and new; shown with -s)
    assert outcomes["new"], "no kill came after a reported session"
