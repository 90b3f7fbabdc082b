"""What a person's references mean in a session, each refused with a typed error when it means nothing.

People name lanes by branch id (``main`` for the trunk) and thoughts by number. Here a new thought
gets its lane, fork point and number (:meth:`References.resolve_lane`, :meth:`References.number_for`),
a number is checked to exist (revisions, fork points), a number on the active lane becomes the
thought it means (amendments, retractions: the latest thought with that number on the lane, else on
a branch merged into it, else up the lane's fork, see :mod:`jupyter_think.core.session.lanes`), and a
branch named for a decision or a merge is checked to exist. Every refusal is a
:class:`~jupyter_think.core.errors.ThinkError` raised before anything changes. The session holds one
:class:`References` and calls it under its lock.
"""

from __future__ import annotations

from typing import Any

from jupyter_think.core.errors import (
    BranchForksElsewhere,
    BranchNeedsId,
    MergeIntoItself,
    NoSuchThought,
    NumberTaken,
    ThoughtIsRetracted,
    TrunkCannot,
    TrunkHasNoFork,
    UnknownBranch,
)
from jupyter_think.core.ids import TRUNK, validate_id
from jupyter_think.core.models import Thought
from jupyter_think.core.session.state import SessionState
from jupyter_think.core.session.teaching import TeachingHistory


class References:
    """Resolving and checking references against one session's state and teaching history."""

    def __init__(self, session_id: str, state: SessionState, teaching: TeachingHistory) -> None:
        self.session_id = session_id
        self._state = state
        self._teaching = teaching

    def check_new_branch_id(self, branch_id: str) -> str:
        """``branch_id`` when it can name a new branch (not ``main``, a valid id)."""
        if branch_id == TRUNK:
            raise TrunkHasNoFork()
        return validate_id(branch_id, "branch")

    def new_thought(
        self,
        text: str,
        total: int | None,
        done: bool,
        branch: str | None,
        branch_from: int | None,
        number: int | None,
        revises: int | None,
        more: bool,
    ) -> dict[str, Any]:
        """The fields of the thought a person asks for (``Session.think``): its lane, fork point, number
        and estimate resolved and checked. Only the fields that are set are given (each explicit
        ``None`` costs the model a validation step); the model raises the total to the number."""
        if branch is None and branch_from is None and self._state.active_branch is None:
            lane = fork = None  # the common case: the next thought of the trunk
        else:
            lane, fork = self.resolve_lane(branch, branch_from)
        if revises is not None:
            self.require_number(revises, "revise")
        fields: dict[str, Any] = {
            "thought": text,
            "thought_number": self.number_for(lane, fork, number),
            "total_thoughts": total if total is not None else self.current_total(lane),
            "next_thought_needed": not done,
        }
        if revises is not None:
            fields["is_revision"] = True
            fields["revises_thought"] = revises
        if lane is not None:
            fields["branch_id"] = lane
            fields["branch_from_thought"] = fork
        if more:
            fields["needs_more_thoughts"] = True
        return fields

    def resolve_lane(self, branch: str | None, branch_from: int | None) -> tuple[str | None, int | None]:
        """(branch id, fork point) for a new thought; validates what a person asked for."""
        state = self._state
        if branch is None:
            if branch_from is not None:
                raise BranchNeedsId(branch_from)
            branch = state.active_branch
            if branch is None:
                return None, None
            return branch, state.fork_of(branch)
        if branch == TRUNK:
            if branch_from is not None:
                raise TrunkHasNoFork(branch_from)
            return None, None
        branch = self.check_new_branch_id(branch)
        if state.has_branch(branch):
            existing = state.fork_of(branch)
            if branch_from is not None and branch_from != existing:
                raise BranchForksElsewhere(self.session_id, branch, existing, branch_from)
            return branch, existing
        if branch_from is None:
            raise UnknownBranch(self.session_id, branch)
        self.require_number(branch_from, "branch_from")
        return branch, branch_from

    def new_branch(self, branch_id: str, from_thought: int) -> tuple[str, bool]:
        """(``branch_id``, whether it exists already) for a branch a person makes at ``from_thought``:
        an existing branch must fork there, a new one at a number some thought has."""
        branch_id = self.check_new_branch_id(branch_id)
        if self._state.has_branch(branch_id):
            existing = self._state.fork_of(branch_id)
            if existing != from_thought:
                raise BranchForksElsewhere(self.session_id, branch_id, existing, from_thought)
            return branch_id, True
        self.require_number(from_thought, "branch_from")
        return branch_id, False

    def lane_to_switch(self, branch_id: str | None) -> str | None:
        """The lane a person switches to (``None`` or ``main``: the trunk), which must exist."""
        if branch_id is None or branch_id == TRUNK:
            return None
        validate_id(branch_id, "branch")
        if not self._state.has_branch(branch_id):
            raise UnknownBranch(self.session_id, branch_id)
        return branch_id

    def number_for(self, lane: str | None, fork: int | None, number: int | None) -> int:
        """The number of a new thought on ``lane``: ``number`` when it is free there, else the next one.

        A branch also counts every number up to its fork point as taken.
        """
        state = self._state
        if number is None:
            return state.next_number(lane, fork)
        if state.number_taken(lane, number) or 1 <= number <= (fork or 0):
            raise NumberTaken(self.session_id, number, lane, state.lane_numbers(lane), up_to=fork or 0)
        return number

    def require_number(self, number: int, role: str) -> None:
        """Refuse a ``number`` that no thought has (a revision, a fork point)."""
        if not self._state.has_number(number):
            raise NoSuchThought(self.session_id, number, self._state.numbers(), role)

    def current_total(self, lane: str | None) -> int:
        """The estimate a new thought on ``lane`` keeps: its lane's latest, else the trunk's, else 1."""
        state = self._state
        total = (state.total_on(lane) if lane is not None else None) or state.total_on(None)
        if total is None:
            last = state.last()
            total = last.total_thoughts if last is not None else 1
        return total

    def thought_to_change(self, number: int, role: str) -> Thought:
        """The thought ``number`` means on the active lane, not retracted (else a typed error)."""
        state = self._state
        lane = state.active_branch
        found = state.find(lane, number) if isinstance(number, int) else None
        if found is None:
            raise NoSuchThought(self.session_id, number, state.reachable(lane), role, lane)
        if self._teaching.is_retracted(found):
            raise ThoughtIsRetracted(self.session_id, number, role, lane)
        return state.current(found)

    def merge_target(self, branch_id: str, into: str | None) -> str | None:
        """The lane branch ``branch_id`` may merge into (``None``: the trunk), else a typed error."""
        target = None if into is None or into == TRUNK else validate_id(into, "branch")
        if target == branch_id:
            raise MergeIntoItself(branch_id)
        if target is not None and not self._state.has_branch(target):
            raise UnknownBranch(self.session_id, target, "merge into", self._state.branch_ids)
        return target

    def known_branch(self, branch_id: Any, action: str) -> str:
        """``branch_id`` when it names a branch of the session (never the trunk), else a typed error."""
        if branch_id == TRUNK or branch_id is None:
            raise TrunkCannot(action)
        validate_id(branch_id, "branch")
        if not self._state.has_branch(branch_id):
            raise UnknownBranch(self.session_id, branch_id, action, self._state.branch_ids)
        return branch_id
