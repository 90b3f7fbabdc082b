"""How a change reaches a session's parts, in order, and who hears of it: :class:`Changes`.

A thought, a new branch and a switch of branch go to the
:class:`~jupyter_think.core.session.state.SessionState`; an amendment, a retraction, a decision and a
merge to the :class:`~jupyter_think.core.session.teaching.TeachingHistory` (an amendment also gives
the thought its new text in the state, a merge moves the active lane); a reset clears both. Before a
local change is applied the write-ahead commits it (sync durability); after, each subscriber gets a
:class:`~jupyter_think.core.events.SessionEvent`. A change read from elsewhere is first checked to fit
(:meth:`Changes.fits`). Nothing here locks or checks a person's request: the session does, around
these calls.

Example:
    >>> from jupyter_think.core.models import BranchCreated, utc_now
    >>> changes = Changes("demo", SessionState(utc_now()), TeachingHistory())
    >>> events = []; changes.subscribers = (events.append,)
    >>> change = BranchCreated(branch_id="alt", from_thought=1)
    >>> changes.fits(change), changes.apply(change), changes.fits(change)
    (True, None, False)
    >>> [(event.change.kind, event.index) for event in events], changes.state.branch_ids
    ([('branch', 1)], ('alt',))
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime

from jupyter_think.core.errors import ReadOnlySession
from jupyter_think.core.events import SessionEvent, Subscriber, WriteAhead
from jupyter_think.core.models import (
    BranchActivated,
    BranchCreated,
    Change,
    SessionRecord,
    SessionReset,
    TeachingChange,
    Thought,
    ThoughtAdded,
)
from jupyter_think.core.session.columns import ThoughtRows
from jupyter_think.core.session.snapshot import SessionSnapshot
from jupyter_think.core.session.state import SessionState
from jupyter_think.core.session.teaching import TEACHING, TeachingHistory


class Changes:
    """The changes of one session: applied to its parts, counted, committed ahead, told to subscribers."""

    def __init__(self, session_id: str, state: SessionState, teaching: TeachingHistory) -> None:
        self.session_id = session_id
        self.state = state
        self.teaching = teaching
        self.count = 0
        """How many changes the session has seen in this process."""
        self.subscribers: tuple[Subscriber, ...] = ()
        self.write_ahead: WriteAhead | None = None
        self.read_only: str | None = None
        """Why no local change may be made (another user's session), or ``None``."""

    def check_writable(self) -> None:
        """Refuse a local change to a read-only session."""
        if self.read_only is not None:
            raise ReadOnlySession(self.session_id, self.read_only)

    def add(self, thought: Thought) -> None:
        """Record a new thought (checked already). While nobody needs the change object (no subscriber,
        no write-ahead), the same effect without building it: ``think()`` runs in tight loops."""
        if self.subscribers or self.write_ahead is not None:
            self.apply(ThoughtAdded(thought=thought))
        else:
            self.take_thought(thought)

    def take_thought(self, thought: Thought) -> None:
        """Record a thought as its :class:`ThoughtAdded` would, without the change object or events."""
        self.state.insert(thought)
        self.state.touch(thought.created_at)
        self.count += 1

    def apply(self, change: Change, *, remote: bool = False) -> None:
        """Apply a change (checked already); ``remote``: read from elsewhere, so not committed ahead
        and allowed on a read-only session."""
        if not remote:
            if not isinstance(change, BranchActivated):  # (looking at another branch is no change)
                self.check_writable()
            if self.write_ahead is not None:
                self.write_ahead(self.session_id, change)  # raises when the store refuses: nothing applied
        if isinstance(change, SessionReset):
            self.state.clear(change.at)
            self.teaching.clear()
            at = change.at
        elif isinstance(change, TEACHING):
            self.teaching.apply(change, self.state)
            at = change.at
        else:
            at = self.state.apply(change)
        self.state.touch(at)
        self.count += 1
        if self.subscribers:
            self._emit(SessionEvent(self.session_id, change, remote, self.count))

    def _emit(self, event: SessionEvent) -> None:
        for callback in self.subscribers:
            try:
                callback(event)
            except Exception as exc:
                warnings.warn(
                    f"jupyter-think: a change subscriber failed: {exc!r}", RuntimeWarning, stacklevel=2
                )

    def fits(self, change: Change) -> bool:
        """True when a change read from elsewhere is new to the session and names what it has.

        A thought with an id it has, a branch that exists, an equal teaching change or a retraction of
        a thought retracted already is not new; a teaching change naming a thought or branch the
        session does not have does not fit.
        """
        if isinstance(change, ThoughtAdded):
            return not self.state.has(change.thought.id)
        if isinstance(change, BranchCreated):
            return not self.state.has_branch(change.branch_id)
        if isinstance(change, TEACHING):
            return self.teaching.applicable(change, self.state)
        return True

    def replay(self, changes: Iterable[Change | Thought | ThoughtRows]) -> None:
        """Apply the changes that fit, in order (a session just made from what its store holds: nobody
        listens yet); a bare :class:`Thought` stands for its :class:`ThoughtAdded`, and
        :class:`ThoughtRows` for theirs (kept as columns: no model per thought)."""
        for change in changes:
            if isinstance(change, ThoughtRows):
                self.take_rows(change)
            elif not isinstance(change, Thought):
                if self.fits(change):
                    self.apply(change)
            elif not self.state.has(change.id):
                self.take_thought(change)

    def take_rows(self, rows: ThoughtRows) -> None:
        """Record decoded thoughts as their :class:`ThoughtAdded` changes would (one the session has
        already, or one repeated among them, is left out like a repeated change)."""
        if not rows.ids:
            return
        where = self.state.columns.where
        if len(set(rows.ids)) == len(rows.ids) and where.keys().isdisjoint(rows.ids):
            self.state.insert_rows(rows)
            self.state.touch(rows.times_at()[1])
            self.count += len(rows)
            return
        for thought in rows.models():  # (rare: the same thought stored twice)
            if not self.state.has(thought.id):
                self.take_thought(thought)

    def load(self, record: SessionRecord) -> None:
        """Rebuild fresh parts from a record, without events: its branches, then its thoughts and placed
        changes in order (one that does not fit is left out), then its active branch and last activity."""
        state = self.state
        for branch_id, info in record.branches.items():
            state.create_branch(branch_id, info.from_thought, info.created_at)
        placed = record.changes
        next_placed = 0
        for position, thought in enumerate(record.thoughts):
            while next_placed < len(placed) and placed[next_placed].after <= position:
                self._replay(placed[next_placed].change)
                next_placed += 1
            state.insert(thought)
        for rest in placed[next_placed:]:
            self._replay(rest.change)
        state.active_branch = record.active_branch if state.has_branch(record.active_branch) else None
        state.last_activity = record.last_activity

    def _replay(self, change: BranchCreated | BranchActivated | TeachingChange) -> None:
        if not isinstance(change, TEACHING):
            self.state.apply(change)
        elif self.teaching.applicable(change, self.state):
            self.teaching.apply(change, self.state)

    def snapshot(self) -> SessionSnapshot:
        """The parts as one immutable :class:`~jupyter_think.core.session.snapshot.SessionSnapshot`."""
        state, teaching = self.state, self.teaching
        thoughts = state.thoughts()
        return SessionSnapshot(
            self.session_id,
            thoughts,
            state.trunk(thoughts),
            state.branch_views(teaching.decision_on, thoughts),
            state.active_branch,
            self.count,
            amended=teaching.amended(),
            retracted=teaching.retracted(),
            decisions=teaching.decisions(state.branch_ids),
            merges=teaching.merges(),
            entries=state.timeline(thoughts),
        )


def first_time(changes: Sequence[Change | Thought | ThoughtRows]) -> datetime | None:
    """When the first of ``changes`` was made, if it is a thought (a session rebuilt from them began then)."""
    first = changes[0] if changes else None
    if isinstance(first, ThoughtRows):
        return first.times_at()[0] if len(first) else None
    if isinstance(first, ThoughtAdded):
        return first.thought.created_at
    return first.created_at if isinstance(first, Thought) else None
