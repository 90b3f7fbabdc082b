"""What a person's references mean in a session, each refused with a typed error when it means nothing.

People name lanes by branch id (``main`` for the trunk) and thoughts by number. Here a new thought
gets its lane and fork point (:meth:`References._resolve_lane`), a number is checked to exist
(revisions, fork points), a number on the active lane becomes the thought it means (amendments,
retractions: the latest thought with that number on the lane, else on a branch merged into it, else
up the lane's fork, see :mod:`jupyter_think.core.session.lanes`), and a branch named for a decision or a merge is
checked to exist. Every refusal is a :class:`~jupyter_think.core.errors.ThinkError` raised before anything
changes. The methods run under the session's lock.
"""

from __future__ import annotations

from typing import Any

from jupyter_think.core.errors import (
    BranchForksElsewhere,
    BranchNeedsId,
    NoSuchThought,
    ThoughtIsRetracted,
    TrunkCannot,
    TrunkHasNoFork,
    UnknownBranch,
)
from jupyter_think.core.ids import TRUNK, validate_id
from jupyter_think.core.models import Thought
from jupyter_think.core.session.snapshot import lane_of
from jupyter_think.core.session.state import SessionState


class References(SessionState):
    """Resolving and checking references against the session's state."""

    def _check_new_branch_id(self, branch_id: str) -> str:
        if branch_id == TRUNK:
            raise TrunkHasNoFork()
        return validate_id(branch_id, "branch")

    def _resolve_lane(self, branch: str | None, branch_from: int | None) -> tuple[str | None, int | None]:
        """(branch id, fork point) for a new thought; validates what a person asked for."""
        if branch is None:
            if branch_from is not None:
                raise BranchNeedsId(branch_from)
            branch = self._active_branch
            if branch is None:
                return None, None
            return branch, self._branches[branch].from_thought
        if branch == TRUNK:
            if branch_from is not None:
                raise TrunkHasNoFork(branch_from)
            return None, None
        branch = self._check_new_branch_id(branch)
        if branch in self._branches:
            existing = self._branches[branch].from_thought
            if branch_from is not None and branch_from != existing:
                raise BranchForksElsewhere(self.id, branch, existing, branch_from)
            return branch, existing
        if branch_from is None:
            raise UnknownBranch(self.id, branch)
        self._require_number(branch_from, "branch_from")
        return branch, branch_from

    def _require_number(self, number: int, role: str) -> None:
        if number not in self._index.numbers:
            raise NoSuchThought(self.id, number, self._index.numbers, role)

    def _current_total(self, branch_id: str | None) -> int:
        lane = self._trunk if branch_id is None else self._members.get(branch_id) or self._trunk
        if lane:
            return lane[-1].total_thoughts
        return self._thoughts[-1].total_thoughts if self._thoughts else 1

    def _thought_to_change(self, number: int, role: str) -> Thought:
        """The thought ``number`` means on the active lane, not retracted (else a typed error)."""
        lane = self._active_branch
        forks = self._forks()
        found = self._index.find(lane, number, forks) if isinstance(number, int) else None
        if found is None:
            raise NoSuchThought(self.id, number, self._index.reachable(lane, forks), role, lane)
        if found in self._retracted:
            raise ThoughtIsRetracted(self.id, number, role, lane)
        return self._current(found)

    def _forks(self) -> dict[str, tuple[int, str | None]]:
        """Branch id -> (its fork number, the lane holding its fork point)."""

        def lane_of_id(thought_id: str) -> str | None:
            return lane_of(self._current(thought_id))

        return {
            branch_id: (info.from_thought, self._index.fork_lane(info.from_thought, lane_of_id))
            for branch_id, info in self._branches.items()
        }

    def _known_branch(self, branch_id: Any, action: str) -> str:
        if branch_id == TRUNK or branch_id is None:
            raise TrunkCannot(action)
        validate_id(branch_id, "branch")
        if branch_id not in self._branches:
            raise UnknownBranch(self.id, branch_id, action, tuple(self._branches))
        return branch_id
