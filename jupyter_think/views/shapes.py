"""What a laid-out branch graph is made of: lanes, nodes, edges, the :class:`Layout`, and what one
change did to it (:class:`Placement`, :class:`Update`); a node's label (:func:`label_lines`).

Immutable values, built by :mod:`jupyter_think.views.layout` and drawn by the SVG, the text tree and
the widget. Lane 0 is the trunk; nodes and edges name each other by index in arrival order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from jupyter_think.core.models import Outcome, Thought
from jupyter_think.views.text import shorten
from jupyter_think.views.theme import LABELS, NodeKind

EdgeKind = Literal["sequence", "fork", "revision", "merge"]

_MARKUP = re.compile(r"^(?:#{1,6}|[-*+>]|\d+[.)])\s+|(?<!\w)(?:\*\*|__)|(?:\*\*|__)(?!\w)|`")
"""Markdown a label leaves out: a heading, list or quote marker at the start, bold markers around
words (``2**n`` keeps its stars), backticks."""


def label_lines(text: str, chars: int = LABELS["chars"], lines: int = LABELS["lines"]) -> tuple[str, ...]:
    """The first words of a thought as at most ``lines`` lines of at most ``chars`` characters.

    Words are kept whole (a word longer than a line is cut); when words are left over, the last
    line ends with ``…``. Markdown markers are left out, so a label reads as text.

    Example:
        >>> label_lines("Restate the question: for every prime n, is 2**n - 1 prime?")
        ('Restate the', 'question: for…')
        >>> label_lines("## Plan: **read** the `file`")
        ('Plan: read the', 'file')
        >>> label_lines("Is 2**n - 1 prime?")
        ('Is 2**n - 1', 'prime?')
    """
    words = _MARKUP.sub("", " ".join(text.split())).split()
    shown: list[str] = []
    line = ""
    for whole in words:
        word = shorten(whole, chars)
        if line and len(line) + 1 + len(word) > chars:
            shown.append(line)
            line = ""
            if len(shown) == lines:  # words are left over
                last = shown[-1]
                shown[-1] = (last if len(last) < chars else last[: chars - 1]) + "…"
                return tuple(shown)
        line = f"{line} {word}" if line else word
    if line:
        shown.append(line)
    return tuple(shown)


@dataclass(frozen=True, slots=True)
class Lane:
    """One row of the graph: the trunk (``branch_id`` None) or a branch.

    ``fork`` is the index of the node the branch forks at (None for the trunk, or when no thought
    with number ``from_thought`` was there to fork from); ``start`` is the column of its first node.
    ``outcome`` and ``note`` are the branch's latest decision (``chosen`` / ``abandoned``).
    """

    index: int
    branch_id: str | None
    from_thought: int | None
    fork: int | None
    start: int
    outcome: Outcome | None = None
    note: str | None = None

    @property
    def name(self) -> str:
        """``main`` for the trunk, else the branch id."""
        return self.branch_id or "main"


@dataclass(frozen=True, slots=True)
class Node:
    """One thought placed in the graph. ``index`` is its position in arrival order.

    ``thought`` shows the current text (``amended`` when it was corrected); a ``retracted`` node
    stays in place, drawn greyed and struck through, and is never the final node.
    """

    index: int
    lane: int
    column: int
    kind: NodeKind
    revises: int | None
    thought: Thought
    retracted: bool = False
    amended: bool = False

    @property
    def number(self) -> int:
        """The thought's number."""
        return self.thought.thought_number

    @property
    def label(self) -> tuple[str, ...]:
        """The first words of the thought, as the lines drawn under the node (see :func:`label_lines`)."""
        return label_lines(self.thought.thought)


@dataclass(frozen=True, slots=True)
class Edge:
    """A link between two nodes (by index): sequence, fork, revision (revision -> revised) or merge
    (the merged branch's last thought -> the next thought of the lane it was merged into)."""

    kind: EdgeKind
    source: int
    target: int


@dataclass(frozen=True, slots=True)
class Layout:
    """The whole graph: nodes in arrival order, lanes by index, edges, and the final node.

    ``path`` holds the indices of the lanes on the chosen path (the trunk and the chosen branches,
    see :func:`~jupyter_think.core.session.snapshot.path_lanes`) when a branch is chosen, else nothing: what is
    drawn bold. ``waiting`` lists merges whose target lane has had no thought since, as (node index
    of the merged thought, target lane index). ``ids`` maps a thought id to its node index (the
    timeline's teaching changes name thoughts by id).
    """

    nodes: tuple[Node, ...]
    lanes: tuple[Lane, ...]
    edges: tuple[Edge, ...]
    final: int | None
    path: frozenset[int] = frozenset()
    waiting: tuple[tuple[int, int], ...] = ()
    ids: Mapping[str, int] = field(default_factory=dict)

    def on_path(self, edge: Edge) -> bool:
        """True when ``edge`` is drawn bold: both its ends on lanes of the chosen path (a revision never)."""
        if not self.path or edge.kind == "revision":
            return False
        return self.nodes[edge.source].lane in self.path and self.nodes[edge.target].lane in self.path

    @property
    def columns(self) -> int:
        """How many columns the graph spans (0 when empty)."""
        return max((n.column for n in self.nodes), default=-1) + 1

    def lane_nodes(self, lane: int) -> tuple[Node, ...]:
        """The nodes of one lane, left to right."""
        return tuple(n for n in self.nodes if n.lane == lane)


@dataclass(frozen=True, slots=True)
class Placement:
    """What placing one thought produced: its node, its new edges, and a lane that opened or changed."""

    node: Node
    edges: tuple[Edge, ...]
    lanes: tuple[Lane, ...]


@dataclass(frozen=True, slots=True)
class Update:
    """What another change altered: nodes redrawn (amended, retracted), lanes changed (a decision, a
    lane opened). A merge alters nothing yet: its edge comes with the target lane's next thought.
    After any change, :attr:`Layout.final` and :attr:`Layout.path` may differ: read them again."""

    nodes: tuple[Node, ...] = ()
    lanes: tuple[Lane, ...] = ()
