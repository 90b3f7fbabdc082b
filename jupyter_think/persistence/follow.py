"""Following other writers: where each tracked session stands in the store, and what others added.

A :class:`Cursor` per session holds the store row this process reads and writes (``key``), the last
seq of that row it has seen in order (``seq``), and the seqs it wrote itself beyond that (``own``,
never applied twice). After each write the writer reports the :class:`~jupyter_think.store.Written`
result (:meth:`Follower.written`); when the store says something changed, :meth:`Follower.fetch`
reads the changes other processes committed since the cursor.

When the live row of a session is no longer the cursor's row because the session was started anew
elsewhere (the old row archived) or purged, the session follows the new row: a remote reset, then
every change of the new row. A row trashed elsewhere is not followed anywhere: the next write of
this process restores it (the store does that).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from jupyter_think.core.models import BranchActivated, Change, SessionReset
from jupyter_think.core.session.session import Session
from jupyter_think.store import Store, Written


@dataclass
class Cursor:
    """Where one session stands: its row, the last seq seen in order, seqs written here beyond it."""

    key: int | None = None
    seq: int = 0
    own: set[int] = field(default_factory=set)

    def advance(self) -> None:
        """Move ``seq`` over own seqs that now follow it without a gap."""
        while self.seq + 1 in self.own:
            self.seq += 1
            self.own.discard(self.seq)


@dataclass(frozen=True)
class Foreign:
    """Changes other processes committed to one session, to apply with ``remote=True``."""

    session_id: str
    changes: list[Change]
    reset: SessionReset | None = None

    def apply_to(self, session: Session, pending: Sequence[Change]) -> None:
        """Apply these changes to ``session`` as remote (never written again). The active branch stays
        this process's own; after a reset made elsewhere, what was made here and is not committed yet
        (``pending``) goes to the fresh row too: it is applied again, to stay in view."""
        if self.reset is not None:
            session.apply(self.reset, remote=True)
        for change in self.changes:
            if isinstance(change, BranchActivated):
                continue  # each process keeps its own active branch
            session.apply(change, remote=True)
        if self.reset is not None:
            for change in pending:
                session.apply(change, remote=True)


class Follower:
    """The cursors of the sessions tracked by one persistence loop. Not thread-safe: callers hold
    the persistence's store lock around every method."""

    def __init__(self) -> None:
        self._cursors: dict[str, Cursor] = {}

    def start(self, session_id: str, key: int | None = None, seq: int = 0) -> None:
        """Follow ``session_id`` from row ``key`` at ``seq`` (a session loaded, or new: no row yet)."""
        self._cursors[session_id] = Cursor(key, seq)

    def follows(self, session_id: str) -> bool:
        return session_id in self._cursors

    def forget(self, session_id: str) -> None:
        self._cursors.pop(session_id, None)

    def expected_key(self, session_id: str) -> int | None:
        cursor = self._cursors.get(session_id)
        return None if cursor is None else cursor.key

    def last_seq(self) -> dict[str, int]:
        """Session id -> the last seq seen in order (what ``status()`` calls durable)."""
        return {
            session_id: cursor.seq for session_id, cursor in self._cursors.items() if cursor.key is not None
        }

    def written(self, result: Written) -> None:
        """Record what this process just wrote (so that reading it back never applies it twice)."""
        cursor = self._cursors.get(result.session_id)
        if cursor is None:
            return
        for segment in result.segments:
            if segment.after_reset:  # our own reset made this row: everything in it so far is ours
                cursor.key, cursor.seq, cursor.own = segment.key, segment.last_seq, set()
            elif cursor.key is None or segment.key == cursor.key:
                cursor.key = segment.key
                cursor.own.update(range(segment.first_seq, segment.last_seq + 1))
                cursor.advance()
            # else: written to another row than the one followed (started anew elsewhere); fetch() switches

    def fetch(self, store: Store, session_ids: Collection[str]) -> list[Foreign]:
        """Read what other processes committed to ``session_ids`` since their cursors."""
        tracked = [session_id for session_id in session_ids if session_id in self._cursors]
        heads = store.heads(tracked)
        found: list[Foreign] = []
        for session_id in tracked:
            cursor, head = self._cursors[session_id], heads.get(session_id)
            if head is None:
                continue  # trashed elsewhere, or not stored yet
            if cursor.key is not None and head.key != cursor.key:
                old = store.row(cursor.key)
                if old is not None and old.state != "archived":
                    continue  # our row is in the trash (another session took the id): not ours to follow
                new_row = store.row(head.key)
                changes = store.changes_since(head.key, 0)
                reset = SessionReset(at=new_row.created_at) if new_row is not None else SessionReset()
                self._cursors[session_id] = Cursor(head.key, max((seq for seq, _ in changes), default=0))
                found.append(Foreign(session_id, [change for _, change in changes], reset))
                continue
            if cursor.key is not None and head.last_seq <= cursor.seq:
                continue
            cursor.key = head.key
            changes = store.changes_since(head.key, cursor.seq)
            foreign = [change for seq, change in changes if seq not in cursor.own]
            cursor.seq = max(
                head.last_seq, *(seq for seq, _ in changes), cursor.seq
            )  # (invalid rows skipped too)
            cursor.own = {seq for seq in cursor.own if seq > cursor.seq}
            if foreign:
                found.append(Foreign(session_id, foreign))
        return found
