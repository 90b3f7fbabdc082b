"""Thought numbers per lane, and what a number a person gives means on a lane.

People name thoughts by number (``%think --amend 3``); a session holds thoughts by position (their
arrival order). A lane is the trunk (``None``) or a branch id. On a lane, number N means the latest
thought numbered N on that lane; else on a branch merged into it (the latest merge first); else, for
a number up to the branch's fork point, on the lane the branch forks from. The agent tool may record
a number twice: the latest one wins, as for revisions.

Each lane keeps its thoughts' positions and numbers in two arrays (no object per thought). While its
numbers only grow (the common case) a number is found by bisection; once one repeats or goes back,
the lane keeps a number -> latest position map instead.

Pure bookkeeping (no lock, no events): the session's state owns one :class:`LaneIndex` and updates it.

Example:
    >>> index = LaneIndex()
    >>> index.add(0, 1, None); index.add(1, 2, None); index.add(2, 3, "alt")
    >>> forks = {"alt": (2, None)}
    >>> index.find("alt", 3, forks), index.find("alt", 1, forks), index.find(None, 3, forks)
    (2, 0, None)
    >>> sorted(index.reachable("alt", forks)), list(index.positions(None))
    ([1, 2, 3], [0, 1])
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import lt

Lane = str | None
"""A lane: ``None`` for the trunk, else a branch id."""

Forks = Mapping[str, tuple[int, Lane]]
"""Branch id -> (the number it forks at, the lane holding that thought)."""


class LaneNumbers:
    """The thoughts of one lane: their positions and numbers in arrival order."""

    __slots__ = ("latest", "numbers", "positions")

    def __init__(self) -> None:
        self.positions = array("i")
        self.numbers = array("q")
        self.latest: dict[int, int] | None = None
        """Number -> position of the latest thought with it, once the numbers stopped growing."""

    def add(self, position: int, number: int) -> None:
        numbers = self.numbers
        if self.latest is None and numbers and number <= numbers[-1]:
            self.latest = dict(zip(numbers, self.positions, strict=True))  # (later ones win)
        if self.latest is not None:
            self.latest[number] = position
        numbers.append(number)
        self.positions.append(position)

    def extend(self, positions: Iterable[int], numbers: Sequence[int]) -> None:
        """Count many thoughts at once (their numbers in arrival order)."""
        last = self.numbers[-1] if self.numbers else 0
        if self.latest is None and numbers and last < numbers[0] and all(map(lt, numbers, numbers[1:])):
            self.positions.extend(positions)
            self.numbers.extend(numbers)
        else:
            for position, number in zip(positions, numbers, strict=True):
                self.add(position, number)

    def find(self, number: int) -> int | None:
        """The position of the latest thought numbered ``number`` here, or ``None``."""
        if self.latest is not None:
            return self.latest.get(number)
        numbers = self.numbers
        at = bisect_left(numbers, number)
        return self.positions[at] if at < len(numbers) and numbers[at] == number else None


class LaneIndex:
    """Which numbers each lane holds and the latest thought (by position) per number and lane."""

    def __init__(self) -> None:
        self.lanes: dict[Lane, LaneNumbers] = {None: LaneNumbers()}
        self.lane_top: dict[Lane, int] = {}
        """Lane -> the number its next thought follows (its highest, or a merged branch's last)."""
        self.merged_into: dict[Lane, list[str]] = {}
        """Lane -> the branches merged into it, in merge order."""

    def add(self, position: int, number: int, lane: Lane) -> None:
        """Count a thought just recorded."""
        numbers = self.lanes.get(lane)
        if numbers is None:
            numbers = self.lanes[lane] = LaneNumbers()
        numbers.add(position, number)
        if number > self.lane_top.get(lane, 0):
            self.lane_top[lane] = number

    def extend(self, positions: Iterable[int], numbers: Sequence[int], lane: Lane) -> None:
        """Count many thoughts of one lane just recorded (``numbers`` not empty)."""
        lane_numbers = self.lanes.get(lane)
        if lane_numbers is None:
            lane_numbers = self.lanes[lane] = LaneNumbers()
        lane_numbers.extend(positions, numbers)
        top = max(numbers)
        if top > self.lane_top.get(lane, 0):
            self.lane_top[lane] = top

    def positions(self, lane: Lane) -> array[int]:
        """The positions of the thoughts on ``lane`` in arrival order (the array itself: do not change it)."""
        numbers = self.lanes.get(lane)
        return numbers.positions if numbers is not None else array("i")

    def has_number(self, number: int) -> bool:
        """True when some thought (on any lane) has this number."""
        return any(numbers.find(number) is not None for numbers in self.lanes.values())

    def numbers(self) -> set[int]:
        """Every thought number of the session (any lane)."""
        found: set[int] = set()
        for numbers in self.lanes.values():
            found.update(numbers.numbers)
        return found

    def lane_numbers(self, lane: Lane) -> set[int]:
        """The numbers recorded on ``lane``."""
        numbers = self.lanes.get(lane)
        return set(numbers.numbers) if numbers is not None else set()

    def number_taken(self, lane: Lane, number: int) -> bool:
        """True when ``number`` is recorded on ``lane``."""
        numbers = self.lanes.get(lane)
        return numbers is not None and numbers.find(number) is not None

    def merge(self, branch_id: str, into: Lane, number: int) -> None:
        """Branch ``branch_id`` was merged into ``into``: its next thought follows ``number``."""
        self.merged_into.setdefault(into, []).append(branch_id)
        if number > self.lane_top.get(into, 0):
            self.lane_top[into] = number

    def fork_lane(self, from_thought: int, lane_of: Callable[[int], Lane]) -> Lane:
        """The lane holding a branch's fork point: the trunk when it has that number, else the lane
        of the latest thought with it (``lane_of``: position -> lane)."""
        if self.lanes[None].find(from_thought) is not None:
            return None
        found = [
            position
            for numbers in self.lanes.values()
            if (position := numbers.find(from_thought)) is not None
        ]
        return lane_of(max(found)) if found else None

    def find(self, lane: Lane, number: int, forks: Forks) -> int | None:
        """The position of the thought ``number`` means on ``lane`` (see the module docstring), or ``None``."""
        for searched, limit in self._search_order(lane, forks):
            if limit is None or number <= limit:
                numbers = self.lanes.get(searched)
                found = numbers.find(number) if numbers is not None else None
                if found is not None:
                    return found
        return None

    def reachable(self, lane: Lane, forks: Forks) -> set[int]:
        """Every number that means a thought on ``lane``."""
        found: set[int] = set()
        for searched, limit in self._search_order(lane, forks):
            numbers = self.lanes.get(searched)
            if numbers is not None:
                found.update(n for n in numbers.numbers if limit is None or n <= limit)
        return found

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
