"""The persistence loop with real files: timing, sync mode, refusing and full disks, two writers,
archive on reset, retention, fork and interpreter exit."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from disk_faults import fill, tmpfs

from jupyter_think import Session, SessionManager, Thought, persistence
from jupyter_think.models import ThoughtAdded
from jupyter_think.persistence import PersistenceWarning
from jupyter_think.store import SessionStore


def on_disk(root: Path, session_id: str) -> Session | None:
    """What a fresh reader finds on disk for ``session_id``."""
    loaded = SessionStore(root).load(session_id)
    return None if loaded is None else loaded.session


def texts(session: Session | None) -> list[str]:
    return [] if session is None else [thought.thought for thought in session.thoughts]


def wait_for(condition, timeout: float = 10.0, step: float = 0.01) -> float:
    """Poll ``condition()`` until true; return the seconds it took (fail after ``timeout``)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition still false after {timeout} s")
        time.sleep(step)
    return time.monotonic() - start


def persistence_warnings(caught: list[warnings.WarningMessage], text: str) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, PersistenceWarning) and text in str(w.message)
    ]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KiB tmpfs (root only), unmounted afterwards."""
    with tmpfs(tmp_path / "disk", "512k") as mount_point:
        yield mount_point


# --- timing and durability modes ------------------------------------------------------------------


def test_a_thought_reaches_the_disk_within_the_flush_interval(tmp_path: Path) -> None:
    with SessionManager(tmp_path, flush_interval=0.2) as manager:
        session = manager.session("timely")
        session.think("Warm up the loop")
        manager.flush(timeout=10)
        session.think("Written without asking")
        took = wait_for(lambda: "Written without asking" in texts(on_disk(tmp_path, "timely")), timeout=5)
        assert took < 0.2
        assert manager.persistence_status()["pending"] == 0


def test_sync_durability_writes_each_thought_before_think_returns(tmp_path: Path) -> None:
    with SessionManager(tmp_path, durability="sync") as manager:
        session = manager.session("careful")
        for number in range(1, 4):
            session.think(f"Step {number}")
            assert texts(on_disk(tmp_path, "careful")) == [f"Step {n}" for n in range(1, number + 1)]
        assert manager.persistence_status()["pending"] == 0


def test_a_second_manager_restores_branches_revisions_and_the_active_branch(tmp_path: Path) -> None:
    with SessionManager(tmp_path) as manager:
        session = manager.session("plan")
        session.think("Restate the problem", total=3)
        session.think("Try the obvious approach")
        session.revise(2, "The obvious approach fails for n = 0")
        session.branch("alt", from_thought=1)
        session.think("Work backwards instead")
        expected = session.to_json()
    with SessionManager(tmp_path) as reopened:
        restored = reopened.session("plan")
        assert restored.to_json() == expected
        assert restored.active_branch == "alt"
        assert restored.think("Continue the branch").branch_id == "alt"


# --- disks that refuse -------------------------------------------------------------------------------


def test_flush_raises_oserror_naming_the_cause_when_the_directory_refuses_writes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with warnings.catch_warnings(record=True) as caught, SessionManager(store) as manager:
        warnings.simplefilter("always")
        manager.session("first").think("Saved while the disk is fine")
        manager.flush(timeout=10)
        subprocess.run(["chattr", "+i", str(store)], check=True)
        try:
            manager.session("second").think("Refused: no new directory allowed")
            start = time.monotonic()
            with pytest.raises(OSError) as raised:
                manager.flush(timeout=5)
            assert time.monotonic() - start < 5
            assert "Operation not permitted" in str(raised.value)
            assert "second" in str(raised.value)
            status = manager.persistence_status()
            assert status["pending"] == 1
            assert "Operation not permitted" in status["last_error"]
        finally:
            subprocess.run(["chattr", "-i", str(store)], check=True)
        manager.flush(timeout=10)
        assert len(persistence_warnings(caught, "could not save")) == 1
        assert len(persistence_warnings(caught, "works again")) == 1
    assert texts(on_disk(store, "second")) == ["Refused: no new directory allowed"]


def test_flush_gives_up_after_its_timeout_when_the_disk_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = threading.Event()
    real_append = SessionStore.append

    def hanging_append(self: SessionStore, *args: Any, **kwargs: Any) -> Any:
        answer.wait(30)
        return real_append(self, *args, **kwargs)

    with SessionManager(tmp_path) as manager:
        monkeypatch.setattr(SessionStore, "append", hanging_append)
        manager.session("stuck").think("Waiting for a slow disk")
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="1 change.s. not yet on disk"):
            manager.flush(timeout=0.5)
        assert 0.5 <= time.monotonic() - start < 2
        answer.set()
        manager.flush(timeout=10)
    assert texts(on_disk(tmp_path, "stuck")) == ["Waiting for a slow disk"]


def test_a_full_disk_warns_once_keeps_every_thought_and_catches_up(small_disk: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(small_disk) as manager:
            session = manager.session("full")
            session.think("Before the disk fills up")
            manager.flush(timeout=10)
            filler = fill(small_disk)
            for number in range(20):
                session.think(f"While full {number} " + "x" * 5000)  # more than the page left free
                time.sleep(0.03)
            wait_for(lambda: manager.persistence_status()["failed_attempts"] >= 3, timeout=10)
            with pytest.raises(OSError, match="No space left on device"):
                manager.flush(timeout=5)
            assert len(session) == 21
            assert manager.persistence_status()["pending"] == 20
            assert len(persistence_warnings(caught, "could not save")) == 1

            filler.unlink()
            manager.flush(timeout=10)
            status = manager.persistence_status()
            assert status["pending"] == 0 and status["last_error"] is None
            assert len(persistence_warnings(caught, "works again")) == 1
    restored = texts(on_disk(small_disk, "full"))
    assert restored[0] == "Before the disk fills up"
    assert [text.split(" x")[0] for text in restored[1:]] == [f"While full {n}" for n in range(20)]


# --- several writers ------------------------------------------------------------------------------


def test_two_managers_in_one_process_see_each_others_thoughts(tmp_path: Path) -> None:
    with SessionManager(tmp_path) as left, SessionManager(tmp_path) as right:
        mine, theirs = left.session("shared"), right.session("shared")
        mine.think("From the left")
        left.flush(timeout=10)
        theirs.think("From the right")
        right.flush(timeout=10)
        wait_for(lambda: len(mine) == 2 and len(theirs) == 2, timeout=5)
        assert sorted(texts(mine)) == sorted(texts(theirs)) == ["From the left", "From the right"]
    assert sorted(texts(on_disk(tmp_path, "shared"))) == ["From the left", "From the right"]


CHILD_WRITER = """
import sys
from jupyter_think import SessionManager
with SessionManager(sys.argv[1]) as manager:
    session = manager.session("shared")
    for number in range(50):
        session.think(f"child {number}")
"""


def test_a_notebook_follows_another_process_writing_the_same_session(tmp_path: Path) -> None:
    with SessionManager(tmp_path) as manager:
        session = manager.session("shared")
        child = subprocess.Popen([sys.executable, "-c", CHILD_WRITER, str(tmp_path)])
        for number in range(50):
            session.think(f"parent {number}")
            time.sleep(0.005)
        assert child.wait(timeout=60) == 0
        manager.flush(timeout=10)
        wait_for(lambda: len(session) == 100, timeout=5)
    on_the_disk = texts(on_disk(tmp_path, "shared"))
    assert sorted(on_the_disk) == sorted(
        [f"parent {n}" for n in range(50)] + [f"child {n}" for n in range(50)]
    )


# --- reset, delete, retention ----------------------------------------------------------------------


def test_starting_a_session_anew_archives_the_old_content_on_disk(tmp_path: Path) -> None:
    with SessionManager(tmp_path) as manager:
        manager.session("redo").think("First attempt")
        manager.flush(timeout=10)
        manager.new_session("redo").think("Second attempt")
        manager.flush(timeout=10)
    assert texts(on_disk(tmp_path, "redo")) == ["Second attempt"]
    archived = [
        path for path in tmp_path.rglob("*") if path.is_file() and b"First attempt" in path.read_bytes()
    ]
    assert archived, "the first attempt was destroyed instead of archived"
    assert all(tmp_path / "redo" not in path.parents for path in archived)


def test_the_loop_moves_idle_sessions_to_the_trash_but_never_one_loaded_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(days=40)
    store = SessionStore(tmp_path)
    for session_id in ("old-unused", "old-but-loaded", "recent"):
        at = datetime.now(timezone.utc) if session_id == "recent" else long_ago
        thought = Thought(
            thought=f"Thinking in {session_id}",
            thought_number=1,
            total_thoughts=1,
            next_thought_needed=True,
            created_at=at,
        )
        store.append(session_id, [ThoughtAdded(thought=thought)], created_at=at)
    monkeypatch.setattr(persistence, "RETENTION_FIRST", 0.0)  # run at loop start, not 5 s later
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(tmp_path, retention_days=30) as manager:
            assert texts(manager.session("old-but-loaded")) == ["Thinking in old-but-loaded"]
            wait_for(lambda: "old-unused" not in manager.sessions(), timeout=5)
            assert manager.sessions() == ["old-but-loaded", "recent"]
    assert persistence_warnings(caught, "idle for more than 30 days to the trash: old-unused")
    trashed = [path for path in (tmp_path / ".trash").rglob("*") if b"Thinking in old-unused" in _bytes(path)]
    assert trashed, "the idle session was deleted instead of moved to the trash"


def test_retention_days_zero_keeps_sessions_forever(tmp_path: Path) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(days=4000)
    thought = Thought(
        thought="Ancient", thought_number=1, total_thoughts=1, next_thought_needed=True, created_at=long_ago
    )
    SessionStore(tmp_path).append("ancient", [ThoughtAdded(thought=thought)], created_at=long_ago)
    with SessionManager(tmp_path, retention_days=0) as manager:
        assert manager._persistence.run_retention() == []
        assert manager.sessions() == ["ancient"]


def _bytes(path: Path) -> bytes:
    return path.read_bytes() if path.is_file() else b""


def test_deleting_a_session_moves_it_to_the_trash_and_stops_writing_it(tmp_path: Path) -> None:
    with SessionManager(tmp_path) as manager:
        session = manager.session("gone")
        session.think("Soon in the trash")
        manager.flush(timeout=10)
        manager.delete("gone")
        session.think("Written to a deleted session object")
        manager.flush(timeout=10)
        assert "gone" not in manager.sessions()
    assert on_disk(tmp_path, "gone") is None


def test_a_session_trashed_by_another_process_is_written_back_whole_when_thinking_goes_on(
    tmp_path: Path,
) -> None:
    with SessionManager(tmp_path) as manager:
        session = manager.session("busy")
        session.think("One")
        session.think("Two")
        manager.flush(timeout=10)
        time.sleep(0.6)  # a poll of the loop has seen the session on disk
        SessionStore(tmp_path).trash("busy")  # e.g. `jupyter-think rm busy` in a terminal
        session.think("Three")
        manager.flush(timeout=10)
        wait_for(lambda: texts(on_disk(tmp_path, "busy")) == ["One", "Two", "Three"], timeout=5)
    assert list((tmp_path / ".trash").iterdir()), "the trashed copy is kept"


# --- damage, fork, exit ---------------------------------------------------------------------------


def test_a_damaged_session_warns_and_every_other_session_still_loads(tmp_path: Path) -> None:
    with SessionManager(tmp_path) as manager:
        manager.session("good").think("Intact")
        manager.session("bad").think("About to be damaged")
    for path in (tmp_path / "bad").iterdir():
        if path.is_file() and not path.name.endswith(".lock"):
            path.write_bytes(b"\x00garbage{{{" * 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(tmp_path) as reopened:
            assert texts(reopened.session("good")) == ["Intact"]
            damaged = reopened.session("bad")
            damaged.think("Life goes on")
            reopened.flush(timeout=10)
    assert [w for w in caught if "bad" in str(w.message) and "quarantine" in str(w.message)], (
        "damage not reported"
    )
    assert "Life goes on" in texts(on_disk(tmp_path, "bad"))


def test_a_forked_child_saves_its_own_thoughts_and_the_parent_keeps_saving(tmp_path: Path) -> None:
    with SessionManager(tmp_path) as manager:
        session = manager.session("forked")
        session.think("Before the fork")
        manager.flush(timeout=10)
        pid = os.fork()
        if pid == 0:  # the child: think, flush, report through the exit code
            code = 1
            try:
                session.think("In the child")
                manager.flush(timeout=10)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        session.think("In the parent after the fork")
        manager.flush(timeout=10)
        assert manager.persistence_status()["running"]
    assert sorted(texts(on_disk(tmp_path, "forked"))) == sorted(
        ["Before the fork", "In the child", "In the parent after the fork"]
    )


SLOW_DISK_WRITER = """
import sys, time
from jupyter_think import SessionManager, store
append = store.SessionStore.append
def slow_append(self, *args, **kwargs):
    time.sleep(0.3)
    return append(self, *args, **kwargs)
store.SessionStore.append = slow_append
session = SessionManager(sys.argv[1]).session("exit")
for number in range(5):
    session.think(f"thought {number}")
    time.sleep(0.05)
# no close(), no flush(): interpreter exit must write what is pending
"""


def test_interpreter_exit_writes_what_is_pending(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", SLOW_DISK_WRITER, str(tmp_path)], check=True, timeout=60)
    assert texts(on_disk(tmp_path, "exit")) == [f"thought {n}" for n in range(5)]


def test_a_flush_with_nothing_pending_returns_at_once(tmp_path: Path) -> None:
    with SessionManager(tmp_path) as manager:
        start = time.monotonic()
        manager.flush(timeout=0)
        assert time.monotonic() - start < 0.05
        assert manager.persistence_status() == {
            "enabled": True,
            "pending": 0,
            "durable_seq": {},
            "last_error": None,
            "failed_attempts": 0,
            "running": False,
            "durability": "async",
            "store_dir": str(tmp_path),
        }
