"""What the live graph sends its front end: a session's changes as small messages for ``static/graph.js``.

A :class:`GraphFeed` holds the graph of one session (a :class:`~jupyter_think.views.layout.LayoutBuilder`)
and turns each change into one JSON-ready message, so what is sent per change does not depend on
the session's size. Every change the front end draws is a **step** of the timeline, numbered from
0 (``t``): a thought (a node) or a teaching change (an event: ``amend``, ``retract``, ``decide``,
``merge``). Opening a branch or switching the active one is not a step. A replay walks the steps,
so amendments, retractions, decisions and merges replay at the moment they happened.

Messages (``gen`` is the widget's generation; ``seq`` the step of the first item carried):

* ``add`` — one node: ``i`` (arrival order), ``t``, ``lane``, ``col``, ``n``, ``kind``, ``rev``
  (the node it revises), ``head``, ``text`` (as recorded, cut to a limit), ``full``, ``lb`` (the
  label lines), ``mg`` (the nodes merged into it, when any); and the lanes that opened or changed.
* ``event`` — one teaching change: ``{"k": "amend", "i", "text", "full", "lb"}``, ``{"k": "retract",
  "i"}``, ``{"k": "decide", "lane", "outcome", "note"}``, ``{"k": "merge", "i", "lane"}`` (node
  ``i`` merged into ``lane``, which becomes active: ``active``).
* ``lanes`` (a branch opened), ``active`` (the active lane changed).
* ``sync`` — the answer to a front end that missed messages: every item from step ``have`` on.
* ``text`` — the answer to a click: the thought's full text and its Markdown as HTML, with its
  earlier texts when it was amended.

A node or event whose change moved the conclusion carries ``f`` (the final node, or ``None``); one
that changed the chosen path carries ``p`` (the lanes drawn bold). So a front end knows the final
node and the path at every step of a replay without asking.

Example:
    >>> from jupyter_think import Session
    >>> s = Session("feed"); _ = s.think("Restate", total=2)
    >>> feed = GraphFeed(s.snapshot())
    >>> [(node["i"], node["t"], node["lb"]) for node in feed.state()["nodes"]]
    [(0, 0, ['Restate'])]
    >>> s.retract(1) and None
    >>> message = feed.apply(s.snapshot().timeline[-1])
    >>> message["type"], message["seq"], message["events"]
    ('event', 1, [{'k': 'retract', 'i': 0, 't': 1}])
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from jupyter_think.core.models import (
    BranchActivated,
    BranchCreated,
    BranchDecided,
    BranchMerged,
    Change,
    ThoughtAdded,
    ThoughtAmended,
    ThoughtRetracted,
)
from jupyter_think.core.session.snapshot import SessionSnapshot
from jupyter_think.views.display import thought_heading
from jupyter_think.views.layout import Lane, LayoutBuilder, Node, label_lines
from jupyter_think.views.richtext import markdown_html

TEXT_LIMIT = 2_000
"""Characters of a thought's text sent with a live update; longer texts load on click."""
SNAPSHOT_BUDGET = 2_000_000
"""About how many characters of thought text a whole graph (first snapshot, full resync) carries."""
NOTE_LIMIT = 2_000
"""Characters of a decision's note sent with it."""


def lane_payload(lane: Lane) -> dict[str, Any]:
    """One lane for the front end: index, name, fork number, fork node and first column."""
    return {
        "lane": lane.index,
        "id": lane.name,
        "from": lane.from_thought,
        "fork": lane.fork,
        "start": lane.start,
    }


def text_limit(count: int) -> int:
    """How much of each thought's text a message carrying ``count`` thoughts holds (at least 200).

    Example:
        >>> text_limit(10), text_limit(10_000)
        (2000, 200)
    """
    return max(200, min(TEXT_LIMIT, SNAPSHOT_BUDGET // max(count, 1)))


class GraphFeed:
    """The graph of one session as the front end sees it, and the message each change makes.

    Built from a snapshot; :meth:`state` is what the widget's ``snapshot`` trait carries, and
    :meth:`apply` takes each later change. Not thread-safe: the widget calls it under its lock.
    """

    def __init__(self, snapshot: SessionSnapshot, generation: int = 0) -> None:
        self.generation = generation
        self.session_id = snapshot.id
        branches = {branch_id: branch.from_thought for branch_id, branch in snapshot.branches.items()}
        self.builder = LayoutBuilder(branches)
        self.active_branch: str | None = None
        self._steps = 0  # the step the next item gets
        self._node_steps: list[int] = []  # node index -> its step
        self._events: list[dict[str, Any]] = []  # every event payload, in order
        self._marks: dict[int, dict[str, Any]] = {}  # step of a node -> the f / p it carried
        self._texts: dict[int, list[str]] = {}  # amended node -> every text it had, the recorded one first
        self._merged_into: dict[int, list[int]] = {}  # node -> the nodes merged into it
        self._final: int | None = None
        self._path: list[int] = []
        self._quiet = True  # replaying the snapshot: no messages to build
        for change in snapshot.timeline:
            self.apply(change)
        self._quiet = False
        self.active_branch = snapshot.active_branch

    @classmethod
    def empty(cls, session_id: str, generation: int) -> GraphFeed:
        """The feed of a session just started anew."""
        return cls(SessionSnapshot(session_id, (), (), {}, None, 0), generation)

    # --- reading ---------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The whole graph, as the widget's ``snapshot`` trait carries it (texts cut to fit a budget)."""
        everything = self.sync(0)
        return {
            "gen": self.generation,
            "session": self.session_id,
            "lanes": everything["lanes"],
            "nodes": everything["nodes"],
            "events": everything["events"],
            "steps": self._steps,
            "active": everything["active"],
        }

    @property
    def steps(self) -> int:
        """How many steps (thoughts and teaching changes) the graph holds."""
        return self._steps

    @property
    def active_lane(self) -> int:
        """The lane of the active branch (0: the trunk)."""
        return self.builder.lane_of(self.active_branch) or 0

    # --- changes -----------------------------------------------------------------------------------

    def apply(self, change: Change) -> dict[str, Any] | None:
        """Take the next change of the session; return the message that tells a front end, if any.

        (A reset needs a new feed: the widget makes one.)
        """
        builder = self.builder
        if isinstance(change, ThoughtAdded):
            placed = builder.add(change.thought)
            node = placed.node
            step = self._next_step()
            self._node_steps.append(step)
            merged = [edge.source for edge in placed.edges if edge.kind == "merge"]
            if merged:
                self._merged_into[node.index] = merged
            self._mark(step)
            if self._quiet:
                return None
            return {
                "type": "add",
                "gen": self.generation,
                "seq": step,
                "nodes": [self._node_payload(node, TEXT_LIMIT)],
                "lanes": [lane_payload(lane) for lane in placed.lanes],
            }
        if isinstance(change, BranchCreated):
            lane = builder.open_lane(change.branch_id, change.from_thought)
            if lane is None or self._quiet:
                return None
            return {"type": "lanes", "gen": self.generation, "lanes": [lane_payload(lane)]}
        if isinstance(change, BranchActivated):
            self.active_branch = change.branch_id if builder.lane_of(change.branch_id) is not None else None
            if self._quiet:
                return None
            return {"type": "active", "gen": self.generation, "active": self.active_lane}
        event = self._event(change)
        if event is None:
            return None
        builder.apply(change)
        event["t"] = step = self._next_step()
        event.update(self._mark(step))
        self._events.append(event)
        if isinstance(change, BranchMerged):
            self.active_branch = change.into
        if self._quiet:
            return None
        message = {"type": "event", "gen": self.generation, "seq": step, "events": [event]}
        if isinstance(change, BranchMerged):
            message["active"] = self.active_lane
        return message

    def sync(self, have: object) -> dict[str, Any]:
        """Every item from step ``have`` on (all of them for a bad ``have``), and the lanes."""
        start = 0
        if isinstance(have, int) and not isinstance(have, bool) and 0 <= have <= self._steps:
            start = have
        graph = self.builder.layout()
        first_node = bisect_left(self._node_steps, start)
        limit = text_limit(len(graph.nodes) - first_node)
        return {
            "type": "sync",
            "gen": self.generation,
            "seq": start,
            "nodes": [self._node_payload(node, limit) for node in graph.nodes[first_node:]],
            "events": [event for event in self._events if event["t"] >= start],
            "lanes": [lane_payload(lane) for lane in graph.lanes],
            "active": self.active_lane,
        }

    def detail(self, index: object) -> dict[str, Any] | None:
        """A thought's full text and its Markdown as HTML (``earlier``: its earlier texts), or None."""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.builder.count:
            return None
        texts = self._texts.get(index)
        text = texts[-1] if texts else self._node(index).thought.thought
        reply: dict[str, Any] = {
            "type": "text",
            "gen": self.generation,
            "i": index,
            "text": text,
            "html": markdown_html(text),
        }
        if texts:
            reply["earlier"] = [{"text": earlier, "html": markdown_html(earlier)} for earlier in texts[:-1]]
        return reply

    # --- internals -------------------------------------------------------------------------------

    def _next_step(self) -> int:
        step = self._steps
        self._steps += 1
        return step

    def _node(self, index: int) -> Node:
        return self.builder.node(index)

    def _mark(self, step: int) -> dict[str, Any]:
        """``f`` / ``p`` when the final node or the path changed with this step (kept for resyncs)."""
        mark: dict[str, Any] = {}
        final = self.builder.final
        if final != self._final:
            mark["f"] = self._final = final
        path = sorted(self.builder.path)
        if path != self._path:
            mark["p"] = self._path = path
        if mark:
            self._marks[step] = mark
        return mark

    def _node_payload(self, node: Node, limit: int) -> dict[str, Any]:
        texts = self._texts.get(node.index)
        text = texts[0] if texts else node.thought.thought  # as recorded: amendments are events
        step = self._node_steps[node.index]
        payload: dict[str, Any] = {
            "i": node.index,
            "t": step,
            "lane": node.lane,
            "col": node.column,
            "n": node.number,
            "kind": node.kind,
            "rev": node.revises,
            "head": thought_heading(node.thought),
            "text": text[:limit],
            "full": len(text) <= limit,
            "lb": list(label_lines(text)),
        }
        merged = self._merged_into.get(node.index)
        if merged:
            payload["mg"] = list(merged)
        payload.update(self._marks.get(step, {}))
        return payload

    def _event(self, change: Change) -> dict[str, Any] | None:
        """The payload of a teaching change (without its step), or None when the graph lacks what it names."""
        builder = self.builder
        if isinstance(change, (ThoughtAmended, ThoughtRetracted, BranchMerged)):
            index = builder.index_of(change.thought_id)
            if index is None:
                return None
            if isinstance(change, ThoughtAmended):
                texts = self._texts.setdefault(index, [self._node(index).thought.thought])
                texts.append(change.text)
                return {
                    "k": "amend",
                    "i": index,
                    "text": change.text[:TEXT_LIMIT],
                    "full": len(change.text) <= TEXT_LIMIT,
                    "lb": list(label_lines(change.text)),
                }
            if isinstance(change, ThoughtRetracted):
                return {"k": "retract", "i": index}
            target = builder.lane_of(change.into)
            if target is None or builder.lane_of(change.branch_id) is None:
                return None
            return {"k": "merge", "i": index, "lane": target}
        if isinstance(change, BranchDecided):
            lane = builder.lane_of(change.branch_id)
            if lane is None:
                return None
            note = change.note[:NOTE_LIMIT] if change.note is not None else None
            return {"k": "decide", "lane": lane, "outcome": change.outcome, "note": note}
        return None
