"""Real disk refusals (needs root): a full tmpfs and an immutable (``chattr +i``) directory.

Appends fail with a clean ``OSError`` naming the cause, the store still loads every acknowledged
thought, and once the disk accepts writes again appends succeed and nothing is lost.
"""

from __future__ import annotations

import errno
import os
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from disk_faults import tmpfs

from jupyter_think.session import Session
from jupyter_think.store import SessionStore

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="mount -t tmpfs and chattr +i need root (CI runs as root)"
)


class Writer:
    def __init__(self, session_id: str) -> None:
        self.session = Session(session_id, max_thoughts=10**6)
        self.pending: list = []
        self.acked: set[str] = set()
        self.session.subscribe(lambda event: self.pending.append(event.change))

    def think_and_flush(self, store: SessionStore, text: str) -> None:
        self.session.think(text)
        self.flush(store)

    def flush(self, store: SessionStore) -> None:
        """Append what is pending; on failure keep it pending (as the persistence loop does)."""
        result = store.append(self.session.id, self.pending, created_at=self.session.created_at)
        self.acked |= {change.thought.id for change in self.pending}
        assert result.last_seq - result.first_seq + 1 == len(self.pending)
        self.pending = []


def stored_ids(root: Path, session_id: str) -> set[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = SessionStore(root).load(session_id, max_thoughts=10**6)
    return {t.id for t in loaded.session.thoughts} if loaded else set()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 192 KiB tmpfs (root only), unmounted afterwards."""
    with tmpfs(tmp_path / "disk", "192k") as mount_point:
        yield mount_point


def test_a_full_disk_refuses_appends_cleanly_and_nothing_is_lost_once_space_returns(small_disk: Path) -> None:
    root = small_disk / "store"
    store = SessionStore(root, compact_floor=20)  # compactions also meet the full disk
    writer = Writer("full")
    failure = None
    for number in range(400):
        writer.session.think(f"thought {number} " + "x" * 1500)
        try:
            writer.flush(store)
        except OSError as exc:
            failure = exc
            break
    assert failure is not None and failure.errno == errno.ENOSPC, failure
    assert writer.acked and writer.acked <= stored_ids(root, "full")
    # more attempts keep failing cleanly, from this store object and a fresh one
    for attempt_store in (store, SessionStore(root)):
        with pytest.raises(OSError) as raised:
            writer.flush(attempt_store)
        assert raised.value.errno == errno.ENOSPC
    assert writer.acked <= stored_ids(root, "full")
    subprocess.run(["mount", "-o", "remount,size=32m", str(small_disk)], check=True)
    writer.flush(store)  # the pending thought goes through now
    for number in range(30):
        writer.think_and_flush(store, f"after the disk recovered {number}")
    stored = stored_ids(root, "full")
    assert writer.acked <= stored
    assert [t.id for t in writer.session.thoughts] == [
        t.id for t in SessionStore(root).load("full").session.thoughts
    ]


def test_an_immutable_session_directory_refuses_appends_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = SessionStore(root, compact_floor=5)
    writer = Writer("frozen")
    writer.think_and_flush(store, "before the freeze")
    session_dir = root / "frozen"
    subprocess.run(["chattr", "+i", str(session_dir), str(session_dir / "journal.jsonl")], check=True)
    try:
        for attempt in range(3):
            writer.session.think(f"refused {attempt}")
            with pytest.raises(OSError) as raised:
                writer.flush(store)
            assert raised.value.errno == errno.EPERM
        assert stored_ids(root, "frozen") == writer.acked
    finally:
        subprocess.run(["chattr", "-i", str(session_dir), str(session_dir / "journal.jsonl")], check=True)
    writer.flush(store)
    assert {t.id for t in writer.session.thoughts} == stored_ids(root, "frozen")


def test_an_immutable_store_root_refuses_new_sessions_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = SessionStore(root)
    writer = Writer("first")
    writer.think_and_flush(store, "fine")
    subprocess.run(["chattr", "+i", str(root)], check=True)
    try:
        other = Writer("second")
        other.session.think("refused")
        with pytest.raises(OSError) as raised:
            other.flush(store)
        assert raised.value.errno == errno.EPERM
        writer.think_and_flush(store, "an existing session still appends")
    finally:
        subprocess.run(["chattr", "-i", str(root)], check=True)
    other.flush(store)
    assert stored_ids(root, "second") == {t.id for t in other.session.thoughts}
    assert stored_ids(root, "first") == writer.acked
