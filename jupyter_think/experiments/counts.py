"""How a session is counted: thoughts, branches, revisions, retractions (the one place that knows).

Every table (``compare``, an experiment's results) and the live grid read a session's counts through
:func:`session_counts`; the grid grows a :class:`Counts` one thought at a time with :meth:`Counts.add`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_think.core.models import Thought
    from jupyter_think.core.session.session import Session
    from jupyter_think.core.session.snapshot import SessionSnapshot


@dataclass
class Counts:
    """What a session is counted by: thoughts, branches, revisions, retractions.

    Built from a whole session by :func:`session_counts`, or grown one thought at a time with
    :meth:`add` (the live grid does that, so an update costs the same at any session size).
    """

    thoughts: int = 0
    branches: int = 0
    revisions: int = 0
    retractions: int = 0

    def add(self, thought: Thought) -> None:
        """Count one more recorded thought (branches are counted from the session's branch ids)."""
        self.thoughts += 1
        if thought.is_revision:
            self.revisions += 1

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict (JSON-ready)."""
        return asdict(self)


def session_counts(session: Session | SessionSnapshot) -> Counts:
    """The counts of a session (or of a snapshot of one): the one helper every table and the grid read them through.

    A retracted thought counts only as a retraction (not as a thought, nor as a revision).

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("c"); _ = s.think("One", total=2); _ = s.revise(1, "One, better")
        >>> session_counts(s)
        Counts(thoughts=2, branches=0, revisions=1, retractions=0)
        >>> _ = s.retract(2); session_counts(s)
        Counts(thoughts=1, branches=0, revisions=0, retractions=1)
    """
    snapshot = session.snapshot()
    counts = Counts(branches=len(snapshot.branches), retractions=len(snapshot.retracted))
    for thought in snapshot.thoughts:
        if thought.id not in snapshot.retracted:
            counts.add(thought)
    return counts
