"""The thoughts of a session and where each stands: the one component that holds them.

:class:`SessionState` keeps the thoughts in arrival order with their current text, the trunk and
each branch's members, the numbers per lane (a :class:`~jupyter_think.core.session.lanes.LaneIndex`),
the branches and the active one, and the timeline (every change since the session (re)started, a
thought as it was recorded). Every read and write of them goes through its methods, so how they
are stored can change here alone: the thoughts are kept as columns
(:class:`~jupyter_think.core.session.columns.ThoughtColumns`, nothing the garbage collector walks),
each lane as arrays of positions, and the timeline as the other changes placed among the thoughts;
the public models are built when read. It is bookkeeping: no lock, no events, no checks (the session
checks a change and holds its lock while the state takes it).

Example:
    >>> from jupyter_think.core.models import Thought, utc_now
    >>> state = SessionState(utc_now())
    >>> state.insert(Thought(thought="Guess", thought_number=1, total_thoughts=2, next_thought_needed=True))
    >>> state.create_branch("alt", 1, utc_now())
    >>> len(state), state.branch_ids, state.next_number("alt", 1)
    (1, ('alt',), 2)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from jupyter_think.core.models import (
    BranchActivated,
    BranchCreated,
    BranchDecided,
    BranchInfo,
    PlacedChange,
    SessionRecord,
    TeachingChange,
    Thought,
    ThoughtAdded,
)
from jupyter_think.core.session.columns import ThoughtColumns, ThoughtRows
from jupyter_think.core.session.lanes import Lane, LaneIndex
from jupyter_think.core.session.snapshot import Branch

Placed = BranchCreated | BranchActivated | TeachingChange
"""A change other than a thought, as the timeline keeps it (a record places it among the thoughts)."""


class SessionState:
    """The thoughts, lanes, branches and timeline of one session (see the module docstring)."""

    def __init__(self, created_at: datetime) -> None:
        if created_at.utcoffset() is None:
            raise ValueError("created_at must carry its time zone, e.g. datetime.now(timezone.utc)")
        self.clear(created_at)

    def clear(self, created_at: datetime) -> None:
        """Hold no thought, as a session made at ``created_at`` (a new one, or one started anew)."""
        self.created_at = created_at
        self.last_activity = created_at
        self.active_branch: str | None = None
        """The branch new thoughts go to; ``None`` for the trunk."""
        self.columns = ThoughtColumns()  # arrival order, current (amended) text
        self._index = LaneIndex()
        self._branches: dict[str, BranchInfo] = {}
        self._placed: list[tuple[int, Placed]] = []  # (how many thoughts came before it, the change)

    # --- thoughts ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.columns)

    # (the read methods take self.columns once: a reset elsewhere replaces it, never changes it)

    def thoughts(self) -> tuple[Thought, ...]:
        """Every thought in arrival order, with its current text."""
        columns = self.columns
        return columns.models(range(len(columns)))

    def recent(self, count: int) -> tuple[Thought, ...]:
        """The last ``count`` thoughts in arrival order."""
        columns = self.columns
        size = len(columns)
        return columns.models(range(max(size - count, 0), size)) if count > 0 else ()

    def last(self) -> Thought | None:
        """The latest thought, or ``None`` in an empty session."""
        columns = self.columns
        size = len(columns)
        return columns.model(size - 1) if size else None

    def trunk(self, built: tuple[Thought, ...] | None = None) -> tuple[Thought, ...]:
        """The thoughts that joined no branch, in arrival order (``built``: as :meth:`members`)."""
        return self.members(None, built)

    def members(self, lane: Lane, built: tuple[Thought, ...] | None = None) -> tuple[Thought, ...]:
        """The thoughts of branch ``lane`` (``None``: the trunk) in arrival order, empty for an unknown
        branch (``built``: every thought as :meth:`thoughts` gives them, when built already)."""
        positions = self._index.positions(lane)
        if built is None:
            return self.columns.models(positions)
        return tuple([built[position] for position in positions])

    def last_on(self, lane: Lane, counted: Callable[[Thought], bool] | None = None) -> Thought | None:
        """The latest thought on ``lane`` (``None``: the trunk), or the latest ``counted`` one; else ``None``."""
        positions = self._index.positions(lane)
        if counted is None:
            return self.columns.model(positions[-1]) if positions else None
        for position in reversed(positions):
            thought = self.columns.model(position)
            if counted(thought):
                return thought
        return None

    def total_on(self, lane: Lane) -> int | None:
        """The estimate of the latest thought on ``lane`` (``None``: the trunk), or ``None`` on an empty lane."""
        positions = self._index.positions(lane)
        return self.columns.totals[positions[-1]] if positions else None

    def has(self, thought_id: str) -> bool:
        """True when a thought with this id is in the session."""
        return thought_id in self.columns.where

    def current(self, thought_id: str) -> Thought:
        """The thought with id ``thought_id`` as it is now (its current text)."""
        return self.columns.model(self.columns.where[thought_id])

    def timeline(self, built: tuple[Thought, ...] | None = None) -> tuple[Thought | Placed, ...]:
        """Every change since the session (re)started; a thought as it was recorded (``built``: every
        thought as :meth:`thoughts` gives them, when built already)."""
        columns = self.columns
        thoughts: Sequence[Thought] = self.thoughts() if built is None else built
        if columns.recorded:
            recorded = columns.recorded
            thoughts = [
                columns.build(position, recorded[position]) if position in recorded else thought
                for position, thought in enumerate(thoughts)
            ]
        entries: list[Thought | Placed] = []
        start = 0
        for after, change in self._placed:
            entries += thoughts[start:after]
            entries.append(change)
            start = after
        entries += thoughts[start:]
        return tuple(entries)

    # --- branches and numbers ------------------------------------------------------------------------

    @property
    def branch_ids(self) -> tuple[str, ...]:
        """The branch ids in creation order."""
        return tuple(self._branches)

    def branch_views(
        self, decision_on: Callable[[str], BranchDecided | None], built: tuple[Thought, ...] | None = None
    ) -> Mapping[str, Branch]:
        """Branch id -> a read-only :class:`Branch` with its members and latest decision, in creation order
        (``built``: as :meth:`members`)."""
        views = {}
        for branch_id, info in self._branches.items():
            decision = decision_on(branch_id)
            views[branch_id] = Branch(
                branch_id,
                info.from_thought,
                self.members(branch_id, built),
                info.created_at,
                decision.outcome if decision is not None else None,
                decision.note if decision is not None else None,
            )
        return MappingProxyType(views)

    def has_branch(self, branch_id: str | None) -> bool:
        """True when ``branch_id`` names a branch of the session."""
        return branch_id in self._branches

    def fork_of(self, branch_id: str) -> int:
        """The thought number branch ``branch_id`` forks at."""
        return self._branches[branch_id].from_thought

    def has_number(self, number: int) -> bool:
        """True when some thought (on any lane) has this number."""
        return self._index.has_number(number)

    def numbers(self) -> set[int]:
        """Every thought number of the session (a copy)."""
        return self._index.numbers()

    def lane_numbers(self, lane: Lane) -> set[int]:
        """The numbers recorded on ``lane`` (a copy)."""
        return self._index.lane_numbers(lane)

    def number_taken(self, lane: Lane, number: int) -> bool:
        """True when ``number`` is recorded on ``lane`` already."""
        return self._index.number_taken(lane, number)

    def next_number(self, lane: Lane, fork: int | None) -> int:
        """The number of the next thought on ``lane``: after its highest, and after its fork point."""
        return max(self._index.lane_top.get(lane, 0), fork or 0) + 1

    def continue_after(self, number: int) -> None:
        """Number the trunk's next thought after ``number`` at least."""
        if number > self._index.lane_top.get(None, 0):
            self._index.lane_top[None] = number

    def find(self, lane: Lane, number: int) -> str | None:
        """The id of the thought ``number`` means on ``lane`` (see :mod:`~jupyter_think.core.session.lanes`)."""
        position = self._index.find(lane, number, self._forks())
        return None if position is None else self.columns.ids[position]

    def reachable(self, lane: Lane) -> set[int]:
        """Every number that means a thought on ``lane``."""
        return self._index.reachable(lane, self._forks())

    def _forks(self) -> dict[str, tuple[int, Lane]]:
        """Branch id -> (its fork number, the lane holding its fork point)."""
        return {
            branch_id: (info.from_thought, self._index.fork_lane(info.from_thought, self.columns.lane))
            for branch_id, info in self._branches.items()
        }

    # --- changing ------------------------------------------------------------------------------------

    def insert(self, thought: Thought) -> None:
        """Add a recorded thought to its lane (a branch it names with its fork point is made)."""
        self._place(self.columns.append(thought))

    def insert_rows(self, rows: ThoughtRows) -> None:
        """Add thoughts decoded from a store (ids new to the session and distinct) to their lanes."""
        start = self.columns.take(rows)
        end = start + len(rows)
        if any(rows.forks):  # some join a branch: each placed on its lane
            for position in range(start, end):
                self._place(position)
        elif rows.numbers:  # the trunk's only
            self._index.extend(range(start, end), rows.numbers, None)

    def _place(self, position: int) -> None:
        columns = self.columns
        fork = columns.forks[position]
        lane: Lane = None
        if fork:
            branch_id = columns.names[columns.branches[position]]
            if branch_id is not None:
                lane = branch_id
                if branch_id not in self._branches:
                    self._branches[branch_id] = BranchInfo(
                        from_thought=fork, created_at=columns.created_at(position)
                    )
        self._index.add(position, columns.numbers[position], lane)

    def apply(self, change: ThoughtAdded | BranchCreated | BranchActivated) -> datetime:
        """Take a thought, a new branch or a switch of branch; return when it was made."""
        if isinstance(change, ThoughtAdded):
            self.insert(change.thought)
            return change.thought.created_at
        self._placed.append((len(self.columns), change))
        if isinstance(change, BranchCreated):
            self.create_branch(change.branch_id, change.from_thought, change.created_at)
            return change.created_at
        self.active_branch = change.branch_id if change.branch_id in self._branches else None
        return change.at

    def create_branch(self, branch_id: str, from_thought: int, created_at: datetime) -> None:
        """Make branch ``branch_id`` forking at ``from_thought`` (an existing one is kept)."""
        if branch_id not in self._branches:
            self._branches[branch_id] = BranchInfo(from_thought=from_thought, created_at=created_at)

    def note(self, change: TeachingChange) -> None:
        """Put a change the teaching history took on the timeline."""
        self._placed.append((len(self.columns), change))

    def set_text(self, thought_id: str, text: str) -> Thought:
        """Show ``text`` as the thought's text everywhere; return the thought as it was."""
        position = self.columns.where[thought_id]
        before = self.columns.model(position)
        self.columns.set_text(position, text)
        return before

    def merge_lane(self, branch_id: str, into: str | None, number: int) -> None:
        """Branch ``branch_id`` was merged into ``into``: it is active, its next thought follows ``number``."""
        self._index.merge(branch_id, into, number)
        self.active_branch = into

    def touch(self, at: datetime) -> None:
        """A change was made at ``at``."""
        self.last_activity = max(self.last_activity, at)

    # --- records -------------------------------------------------------------------------------------

    def record(self, session_id: str) -> SessionRecord:
        """The state as a record: the thoughts as recorded, every other change placed among them."""
        columns = self.columns
        return SessionRecord(
            id=session_id,
            created_at=self.created_at,
            last_activity=self.last_activity,
            active_branch=self.active_branch,
            thoughts=[columns.as_recorded(position) for position in range(len(columns))],
            branches=dict(self._branches),
            changes=[PlacedChange(after=after, change=change) for after, change in self._placed],
        )
