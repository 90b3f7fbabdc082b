"""Typed errors of the session: what went wrong, as data; each adapter words it in its own terms.

Every error is a :class:`ThinkError`, itself a ``ValueError`` (so ``except ValueError`` keeps
working). The exception's own ``str()`` is the Python API's wording: plain words and the API's
parameter names (``number``, ``branch_from``). The magics word the same data in magic syntax
(``-n``, ``%branch ID --from N``) and the agent tool in its wire names (``thoughtNumber``); the
attributes carry everything they need.

Example:
    >>> error = NumberTaken("review", 2, None, used=(1, 2, 3))
    >>> str(error)
    "number 2 is already used on the trunk of session 'review'; free numbers: 4 and above"
    >>> error.free
    '4 and above'
    >>> isinstance(error, ValueError)
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from jupyter_think.core.limits import MAX_NUMBER

TRUNK_NAME = "main"


def describe_numbers(numbers: Iterable[int], limit: int = 6) -> str:
    """Sorted thought numbers as compact ranges (``1-3, 5``); ``none yet`` when empty.

    At most ``limit`` ranges are listed, then ``…``.

    Example:
        >>> describe_numbers([5, 1, 2, 3, 3, 8, 9])
        '1-3, 5, 8-9'
        >>> describe_numbers([])
        'none yet'
    """
    ranges: list[tuple[int, int]] = []
    for number in sorted(set(numbers)):
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], number)
        else:
            ranges.append((number, number))
    return describe_ranges(ranges, limit)


def describe_ranges(ranges: Sequence[tuple[int, int]], limit: int = 6) -> str:
    """Ranges of thought numbers, (first, last) each, in words; ``none yet`` when empty.

    Example:
        >>> describe_ranges([(1, 3), (5, 5), (8, 2**31 - 1)], limit=2)
        '1-3, 5, …'
    """
    if not ranges:
        return "none yet"
    shown = [str(a) if a == b else f"{a}-{b}" for a, b in ranges[:limit]]
    return ", ".join(shown) + (", …" if len(ranges) > limit else "")


def lane_name(branch_id: str | None) -> str:
    """``the trunk`` or ``branch 'alt'``: how messages name a lane."""
    return "the trunk" if branch_id is None else f"branch {branch_id!r}"


class ThinkError(ValueError):
    """A request that cannot be done as asked; the message says what to do instead."""


class UnknownBranch(ThinkError):
    """A branch id that the session does not have (to switch to, think in, decide or merge).

    ``action`` says what it was wanted for: ``None`` (switch or think: create it first),
    ``"decide"``, ``"merge"`` (the branch to merge) or ``"merge into"`` (the target); ``known``
    are the session's branch ids.
    """

    def __init__(
        self, session_id: str, branch_id: str, action: str | None = None, known: Sequence[str] = ()
    ) -> None:
        self.session_id = session_id
        self.branch_id = branch_id
        self.action = action
        self.known = tuple(known)
        if action is None:
            message = (
                f"unknown branch {branch_id!r} in session {session_id!r}; create it first, "
                "giving the thought it forks at (branch_from)"
            )
        else:
            message = f"cannot {action} branch {branch_id!r}: session {session_id!r} has no such branch ({self.branches})"
        super().__init__(message)

    @property
    def branches(self) -> str:
        """The session's branches in words: ``its branches: a, b`` or ``it has no branches``."""
        return f"its branches: {', '.join(self.known)}" if self.known else "it has no branches"


class BranchForksElsewhere(ThinkError):
    """A branch asked for at one fork point exists already at another."""

    def __init__(self, session_id: str, branch_id: str, from_thought: int, requested: int) -> None:
        self.session_id = session_id
        self.branch_id = branch_id
        self.from_thought = from_thought
        self.requested = requested
        super().__init__(
            f"branch {branch_id!r} already forks at thought {from_thought}, not {requested}; "
            "give no fork point to use it, or pick another branch id"
        )


class BranchNeedsId(ThinkError):
    """A fork point given without the id of the branch it would start."""

    def __init__(self, from_thought: int) -> None:
        self.from_thought = from_thought
        super().__init__(f"a fork point (branch_from={from_thought}) needs a branch id: give branch as well")


class TrunkHasNoFork(ThinkError):
    """The trunk (``main``) named with a fork point, or as the id of a new branch."""

    def __init__(self, from_thought: int | None = None) -> None:
        self.from_thought = from_thought
        if from_thought is None:
            message = f"{TRUNK_NAME!r} is the trunk's name; pick another branch id"
        else:
            message = f"{TRUNK_NAME!r} is the trunk; it has no fork point, give no branch_from"
        super().__init__(message)


_VERBS = {"revise": "revise", "branch_from": "branch from", "amend": "amend", "retract": "retract"}


class NoSuchThought(ThinkError):
    """A reference (a revision, a fork point, an amendment, a retraction) to a thought number the
    session does not have.

    ``role`` is ``revise``, ``branch_from``, ``amend`` or ``retract``. An amendment or retraction
    means a thought on one lane (``branch_id``, ``None``: the trunk); ``known`` are then the numbers
    that mean a thought on that lane, else every number of the session.
    """

    def __init__(
        self, session_id: str, number: int, known: Iterable[int], role: str, branch_id: str | None = None
    ) -> None:
        self.session_id = session_id
        self.number = number
        self.known = tuple(sorted(set(known)))
        self.role = role
        self.branch_id = branch_id
        verb = _VERBS.get(role, role)
        if role in ("amend", "retract"):
            where = f"{lane_name(branch_id)} of session {session_id!r} has no thought {number}"
        else:
            where = f"session {session_id!r} has no such thought"
        super().__init__(
            f"cannot {verb} thought {number}: {where} (its numbers: {describe_numbers(self.known)})"
        )


class ThoughtIsRetracted(ThinkError):
    """An amendment or a retraction of a thought that is retracted already."""

    def __init__(self, session_id: str, number: int, role: str, branch_id: str | None = None) -> None:
        self.session_id = session_id
        self.number = number
        self.role = role
        self.branch_id = branch_id
        what = (
            "is retracted already"
            if role == "retract"
            else "is retracted; a retracted thought is not amended"
        )
        super().__init__(f"thought {number} on {lane_name(branch_id)} of session {session_id!r} {what}")


class BadOutcome(ThinkError):
    """A decision that is neither ``chosen`` nor ``abandoned``."""

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome
        super().__init__(f"a branch is decided 'chosen' or 'abandoned', not {outcome!r}")


class TrunkCannot(ThinkError):
    """The trunk (``main``) named where only a branch can stand: deciding it, or merging it away."""

    def __init__(self, action: str) -> None:
        self.action = action  # "decide" or "merge"
        if action == "decide":
            message = f"{TRUNK_NAME!r} is the trunk; only a branch is chosen or abandoned"
        else:
            message = f"{TRUNK_NAME!r} is the trunk; it is merged into nothing (merge a branch into it)"
        super().__init__(message)


class MergeIntoItself(ThinkError):
    """A branch merged into itself."""

    def __init__(self, branch_id: str) -> None:
        self.branch_id = branch_id
        super().__init__(
            f"branch {branch_id!r} cannot be merged into itself; name another target (main for the trunk)"
        )


class NothingToMerge(ThinkError):
    """A branch with no counted thought: nothing for the target to continue from."""

    def __init__(self, session_id: str, branch_id: str) -> None:
        self.session_id = session_id
        self.branch_id = branch_id
        super().__init__(
            f"branch {branch_id!r} of session {session_id!r} has no thought to merge (none, or all retracted); "
            "think in it first"
        )


class NumberTaken(ThinkError):
    """A thought number already used on the lane (trunk or branch) a new thought goes to.

    ``used`` are the lane's numbers; for a branch every number up to its fork point, ``up_to``, is
    taken as well (kept as a bound: a fork at 2**31 - 1 is not two billion numbers).
    """

    def __init__(
        self, session_id: str, number: int, branch_id: str | None, used: Iterable[int], up_to: int = 0
    ) -> None:
        self.session_id = session_id
        self.number = number
        self.branch_id = branch_id
        self.used = tuple(sorted(set(used)))
        self.up_to = up_to
        super().__init__(
            f"number {number} is already used on {lane_name(branch_id)} of session {session_id!r}; "
            f"free numbers: {self.free}"
        )

    @property
    def free(self) -> str:
        """The free numbers in words: the gaps, then ``N and above``.

        Example:
            >>> NumberTaken("s", 9, "alt", used=(5, 9), up_to=2).free
            '3-4, 6-8, 10 and above'
        """
        gaps = []
        top = self.up_to
        for number in self.used:
            if number > top + 1:
                gaps.append((top + 1, number - 1))
            top = max(top, number)
        if top >= MAX_NUMBER:
            return describe_ranges(gaps) if gaps else "none"
        above = f"{top + 1} and above"
        return f"{describe_ranges(gaps)}, {above}" if gaps else above


class ThoughtTooLong(ThinkError):
    """A thought text longer than the session's ``max_thought_chars``."""

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(
            f"thought too long ({length} characters, at most {limit}, max_thought_chars); "
            "split it into several thoughts"
        )


class SessionFull(ThinkError):
    """A session holding ``max_thoughts`` thoughts: it records no more."""

    def __init__(self, session_id: str, limit: int) -> None:
        self.session_id = session_id
        self.limit = limit
        super().__init__(
            f"session {session_id!r} reached its limit of {limit} thought{'s' * (limit != 1)} (max_thoughts) and records "
            "no more; conclude, or go on in a new session"
        )


class NoSuchSession(ThinkError, LookupError):
    """Another user's session that this user cannot read (or that does not exist: the two look alike)."""

    def __init__(self, session_id: str, owner: str) -> None:
        self.session_id = session_id
        super().__init__(
            f"no session {session_id!r} that you can read: {owner} can share it with you "
            "(jupyter-think share ID USER)"
        )


class ReadOnlySession(ThinkError):
    """Another user's session that this user may read, not change (on a store shared by a class)."""

    def __init__(self, session_id: str, reason: str) -> None:
        self.session_id = session_id
        super().__init__(reason)


class InvalidValue(ThinkError):
    """Values refused where they enter; ``problems`` holds (name, message, value) per value.

    A name is an argument of the API (``number``, ``text``, ``note``) or a field of the model
    refusing it (``thought_number``); the API words a field by its parameter name (``number``),
    the magics by their options (:meth:`describe`).

    Example:
        >>> str(InvalidValue([("number", "must be a whole number from 1 to 2147483647, not a boolean", True)]))
        'number: must be a whole number from 1 to 2147483647, not a boolean (got True)'
    """

    API_NAMES: ClassVar[dict[str, str]] = {
        "thought": "text",
        "thought_number": "number",
        "total_thoughts": "total",
        "revises_thought": "revises",
        "branch_from_thought": "branch_from",
    }

    def __init__(self, problems: Sequence[tuple[str, str, object]]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.describe(self.API_NAMES))

    @classmethod
    def from_error(cls, error: ValidationError) -> InvalidValue:
        """The problems of a pydantic ``ValidationError`` (each field by its first name in ``loc``)."""
        return cls(
            [
                (
                    str(item["loc"][0]) if item["loc"] else "input",
                    item["msg"].removeprefix("Value error, "),
                    item.get("input"),
                )
                for item in error.errors()
            ]
        )

    def describe(self, names: dict[str, str]) -> str:
        """One line naming each value by ``names`` (else its own name), the problem and the value."""
        parts = []
        for field, message, value in self.problems:
            got = f" (got {value!r})" if value is not None and len(repr(value)) <= 40 else ""
            parts.append(f"{names.get(field, field)}: {message}{got}")
        return "; ".join(parts)


class InvalidThought(InvalidValue):
    """Field values the thought model refuses (the text, the numbers) for a new or amended thought.

    Field names are the model's snake_case names (``thought_number``); the API words them by its
    parameter names (``number``).
    """


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each invalid field by its wire name and what is wrong with it (how the agent
    tool and the MCP server word a pydantic ``ValidationError``).

    Example:
        >>> from jupyter_think.core.models import ThoughtInput
        >>> try:
        ...     ThoughtInput(thought="x", thought_number=0, total_thoughts=1, next_thought_needed=True)
        ... except ValidationError as exc:
        ...     print(describe_validation_error(exc))
        thoughtNumber: must be a whole number from 1 to 2147483647 (got 0)
    """
    parts = []
    for item in error.errors():
        loc = (to_camel(part) if isinstance(part, str) else str(part) for part in item["loc"])
        field = ".".join(loc) or "input"  # wire names, whichever names the input used
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            parts.append(f"{field}: required")
            continue
        shown = item.get("input")
        got = (
            f" (got {shown!r})"
            if shown is not None and not isinstance(shown, dict) and len(repr(shown)) <= 40
            else ""
        )
        parts.append(f"{field}: {message}{got}")
    return "; ".join(parts)
