"""The store survives SIGKILL at any moment and failures of any write, fsync or replace.

Acknowledged means: ``SessionStore.append`` returned. After every kill or injected failure a new
``SessionStore`` must load the session with every acknowledged thought.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from store_writer import run_writer

from jupyter_think.session import Session
from jupyter_think.store import SessionStore

KILLS = 120
NEW_SESSION_KILLS = 40


def _read_acks(read_fd: int) -> tuple[set[str], str]:
    chunks = []
    while chunk := os.read(read_fd, 1 << 16):
        chunks.append(chunk)
    text = b"".join(chunks).decode()
    complete = text[: text.rfind("\n") + 1]
    return {line[4:] for line in complete.splitlines() if line.startswith("ack ")}, text


def _stored_ids(root: Path, session_id: str) -> set[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = SessionStore(root).load(session_id, max_thoughts=10**9)
    assert loaded is not None, "the store did not reopen"
    return {thought.id for thought in loaded.session.thoughts}


def test_every_acknowledged_thought_survives_sigkill_at_varied_moments(tmp_path: Path) -> None:
    root = tmp_path / "store"
    rng = random.Random(7)
    acked: set[str] = set()
    started = time.monotonic()
    for kill in range(KILLS):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: appends until killed
            os.close(read_fd)
            try:
                run_writer(
                    root,
                    "crash",
                    write_fd,
                    count=10**6,
                    tag=f"k{kill}",
                    seed=kill,
                    batch_max=3,
                    compact_floor=25,
                    compact_chance=0.1,  # kills also land inside compactions
                )
            finally:
                os._exit(0)
        os.close(write_fd)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        new_acks, _ = _read_acks(read_fd)
        os.close(read_fd)
        acked |= new_acks
        if acked:
            missing = acked - _stored_ids(root, "crash")
            assert not missing, f"kill {kill}: {len(missing)} acknowledged thoughts lost"
    assert len(acked) > 200, "the writer acknowledged too little to prove anything"
    leftovers = [name for name in os.listdir(root / "crash") if name.endswith(".tmp")]
    assert len(leftovers) <= 1, "temp files of killed compactions pile up"
    assert time.monotonic() - started < 40


def _write_new_sessions(root: Path, out_fd: int, tag: str) -> None:
    """Create session after session (two thoughts and a branch each, created an hour before its
    first thought); after each append returned, report ``ack <id> <thought ids...>``."""
    warnings.simplefilter("ignore")
    store = SessionStore(root)
    created_at = datetime.now(timezone.utc) - timedelta(hours=1)
    for index in range(10**6):
        session = Session(f"{tag}-{index}", created_at=created_at)
        changes = _session_changes(session)
        session.think("first")
        session.branch("alt", from_thought=1)
        session.think("second")
        store.append(session.id, changes, created_at=created_at)
        line = " ".join(["ack", session.id, *(thought.id for thought in session.thoughts)]) + "\n"
        os.write(out_fd, line.encode())


def test_sessions_acknowledged_new_survive_sigkill_with_their_creation_time(tmp_path: Path) -> None:
    root = tmp_path / "store"
    rng = random.Random(11)
    acked: dict[str, list[str]] = {}
    for kill in range(NEW_SESSION_KILLS):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            try:
                _write_new_sessions(root, write_fd, f"k{kill}")
            finally:
                os._exit(0)
        os.close(write_fd)
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        chunks = []
        while chunk := os.read(read_fd, 1 << 16):
            chunks.append(chunk)
        os.close(read_fd)
        text = b"".join(chunks).decode()
        for line in text[: text.rfind("\n") + 1].splitlines():
            _ack, session_id, *thought_ids = line.split()
            acked[session_id] = thought_ids
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            store = SessionStore(root)
            for session_id in store.list_ids():  # the one being created when killed reopens too
                loaded = store.load(session_id)
                if session_id in acked:
                    assert loaded is not None, f"kill {kill}: acknowledged session {session_id} lost"
                    assert [t.id for t in loaded.session.thoughts] == acked[session_id]
                    assert loaded.session.created_at < loaded.session.thoughts[0].created_at - timedelta(
                        minutes=59
                    ), "the creation time was not kept"
    assert len(acked) > 50, "the writer acknowledged too few sessions to prove anything"
    assert set(acked) <= set(SessionStore(root).list_ids())


# --- fault injection ---------------------------------------------------------------------------

FAULTS = ("open", "write", "fsync", "fdatasync", "replace", "mkdir")
MUST_FIRE = {
    ("first append", "open"),
    ("first append", "write"),
    ("first append", "fsync"),
    ("first append", "fdatasync"),
    ("first append", "mkdir"),
    ("append", "open"),
    ("append", "write"),
    ("append", "fdatasync"),
    ("compaction", "open"),
    ("compaction", "write"),
    ("compaction", "fsync"),
    ("compaction", "replace"),
    ("append with compaction", "fsync"),
    ("append with compaction", "replace"),
}


class Fault:
    """Make ``os.<name>`` raise EIO on its ``nth`` call (counting from 1) while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, nth: int) -> None:
        self.calls = 0
        self.fired = False
        real = getattr(os, name)

        def failing(*args: object, **kwargs: object) -> object:
            self.calls += 1
            if self.calls == nth:
                self.fired = True
                raise OSError(errno.EIO, f"injected failure of os.{name}")
            return real(*args, **kwargs)

        monkeypatch.setattr(os, name, failing)


def _session_changes(session: Session) -> list:
    changes: list = []
    session.subscribe(lambda event: changes.append(event.change))
    return changes


def _prepare(root: Path, thoughts: int) -> tuple[Session, set[str]]:
    session = Session("faulty", max_thoughts=10**6)
    changes = _session_changes(session)
    for number in range(thoughts):
        session.think(f"thought {number}")
    if thoughts:
        SessionStore(root).append("faulty", changes, created_at=session.created_at)
    return session, {thought.id for thought in session.thoughts}


def _operations() -> dict[str, tuple[int, Callable[[SessionStore, Session], None]]]:
    """name -> (thoughts stored before, the operation under test)."""

    def append_new(store: SessionStore, session: Session) -> None:
        changes = _session_changes(session)
        session.think("the new thought")
        session.branch("alt", from_thought=1)
        store.append("faulty", changes, created_at=session.created_at)

    def compact(store: SessionStore, session: Session) -> None:
        store.compact("faulty")

    def append_and_compact(store: SessionStore, session: Session) -> None:
        store.compact_floor = 1
        append_new(store, session)

    return {
        "first append": (0, append_new),
        "append": (5, append_new),
        "compaction": (5, compact),
        "append with compaction": (5, append_and_compact),
    }


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("operation", list(_operations()))
def test_failing_the_nth_system_call_never_loses_acknowledged_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operation: str, fault: str
) -> None:
    before, run = _operations()[operation]
    template = tmp_path / "template"
    _prepare(template, before)
    failures = 0
    for nth in range(1, 200):
        root = tmp_path / f"run{nth}"
        if template.exists():
            shutil.copytree(template, root, symlinks=True)
        store = SessionStore(root)
        loaded = store.load("faulty", max_thoughts=10**6)
        session = loaded.session if loaded else Session("faulty", max_thoughts=10**6)
        acked = {thought.id for thought in session.thoughts}
        with monkeypatch.context() as patch:
            injected = Fault(patch, fault, nth)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    run(store, session)
                succeeded = True
            except OSError:
                succeeded = False
        if succeeded:
            acked = {thought.id for thought in session.thoughts}
        stored = _stored_ids(root, "faulty") if (acked or succeeded) else set()
        assert acked <= stored, f"failing call {nth} of os.{fault} lost acknowledged thoughts"
        assert stored <= {thought.id for thought in session.thoughts}, "unknown thoughts appeared"
        # the store keeps working: a fresh writer appends and everything is there
        retry = Session.from_record(session.to_record(), max_thoughts=10**6)
        changes = _session_changes(retry)
        retry.think("after the failure")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SessionStore(root).append("faulty", changes, created_at=retry.created_at)
        assert acked | {retry.thoughts[-1].id} <= _stored_ids(root, "faulty")
        if not injected.fired:
            break
        failures += 1
    else:  # pragma: no cover - the operation never completed
        pytest.fail(f"{operation} never completed under failing os.{fault}")
    if (operation, fault) in MUST_FIRE:
        assert failures > 0, f"{operation} never called os.{fault}: the test proves nothing"
