"""The teaching history of a session: amendments, retractions, decisions between branches, merges.

:class:`TeachingHistory` turns a person's request into one checked change
(:mod:`jupyter_think.core.models`), takes the change when the session applies it (so it is stored,
restored, followed across processes and sent to subscribers like a thought), and answers the read
side: decisions, merges, retracted thoughts, earlier texts, the conclusion. The session holds one
and calls it under its lock; a thought's text itself is in the
:class:`~jupyter_think.core.session.state.SessionState`. The agent tool makes none of these changes.

People name a thought by number: on the active lane, the latest thought with that number (see
:mod:`jupyter_think.core.session.lanes`), as for revisions. Each request is refused with a typed
:class:`~jupyter_think.core.errors.ThinkError` before anything changes:

* ``amend(number, text)`` corrects a typo (a change of mind is a revision, a new thought): the
  thought keeps its number and place, its earlier texts stay in its history. Refused:
  :class:`~jupyter_think.core.errors.InvalidThought` for a number that names no thought (a boolean, 0,
  above ``MAX_NUMBER``) and for an empty text or one holding a NUL or a lone surrogate,
  :class:`~jupyter_think.core.errors.NoSuchThought` when the lane has no such thought,
  :class:`~jupyter_think.core.errors.ThoughtIsRetracted`, :class:`~jupyter_think.core.errors.ThoughtTooLong`.
* ``retract(number)`` withdraws a thought: it stays, marked, and no longer counts. Refused as for an
  amendment, and when it is retracted already.
* ``decide(branch, outcome, note)``: the latest decision on a branch wins (deciding again the same way
  changes nothing). With a branch chosen, the path to the conclusion is the trunk and the chosen
  branches (drawn bold); abandoned lanes are faded and their thoughts are not the conclusion. A
  blank note is no note; a note that is not text, is longer than ``MAX_NOTE_CHARS`` or holds a NUL
  or a lone surrogate raises :class:`~jupyter_think.core.errors.InvalidValue`.
* ``merge(branch, into)``: the target (the trunk or a branch) becomes active and continues from the
  branch's last counted thought: its next thought follows that one (a merge edge in the graph) and
  is numbered after it. Refused: :class:`~jupyter_think.core.errors.TrunkCannot` for ``main`` as the
  branch, :class:`~jupyter_think.core.errors.MergeIntoItself`, :class:`~jupyter_think.core.errors.UnknownBranch`
  for an unknown branch or target, :class:`~jupyter_think.core.errors.NothingToMerge` for a branch
  without a counted thought.

Example:
    >>> from jupyter_think import Session
    >>> s = Session("class")
    >>> _ = s.think("2**7 - 1 = 217", total=3)
    >>> s.amend(1, "2**7 - 1 = 127").thought
    '2**7 - 1 = 127'
    >>> _ = s.think("Try induction on n"); _ = s.retract(2)
    >>> s.history_length, len(s.thoughts)
    (1, 2)
    >>> s.retract(2)
    Traceback (most recent call last):
    ...
    jupyter_think.core.errors.ThoughtIsRetracted: thought 2 on the trunk of session 'class' is retracted already
    >>> _ = s.branch("proof", from_thought=1); _ = s.think("By Fermat")
    >>> s.decide("proof", "chosen", note="short and complete").outcome
    'chosen'
    >>> _ = s.merge("proof")
    >>> s.active_branch is None, s.think("Go on from the proof").thought_number
    (True, 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pydantic import ValidationError

from jupyter_think.core.errors import (
    BadOutcome,
    InvalidThought,
    InvalidValue,
    NothingToMerge,
    ThoughtTooLong,
)
from jupyter_think.core.limits import MAX_NOTE_CHARS, number_problem, text_problem
from jupyter_think.core.models import (
    OUTCOMES,
    BranchDecided,
    BranchMerged,
    Outcome,
    TeachingChange,
    Thought,
    ThoughtAmended,
    ThoughtRetracted,
)
from jupyter_think.core.session.columns import NEXT
from jupyter_think.core.session.snapshot import conclusion_index, path_lanes
from jupyter_think.core.session.state import SessionState

TEACHING = (ThoughtAmended, ThoughtRetracted, BranchDecided, BranchMerged)


def check_numbers(**numbers: object) -> None:
    """Refuse, with one :class:`~jupyter_think.core.errors.InvalidThought` naming each, the arguments that are
    not a number naming a thought (1 to ``MAX_NUMBER``, never a boolean); ``None`` is not checked.

    Example:
        >>> check_numbers(number=3, revises=None)
        >>> check_numbers(number=True)
        Traceback (most recent call last):
        ...
        jupyter_think.core.errors.InvalidThought: number: must be a whole number from 1 to 2147483647, not a boolean (got True)
    """
    problems = [
        (name, problem, value)
        for name, value in numbers.items()
        if value is not None and (problem := number_problem(value)) is not None
    ]
    if problems:
        raise InvalidThought(problems)


class TeachingHistory:
    """The teaching changes a session took, and the checks that make a request one of them."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget every teaching change (the session starts anew)."""
        self._texts: dict[str, list[str]] = {}  # amended thought id -> every text it had, recorded first
        self._retracted: dict[str, ThoughtRetracted] = {}
        self._decisions: dict[str, BranchDecided] = {}
        self._merges: list[BranchMerged] = []
        self._applied: set[TeachingChange] = set()  # so one read twice is skipped

    # --- requests into changes (nothing changes here) ---------------------------------------------------

    @staticmethod
    def amendment(thought: Thought, text: object, max_chars: int) -> ThoughtAmended | None:
        """The change that gives ``thought`` the text ``text`` (``None`` when it has it already)."""
        if not isinstance(text, str) or not text or text.isspace():
            raise InvalidThought([("thought", "must not be empty or only whitespace", text)])
        if len(text) > max_chars:
            raise ThoughtTooLong(len(text), max_chars)
        if text == thought.thought:
            return None
        try:
            return ThoughtAmended(thought_id=thought.id, thought_number=thought.thought_number, text=text)
        except ValidationError as exc:
            raise InvalidThought.from_error(exc) from None

    def decision(self, branch_id: str, outcome: Outcome, note: str | None) -> BranchDecided:
        """The change that decides branch ``branch_id`` (its current decision when that says the same)."""
        if outcome not in OUTCOMES:
            raise BadOutcome(outcome)
        if note is not None and not isinstance(note, str):
            raise InvalidValue([("note", "must be text (or None for no note)", note)])
        if note is not None and (not note or note.isspace()):
            note = None
        if note is not None and (problem := text_problem(note, MAX_NOTE_CHARS)) is not None:
            raise InvalidValue([("note", problem, note)])
        current = self._decisions.get(branch_id)
        if current is not None and (current.outcome, current.note) == (outcome, note):
            return current
        return BranchDecided(branch_id=branch_id, outcome=outcome, note=note)

    def merging(self, session_id: str, state: SessionState, branch_id: str, into: str | None) -> BranchMerged:
        """The change that merges branch ``branch_id`` into ``into`` from its last counted thought
        (the earlier merge when nothing new is in the branch since)."""
        source = state.last_on(branch_id, lambda thought: thought.id not in self._retracted)
        if source is None:
            raise NothingToMerge(session_id, branch_id)
        for earlier in reversed(self._merges):
            if earlier.branch_id == branch_id and earlier.into == into:
                if earlier.thought_id == source.id:
                    return earlier
                break
        return BranchMerged(
            branch_id=branch_id, into=into, thought_id=source.id, thought_number=source.thought_number
        )

    def is_new(self, change: TeachingChange) -> bool:
        """True when the session has not taken ``change`` yet."""
        return change not in self._applied

    # --- taking changes ---------------------------------------------------------------------------------

    def applicable(self, change: TeachingChange, state: SessionState) -> bool:
        """True when a teaching change read from elsewhere fits the session and is new to it."""
        if change in self._applied:
            return False
        if isinstance(change, ThoughtAmended):
            return state.has(change.thought_id)
        if isinstance(change, ThoughtRetracted):
            return state.has(change.thought_id) and change.thought_id not in self._retracted
        if isinstance(change, BranchDecided):
            return state.has_branch(change.branch_id)
        return (
            state.has_branch(change.branch_id)
            and (change.into is None or state.has_branch(change.into))
            and change.into != change.branch_id
            and state.has(change.thought_id)
        )

    def apply(self, change: TeachingChange, state: SessionState) -> None:
        """Take a teaching change (checked already); an amendment changes the text in ``state``."""
        state.note(change)
        self._applied.add(change)
        if isinstance(change, ThoughtAmended):
            before = state.set_text(change.thought_id, change.text)
            self._texts.setdefault(change.thought_id, [before.thought]).append(change.text)
        elif isinstance(change, ThoughtRetracted):
            self._retracted[change.thought_id] = change
        elif isinstance(change, BranchDecided):
            self._decisions[change.branch_id] = change
        elif isinstance(change, BranchMerged):
            self._merges.append(change)
            state.merge_lane(change.branch_id, change.into, change.thought_number)
        else:  # pragma: no cover - the teaching changes are a closed union
            raise TypeError(f"unknown change {change!r}")

    # --- the read side -----------------------------------------------------------------------------------

    def is_retracted(self, thought_id: str) -> bool:
        """True when the thought with this id is retracted."""
        return thought_id in self._retracted

    def retracted(self) -> frozenset[str]:
        """The ids of the retracted thoughts."""
        return frozenset(self._retracted)

    def decisions(self, branch_ids: tuple[str, ...]) -> Mapping[str, BranchDecided]:
        """Branch id -> its latest decision, in the order of ``branch_ids`` (creation order)."""
        return MappingProxyType({b: self._decisions[b] for b in branch_ids if b in self._decisions})

    def decision_on(self, branch_id: str) -> BranchDecided | None:
        """The latest decision on a branch, or ``None``."""
        return self._decisions.get(branch_id)

    def merges(self) -> tuple[BranchMerged, ...]:
        """Every merge, in order."""
        return tuple(self._merges)

    def amended(self) -> Mapping[str, tuple[str, ...]]:
        """Amended thought id -> every text it had, the recorded one first and the current one last."""
        return MappingProxyType({key: tuple(texts) for key, texts in self._texts.items()})

    def counted(self, total: int) -> int:
        """How many of ``total`` recorded thoughts count (the retracted ones do not)."""
        return total - len(self._retracted)

    def conclusion(self, state: SessionState) -> Thought | None:
        """The last counted thought on the path to the conclusion, when it ends the thinking."""
        if not self._retracted and not self._decisions:
            last = state.last()
            return None if last is None or last.next_thought_needed else last
        outcomes = {branch_id: d.outcome for branch_id, d in self._decisions.items()}
        path = path_lanes(state.branch_ids, outcomes, ((m.branch_id, m.into) for m in self._merges))
        retracted = self._retracted
        columns = state.columns  # (the rule read from the columns by position: no model per thought)
        index = conclusion_index(
            range(len(columns)),
            lambda position: columns.ids[position] not in retracted,
            lambda position: columns.lane(position) in path,
            lambda position: not columns.flags[position] & NEXT,
        )
        return None if index is None else columns.model(index)
