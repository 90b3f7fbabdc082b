"""A store that refuses, for real: a full disk, ``chattr +i``, a read-only remount and a lock held by
another process (SQLite), a PostgreSQL server that crashes (``pg_ctl stop -m immediate``).

What a user must see each time: thinking goes on in memory with one warning, ``durability="sync"``
raises ``OSError`` and records nothing, ``flush()`` raises (it does not wait for its timeout), a
session is never started empty because its store could not be read, and once the store takes
writes again everything is saved with one "works again" warning. The SQLite faults need root
(tmpfs mounts, ``chattr``); as root even ``chmod 000`` does not stop a write.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from disk_faults import fill, tmpfs

from jupyter_think import Session, SessionManager
from jupyter_think.core.models import ThoughtAdded
from jupyter_think.persistence import PersistenceWarning
from jupyter_think.store import open_store

root_only = pytest.mark.skipif(
    os.geteuid() != 0 and not os.environ.get("CI"),
    reason="real disk faults need root (mount, chattr); under CI they run and fail rather than skip",
)
CLI = str(Path(sys.executable).parent / "jupyter-think")
BIG = "x" * 2000  # thoughts big enough that a batch needs new pages (a full disk cannot hide it)


# --- helpers --------------------------------------------------------------------------------------


@contextmanager
def recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def said(caught: list[warnings.WarningMessage], text: str) -> list[str]:
    """The PersistenceWarnings whose message contains ``text``."""
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, PersistenceWarning) and text in str(w.message)
    ]


def said_once(caught: list[warnings.WarningMessage], text: str) -> None:
    """One PersistenceWarning says ``text`` (the loop warns a moment after the state a test waits for)."""
    wait_until(lambda: bool(said(caught, text)))
    assert len(said(caught, text)) == 1, said(caught, text)


def stored_texts(location: str, session_id: str) -> list[str]:
    """The thought texts a fresh reader finds in the live row of ``session_id``."""
    loaded = open_store(location).load(session_id)
    assert loaded is not None, f"session {session_id!r} is not in {location}"
    return [change.thought.thought for change in loaded.changes if isinstance(change, ThoughtAdded)]


def texts(session: Session) -> list[str]:
    return [thought.thought for thought in session.thoughts]


@contextmanager
def immutable(path: Path) -> Iterator[Path]:
    """``chattr +i path`` (refuses writes even for root); always ``chattr -i`` after."""
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


def assert_refused(manager: SessionManager, session: Session, code: int | None, text: str) -> None:
    """A sync write raises ``OSError`` (errno ``code``, message containing ``text``) and changes nothing."""
    before_json, before_len = session.to_json(), len(session)
    with pytest.raises(OSError) as raised:
        session.think("Refused by the store")
    assert not isinstance(raised.value, TimeoutError)
    assert text in str(raised.value) and "nothing was recorded" in str(raised.value)
    if code is not None:
        assert raised.value.errno == code
    assert (len(session), session.to_json()) == (before_len, before_json), (
        "a refused sync write changed the session"
    )


def assert_flush_raises(manager: SessionManager, code: int | None = None) -> OSError:
    """``flush()`` raises the store's error; it does not wait out its (long) timeout."""
    with pytest.raises(OSError) as raised:
        manager.flush(timeout=120)
    assert not isinstance(raised.value, TimeoutError), f"flush waited for its timeout: {raised.value}"
    if code is not None:
        assert raised.value.errno == code, raised.value
    assert "kept in memory" in str(raised.value)
    return raised.value


# --- a full disk ----------------------------------------------------------------------------------


@root_only
def test_a_full_disk_keeps_thinking_in_memory_refuses_sync_writes_and_catches_up(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "4m") as disk, recorded_warnings() as caught:
        location = str(disk / "store")
        with (
            SessionManager(store=location) as manager,
            SessionManager(store=location, durability="sync") as careful,
        ):
            session = manager.session("notes")
            for number in range(5):
                session.think(f"Before the disk filled {number}")
            manager.flush(timeout=120)
            strict = careful.session("strict")
            strict.think("Committed before the disk filled")
            filler = fill(disk)

            for number in range(200):
                session.think(f"While the disk is full {number} {BIG}")
            assert len(session) == 205, "thinking stopped on a full disk"
            error = assert_flush_raises(manager, errno.ENOSPC)
            assert "No space left on device" in str(error)
            said_once(caught, "could not save")
            assert_refused(careful, strict, errno.ENOSPC, "No space left on device")
            for number in range(20):  # more thinking while it keeps failing: still one warning
                session.think(f"Still full {number}")
            with pytest.raises(OSError):
                manager.flush(timeout=120)
            said_once(caught, "could not save")

            filler.unlink()
            manager.flush(timeout=120)
            strict.think("Committed after space came back")
            said_once(caught, "works again")
        assert len(stored_texts(location, "notes")) == 225
        assert stored_texts(location, "notes") == texts(session)
        assert stored_texts(location, "strict") == [
            "Committed before the disk filled",
            "Committed after space came back",
        ]


# --- chattr +i ------------------------------------------------------------------------------------


@root_only
def test_an_immutable_wal_file_refuses_writes_until_it_is_writable_again(tmp_path: Path) -> None:
    location = str(tmp_path / "store")
    with recorded_warnings() as caught:
        with (
            SessionManager(store=location) as manager,
            SessionManager(store=location, durability="sync") as careful,
        ):
            session = manager.session("notes")
            session.think("Before")
            manager.flush(timeout=120)
            strict = careful.session("strict")
            strict.think("Before")
            wal = tmp_path / "store" / "sessions.db-wal"
            assert wal.exists()
            with immutable(wal):
                for number in range(50):
                    session.think(f"While the WAL is immutable {number} {BIG}")
                assert len(session) == 51
                assert_flush_raises(manager)
                assert_refused(careful, strict, None, "could not commit")
                said_once(caught, "could not save")
            manager.flush(timeout=120)
            strict.think("After")
            said_once(caught, "works again")
    assert stored_texts(location, "notes") == texts(session)
    assert stored_texts(location, "strict") == ["Before", "After"]


IMMUTABLE_WRITER = """
import sys
from jupyter_think import SessionManager
manager = SessionManager(store=sys.argv[1])
session = manager.session("notes")
session.think("Before")
manager.flush(timeout=120)
print("ready", flush=True)
sys.stdin.readline()
for number in range(50):
    session.think(f"While immutable {number}")
manager.flush(timeout=120)
print("flushed", len(session), flush=True)
sys.stdin.readline()  # killed here: nothing is closed, no checkpoint
"""


@root_only
@pytest.mark.parametrize("made_immutable", ["directory", "database file"])
def test_an_immutable_store_directory_or_database_file_still_commits_through_the_wal(
    tmp_path: Path, made_immutable: str
) -> None:
    store = tmp_path / "store"
    writer = subprocess.Popen(
        [sys.executable, "-c", IMMUTABLE_WRITER, str(store)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().strip() == "ready"
        target = store if made_immutable == "directory" else store / "sessions.db"
        with immutable(target):
            writer.stdin.write("go\n")
            writer.stdin.flush()
            assert writer.stdout.readline().split() == ["flushed", "51"]
            writer.send_signal(signal.SIGKILL)  # no close, no checkpoint: only what the WAL holds
            writer.wait(timeout=60)
            assert stored_texts(str(store), "notes") == [
                "Before",
                *(f"While immutable {n}" for n in range(50)),
            ]
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=60)
    assert len(stored_texts(str(store), "notes")) == 51


@root_only
def test_a_fresh_manager_on_an_immutable_store_loads_everything_says_read_only_and_catches_up(
    tmp_path: Path,
) -> None:
    location = str(tmp_path / "store")
    with SessionManager(store=location) as first:
        for number in range(30):
            first.session("notes").think(f"Thought {number}")
        first.session("strict").think("Kept")
    assert sorted(os.listdir(location)) == ["sessions.db"], "the closed store left its -wal/-shm behind"
    with recorded_warnings() as caught:
        with immutable(Path(location)):
            with (
                SessionManager(store=location) as manager,
                SessionManager(store=location, durability="sync") as careful,
            ):
                session = manager.session("notes")
                assert texts(session) == [f"Thought {n}" for n in range(30)]
                wait_until(lambda: bool(said(caught, "is read-only")))
                session.think("Kept in memory while read-only")
                assert len(session) == 31
                assert_flush_raises(manager, errno.EROFS)
                strict = careful.session("strict")
                assert texts(strict) == ["Kept"]
                assert_refused(careful, strict, errno.EROFS, "read-only")
                subprocess.run(
                    ["chattr", "-i", location], check=True
                )  # (the context does it again: harmless)
                manager.flush(timeout=120)
                strict.think("Committed once writable")
                said_once(caught, "works again")
    assert stored_texts(location, "notes") == [
        *(f"Thought {n}" for n in range(30)),
        "Kept in memory while read-only",
    ]
    assert stored_texts(location, "strict") == ["Kept", "Committed once writable"]


OTHER_WRITER = """
import sys
from jupyter_think.core.models import Thought, ThoughtAdded
from jupyter_think.store import SessionWrite, open_store
store = open_store(sys.argv[1])
for round in range(20):  # enough to make SQLite checkpoint: pages of the database file are rewritten
    store.append([
        SessionWrite(f"s{n}", [ThoughtAdded(thought=Thought(
            thought=f"s{n} from elsewhere {round} " + "q" * 500, thought_number=31 + round,
            total_thoughts=50, next_thought_needed=True))])
        for n in range(40)
    ])
store.close()
"""


@root_only
def test_a_manager_that_opened_an_immutable_store_follows_other_writers_once_writable_and_quarantines_nothing(
    tmp_path: Path,
) -> None:
    location = str(tmp_path / "store")
    with SessionManager(store=location) as first:
        for n in range(40):
            for number in range(30):
                first.session(f"s{n}").think(f"s{n} {number} " + "z" * 200)
    with recorded_warnings() as caught:
        with SessionManager(store=location) as viewer:
            with immutable(Path(location)):
                watched = viewer.session("s0")
                assert len(watched) == 30 and said(caught, "is read-only")
            subprocess.run([sys.executable, "-c", OTHER_WRITER, location], check=True, timeout=120)
            for n in range(1, 40):
                assert len(viewer.session(f"s{n}")) == 50, f"s{n} loaded stale or damaged"
            wait_until(lambda: len(watched) == 50)
    assert not (tmp_path / "store" / ".quarantine").exists(), "a healthy database was quarantined"
    assert not [w for w in caught if "damaged" in str(w.message)]
    assert len(stored_texts(location, "s39")) == 50


# --- a read-only file system ------------------------------------------------------------------------


@root_only
def test_a_read_only_remount_loads_every_session_lists_and_shows_and_refuses_writes_until_rw(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", "16m") as disk:
        location = str(disk / "store")
        with SessionManager(store=location) as first:
            for session_id in ("alpha", "beta"):
                for number in range(40):
                    first.session(session_id).think(f"{session_id} {number}")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            with recorded_warnings() as caught:
                with (
                    SessionManager(store=location) as manager,
                    SessionManager(store=location, durability="sync") as careful,
                ):
                    alpha = manager.session("alpha")
                    assert texts(alpha) == [f"alpha {n}" for n in range(40)], (
                        "loaded empty from a read-only store"
                    )
                    wait_until(lambda: bool(said(caught, "is read-only")))
                    shown = cli("--dir", location, "show", "beta")
                    assert shown.returncode == 0, shown.stderr
                    assert "beta 39" in shown.stdout
                    listed = cli("--dir", location, "list")
                    assert listed.returncode == 0, listed.stderr
                    assert "alpha" in listed.stdout and "beta" in listed.stdout
                    alpha.think("Kept in memory on a read-only file system")
                    assert_flush_raises(manager, errno.EROFS)
                    beta = careful.session("beta")
                    assert len(beta) == 40
                    assert_refused(careful, beta, errno.EROFS, "read-only")
                    subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
                    manager.flush(timeout=120)
                    beta.think("beta after remount")
                    said_once(caught, "works again")
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        assert stored_texts(location, "alpha")[-1] == "Kept in memory on a read-only file system"
        assert len(stored_texts(location, "alpha")) == 41
        assert stored_texts(location, "beta")[-1] == "beta after remount"


# --- a lock held by another process -----------------------------------------------------------------

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode=EXCLUSIVE" if sys.argv[2] == "exclusive" else "PRAGMA locking_mode=NORMAL")
conn.execute("BEGIN EXCLUSIVE" if sys.argv[2] == "exclusive" else "BEGIN IMMEDIATE")
conn.execute("SELECT count(*) FROM sessions").fetchone()
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
conn.close()
"""


@contextmanager
def locked(database: Path, how: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``database`` locked: ``exclusive`` (readers too) or ``write`` (writers only)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(database), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        if holder.poll() is None:
            holder.stdin.write("release\n")
            holder.stdin.flush()
        assert holder.wait(timeout=60) == 0


@root_only
def test_a_store_locked_by_another_process_refuses_to_load_rather_than_start_empty(tmp_path: Path) -> None:
    location = str(tmp_path / "store")
    with SessionManager(store=location) as first:
        for number in range(10):
            first.session("notes").think(f"Thought {number}")
    with SessionManager(store=location) as manager:
        with locked(tmp_path / "store" / "sessions.db", "exclusive"):
            with pytest.raises(OSError) as raised:
                manager.session("notes")
            assert raised.value.errno == errno.EBUSY, raised.value
            assert "cannot read session 'notes'" in str(raised.value)
            assert not manager.is_loaded("notes"), "a session the store could not read was started empty"
        session = manager.session("notes")
        assert texts(session) == [f"Thought {n}" for n in range(10)]
        session.think("After the lock")
        manager.flush(timeout=120)
    assert stored_texts(location, "notes")[-1] == "After the lock"
    assert len(stored_texts(location, "notes")) == 11


@root_only
def test_a_write_lock_held_by_another_process_refuses_writes_with_ebusy_and_catches_up(
    tmp_path: Path,
) -> None:
    location = str(tmp_path / "store")
    with recorded_warnings() as caught:
        with (
            SessionManager(store=location) as manager,
            SessionManager(store=location, durability="sync") as careful,
        ):
            session = manager.session("notes")
            session.think("Before the lock")
            manager.flush(timeout=120)
            strict = careful.session("strict")
            strict.think("Before the lock")
            with locked(tmp_path / "store" / "sessions.db", "write"):
                assert texts(manager.session("notes")) == ["Before the lock"]  # reads go on (WAL)
                session.think("While locked")
                assert_flush_raises(manager, errno.EBUSY)
                assert_refused(careful, strict, errno.EBUSY, "could not commit")
            manager.flush(timeout=120)
            strict.think("After the lock")
            said_once(caught, "could not save")
            said_once(caught, "works again")
    assert stored_texts(location, "notes") == ["Before the lock", "While locked"]
    assert stored_texts(location, "strict") == ["Before the lock", "After the lock"]


# --- a PostgreSQL server that crashes ----------------------------------------------------------------


@contextmanager
def server_down(server: object) -> Iterator[None]:
    """``pg_ctl stop -m immediate`` now; the server is always started again (other tests share it)."""
    server.crash()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        server.start()  # type: ignore[attr-defined]


def test_a_postgres_crash_keeps_thinking_in_memory_refuses_sync_writes_and_catches_up(
    postgres_server: object,
) -> None:
    url = postgres_server.new_database()  # type: ignore[attr-defined]
    with recorded_warnings() as caught:
        with SessionManager(store=url) as manager, SessionManager(store=url, durability="sync") as careful:
            session = manager.session("notes")
            for number in range(5):
                session.think(f"Before the crash {number}")
            manager.flush(timeout=120)
            strict = careful.session("strict")
            strict.think("Before the crash")
            manager.session("whole").think("A session someone deletes during the outage")
            manager.flush(timeout=120)

            with server_down(postgres_server):
                for number in range(100):
                    session.think(f"During the outage {number}")
                assert len(session) == 105
                assert_flush_raises(manager, errno.ECONNREFUSED)
                assert_refused(careful, strict, errno.ECONNREFUSED, "could not commit")
                with pytest.raises(OSError) as raised:
                    manager.session("unloaded")
                assert "cannot read session 'unloaded'" in str(raised.value)
                assert not manager.is_loaded("unloaded")
                with pytest.raises(OSError):
                    manager.delete("whole")
                assert manager.is_loaded("whole"), "a refused delete forgot the session"
                said_once(caught, "could not save")

            manager.flush(timeout=120)
            strict.think("After the restart")
            said_once(caught, "works again")
            assert stored_texts(url, "whole") == ["A session someone deletes during the outage"]
            assert manager.delete("whole") is True
    assert stored_texts(url, "notes") == texts(session)
    assert len(texts(session)) == 105
    assert stored_texts(url, "strict") == ["Before the crash", "After the restart"]
    assert open_store(url).load("whole") is None
    assert [c.thought.thought for c in open_store(url).load("whole", state="trashed").changes] == [  # type: ignore
        "A session someone deletes during the outage"
    ]


def test_a_commit_whose_answer_is_lost_in_a_server_crash_is_stored_once(postgres_server: object) -> None:
    """The server commits, then crashes before the writer hears so: the retried batch must not add
    the thoughts a second time (``list`` would count them twice), in a row that existed or in one
    the lost commit created."""
    url = postgres_server.new_database()  # type: ignore[attr-defined]
    sql = postgres_server.sql  # type: ignore[attr-defined]
    # (the crash's warnings, and the "works again" the loop says a moment after the flush, are expected)
    with warnings.catch_warnings(), SessionManager(store=url) as manager:
        warnings.simplefilter("ignore", PersistenceWarning)
        session = manager.session("once")
        session.think("Committed and answered")
        manager.flush(timeout=120)
        # commits now wait for a standby that does not exist: durable on the server, never answered
        sql("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        sql("SELECT pg_reload_conf()")
        try:
            wait_until(lambda: sql("SHOW synchronous_standby_names") == [("nobody",)])
            fresh = manager.session("fresh")
            fresh.think("First thought, answer lost")
            session.think("Committed, answer lost")
            session.think("Also committed, answer lost")
            wait_until(lambda: bool(sql("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'")))
            postgres_server.crash()  # type: ignore[attr-defined]
        finally:
            postgres_server.start()  # type: ignore[attr-defined]
            sql("ALTER SYSTEM RESET synchronous_standby_names")
            sql("SELECT pg_reload_conf()")
        manager.flush(timeout=120)
    assert texts(session) == [
        "Committed and answered",
        "Committed, answer lost",
        "Also committed, answer lost",
    ]
    assert stored_texts(url, "once") == texts(session), "a retried commit stored its thoughts twice"
    assert stored_texts(url, "fresh") == ["First thought, answer lost"]
    assert sorted((row.id, row.thoughts) for row in open_store(url).sessions()) == [("fresh", 1), ("once", 3)]


def wait_until(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    """Poll ``condition`` until true; fail after a generous ``timeout`` (never a speed assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


def test_a_sync_commit_whose_answer_is_lost_says_it_may_have_been_recorded(postgres_server: object) -> None:
    """Sync durability must not say "nothing was recorded" when the server may have committed."""
    url = postgres_server.new_database()  # type: ignore[attr-defined]
    sql = postgres_server.sql  # type: ignore[attr-defined]
    with SessionManager(store=url, durability="sync") as careful:
        strict = careful.session("strict")
        strict.think("Committed and answered")
        sql("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        sql("SELECT pg_reload_conf()")
        outcome: list[BaseException] = []
        try:
            wait_until(lambda: sql("SHOW synchronous_standby_names") == [("nobody",)])
            thinker = threading.Thread(
                target=lambda: outcome.append(_raised(lambda: strict.think("Committed, answer lost"))),
                daemon=True,
            )
            thinker.start()
            wait_until(lambda: bool(sql("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'")))
            postgres_server.crash()  # type: ignore[attr-defined]
            thinker.join(120)
        finally:
            postgres_server.start()  # type: ignore[attr-defined]
            sql("ALTER SYSTEM RESET synchronous_standby_names")
            sql("SELECT pg_reload_conf()")
    (error,) = outcome
    assert isinstance(error, OSError) and error.errno == errno.ECONNRESET, error
    assert "may or may not be recorded" in str(error) and "nothing was recorded" not in str(error)
    assert stored_texts(url, "strict") == ["Committed and answered", "Committed, answer lost"]


def _raised(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except BaseException as exc:
        return exc
    raise AssertionError("no error")


WAL_WRITER = """
import os, sys, warnings
warnings.simplefilter("ignore")
from jupyter_think import SessionManager
manager = SessionManager(sys.argv[1])
session = manager.session("s")
for number in range(5):
    session.think(f"{sys.argv[2]} {number}")
manager.flush(timeout=60)
os._exit(0)  # killed, in effect: the last commits stay in sessions.db-wal
"""


@root_only
def test_a_read_only_copy_with_its_last_commits_in_the_wal_loads_every_thought(tmp_path: Path) -> None:
    """A backup of a killed kernel's store (sessions.db and -wal, no -shm) on a read-only disk."""
    written = tmp_path / "written"
    for word in ("early", "late"):
        subprocess.run([sys.executable, "-c", WAL_WRITER, str(written), word], check=True, timeout=120)
        if word == "early":
            SessionManager(written).close()  # a clean close between the two: the early ones are checkpointed
    assert (written / "sessions.db-wal").stat().st_size > 0
    with tmpfs(tmp_path / "disk", "16m") as disk:
        copy = disk / "store"
        copy.mkdir()
        for name in ("sessions.db", "sessions.db-wal"):
            (copy / name).write_bytes((written / name).read_bytes())
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            with recorded_warnings() as caught, SessionManager(copy) as manager:
                assert [t.thought for t in manager.session("s").thoughts] == [
                    *(f"early {n}" for n in range(5)),
                    *(f"late {n}" for n in range(5)),
                ]
            wait_until(lambda: bool(said(caught, "read-only")))
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)


@root_only
def test_a_read_only_store_from_the_previous_schema_loads_and_says_search_needs_writes(
    tmp_path: Path,
) -> None:
    import sqlite3

    older = tmp_path / "older"
    with SessionManager(older) as manager:
        manager.session("s").think("Kept from before search existed")
    conn = sqlite3.connect(older / "sessions.db", isolation_level=None)
    conn.execute("DROP TABLE thought_text")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with tmpfs(tmp_path / "disk", "16m") as disk:
        copy = disk / "store"
        copy.mkdir()
        (copy / "sessions.db").write_bytes((older / "sessions.db").read_bytes())
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            with recorded_warnings(), SessionManager(copy) as manager:
                assert [t.thought for t in manager.session("s").thoughts] == [
                    "Kept from before search existed"
                ]
                with pytest.raises(OSError, match="no search index yet"):
                    manager.store.search("before")  # type: ignore[union-attr]
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
