"""The state of a session and how each change alters it: bookkeeping with no lock and no events.

:class:`SessionState` holds what a session is made of (thoughts in arrival order with their current
text, lanes, branches, the active branch, the timeline, amendments, retractions, decisions, merges)
and the one function that applies a change to it (``_change_state``). It also turns the state into
a :class:`~jupyter_think.core.models.SessionRecord` and back, and into a :class:`SessionSnapshot`.
:class:`~jupyter_think.core.session.session.Session` adds the lock, the entry points and the subscribers; every
method here runs under its lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from jupyter_think.core.session.lanes import LaneIndex
from jupyter_think.core.models import (
    BranchActivated,
    BranchCreated,
    BranchDecided,
    BranchInfo,
    BranchMerged,
    Change,
    PlacedChange,
    SessionRecord,
    SessionReset,
    Thought,
    ThoughtAdded,
    ThoughtAmended,
    ThoughtRetracted,
)
from jupyter_think.core.session.snapshot import (
    Branch,
    SessionSnapshot,
    TimelineEntry,
    conclusion_index,
    lane_of,
    path_lanes,
)

TEACHING = (ThoughtAmended, ThoughtRetracted, BranchDecided, BranchMerged)


class SessionState:
    """The state of one session (see the module docstring). ``id`` is the session's id."""

    id: str
    _change_count: int

    def _reset_state(self, created_at: datetime) -> None:
        self.created_at = created_at
        self.last_activity = created_at
        self._thoughts: list[Thought] = []  # arrival order, current (amended) text
        self._trunk: list[Thought] = []
        self._where: dict[str, tuple[int, int]] = {}  # thought id -> (place in _thoughts, place in its lane)
        self._index = LaneIndex()
        self._branches: dict[str, BranchInfo] = {}
        self._members: dict[str, list[Thought]] = {}
        self._active_branch: str | None = None
        self._timeline: list[TimelineEntry] = []  # every change since (re)start; a thought as recorded
        self._texts: dict[str, list[str]] = {}  # amended thought id -> every text it had, recorded first
        self._originals: dict[str, Thought] = {}  # amended thought id -> the thought as recorded
        self._retracted: dict[str, ThoughtRetracted] = {}
        self._decisions: dict[str, BranchDecided] = {}
        self._merges: list[BranchMerged] = []
        self._applied: set[Change] = set()  # teaching changes applied (one read twice is skipped)

    # --- reading ---------------------------------------------------------------------------------------

    def _current(self, thought_id: str) -> Thought:
        """The thought with id ``thought_id`` as it is now (its current text)."""
        return self._thoughts[self._where[thought_id][0]]

    def _branch_views(self) -> Mapping[str, Branch]:
        branches = {}
        for branch_id, info in self._branches.items():
            decision = self._decisions.get(branch_id)
            branches[branch_id] = Branch(
                branch_id,
                info.from_thought,
                tuple(self._members[branch_id]),
                info.created_at,
                decision.outcome if decision is not None else None,
                decision.note if decision is not None else None,
            )
        return MappingProxyType(branches)

    def _ordered_decisions(self) -> Mapping[str, BranchDecided]:
        return MappingProxyType({b: self._decisions[b] for b in self._branches if b in self._decisions})

    def _conclusion(self) -> Thought | None:
        thoughts = self._thoughts
        if not thoughts:
            return None
        if not self._retracted and not self._decisions:
            return None if thoughts[-1].next_thought_needed else thoughts[-1]
        outcomes = {branch_id: d.outcome for branch_id, d in self._decisions.items()}
        path = path_lanes(self._branches, outcomes, ((m.branch_id, m.into) for m in self._merges))
        retracted = self._retracted
        index = conclusion_index(thoughts, lambda t: t.id not in retracted, lambda t: lane_of(t) in path)
        return None if index is None else thoughts[index]

    def _snapshot(self) -> SessionSnapshot:
        return SessionSnapshot(
            self.id,
            tuple(self._thoughts),
            tuple(self._trunk),
            self._branch_views(),
            self._active_branch,
            self._change_count,
            amended=MappingProxyType({key: tuple(texts) for key, texts in self._texts.items()}),
            retracted=frozenset(self._retracted),
            decisions=self._ordered_decisions(),
            merges=tuple(self._merges),
            entries=tuple(self._timeline),
        )

    # --- records ---------------------------------------------------------------------------------------

    def _record(self) -> SessionRecord:
        placed = []
        recorded = 0
        for entry in self._timeline:
            if isinstance(entry, Thought):
                recorded += 1
            else:
                placed.append(PlacedChange(after=recorded, change=entry))
        originals = self._originals
        return SessionRecord(
            id=self.id,
            created_at=self.created_at,
            last_activity=self.last_activity,
            active_branch=self._active_branch,
            thoughts=[originals.get(t.id, t) for t in self._thoughts] if originals else list(self._thoughts),
            branches=dict(self._branches),
            changes=placed,
        )

    def _load(self, record: SessionRecord) -> None:
        """Rebuild the state from a record (into a fresh state): thoughts and placed changes in order."""
        self._branches = dict(record.branches)
        self._members = {branch_id: [] for branch_id in record.branches}
        placed = record.changes
        next_placed = 0
        for position, thought in enumerate(record.thoughts):
            while next_placed < len(placed) and placed[next_placed].after <= position:
                self._replay(placed[next_placed].change)
                next_placed += 1
            self._insert(thought)
        for rest in placed[next_placed:]:
            self._replay(rest.change)
        self._active_branch = record.active_branch if record.active_branch in self._branches else None
        self.last_activity = record.last_activity

    # --- changing ---------------------------------------------------------------------------------------

    def _applicable(self, change: ThoughtAmended | ThoughtRetracted | BranchDecided | BranchMerged) -> bool:
        """True when a teaching change read from elsewhere fits this session and is new to it."""
        if change in self._applied:
            return False
        if isinstance(change, ThoughtAmended):
            return change.thought_id in self._where
        if isinstance(change, ThoughtRetracted):
            return change.thought_id in self._where and change.thought_id not in self._retracted
        if isinstance(change, BranchDecided):
            return change.branch_id in self._branches
        return (
            change.branch_id in self._branches
            and (change.into is None or change.into in self._branches)
            and change.into != change.branch_id
            and change.thought_id in self._where
        )

    def _replay(self, change: Change) -> None:
        """Apply a change of a record without events (one that does not fit is left out)."""
        if isinstance(change, TEACHING) and not self._applicable(change):
            return
        self._change_state(change)

    def _insert(self, thought: Thought) -> None:
        position = len(self._thoughts)
        self._thoughts.append(thought)
        self._timeline.append(thought)
        if thought.branch_id is not None and thought.branch_from_thought is not None:
            lane_id: str | None = thought.branch_id
            members = self._members.get(lane_id)
            if members is None:
                self._branches[lane_id] = BranchInfo(
                    from_thought=thought.branch_from_thought, created_at=thought.created_at
                )
                members = self._members[lane_id] = []
        else:
            lane_id = None
            members = self._trunk
        self._where[thought.id] = (position, len(members))
        members.append(thought)
        self._index.add(thought.id, thought.thought_number, lane_id)

    def _change_state(self, change: Change) -> datetime:
        """Change the state as ``change`` says (checked already); return when it was made."""
        if isinstance(change, ThoughtAdded):
            self._insert(change.thought)
            return change.thought.created_at
        if isinstance(change, SessionReset):
            self._reset_state(change.at)
            return change.at
        self._timeline.append(change)
        if isinstance(change, BranchCreated):
            if change.branch_id not in self._branches:
                self._branches[change.branch_id] = BranchInfo(
                    from_thought=change.from_thought, created_at=change.created_at
                )
                self._members[change.branch_id] = []
            return change.created_at
        if isinstance(change, BranchActivated):
            self._active_branch = change.branch_id if change.branch_id in self._branches else None
            return change.at
        self._applied.add(change)
        if isinstance(change, ThoughtAmended):
            self._amend_text(change.thought_id, change.text)
        elif isinstance(change, ThoughtRetracted):
            self._retracted[change.thought_id] = change
        elif isinstance(change, BranchDecided):
            self._decisions[change.branch_id] = change
        elif isinstance(change, BranchMerged):
            self._merges.append(change)
            self._index.merge(change.branch_id, change.into, change.thought_number)
            self._active_branch = change.into
        else:  # pragma: no cover - the Change union is closed
            raise TypeError(f"unknown change {change!r}")
        return change.at

    def _amend_text(self, thought_id: str, text: str) -> None:
        """Show ``text`` as the thought's text everywhere; keep the earlier texts."""
        position, lane_position = self._where[thought_id]
        current = self._thoughts[position]
        if thought_id not in self._originals:
            self._originals[thought_id] = current
            self._texts[thought_id] = [current.thought]
        self._texts[thought_id].append(text)
        amended = current.model_copy(update={"thought": text})
        self._thoughts[position] = amended
        lane = lane_of(current)
        (self._trunk if lane is None else self._members[lane])[lane_position] = amended

    def _touch(self, at: datetime) -> None:
        """Count one change made at ``at``."""
        if at > self.last_activity:
            self.last_activity = at
        self._change_count += 1
