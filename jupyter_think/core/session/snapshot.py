"""What a session looks like at one moment: the immutable :class:`SessionSnapshot` every view draws.

A snapshot holds the thoughts with their *current* text (an amended thought shows its latest text;
its earlier texts are in :attr:`SessionSnapshot.amended`), the retracted thoughts (kept, marked,
not counted), each branch's latest decision, the merges, and the **timeline**: every change since
the session (re)started, in the order it happened (what a replay steps through).

The rules that decide how the thinking ended live here, as pure functions, so the session, the
summary and the layout agree:

* the **path** (:func:`path_lanes`): with a branch chosen, the trunk and the chosen branches; else
  the trunk and every branch not abandoned. A branch merged into a lane on the path is on it too,
  unless abandoned.
* the **conclusion** (:func:`conclusion_index`): the last counted (not retracted) thought on the path,
  when it ends the thinking (``next_thought_needed`` false). The session is ``complete`` when there
  is one.

Example:
    >>> from jupyter_think import Session
    >>> s = Session("lesson")
    >>> _ = s.think("Restate", total=3); _ = s.think("Guess: it is 12")
    >>> _ = s.branch("check", from_thought=2); _ = s.think("Check: 13", done=True)
    >>> _ = s.branch("other", from_thought=2); _ = s.think("Maybe 11", done=True)
    >>> _ = s.decide("check", "chosen", note="the check is exact")
    >>> view = s.snapshot()
    >>> view.conclusion.thought, view.status
    ('Check: 13', 'complete')
    >>> [change.kind for change in view.timeline]
    ['thought', 'thought', 'branch', 'activate', 'thought', 'branch', 'activate', 'thought', 'decide']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from jupyter_think.core.models import BranchDecided, BranchMerged, Change, Outcome, Thought, ThoughtAdded

Status = Literal["open", "complete"]
T = TypeVar("T")

TimelineEntry = Thought | Change
"""What a session keeps per change: a recorded :class:`Thought` itself, or any other change."""


def _nothing() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Branch:
    """A read-only view of one branch: where it forks, its thoughts in arrival order (current text),
    and its latest decision (``outcome`` ``chosen`` / ``abandoned`` / ``None``, with its ``note``)."""

    id: str
    from_thought: int
    thoughts: tuple[Thought, ...]
    created_at: datetime
    outcome: Outcome | None = None
    note: str | None = None


def lane_of(thought: Thought) -> str | None:
    """The lane a thought is on: its branch id when it joins a branch, else ``None`` (the trunk)."""
    return (
        thought.branch_id
        if thought.branch_id is not None and thought.branch_from_thought is not None
        else None
    )


def path_lanes(
    branch_ids: Iterable[str],
    outcomes: Mapping[str, Outcome],
    merges: Iterable[tuple[str, str | None]] = (),
) -> frozenset[str | None]:
    """The lanes (``None``: the trunk) on the path to the conclusion.

    With a branch chosen: the trunk and the chosen branches; else the trunk and every branch not
    abandoned. Then a branch merged into a lane on the path (``merges``: (branch, into) pairs) joins
    it, unless abandoned.

    Example:
        >>> sorted(path_lanes(["a", "b"], {"a": "chosen"}), key=str)
        [None, 'a']
        >>> sorted(path_lanes(["a", "b"], {"b": "abandoned"}), key=str)
        [None, 'a']
        >>> sorted(path_lanes(["a", "b"], {"a": "chosen"}, [("b", None)]), key=str)
        [None, 'a', 'b']
    """
    branch_ids = list(branch_ids)
    chosen = {b for b in branch_ids if outcomes.get(b) == "chosen"}
    lanes: set[str | None] = {None}
    lanes |= chosen if chosen else {b for b in branch_ids if outcomes.get(b) != "abandoned"}
    merges = list(merges)
    grown = True
    while grown:
        grown = False
        for branch_id, into in merges:
            if into in lanes and branch_id not in lanes and outcomes.get(branch_id) != "abandoned":
                lanes.add(branch_id)
                grown = True
    return frozenset(lanes)


def conclusion_index(
    items: Sequence[T],
    counted: Callable[[T], bool],
    on_path: Callable[[T], bool],
    ends: Callable[[T], bool] = lambda thought: not thought.next_thought_needed,  # type: ignore[attr-defined]  # (the default for thoughts; other items pass their own)
) -> int | None:
    """The position of the conclusion in ``items`` (thoughts in arrival order, or anything standing
    for them): the last counted item on the path, when it ``ends`` the thinking; ``None`` while the
    thinking is open.

    Example:
        >>> from jupyter_think.core.models import Thought
        >>> a = Thought(thought="a", thought_number=1, total_thoughts=2, next_thought_needed=False)
        >>> b = Thought(thought="b", thought_number=2, total_thoughts=2, next_thought_needed=True)
        >>> conclusion_index([a, b], lambda t: True, lambda t: True) is None
        True
        >>> conclusion_index([a, b], lambda t: t is a, lambda t: True)
        0
    """
    for position in range(len(items) - 1, -1, -1):
        item = items[position]
        if counted(item) and on_path(item):
            return position if ends(item) else None
    return None


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """An immutable view of a session at one moment, taken under its lock (what views draw).

    ``thoughts``, ``trunk`` and each branch's ``thoughts`` show the current (amended) text.
    ``amended`` maps the id of each amended thought to every text it had, the recorded one first and
    the current one last. ``retracted`` holds the ids of retracted thoughts (they stay in
    ``thoughts``). ``decisions`` maps a branch id to its latest decision; ``merges`` are in order.
    ``entries`` is the timeline as kept (see :attr:`timeline`).

    ``change_count`` is the session's :attr:`Session.change_count` at that moment: a subscriber that
    subscribed before taking the snapshot skips the events whose ``index`` is not above it.
    """

    id: str
    thoughts: tuple[Thought, ...]
    trunk: tuple[Thought, ...]
    branches: Mapping[str, Branch]
    active_branch: str | None
    change_count: int
    amended: Mapping[str, tuple[str, ...]] = field(default_factory=_nothing)
    retracted: frozenset[str] = frozenset()
    decisions: Mapping[str, BranchDecided] = field(default_factory=_nothing)
    merges: tuple[BranchMerged, ...] = ()
    entries: tuple[TimelineEntry, ...] = ()

    # --- thoughts ---------------------------------------------------------------------------------

    def is_retracted(self, thought: Thought) -> bool:
        """True when ``thought`` was retracted (it stays in the history, no longer counted)."""
        return thought.id in self.retracted

    def is_amended(self, thought: Thought) -> bool:
        """True when ``thought``'s text was corrected."""
        return thought.id in self.amended

    def earlier_texts(self, thought: Thought) -> tuple[str, ...]:
        """The texts ``thought`` had before its current one, oldest first (empty when never amended)."""
        return self.amended.get(thought.id, ("",))[:-1]

    @property
    def counted(self) -> tuple[Thought, ...]:
        """The thoughts that count: all but the retracted ones, in arrival order."""
        if not self.retracted:
            return self.thoughts
        return tuple(t for t in self.thoughts if t.id not in self.retracted)

    # --- how the thinking ended -----------------------------------------------------------------------

    def outcome(self, branch_id: str | None) -> Outcome | None:
        """The latest decision on a branch (``None`` for the trunk or an undecided branch)."""
        decision = self.decisions.get(branch_id) if branch_id is not None else None
        return decision.outcome if decision is not None else None

    @property
    def has_choice(self) -> bool:
        """True when some branch is chosen (then the chosen path is drawn bold)."""
        return any(d.outcome == "chosen" for d in self.decisions.values())

    @property
    def path(self) -> frozenset[str | None]:
        """The lanes on the path to the conclusion (see :func:`path_lanes`; ``None`` is the trunk)."""
        outcomes = {branch_id: d.outcome for branch_id, d in self.decisions.items()}
        return path_lanes(self.branches, outcomes, ((m.branch_id, m.into) for m in self.merges))

    @property
    def conclusion(self) -> Thought | None:
        """The conclusion: the last counted thought on the path, when it ends the thinking."""
        if not self.thoughts:
            return None
        if not self.retracted and not self.decisions:
            last = self.thoughts[-1]
            return None if last.next_thought_needed else last
        path = self.path
        index = conclusion_index(
            self.thoughts, lambda t: t.id not in self.retracted, lambda t: lane_of(t) in path
        )
        return None if index is None else self.thoughts[index]

    @property
    def status(self) -> Status:
        """``complete`` when the thinking has a conclusion, else ``open``."""
        return "open" if self.conclusion is None else "complete"

    # --- the timeline -----------------------------------------------------------------------------------

    @property
    def timeline(self) -> tuple[Change, ...]:
        """Every change since the session (re)started, in the order it happened.

        A thought appears as a :class:`~jupyter_think.core.models.ThoughtAdded` holding the thought *as
        recorded* (an amendment later in the timeline carries its new text); the other entries are
        the change objects themselves (``branch``, ``activate``, ``amend``, ``retract``, ``decide``,
        ``merge``). Teaching changes name thoughts by ``thought_id`` and lanes by branch id.
        """
        return tuple(
            ThoughtAdded.model_construct(thought=entry) if isinstance(entry, Thought) else entry
            for entry in self.entries
        )

    def snapshot(self) -> SessionSnapshot:
        """Itself (so a view takes a session or a snapshot alike)."""
        return self
