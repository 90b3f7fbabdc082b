"""The cards of the experiment grid: one run's picture (layout of its thoughts, counts, status, result).

A :class:`RunCard` grows with its session one thought at a time (the same
:class:`~jupyter_think.views.layout.LayoutBuilder` as the full graph) and gives the JSON the front end
draws: at most :data:`THUMB_NODES` nodes, so a card's size does not grow with its run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_think.experiments.counts import Counts, session_counts
from jupyter_think.experiments.results import RunResult, first_line
from jupyter_think.views.layout import LayoutBuilder
from jupyter_think.views.text import one_line, plural

if TYPE_CHECKING:
    from jupyter_think.core.models import Thought
    from jupyter_think.core.session.session import Session

THUMB_NODES = 120
"""How many of a run's latest thoughts its card draws."""
MESSAGE_LIMIT = 300
"""Characters of an error message a card carries (the run result keeps all of it)."""
STATUSES = ("pending", "running", "ok", "error", "timeout", "cancelled")
_KIND_LETTER = {"thought": "t", "revision": "r", "branch": "b", "final": "f"}


def counts_line(counts: Counts) -> str:
    """``5 thoughts · 1 branch · 1 revision`` (and retractions when there are any).

    Example:
        >>> counts_line(Counts(thoughts=1, branches=2, revisions=0))
        '1 thought · 2 branches · 0 revisions'
    """
    parts = [
        plural(counts.thoughts, "thought"),
        plural(counts.branches, "branch", "branches"),
        plural(counts.revisions, "revision"),
    ]
    if counts.retractions:
        parts.append(plural(counts.retractions, "retraction"))
    return " · ".join(parts)


def score_text(score: bool | float | None, failed: str | None = None) -> str:
    """A score as a card shows it: ``pass`` / ``fail``, a number to 3 places, ``score error``, or nothing.

    Example:
        >>> score_text(True), score_text(0.8333), score_text(None), score_text(None, "KeyError")
        ('pass', '0.833', '', 'score error')
    """
    if failed:
        return "score error"
    if score is None:
        return ""
    if isinstance(score, bool):
        return "pass" if score else "fail"
    return f"{score:.3g}"


class RunCard:
    """The grid's picture of one run: layout of its thoughts, counts, status, result; its card payload."""

    def __init__(self, run: int, session: Session, result: RunResult | None = None) -> None:
        self.run = run
        self.session = session
        self.variant = str(run)
        self.repeat = 1
        self.status = "pending"
        self.message: str | None = None
        self.score = ""
        self.answer = ""
        self.tokens = 0
        self.prefix = 0
        self.source = ""
        self.version = 0
        if result is not None:
            self.variant, self.repeat = result.variant, result.repeat
            if result.fork is not None:
                self.prefix, self.source = result.fork.thought, result.fork.session_id
            self.update(result)
        self.rebuild()

    def update(self, result: RunResult) -> None:
        """Take the run's status, score, answer and tokens from its result now."""
        self.status = result.status
        message = result.message if result.status in ("error", "timeout") else result.score_error
        self.message = None if message is None else message[:MESSAGE_LIMIT]
        self.score = score_text(result.score, result.score_error)
        self.answer = (
            first_line(result.value if isinstance(result.value, str) else repr(result.value), 200)
            if result.status == "ok"
            else ""
        )
        self.tokens = result.usage.tokens

    def rebuild(self) -> None:
        """Start over from a snapshot of the session as it is now (after a reset)."""
        snapshot = self.session.snapshot()
        self.seen = snapshot.change_count  # events up to this index are in the picture
        self.builder = LayoutBuilder({b_id: b.from_thought for b_id, b in snapshot.branches.items()})
        self.counts = Counts()
        self.columns: list[int] = []
        self.lanes: list[int] = []
        self.kinds: list[str] = []
        for thought in snapshot.thoughts:
            self.add(thought)
        self.counts = session_counts(snapshot)  # (retracted thoughts count as retractions only)
        self.complete = snapshot.status == "complete"

    def add(self, thought: Thought) -> None:
        """Place one more thought."""
        node = self.builder.add(thought).node
        self.columns.append(node.column)
        self.lanes.append(node.lane)
        self.kinds.append(_KIND_LETTER[node.kind])
        self.counts.add(thought)

    def payload(self) -> dict[str, Any]:
        """The card as the front end draws it (JSON-ready; at most :data:`THUMB_NODES` nodes)."""
        start = max(0, len(self.columns) - THUMB_NODES)
        forks = [
            [lane.index, self.columns[lane.fork], self.lanes[lane.fork]]
            for lane in self.builder.lanes[1:]
            if lane.fork is not None
        ]
        return {
            "run": self.run,
            "session": self.session.id,
            "variant": self.variant,
            "repeat": self.repeat,
            "status": self.status,
            "message": self.message,
            "score": self.score,
            "answer": self.answer,
            "tokens": self.tokens,
            "prefix": self.prefix,
            "from": self.source,
            "v": self.version,
            "counts": self.counts.as_dict(),
            "c": self.columns[start:],
            "l": self.lanes[start:],
            "k": "".join(self.kinds[start:]),
            "skipped": start,
            "forks": forks,
            "complete": self.complete,
        }

    def text(self, id_width: int) -> str:
        """The card's line in the text table."""
        line = f"  {self.session.id:<{id_width}}  {self.status:<9}  {counts_line(self.counts)}"
        extras = [
            f"score {self.score}" if self.score else "",
            f"{self.tokens} tokens" if self.tokens else "",
            f"from {self.source} @{self.prefix}" if self.source else "",
            one_line(self.message, 100) if self.message else self.answer,
        ]
        return "  ".join([line, *(extra for extra in extras if extra)])
