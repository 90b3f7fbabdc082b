"""The teaching changes of a session: amend or retract a thought, decide a branch, merge a branch back.

:class:`TeachingMixin` gives :class:`~jupyter_think.core.session.session.Session` its people's entry points for
them (strict: a refused request raises a typed :class:`~jupyter_think.core.errors.ThinkError` and
changes nothing) and the read side (decisions, merges, retracted thoughts, the conclusion). Each
request becomes one change (:mod:`jupyter_think.core.models`) applied by the session's ``_apply``, so it
is stored, restored, followed across processes and sent to subscribers like a thought.

People name a thought by number: on the active lane, the latest thought with that number (see
:mod:`jupyter_think.core.session.lanes`), as for revisions. The agent tool makes none of these changes.

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
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import ValidationError

from jupyter_think.core.errors import (
    BadOutcome,
    InvalidThought,
    InvalidValue,
    MergeIntoItself,
    NothingToMerge,
    ThoughtTooLong,
    TrunkCannot,
    UnknownBranch,
)
from jupyter_think.core.ids import TRUNK, validate_id
from jupyter_think.core.limits import MAX_NOTE_CHARS, number_problem, text_problem
from jupyter_think.core.models import (
    OUTCOMES,
    BranchActivated,
    BranchDecided,
    BranchMerged,
    Change,
    Outcome,
    Thought,
    ThoughtAmended,
    ThoughtRetracted,
)
from jupyter_think.core.session.references import References


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


class TeachingMixin(References):
    """``amend``, ``retract``, ``decide`` and ``merge``, and what they leave to read."""

    if TYPE_CHECKING:  # what the session adds to its state
        max_thought_chars: int
        _lock: threading.RLock

        def _apply(self, change: Change, *, remote: bool = False) -> None: ...

    # --- people's entry points ------------------------------------------------------------------------

    def amend(self, number: int, text: str) -> Thought:
        """Correct the text of thought ``number`` on the active lane (a typo, not a change of mind).

        The thought keeps its number and place and is marked amended; its earlier texts stay in its
        history (``snapshot().earlier_texts(thought)``, the JSON export). A revision, a change of
        mind, is a new thought: :meth:`revise`. Returns the thought with its new text.

        Raises :class:`~jupyter_think.core.errors.InvalidThought` for a ``number`` that names no thought
        (a boolean, 0, above ``MAX_NUMBER``), :class:`~jupyter_think.core.errors.NoSuchThought` when the
        lane has no such thought, :class:`~jupyter_think.core.errors.ThoughtIsRetracted` for a retracted
        one, and :class:`~jupyter_think.core.errors.InvalidThought` / :class:`~jupyter_think.core.errors.ThoughtTooLong`
        for a text that is empty, too long, or holds a NUL or a lone surrogate.
        """
        check_numbers(number=number)
        with self._lock:
            thought = self._thought_to_change(number, "amend")
            if not isinstance(text, str) or not text or text.isspace():
                raise InvalidThought([("thought", "must not be empty or only whitespace", text)])
            if len(text) > self.max_thought_chars:
                raise ThoughtTooLong(len(text), self.max_thought_chars)
            if text == thought.thought:
                return thought
            try:
                change = ThoughtAmended(
                    thought_id=thought.id, thought_number=thought.thought_number, text=text
                )
            except ValidationError as exc:
                raise InvalidThought.from_error(exc) from None
            self._apply(change)
            return self._current(thought.id)

    def retract(self, number: int) -> Thought:
        """Withdraw thought ``number`` on the active lane: it stays in the history, marked, and no
        longer counts (summary, conclusion, counts, the tool's ``thoughtHistoryLength``).

        Raises :class:`~jupyter_think.core.errors.InvalidThought` for a ``number`` that names no thought,
        :class:`~jupyter_think.core.errors.NoSuchThought` when the lane has no such thought and
        :class:`~jupyter_think.core.errors.ThoughtIsRetracted` when it is retracted already.
        """
        check_numbers(number=number)
        with self._lock:
            thought = self._thought_to_change(number, "retract")
            self._apply(ThoughtRetracted(thought_id=thought.id, thought_number=thought.thought_number))
            return thought

    def decide(self, branch_id: str, outcome: Outcome, note: str | None = None) -> BranchDecided:
        """Record that branch ``branch_id`` was ``"chosen"`` or ``"abandoned"``, with an optional note.

        The latest decision on a branch wins (deciding again the same way changes nothing). With a
        branch chosen, the path to the conclusion is the trunk and the chosen branches (drawn bold);
        abandoned lanes are drawn faded and their thoughts are not the conclusion. A blank note is
        no note; a note that is not text, is longer than ``MAX_NOTE_CHARS`` (10 000 characters) or
        holds a NUL or a lone surrogate raises :class:`~jupyter_think.core.errors.InvalidValue`.

        Example:
            >>> from jupyter_think import Session
            >>> s = Session("d"); _ = s.think("Guess"); _ = s.branch("proof", from_thought=1)
            >>> s.decide("proof", "chosen", note="short and complete").outcome
            'chosen'
        """
        with self._lock:
            branch_id = self._known_branch(branch_id, "decide")
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
            change = BranchDecided(branch_id=branch_id, outcome=outcome, note=note)
            self._apply(change)
            return change

    def merge(self, branch_id: str, into: str | None = TRUNK) -> BranchMerged:
        """Merge branch ``branch_id`` back into ``into`` (``"main"`` or ``None``: the trunk, or a branch).

        The target becomes active and continues from the branch's last counted thought: its next
        thought follows that one (a merge edge in the graph) and is numbered after it. Merging again
        with nothing new in the branch changes nothing.

        Raises :class:`~jupyter_think.core.errors.TrunkCannot` for ``main`` as the branch,
        :class:`~jupyter_think.core.errors.MergeIntoItself`, :class:`~jupyter_think.core.errors.UnknownBranch`
        for an unknown branch or target, :class:`~jupyter_think.core.errors.NothingToMerge` for a branch
        without a counted thought.

        Example:
            >>> from jupyter_think import Session
            >>> s = Session("m"); _ = s.think("Start", total=3)
            >>> _ = s.branch("idea", from_thought=1); _ = s.think("Try it")
            >>> _ = s.merge("idea")
            >>> s.active_branch is None, s.think("Go on from the idea").thought_number
            (True, 3)
        """
        with self._lock:
            if branch_id == TRUNK:
                raise TrunkCannot("merge")
            branch_id = self._known_branch(branch_id, "merge")
            target = None if into is None or into == TRUNK else validate_id(into, "branch")
            if target == branch_id:
                raise MergeIntoItself(branch_id)
            if target is not None and target not in self._branches:
                raise UnknownBranch(self.id, target, "merge into", tuple(self._branches))
            source = next(
                (t for t in reversed(self._members[branch_id]) if t.id not in self._retracted), None
            )
            if source is None:
                raise NothingToMerge(self.id, branch_id)
            for earlier in reversed(self._merges):
                if earlier.branch_id == branch_id and earlier.into == target:
                    if earlier.thought_id == source.id:  # nothing new to merge: only go back to the target
                        if self._active_branch != target:
                            self._apply(BranchActivated(branch_id=target))
                        return earlier
                    break
            change = BranchMerged(
                branch_id=branch_id, into=target, thought_id=source.id, thought_number=source.thought_number
            )
            self._apply(change)
            return change

    # --- the read side ------------------------------------------------------------------------------

    @property
    def decisions(self) -> Mapping[str, BranchDecided]:
        """Branch id -> its latest decision (outcome, note, time), in branch creation order."""
        with self._lock:
            return self._ordered_decisions()

    @property
    def merges(self) -> tuple[BranchMerged, ...]:
        """Every merge, in order."""
        return tuple(self._merges)

    @property
    def retracted(self) -> frozenset[str]:
        """The ids of the retracted thoughts (they stay in :attr:`thoughts`)."""
        return frozenset(self._retracted)

    @property
    def history_length(self) -> int:
        """How many thoughts count: all recorded minus the retracted ones (the tool's ``thoughtHistoryLength``)."""
        return len(self._thoughts) - len(self._retracted)
