"""The thoughts of a session and where each stands: the one component that holds them.

:class:`SessionState` keeps the thoughts in arrival order with their current text, the trunk and
each branch's members, the numbers per lane (a :class:`~jupyter_think.core.session.lanes.LaneIndex`),
the branches and the active one, and the timeline (every change since the session (re)started, a
thought as it was recorded). Every read and write of them goes through its methods, so how they
are stored can change here alone. It is bookkeeping: no lock, no events, no checks (the session
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

from collections.abc import Callable, Mapping
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
from jupyter_think.core.session.lanes import Lane, LaneIndex
from jupyter_think.core.session.snapshot import Branch, lane_of

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
        self._thoughts: list[Thought] = []  # arrival order, current (amended) text
        self._trunk: list[Thought] = []
        self._members: dict[str, list[Thought]] = {}
        self._where: dict[str, tuple[int, int]] = {}  # thought id -> (place in _thoughts, place in its lane)
        self._index = LaneIndex()
        self._branches: dict[str, BranchInfo] = {}
        self._timeline: list[Thought | Placed] = []

    # --- thoughts ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._thoughts)

    def thoughts(self) -> tuple[Thought, ...]:
        """Every thought in arrival order, with its current text."""
        return tuple(self._thoughts)

    def recent(self, count: int) -> tuple[Thought, ...]:
        """The last ``count`` thoughts in arrival order."""
        return tuple(self._thoughts[-count:]) if count > 0 else ()

    def last(self) -> Thought | None:
        """The latest thought, or ``None`` in an empty session."""
        return self._thoughts[-1] if self._thoughts else None

    def trunk(self) -> tuple[Thought, ...]:
        """The thoughts that joined no branch, in arrival order."""
        return tuple(self._trunk)

    def members(self, branch_id: str) -> tuple[Thought, ...]:
        """The thoughts of branch ``branch_id`` in arrival order (empty for an unknown branch)."""
        return tuple(self._members.get(branch_id, ()))

    def last_on(self, lane: Lane, counted: Callable[[Thought], bool] | None = None) -> Thought | None:
        """The latest thought on ``lane`` (``None``: the trunk), or the latest ``counted`` one; else ``None``."""
        thoughts = self._trunk if lane is None else self._members.get(lane, ())
        if counted is None:
            return thoughts[-1] if thoughts else None
        return next((thought for thought in reversed(thoughts) if counted(thought)), None)

    def has(self, thought_id: str) -> bool:
        """True when a thought with this id is in the session."""
        return thought_id in self._where

    def current(self, thought_id: str) -> Thought:
        """The thought with id ``thought_id`` as it is now (its current text)."""
        return self._thoughts[self._where[thought_id][0]]

    def timeline(self) -> tuple[Thought | Placed, ...]:
        """Every change since the session (re)started; a thought as it was recorded."""
        return tuple(self._timeline)

    # --- branches and numbers ------------------------------------------------------------------------

    @property
    def branch_ids(self) -> tuple[str, ...]:
        """The branch ids in creation order."""
        return tuple(self._branches)

    def branch_views(self, decision_on: Callable[[str], BranchDecided | None]) -> Mapping[str, Branch]:
        """Branch id -> a read-only :class:`Branch` with its members and latest decision, in creation order."""
        views = {}
        for branch_id, info in self._branches.items():
            decision = decision_on(branch_id)
            views[branch_id] = Branch(
                branch_id,
                info.from_thought,
                tuple(self._members[branch_id]),
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
        return number in self._index.numbers

    def numbers(self) -> set[int]:
        """Every thought number of the session (a copy)."""
        return set(self._index.numbers)

    def lane_numbers(self, lane: Lane) -> set[int]:
        """The numbers recorded on ``lane`` (a copy)."""
        return set(self._index.lane_numbers.get(lane, ()))

    def number_taken(self, lane: Lane, number: int) -> bool:
        """True when ``number`` is recorded on ``lane`` already."""
        return number in self._index.lane_numbers.get(lane, ())

    def next_number(self, lane: Lane, fork: int | None) -> int:
        """The number of the next thought on ``lane``: after its highest, and after its fork point."""
        return max(self._index.lane_top.get(lane, 0), fork or 0) + 1

    def continue_after(self, number: int) -> None:
        """Number the trunk's next thought after ``number`` at least."""
        if number > self._index.lane_top.get(None, 0):
            self._index.lane_top[None] = number

    def find(self, lane: Lane, number: int) -> str | None:
        """The id of the thought ``number`` means on ``lane`` (see :mod:`~jupyter_think.core.session.lanes`)."""
        return self._index.find(lane, number, self._forks())

    def reachable(self, lane: Lane) -> set[int]:
        """Every number that means a thought on ``lane``."""
        return self._index.reachable(lane, self._forks())

    def _forks(self) -> dict[str, tuple[int, Lane]]:
        """Branch id -> (its fork number, the lane holding its fork point)."""

        def lane_of_id(thought_id: str) -> Lane:
            return lane_of(self.current(thought_id))

        return {
            branch_id: (info.from_thought, self._index.fork_lane(info.from_thought, lane_of_id))
            for branch_id, info in self._branches.items()
        }

    # --- changing ------------------------------------------------------------------------------------

    def insert(self, thought: Thought) -> None:
        """Add a recorded thought to its lane (a branch it names with its fork point is made)."""
        position = len(self._thoughts)
        self._thoughts.append(thought)
        self._timeline.append(thought)
        branch_id, fork = thought.branch_id, thought.branch_from_thought
        if branch_id is not None and fork is not None:
            members = self._members.get(branch_id)
            if members is None:
                self._branches[branch_id] = BranchInfo(from_thought=fork, created_at=thought.created_at)
                members = self._members[branch_id] = []
            lane: Lane = branch_id
        else:
            lane = None
            members = self._trunk
        self._where[thought.id] = (position, len(members))
        members.append(thought)
        self._index.add(thought.id, thought.thought_number, lane)

    def apply(self, change: ThoughtAdded | BranchCreated | BranchActivated) -> datetime:
        """Take a thought, a new branch or a switch of branch; return when it was made."""
        if isinstance(change, ThoughtAdded):
            self.insert(change.thought)
            return change.thought.created_at
        self._timeline.append(change)
        if isinstance(change, BranchCreated):
            self.create_branch(change.branch_id, change.from_thought, change.created_at)
            return change.created_at
        self.active_branch = change.branch_id if change.branch_id in self._branches else None
        return change.at

    def create_branch(self, branch_id: str, from_thought: int, created_at: datetime) -> None:
        """Make branch ``branch_id`` forking at ``from_thought`` (an existing one is kept)."""
        if branch_id not in self._branches:
            self._branches[branch_id] = BranchInfo(from_thought=from_thought, created_at=created_at)
            self._members[branch_id] = []

    def note(self, change: TeachingChange) -> None:
        """Put a change the teaching history took on the timeline."""
        self._timeline.append(change)

    def set_text(self, thought_id: str, text: str) -> Thought:
        """Show ``text`` as the thought's text everywhere; return the thought as it was."""
        position, lane_position = self._where[thought_id]
        before = self._thoughts[position]
        amended = before.model_copy(update={"thought": text})
        self._thoughts[position] = amended
        lane = lane_of(before)
        (self._trunk if lane is None else self._members[lane])[lane_position] = amended
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
        thoughts = []
        placed = []
        for entry in self._timeline:
            if isinstance(entry, Thought):
                thoughts.append(entry)
            else:
                placed.append(PlacedChange(after=len(thoughts), change=entry))
        return SessionRecord(
            id=session_id,
            created_at=self.created_at,
            last_activity=self.last_activity,
            active_branch=self.active_branch,
            thoughts=thoughts,
            branches=dict(self._branches),
            changes=placed,
        )
