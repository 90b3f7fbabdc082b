"""Where a write lands: the plan every engine follows, with the SQL left to each engine.

A :class:`~jupyter_think.store.base.SessionWrite` goes to the live row of its session, unless the
row the writer knows (``expected_key``) was trashed by someone else (then that row is made live
again, or, when a new live row has taken the id, written in the trash); a reset among the changes
archives the live row and starts a fresh one in the same transaction (idempotent: a retried batch
finds the fresh row it made). :class:`RowPlan` holds that logic once; an engine gives it its
primitives (:class:`RowSQL`) in its own SQL, run inside its write transaction. The same primitives
serve the plan of trash, restore and retention (:mod:`.lifecycle`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from jupyter_think.store.base import Segment, SessionWrite, State, StoredSession, Written

if TYPE_CHECKING:  # (imported where a write is planned: a store opened to list sessions needs no models)
    from jupyter_think.core.models import Change, SessionReset, Thought

Conn = TypeVar("Conn")
"""The engine's connection type (``sqlite3.Connection``, ``psycopg.Connection``)."""
Conn_contra = TypeVar("Conn_contra", contravariant=True)


class RowSQL(Protocol[Conn_contra]):
    """What an engine gives the row plans, in its SQL; ``conn`` is in the engine's write transaction.

    A session is named as the store names it for this user (an id of one's own, or ``OWNER/ID``);
    "rows" are those of this user (an engine with owners sees only the user's own).
    """

    def live_key(self, conn: Conn_contra, session_id: str) -> int | None:
        """The live row of ``session_id`` (locked for this transaction where the engine locks rows)."""

    def newest_key(
        self, conn: Conn_contra, session_id: str, state: State, key: int | None = None
    ) -> int | None:
        """The newest row of this user's ``session_id`` in ``state`` (locked), else ``None``; with
        ``key``, that row only (when it is one of them)."""

    def row_state(self, conn: Conn_contra, key: int) -> str | None:
        """The state of row ``key``; ``None`` when it was purged."""

    def set_state(self, conn: Conn_contra, key: int, state: State, *, by: str | None = None) -> None:
        """Move row ``key`` to ``state`` (its ``state_changed_at`` now); a move to the trash records who
        made it in ``trashed_by``: ``by``, else the connected user."""

    def create(self, conn: Conn_contra, session_id: str, created_at: datetime) -> int:
        """A new live row for ``session_id`` created at ``created_at`` (or the one a concurrent writer made)."""

    def created_at_is(self, conn: Conn_contra, key: int, at: datetime) -> bool:
        """True when row ``key`` was created at ``at`` exactly (in the engine's own time type)."""

    def started_anew(self, conn: Conn_contra, old_key: int, new_key: int) -> None:
        """What else the fresh row ``new_key`` of a reset takes from the row ``old_key`` it replaces."""

    def insert(
        self, conn: Conn_contra, key: int, run: Sequence[Change], status: str | None
    ) -> tuple[int, int]:
        """Store ``run`` in row ``key`` with the next seqs (and ``status`` in its list column, when
        given); return (first seq, last seq)."""

    def stored(self, conn: Conn_contra, key: int) -> StoredSession:
        """Row ``key`` as ``list`` shows it (it exists)."""

    def own_rows(
        self,
        conn: Conn_contra,
        state: State,
        *,
        changed_before: datetime | None = None,
        active_before: datetime | None = None,
    ) -> list[StoredSession]:
        """This user's rows in ``state`` (locked), those whose state changed before ``changed_before``
        or whose last activity is before ``active_before`` when given."""

    def delete(self, conn: Conn_contra, key: int) -> None:
        """Delete row ``key`` with everything that belongs to it (changes, branches, search text)."""


class RowPlan(Generic[Conn]):
    """The engine-independent half of an append; the store holds one over its :class:`RowSQL`."""

    def __init__(self, sql: RowSQL[Conn]) -> None:
        self.sql = sql

    def append_one(self, conn: Conn, write: SessionWrite) -> Written:
        """Store one session's changes (in the caller's write transaction); say where they went."""
        key, restored, in_trash = self._row_for(conn, write)
        segments = []
        runs = split_at_resets(write.changes)
        for index, (reset, run) in enumerate(runs):
            if reset is not None:
                key = self._reset(conn, write.session_id, reset.at)
            if key is None:
                if not run:
                    continue
                key = self.sql.create(conn, write.session_id, write.created_at or change_time(run[0]))
            status = write.status if index == len(runs) - 1 else None
            first, last = self.sql.insert(conn, key, run, status)
            segments.append(Segment(key, first, last, after_reset=reset is not None))
        return Written(write.session_id, tuple(segments), restored=restored, in_trash=in_trash)

    def _row_for(self, conn: Conn, write: SessionWrite) -> tuple[int | None, bool, bool]:
        """(row to append to, or None to create one; restored from the trash; kept in the trash)."""
        live = self.sql.live_key(conn, write.session_id)
        expected = write.expected_key
        if expected is None or expected == live:
            return live, False, False
        if self.sql.row_state(conn, expected) == "trashed":
            if live is None:
                self.sql.set_state(conn, expected, "live")
                return expected, True, False
            return expected, False, True
        return live, False, False  # archived (started anew elsewhere) or purged: the live row

    def _reset(self, conn: Conn, session_id: str, at: datetime) -> int:
        """Archive the live row and start a fresh one created at the reset's time ``at``."""
        live = self.sql.live_key(conn, session_id)
        if live is not None:
            if self.sql.created_at_is(conn, live, at):  # this very reset was stored already (a retried batch)
                return live
            self.sql.set_state(conn, live, "archived")
        fresh = self.sql.create(conn, session_id, at)
        if live is not None:
            self.sql.started_anew(conn, live, fresh)
        return fresh


# --- what a write holds ------------------------------------------------------------------------------


def change_time(change: Change) -> datetime:
    """When a change was made (the thought's ``created_at``, else the change's own time)."""
    from jupyter_think.core.models import ThoughtAdded

    if isinstance(change, ThoughtAdded):
        return change.thought.created_at
    found = getattr(change, "created_at", None) or getattr(change, "at", None)
    if not isinstance(found, datetime):  # (every change model carries one of the two)
        raise TypeError(f"a {change.kind!r} change carries no time")
    return found


def split_at_resets(changes: Sequence[Change]) -> list[tuple[SessionReset | None, list[Change]]]:
    """Cut a change list at each reset: [(the reset before the run or None, the run's changes)].

    Example:
        >>> from jupyter_think.core.models import SessionReset
        >>> [(reset is not None, len(run)) for reset, run in split_at_resets([SessionReset()])]
        [(True, 0)]
    """
    from jupyter_think.core.models import SessionReset

    runs: list[tuple[SessionReset | None, list[Change]]] = [(None, [])]
    for change in changes:
        if isinstance(change, SessionReset):
            runs.append((change, []))
        else:
            runs[-1][1].append(change)
    if not runs[0][1] and len(runs) > 1:
        runs.pop(0)
    return runs


@dataclass
class RowCounts:
    """What an append adds to a row's list columns: counted thoughts (a retraction takes one away),
    new branch ids, the last status, the highest thought number."""

    thoughts: int = 0
    branch_ids: set[str] = field(default_factory=set)
    status: str | None = None
    top_number: int = 0

    @classmethod
    def of(cls, changes: Iterable[Change | Thought]) -> RowCounts:
        """The counts of ``changes`` (a bare :class:`Thought` counts as the change that added it)."""
        from jupyter_think.core.models import Thought, ThoughtAdded

        counts = cls()
        for change in changes:
            if isinstance(change, (ThoughtAdded, Thought)):
                thought = change.thought if isinstance(change, ThoughtAdded) else change
                counts.thoughts += 1
                counts.top_number = max(counts.top_number, thought.thought_number)
                counts.status = "open" if thought.next_thought_needed else "complete"
                if thought.branch_id is not None and thought.branch_from_thought is not None:
                    counts.branch_ids.add(thought.branch_id)
            elif change.kind == "branch":
                counts.branch_ids.add(change.branch_id)
            elif change.kind == "retract":
                counts.thoughts -= 1
        return counts
