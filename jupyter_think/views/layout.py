"""Layout of a session's branch graph: thoughts -> nodes placed in lanes and columns, and edges.

Pure and deterministic (no widgets, no I/O). Lane 0 is the trunk; each branch gets its own lane
in creation order. A lane is a sequence: its nodes take consecutive columns in arrival order, and a
branch lane starts one column after its fork point (the thought it forks at). Edges link
consecutive nodes of a lane (``sequence``), a fork point to the first node of its branch
(``fork``), a revision to the thought it revises (``revision``), and the last thought of a merged
branch to the next thought of the lane it was merged into (``merge``; that thought is placed at
least one column after it). The final thought is the session's conclusion (see
:mod:`jupyter_think.core.session.snapshot`: retracted thoughts and abandoned lanes do not conclude).

The teaching state travels with the graph: a node knows whether it is ``retracted`` or ``amended``
(its ``thought`` has the current text, its :attr:`Node.label` the first words); a lane its
``outcome`` (``chosen`` / ``abandoned``) and ``note``; :attr:`Layout.path` names the lanes of the
chosen path (drawn bold) when a branch is chosen.

The same :class:`LayoutBuilder` places thoughts one at a time and takes the other changes as they
come (:meth:`LayoutBuilder.apply`), so the widget can place a thought that just arrived in O(1) and
get the position a full layout would give it.

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
from dataclasses import replace
from typing import TYPE_CHECKING

from jupyter_think.core.models import (
    BranchCreated,
    BranchDecided,
    BranchMerged,
    Change,
    Thought,
    ThoughtAdded,
    ThoughtAmended,
    ThoughtRetracted,
)
from jupyter_think.core.session.snapshot import conclusion_index, path_lanes
from jupyter_think.views.shapes import Edge as Edge
from jupyter_think.views.shapes import Lane as Lane
from jupyter_think.views.shapes import Layout as Layout
from jupyter_think.views.shapes import Node as Node
from jupyter_think.views.shapes import Placement as Placement
from jupyter_think.views.shapes import Update as Update
from jupyter_think.views.shapes import label_lines as label_lines
from jupyter_think.views.theme import thought_kind

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session, SessionSnapshot


class LayoutBuilder:
    """Places thoughts one by one in arrival order; ``layout()`` is the graph so far.

    Example:
        >>> from jupyter_think.core.models import Thought
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
        self._ids: dict[str, int] = {}  # thought id -> node index
        self._retracted: set[int] = set()  # node indices
        self._merged: list[tuple[str, str | None]] = []  # (branch id, into) per merge
        self._waiting: dict[int, list[int]] = {}  # lane index -> merged node indices its next node follows
        self._route: frozenset[int] = frozenset({0})  # lanes the conclusion can be on (see path_lanes)
        self._chosen = False  # some branch is chosen: the route is drawn bold
        self._final: int | None = None
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
        self._refresh_route()
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
        merged = self._waiting.pop(lane_index, ()) if self._waiting else ()
        for source in merged:
            column = max(column, self._nodes[source].column + 1)
        index = len(self._nodes)
        revises = self._revised(thought.revises_thought, lane_index) if thought.is_revision else None
        node = Node(index, lane_index, column, thought_kind(thought), revises, thought)
        edges: list[Edge] = []
        if previous is not None:
            edges.append(Edge("sequence", previous, index))
        elif lane.fork is not None:
            edges.append(Edge("fork", lane.fork, index))
        edges.extend(Edge("merge", source, index) for source in merged)
        if revises is not None:
            edges.append(Edge("revision", index, revises))
        self._nodes.append(node)
        self._edges.extend(edges)
        self._last[lane_index] = index
        number = thought.thought_number
        self._latest[lane_index][number] = index
        self._latest_any[number] = index
        self._ids[thought.id] = index
        if lane_index in self._route:  # the newest counted thought on the route concludes, or nothing does
            self._final = None if thought.next_thought_needed else index
        return Placement(node, tuple(edges), tuple(changed))

    def apply(self, change: Change) -> Placement | Update:
        """Take one change of the session's timeline (a thought, a branch, an amendment, a
        retraction, a decision, a merge) and return what it altered in the graph.

        A change naming a thought or branch the graph does not have alters nothing. (A switch of
        the active branch is not part of the graph; a reset needs a new builder.)
        """
        if isinstance(change, ThoughtAdded):
            return self.add(change.thought)
        if isinstance(change, BranchCreated):
            opened = self.open_lane(change.branch_id, change.from_thought)
            return Update(lanes=(opened,) if opened is not None else ())
        if isinstance(change, (ThoughtAmended, ThoughtRetracted)):
            index = self._ids.get(change.thought_id)
            if index is None:
                return Update()
            node = self._nodes[index]
            if isinstance(change, ThoughtAmended):
                node = replace(
                    node, thought=node.thought.model_copy(update={"thought": change.text}), amended=True
                )
            else:
                node = replace(node, retracted=True)
                self._retracted.add(index)
            self._nodes[index] = node
            if node.retracted:
                self._refresh_final()
            return Update(nodes=(node,))
        if isinstance(change, BranchDecided):
            lane_index = self._lane_of.get(change.branch_id)
            if lane_index is None:
                return Update()
            lane = replace(self._lanes[lane_index], outcome=change.outcome, note=change.note)
            self._lanes[lane_index] = lane
            self._refresh_route()
            self._refresh_final()
            return Update(lanes=(lane,))
        if isinstance(change, BranchMerged):
            source = self._ids.get(change.thought_id)
            target = self.lane_of(change.into)
            if source is not None and target is not None and change.branch_id in self._lane_of:
                self._merged.append((change.branch_id, change.into))
                self._waiting.setdefault(target, []).append(source)
                self._refresh_route()
                self._refresh_final()
            return Update()
        return Update()

    def layout(self) -> Layout:
        """The graph so far (forks of branches still without thoughts resolved against all nodes)."""
        lanes = list(self._lanes)
        for lane_index, from_thought in self._pending.items():
            fork = self._fork_for(from_thought, lane_index)
            if fork is not None:
                lanes[lane_index] = replace(lanes[lane_index], fork=fork, start=self._nodes[fork].column + 1)
        waiting = tuple((source, lane) for lane, sources in self._waiting.items() for source in sources)
        return Layout(
            tuple(self._nodes),
            tuple(lanes),
            tuple(self._edges),
            self._final,
            self.path,
            waiting,
            dict(self._ids),
        )

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

    def node(self, index: int) -> Node:
        """The node placed ``index``-th (arrival order), as it is now."""
        return self._nodes[index]

    def index_of(self, thought_id: str) -> int | None:
        """The node index of a thought, by its id (None when the graph does not have it)."""
        return self._ids.get(thought_id)

    @property
    def final(self) -> int | None:
        """The node index of the conclusion so far (what :attr:`Layout.final` will say), kept up to
        date change by change, so reading it costs nothing at any size."""
        return self._final

    @property
    def path(self) -> frozenset[int]:
        """The lanes drawn bold so far (what :attr:`Layout.path` will say): empty unless a branch is chosen."""
        return self._route if self._chosen else frozenset()

    # --- internals ---------------------------------------------------------------------------------

    def _refresh_route(self) -> None:
        """Recompute the lanes the conclusion can be on, after a lane opened, a decision or a merge."""
        outcomes = {
            lane.branch_id: lane.outcome
            for lane in self._lanes
            if lane.branch_id is not None and lane.outcome
        }
        on_route = path_lanes(self._lane_of, outcomes, self._merged)
        self._route = frozenset(lane.index for lane in self._lanes if lane.branch_id in on_route)
        self._chosen = "chosen" in outcomes.values()

    def _refresh_final(self) -> None:
        """Find the conclusion again, after a retraction, a decision or a merge."""
        self._final = conclusion_index(
            self._nodes,
            lambda node: not node.retracted,
            lambda node: node.lane in self._route,
            lambda node: not node.thought.next_thought_needed,
        )

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
        >>> from jupyter_think.core.models import Thought
        >>> t = Thought(thought="x", thought_number=1, total_thoughts=1, next_thought_needed=True)
        >>> layout_thoughts([t], {"idea": 1}).lanes[1].fork
        0
    """
    builder = LayoutBuilder(branches)
    for thought in thoughts:
        builder.add(thought)
    return builder.layout()


def builder_for(session: Session | SessionSnapshot) -> LayoutBuilder:
    """A builder holding a session's graph (one consistent snapshot), ready for the changes that follow.

    Lanes are reserved for every branch in creation order, then the timeline is replayed, so
    amendments, retractions, decisions and merges take effect where they happened.
    """
    snapshot = session.snapshot()
    builder = LayoutBuilder(
        {branch_id: branch.from_thought for branch_id, branch in snapshot.branches.items()}
    )
    for entry in snapshot.entries:
        if isinstance(entry, Thought):
            builder.add(entry)
        elif entry.kind in ("amend", "retract", "decide", "merge"):
            builder.apply(entry)
    return builder


def layout(session: Session | SessionSnapshot) -> Layout:
    """Lay out a session (from one consistent snapshot): trunk in lane 0, branches in creation order.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("taught")
        >>> _ = s.think("Start", total=3); _ = s.branch("idea", from_thought=1); _ = s.think("Try")
        >>> _ = s.decide("idea", "chosen"); _ = s.merge("idea"); _ = s.think("Done", done=True)
        >>> graph = layout(s)
        >>> [(e.kind, e.source, e.target) for e in graph.edges]
        [('fork', 0, 1), ('sequence', 0, 2), ('merge', 1, 2)]
        >>> [(n.lane, n.column) for n in graph.nodes], graph.final, sorted(graph.path)
        ([(0, 0), (1, 1), (0, 2)], 2, [0, 1])
    """
    return builder_for(session).layout()
