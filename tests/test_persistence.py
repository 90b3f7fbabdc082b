"""The persistence loop on both engines: group commit, sync mode, restore, several writers, reset,
trash, retention, fork and interpreter exit. (Refusing stores: ``test_store_faults.py``.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jupyter_think import Session, SessionManager, Thought
from jupyter_think.core.models import ThoughtAdded
from jupyter_think.persistence import PersistenceWarning
from jupyter_think.persistence import retention as retention_module
from jupyter_think.store import SessionWrite, open_store
from jupyter_think.store.base import Store


def stored(location: str, session_id: str, state: str = "live") -> Session | None:
    """What a fresh reader finds in the store for ``session_id``."""
    loaded = open_store(location).load(session_id, state=state)  # type: ignore[arg-type]
    return None if loaded is None else Session.from_changes(session_id, loaded.changes)


def texts(session: Session | None) -> list[str]:
    return [] if session is None else [thought.thought for thought in session.thoughts]


def wait_for(condition: Any, timeout: float = 30.0, step: float = 0.01) -> None:
    """Poll ``condition()`` until true (a generous ``timeout``: CI machines may be busy)."""
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not condition():
            if deadline.wait(step):
                raise AssertionError(f"condition still false after {timeout} s")
    finally:
        timer.cancel()


def persistence_warnings(caught: list[warnings.WarningMessage], text: str) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, PersistenceWarning) and text in str(w.message)
    ]


# --- committing -------------------------------------------------------------------------------------


def test_a_thought_reaches_the_store_without_asking(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        manager.session("timely").think("Committed by the loop, no flush asked")
        wait_for(lambda: texts(stored(store_location, "timely")) == ["Committed by the loop, no flush asked"])
        wait_for(lambda: manager.persistence_status()["pending"] == 0)


def test_sync_durability_commits_each_thought_before_think_returns(store_location: str) -> None:
    with SessionManager(store=store_location, durability="sync") as manager:
        session = manager.session("careful")
        for number in range(1, 4):
            session.think(f"Step {number}")
            assert texts(stored(store_location, "careful")) == [f"Step {n}" for n in range(1, number + 1)]
        assert manager.persistence_status()["pending"] == 0


def test_a_second_manager_restores_branches_revisions_and_the_active_branch(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        session = manager.session("plan")
        session.think("Restate the problem", total=3)
        session.think("Try the obvious approach")
        session.revise(2, "The obvious approach fails for n = 0")
        session.branch("alt", from_thought=1)
        session.think("Work backwards instead")
        expected = session.to_json()
    with SessionManager(store=store_location) as reopened:
        restored = reopened.session("plan")
        assert restored.to_json() == expected
        assert restored.active_branch == "alt"
        assert restored.think("Continue the branch").branch_id == "alt"


def test_flush_gives_up_after_its_timeout_when_the_store_does_not_answer(
    store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = threading.Event()
    with SessionManager(store=store_location) as manager:
        store = manager.store
        assert store is not None
        real_append = store.append

        def hanging_append(*args: Any, **kwargs: Any) -> Any:
            answer.wait(60)
            return real_append(*args, **kwargs)

        monkeypatch.setattr(store, "append", hanging_append)
        manager.session("stuck").think("Waiting for a slow store")
        with pytest.raises(TimeoutError, match=r"1 change.s. not yet saved"):
            manager.flush(timeout=0.5)
        answer.set()
        manager.flush(timeout=30)
    assert texts(stored(store_location, "stuck")) == ["Waiting for a slow store"]


def test_a_flush_with_nothing_pending_returns_without_starting_the_loop(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        manager.flush(timeout=0)
        status = manager.persistence_status()
        assert status == {
            "enabled": True,
            "pending": 0,
            "set_aside": 0,
            "durable_seq": {},
            "last_error": None,
            "failed_attempts": 0,
            "running": False,
            "durability": "async",
            "store": store_location,
        }


def test_a_burst_of_thoughts_is_committed_in_few_transactions(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        store = manager.store
        assert store is not None
        batches: list[int] = []
        real_append = store.append

        def counting_append(writes: Any) -> Any:
            batches.append(sum(len(write.changes) for write in writes))
            return real_append(writes)

        store.append = counting_append  # type: ignore[method-assign]
        session = manager.session("burst")
        for number in range(200):
            session.think(f"Quick thought {number}")
        manager.flush(timeout=30)
    assert sum(batches) == 200
    assert len(batches) < 200, "every thought cost its own transaction"
    assert len(texts(stored(store_location, "burst"))) == 200


# --- several writers ------------------------------------------------------------------------------


def test_two_managers_in_one_process_see_each_others_thoughts(store_location: str) -> None:
    with SessionManager(store=store_location) as left, SessionManager(store=store_location) as right:
        mine, theirs = left.session("shared"), right.session("shared")
        mine.think("From the left")
        left.flush(timeout=30)
        theirs.think("From the right")
        right.flush(timeout=30)
        wait_for(lambda: len(mine) == 2 and len(theirs) == 2)
        assert sorted(texts(mine)) == sorted(texts(theirs)) == ["From the left", "From the right"]
    assert sorted(texts(stored(store_location, "shared"))) == ["From the left", "From the right"]


CHILD_WRITER = """
import sys
from jupyter_think import SessionManager
with SessionManager(store=sys.argv[1]) as manager:
    session = manager.session("shared")
    for number in range(50):
        session.think(f"child {number}")
"""


def test_a_notebook_follows_another_process_writing_the_same_session(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        session = manager.session("shared")
        child = subprocess.Popen([sys.executable, "-c", CHILD_WRITER, store_location])
        for number in range(50):
            session.think(f"parent {number}")
        assert child.wait(timeout=120) == 0
        manager.flush(timeout=30)
        wait_for(lambda: len(session) == 100)
    assert sorted(texts(stored(store_location, "shared"))) == sorted(
        [f"parent {n}" for n in range(50)] + [f"child {n}" for n in range(50)]
    )


def test_a_session_started_anew_elsewhere_is_followed_here(store_location: str) -> None:
    with SessionManager(store=store_location) as here, SessionManager(store=store_location) as elsewhere:
        session = here.session("lesson")
        session.think("Old attempt")
        here.flush(timeout=30)
        elsewhere.session("lesson")
        elsewhere.new_session("lesson").think("New attempt")
        elsewhere.flush(timeout=30)
        wait_for(lambda: texts(session) == ["New attempt"])
        session.think("Continued here")
        here.flush(timeout=30)
    assert texts(stored(store_location, "lesson")) == ["New attempt", "Continued here"]
    assert texts(stored(store_location, "lesson", "archived")) == ["Old attempt"]


# --- reset, delete, retention ----------------------------------------------------------------------


def test_starting_a_session_anew_archives_the_old_content(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        manager.session("redo").think("First attempt")
        manager.flush(timeout=30)
        manager.new_session("redo").think("Second attempt")
        manager.flush(timeout=30)
    assert texts(stored(store_location, "redo")) == ["Second attempt"]
    assert texts(stored(store_location, "redo", "archived")) == ["First attempt"]


def _old_sessions(store: Store, *session_ids: str) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(days=40)
    writes = []
    for session_id in session_ids:
        at = datetime.now(timezone.utc) if session_id == "recent" else long_ago
        item = Thought(
            thought=f"Thinking in {session_id}",
            thought_number=1,
            total_thoughts=1,
            next_thought_needed=True,
            created_at=at,
        )
        writes.append(SessionWrite(session_id, [ThoughtAdded(thought=item)], created_at=at))
    store.append(writes)


def test_the_loop_moves_idle_sessions_to_the_trash_but_never_one_loaded_here(
    store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old_sessions(open_store(store_location), "old-unused", "old-but-loaded", "recent")
    monkeypatch.setattr(retention_module, "RETENTION_FIRST", 0.0)  # at loop start, not 5 s later
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=store_location, retention_days=30) as manager:
            assert texts(manager.session("old-but-loaded")) == ["Thinking in old-but-loaded"]
            wait_for(lambda: "old-unused" not in manager.sessions())
            assert manager.sessions() == ["old-but-loaded", "recent"]
            # (warned just after the trash's commit that the wait above saw)
            wait_for(
                lambda: bool(
                    persistence_warnings(caught, "idle for more than 30 days to the trash: old-unused")
                )
            )
    assert texts(stored(store_location, "old-unused", "trashed")) == ["Thinking in old-unused"]


def test_retention_days_zero_keeps_sessions_forever(store_location: str) -> None:
    _old_sessions(open_store(store_location), "ancient")
    with SessionManager(store=store_location, retention_days=0) as manager:
        assert manager._persistence.run_retention().trashed == []  # type: ignore[union-attr]
        assert manager.sessions() == ["ancient"]


def test_deleting_a_session_moves_it_to_the_trash_with_its_last_thoughts(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        session = manager.session("gone")
        session.think("Soon in the trash")
        session.think("Not yet committed when deleted")
        assert manager.delete("gone") is True
        session.think("Written to a deleted session object")
        manager.flush(timeout=30)
        assert "gone" not in manager.sessions()
        assert manager.delete("never-saved") is False
    assert stored(store_location, "gone") is None
    assert texts(stored(store_location, "gone", "trashed")) == [
        "Soon in the trash",
        "Not yet committed when deleted",
    ]


def test_a_session_trashed_by_another_process_is_restored_when_thinking_goes_on(store_location: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=store_location) as manager:
            session = manager.session("busy")
            session.think("One")
            session.think("Two")
            manager.flush(timeout=30)
            open_store(store_location).trash("busy")  # e.g. `jupyter-think rm busy` in a terminal
            session.think("Three")
            manager.flush(timeout=30)
    assert texts(stored(store_location, "busy")) == ["One", "Two", "Three"]
    assert persistence_warnings(caught, "moved to the trash by another process; it is restored")


# --- fork and exit ---------------------------------------------------------------------------------


def test_a_forked_child_saves_its_own_thoughts_and_the_parent_keeps_saving(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        session = manager.session("forked")
        session.think("Before the fork")
        manager.flush(timeout=30)
        pid = os.fork()
        if pid == 0:  # the child: think, flush, report through the exit code
            code = 1
            try:
                session.think("In the child")
                manager.flush(timeout=30)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        session.think("In the parent after the fork")
        manager.flush(timeout=30)
        assert manager.persistence_status()["running"]
    assert sorted(texts(stored(store_location, "forked"))) == sorted(
        ["Before the fork", "In the child", "In the parent after the fork"]
    )


SLOW_STORE_WRITER = """
import sys, time
import jupyter_think.persistence.process as process
from jupyter_think import SessionManager
process.EXIT_FLUSH_TIMEOUT = 120  # about committing at exit, not the exit's bound (a loaded machine is slow)
manager = SessionManager(store=sys.argv[1])
append = manager.store.append
def slow_append(*args, **kwargs):
    time.sleep(0.3)
    return append(*args, **kwargs)
manager.store.append = slow_append
session = manager.session("exit")
for number in range(5):
    session.think(f"thought {number}")
    time.sleep(0.05)
# no close(), no flush(): interpreter exit must commit what is pending
"""


def test_interpreter_exit_commits_what_is_pending(store_location: str) -> None:
    subprocess.run([sys.executable, "-c", SLOW_STORE_WRITER, store_location], check=True, timeout=120)
    assert texts(stored(store_location, "exit")) == [f"thought {n}" for n in range(5)]


def test_the_list_counts_only_counted_thoughts_and_follows_a_retracted_conclusion(
    store_location: str,
) -> None:
    with SessionManager(store=store_location) as manager:
        session = manager.session("listed")
        session.think("Start", total=2)
        session.think("Conclude", done=True)
        manager.flush(timeout=30)
        assert [(row.thoughts, row.status) for row in open_store(store_location).sessions()] == [
            (2, "complete")
        ]
        session.retract(2)
        manager.flush(timeout=30)
        assert [(row.thoughts, row.status) for row in open_store(store_location).sessions()] == [(1, "open")]
