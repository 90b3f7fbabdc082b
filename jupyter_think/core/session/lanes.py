"""Thought numbers per lane, and what a number a person gives means on a lane.

People name thoughts by number (``%think --amend 3``); a session holds thoughts by id. A lane is
the trunk (``None``) or a branch id. On a lane, number N means the latest thought numbered N on
that lane; else on a branch merged into it (the latest merge first); else, for a number up to the
branch's fork point, on the lane the branch forks from. The agent tool may record a number twice:
the latest one wins, as for revisions.

Pure bookkeeping (no lock, no events): the session owns one :class:`LaneIndex` and updates it.

Example:
    >>> index = LaneIndex()
    >>> index.add("t1", 1, None); index.add("t2", 2, None); index.add("b3", 3, "alt")
    >>> forks = {"alt": (2, None)}
    >>> index.find("alt", 3, forks), index.find("alt", 1, forks), index.find(None, 3, forks)
    ('b3', 't1', None)
    >>> sorted(index.reachable("alt", forks))
    [1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

Lane = str | None
"""A lane: ``None`` for the trunk, else a branch id."""

Forks = Mapping[str, tuple[int, Lane]]
"""Branch id -> (the number it forks at, the lane holding that thought)."""


class LaneIndex:
    """Which numbers each lane holds and the latest thought (by id) per number and lane."""

    def __init__(self) -> None:
        self.numbers: set[int] = set()
        """Every thought number of the session (any lane)."""
        self.lane_numbers: dict[Lane, set[int]] = {None: set()}
        """Lane -> the numbers recorded on it."""
        self.lane_top: dict[Lane, int] = {}
        """Lane -> the number its next thought follows (its highest, or a merged branch's last)."""
        self.latest: dict[Lane, dict[int, str]] = {None: {}}
        """Lane -> number -> id of the latest thought with that number on the lane."""
        self.latest_any: dict[int, str] = {}
        """Number -> id of the latest thought with that number on any lane."""
        self.merged_into: dict[Lane, list[str]] = {}
        """Lane -> the branches merged into it, in merge order."""

    def add(self, thought_id: str, number: int, lane: Lane) -> None:
        """Count a thought just recorded."""
        self.numbers.add(number)
        numbers = self.lane_numbers.get(lane)
        if numbers is None:
            numbers = self.lane_numbers[lane] = set()
            self.latest[lane] = {}
        numbers.add(number)
        self.latest[lane][number] = thought_id
        self.latest_any[number] = thought_id
        if number > self.lane_top.get(lane, 0):
            self.lane_top[lane] = number

    def merge(self, branch_id: str, into: Lane, number: int) -> None:
        """Branch ``branch_id`` was merged into ``into``: its next thought follows ``number``."""
        self.merged_into.setdefault(into, []).append(branch_id)
        if number > self.lane_top.get(into, 0):
            self.lane_top[into] = number

    def fork_lane(self, from_thought: int, lane_of: Callable[[str], Lane]) -> Lane:
        """The lane holding a branch's fork point: the trunk when it has that number, else the lane
        of the latest thought with it (``lane_of``: thought id -> lane)."""
        if from_thought in self.latest[None]:
            return None
        thought_id = self.latest_any.get(from_thought)
        return lane_of(thought_id) if thought_id is not None else None

    def find(self, lane: Lane, number: int, forks: Forks) -> str | None:
        """The id of the thought ``number`` means on ``lane`` (see the module docstring), or ``None``."""
        for searched, limit in self._search_order(lane, forks):
            if limit is None or number <= limit:
                found = self.latest.get(searched, {}).get(number)
                if found is not None:
                    return found
        return None

    def reachable(self, lane: Lane, forks: Forks) -> set[int]:
        """Every number that means a thought on ``lane``."""
        numbers: set[int] = set()
        for searched, limit in self._search_order(lane, forks):
            numbers.update(n for n in self.lane_numbers.get(searched, ()) if limit is None or n <= limit)
        return numbers

    def _search_order(self, lane: Lane, forks: Forks) -> Iterator[tuple[Lane, int | None]]:
        """(lane, highest number meant there or None for any) in the order a number is looked up."""
        seen: set[Lane] = set()
        stack: list[tuple[Lane, int | None]] = [(lane, None)]
        while stack:
            current, limit = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            yield current, limit
            # pushed in reverse: merged branches (latest first) are searched before the fork's lane
            if current is not None and current in forks:
                from_thought, parent = forks[current]
                bound = from_thought if limit is None else min(limit, from_thought)
                stack.append((parent, bound))
            for merged in self.merged_into.get(current, ()):
                stack.append((merged, limit))
