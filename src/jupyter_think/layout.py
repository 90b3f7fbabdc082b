"""Layout of a session's branch graph: thoughts -> nodes placed in lanes and columns, and edges.

Pure and deterministic (no widgets, no I/O). Lane 0 is the trunk; each branch gets its own lane
in creation order. A lane is a sequence: its nodes take consecutive columns in arrival order, and a
branch lane starts one column after its fork point (the thought it forks at). Edges link
consecutive nodes of a lane (``sequence``), a fork point to the first node of its branch
(``fork``), and a revision to the thought it revises (``revision``). The final thought is the
last one of a complete session.

The same :class:`LayoutBuilder` places thoughts one at a time, so the widget can place a thought
that just arrived in O(1) and get the position a full layout would give it.

Example:
    >>> from jupyter_think import Session
    >>> s = Session("demo")
    >>> _ = s.think("Restate", total=3); _ = s.think("Try small cases")
    >>> _ = s.branch("alt", from_thought=1); _ = s.think("Another angle")
    >>> graph = layout(s)
    >>> [(n.lane, n.column) for n in graph.nodes]
    [(0, 0), (0, 1), (1, 1)]
    >>> [(e.kind, e.source, e.target) for e in graph.edges]
    [('sequence', 0, 1), ('fork', 0, 2)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from .models import Thought
from .theme import NodeKind, thought_kind

if TYPE_CHECKING:
    from .session import Session, SessionSnapshot

EdgeKind = Literal["sequence", "fork", "revision"]


@dataclass(frozen=True, slots=True)
class Lane:
    """One row of the graph: the trunk (``branch_id`` None) or a branch.

    ``fork`` is the index of the node the branch forks at (None for the trunk, or when no thought
    with number ``from_thought`` was there to fork from); ``start`` is the column of its first node.
    """

    index: int
    branch_id: str | None
    from_thought: int | None
    fork: int | None
    start: int

    @property
    def name(self) -> str:
        """``main`` for the trunk, else the branch id."""
        return self.branch_id or "main"


@dataclass(frozen=True, slots=True)
class Node:
    """One thought placed in the graph. ``index`` is its position in arrival order."""

    index: int
    lane: int
    column: int
    kind: NodeKind
    revises: int | None
    thought: Thought

    @property
    def number(self) -> int:
        """The thought's number."""
        return self.thought.thought_number


@dataclass(frozen=True, slots=True)
class Edge:
    """A link between two nodes (by index): sequence, fork or revision (revision -> revised)."""

    kind: EdgeKind
    source: int
    target: int


@dataclass(frozen=True, slots=True)
class Layout:
    """The whole graph: nodes in arrival order, lanes by index, edges, and the final node."""

    nodes: tuple[Node, ...]
    lanes: tuple[Lane, ...]
    edges: tuple[Edge, ...]
    final: int | None

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


class LayoutBuilder:
    """Places thoughts one by one in arrival order; ``layout()`` is the graph so far.

    Example:
        >>> from jupyter_think.models import Thought
        >>> builder = LayoutBuilder()
        >>> t = Thought(thought="x", thought_number=1, total_thoughts=1, next_thought_needed=False)
        >>> builder.add(t).node.kind
        'final'
        >>> builder.layout().final
        0
    """

    def __init__(self, branches: Mapping[str, int] | None = None) -> None:
        self._lanes: list[Lane] = [Lane(0, None, None, None, 0)]
        self._lane_of: dict[str, int] = {}
        self._nodes: list[Node] = []
        self._edges: list[Edge] = []
        self._last: list[int | None] = [None]  # last node index per lane
        self._latest: list[dict[int, int]] = [{}]  # per lane: thought number -> latest node index
        self._latest_any: dict[int, int] = {}  # thought number -> latest node index in any lane
        self._pending: dict[int, int] = {}  # lane index -> from_thought, fork still unresolved
        for branch_id, from_thought in (branches or {}).items():
            self.open_lane(branch_id, from_thought, resolve=False)

    # --- building ----------------------------------------------------------------------------------

    def open_lane(self, branch_id: str, from_thought: int, *, resolve: bool = True) -> Lane | None:
        """Give ``branch_id`` a lane (if it has none) and return it; None when it already had one.

        With ``resolve`` the fork point is looked up now; otherwise when its first thought arrives.
        """
        if branch_id in self._lane_of:
            return None
        index = len(self._lanes)
        self._lane_of[branch_id] = index
        self._lanes.append(Lane(index, branch_id, from_thought, None, from_thought))
        self._last.append(None)
        self._latest.append({})
        self._pending[index] = from_thought
        if resolve:
            self._resolve_fork(index)
        return self._lanes[index]

    def add(self, thought: Thought) -> Placement:
        """Place the next thought (in arrival order) and return what changed."""
        changed: list[Lane] = []
        if thought.branch_id is not None and thought.branch_from_thought is not None:
            opened = self.open_lane(thought.branch_id, thought.branch_from_thought, resolve=False)
            if opened is not None:
                changed.append(opened)
            lane_index = self._lane_of[thought.branch_id]
        else:
            lane_index = 0
        lane = self._lanes[lane_index]
        previous = self._last[lane_index]
        if previous is None and lane_index in self._pending:
            if self._resolve_fork(lane_index):
                lane = self._lanes[lane_index]
                changed = [lane]
            self._pending.pop(lane_index, None)  # the first node fixes the lane's start for good
        column = lane.start if previous is None else self._nodes[previous].column + 1
        index = len(self._nodes)
        revises = self._revised(thought.revises_thought, lane_index) if thought.is_revision else None
        node = Node(index, lane_index, column, thought_kind(thought), revises, thought)
        edges: list[Edge] = []
        if previous is not None:
            edges.append(Edge("sequence", previous, index))
        elif lane.fork is not None:
            edges.append(Edge("fork", lane.fork, index))
        if revises is not None:
            edges.append(Edge("revision", index, revises))
        self._nodes.append(node)
        self._edges.extend(edges)
        self._last[lane_index] = index
        number = thought.thought_number
        self._latest[lane_index][number] = index
        self._latest_any[number] = index
        return Placement(node, tuple(edges), tuple(changed))

    def layout(self) -> Layout:
        """The graph so far (forks of branches still without thoughts resolved against all nodes)."""
        lanes = list(self._lanes)
        for lane_index, from_thought in self._pending.items():
            fork = self._fork_for(from_thought, lane_index)
            if fork is not None:
                lanes[lane_index] = replace(lanes[lane_index], fork=fork, start=self._nodes[fork].column + 1)
        last = self._nodes[-1] if self._nodes else None
        final = last.index if last is not None and not last.thought.next_thought_needed else None
        return Layout(tuple(self._nodes), tuple(lanes), tuple(self._edges), final)

    # --- reading -----------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """How many thoughts are placed."""
        return len(self._nodes)

    @property
    def lanes(self) -> tuple[Lane, ...]:
        """The lanes so far, by index."""
        return tuple(self._lanes)

    def lane_of(self, branch_id: str | None) -> int | None:
        """The lane index of a branch (0 for the trunk, None for an unknown branch)."""
        return 0 if branch_id is None else self._lane_of.get(branch_id)

    # --- internals ---------------------------------------------------------------------------------

    def _fork_for(self, from_thought: int, lane_index: int) -> int | None:
        """The node a branch forks at: the latest trunk thought with that number, else the latest in any lane."""
        fork = self._latest[0].get(from_thought)
        if fork is None:
            fork = self._latest_any.get(from_thought)
        if fork is not None and self._nodes[fork].lane == lane_index:
            return None
        return fork

    def _resolve_fork(self, lane_index: int) -> bool:
        from_thought = self._pending.get(lane_index)
        if from_thought is None:
            return False
        fork = self._fork_for(from_thought, lane_index)
        if fork is None:
            return False
        self._lanes[lane_index] = replace(
            self._lanes[lane_index], fork=fork, start=self._nodes[fork].column + 1
        )
        del self._pending[lane_index]
        return True

    def _revised(self, number: int | None, lane_index: int) -> int | None:
        """The node a revision points at: latest with that number in its lane, then up its forks."""
        if number is None:
            return None
        seen: set[int] = set()
        current: int | None = lane_index
        while current is not None and current not in seen:
            seen.add(current)
            found = self._latest[current].get(number)
            if found is not None:
                return found
            fork = self._lanes[current].fork
            current = self._nodes[fork].lane if fork is not None else (0 if current != 0 else None)
        return None


def layout_thoughts(thoughts: Iterable[Thought], branches: Mapping[str, int] | None = None) -> Layout:
    """Lay out thoughts given in arrival order; ``branches`` (id -> fork number, creation order)
    reserves lanes in that order, also for branches without thoughts.

    Example:
        >>> from jupyter_think.models import Thought
        >>> t = Thought(thought="x", thought_number=1, total_thoughts=1, next_thought_needed=True)
        >>> layout_thoughts([t], {"idea": 1}).lanes[1].fork
        0
    """
    builder = LayoutBuilder(branches)
    for thought in thoughts:
        builder.add(thought)
    return builder.layout()


def layout(session: Session | SessionSnapshot) -> Layout:
    """Lay out a session (from one consistent snapshot): trunk in lane 0, branches in creation order."""
    snapshot = session.snapshot()
    branches = {branch_id: branch.from_thought for branch_id, branch in snapshot.branches.items()}
    return layout_thoughts(snapshot.thoughts, branches)
