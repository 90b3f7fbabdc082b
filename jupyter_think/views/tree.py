"""The deterministic text tree of a session's branch graph (the widget's ``text/plain``, ``jupyter-think show``).

Each lane's thoughts in order, branches hanging under their fork point, states marked in words
(retracted, amended, revises N, final); thought text one line each, its control characters shown as
escapes (:func:`~jupyter_think.views.render.escape_controls`). Above
:data:`~jupyter_think.views.render.DETAIL_LIMIT` thoughts the middle of long lanes is elided.
No ids or times appear, so the output is the same on every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jupyter_think.views.escape import escape_controls
from jupyter_think.views.layout import Layout, Node, layout
from jupyter_think.views.render import DETAIL_LIMIT, decision_words, headline
from jupyter_think.views.text import one_line, plural

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session, SessionSnapshot


def render_text(session: Session | SessionSnapshot) -> str:
    """The deterministic text tree of a session's graph (the widget's ``text/plain``).

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("demo")
        >>> _ = s.think("Restate", total=3); _ = s.think("Small cases")
        >>> _ = s.branch("alt", from_thought=1); _ = s.think("Another angle")
        >>> _ = s.switch_branch("main"); _ = s.think("Done", done=True)
        >>> print(render_text(s))
        Session demo · complete · 4 thoughts · 1 branch · 0 revisions
        main
        ├── 1 Restate
        │   └── branch alt (from 1)
        │       └── 2 Another angle
        ├── 2 Small cases
        └── 3 Done  [final]
    """
    return text_tree(layout(session), session.id)


def _node_line(node: Node, final: int | None) -> str:
    thought = node.thought
    marks = []
    if node.retracted:
        marks.append("retracted")
    if node.amended:
        marks.append("amended")
    if thought.is_revision:
        marks.append(f"revises {thought.revises_thought}" if thought.revises_thought else "revision")
    if thought.needs_more_thoughts:
        marks.append("needs more")
    if node.index == final:
        marks.append("final")
    elif not thought.next_thought_needed:
        marks.append("done")
    suffix = "".join(f"  [{mark}]" for mark in marks)
    return f"{thought.thought_number} {escape_controls(one_line(thought.thought, 72))}{suffix}"


def text_tree(graph: Layout, session_id: str, keep: int = 5) -> str:
    """The text tree of a layout: each lane's thoughts, branches hanging under their fork point.

    Above :data:`DETAIL_LIMIT` thoughts, only the first and last ``keep`` thoughts of each lane
    (and the fork points) are listed; a line says how many were left out.
    """
    lane_nodes: list[list[Node]] = [[] for _ in graph.lanes]
    for node in graph.nodes:
        lane_nodes[node.lane].append(node)
    forks: dict[int, list[int]] = {}  # node index -> lanes forking there
    loose: list[int] = []  # branch lanes whose fork point is unknown: listed at the end of main
    for lane in graph.lanes[1:]:
        if lane.fork is None:
            loose.append(lane.index)
        else:
            forks.setdefault(lane.fork, []).append(lane.index)
    elide = len(graph.nodes) > DETAIL_LIMIT
    merged_from: dict[int, list[int]] = {}  # node index -> lanes it was merged into
    for edge in graph.edges:
        if edge.kind == "merge":
            merged_from.setdefault(edge.source, []).append(graph.nodes[edge.target].lane)
    for source, target_lane in graph.waiting:
        merged_from.setdefault(source, []).append(target_lane)
    lines = [headline(graph, session_id), "main"]

    def lane_items(lane_index: int) -> list[tuple[str, int]]:
        """("node", index) / ("gap", count) / ("lane", lane index) entries of one lane, in order."""
        members = lane_nodes[lane_index]
        items: list[tuple[str, int]] = []
        gap = 0
        for position, node in enumerate(members):
            shown = (
                not elide
                or position < keep
                or position >= len(members) - keep
                or node.index in forks
                or node.index in merged_from
            )
            if not shown:
                gap += 1
                continue
            if gap:
                items.append(("gap", gap))
                gap = 0
            items.append(("node", node.index))
            items += [("merge", target) for target in merged_from.get(node.index, ())]
        if gap:
            items.append(("gap", gap))
        if lane_index == 0:
            items += [("lane", index) for index in loose]
        return items

    # Depth-first with an explicit stack (branches of branches can nest deeply).
    stack: list[tuple[list[tuple[str, int]], int, str]] = [(lane_items(0), 0, "")]
    while stack:
        items, position, prefix = stack.pop()
        if position >= len(items):
            continue
        stack.append((items, position + 1, prefix))
        kind, value = items[position]
        is_last = position == len(items) - 1
        branch = "└── " if is_last else "├── "
        child_prefix = prefix + ("    " if is_last else "│   ")
        if kind == "gap":
            lines.append(f"{prefix}{branch}… {plural(value, 'more thought')}")
        elif kind == "merge":
            lines.append(f"{prefix}{branch}merged into {graph.lanes[value].name}")
        elif kind == "node":
            lines.append(prefix + branch + _node_line(graph.nodes[value], graph.final))
            children = [("lane", index) for index in forks.get(value, [])]
            if children:
                stack.append((children, 0, child_prefix))
        else:
            lane = graph.lanes[value]
            decided = decision_words(lane.outcome, lane.note)
            lines.append(
                f"{prefix}{branch}branch {lane.name} (from {lane.from_thought})"
                + (f" · {escape_controls(one_line(decided, 80))}" if decided else "")
            )
            stack.append((lane_items(value), 0, child_prefix))
    return "\n".join(lines)
