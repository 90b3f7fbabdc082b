"""The live branch-graph widget: an anywidget whose front end is ``static/graph.js``.

The kernel side owns the layout (:class:`~jupyter_think.layout.LayoutBuilder`): the widget starts
from a snapshot (the ``snapshot`` trait, sent once), then subscribes to the session and sends one
small custom message per change (the placed node, and a lane when one opens), so the bytes per
added thought do not depend on the session's size. Changes written by another process arrive as
session events like any other (``remote=True``) and are shown the same way. Events may come from
any thread: ipykernel (6+, verified in 7) hands comm messages to its IOPub thread, and this widget
serialises its own state with a lock.

The widget never takes the session's lock: it subscribes first, then takes one
:meth:`~jupyter_think.session.Session.snapshot`, and skips the events the snapshot already holds
(their ``index`` is not above the snapshot's ``change_count``).

A front end that missed messages (a page reload, a second view) asks for the nodes it lacks
(``{"type": "sync", "have": n}``). A click on a thought asks for its detail: the full text and its
Markdown rendered to HTML here in the kernel (the front end has no Markdown library), so live
updates carry plain text only and their size stays flat. Colours and sizes come from the ``theme``
trait (``static/theme.json``, also read by the Python renderers).

Without a widget front end (nbconvert, GitHub, nbval) the output shows ``text/html`` = the static
SVG as an ``<img>`` (untrusted notebooks keep it) and ``text/plain`` = the text tree; both deterministic.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from . import views
from .display import thought_heading
from .layout import Lane, LayoutBuilder, Node, builder_for
from .models import BranchActivated, BranchCreated, BranchMerged, SessionReset, ThoughtAdded
from .render import headline, svg_as_image, svg_from_layout, text_tree
from .richtext import markdown_html
from .theme import THEME

if TYPE_CHECKING:
    from .session import Session, SessionEvent

STATIC = Path(__file__).parent / "static"
TEXT_LIMIT = 2_000
"""Characters of a thought's text sent with a live update; longer texts load on click."""
SNAPSHOT_BUDGET = 2_000_000
"""About how many characters of thought text the first snapshot carries in all."""


def node_payload(node: Node, text_limit: int = TEXT_LIMIT) -> dict[str, Any]:
    """What the front end needs to draw and show one node (JSON-ready).

    Example:
        >>> from jupyter_think.layout import layout_thoughts
        >>> from jupyter_think.models import Thought
        >>> t = Thought(thought="Look <here>", thought_number=1, total_thoughts=2, next_thought_needed=True)
        >>> payload = node_payload(layout_thoughts([t]).nodes[0])
        >>> payload["head"], payload["text"], payload["full"]
        ('Thought 1/2', 'Look <here>', True)
    """
    thought = node.thought
    text = thought.thought
    return {
        "i": node.index,
        "lane": node.lane,
        "col": node.column,
        "n": thought.thought_number,
        "kind": node.kind,
        "rev": node.revises,
        "head": thought_heading(thought),
        "text": text[:text_limit],
        "full": len(text) <= text_limit,
    }


def lane_payload(lane: Lane) -> dict[str, Any]:
    """One lane for the front end: index, name, fork number, fork node and first column."""
    return {
        "lane": lane.index,
        "id": lane.name,
        "from": lane.from_thought,
        "fork": lane.fork,
        "start": lane.start,
    }


class BranchGraph(anywidget.AnyWidget):
    """The branch graph of one session, updating live. Get it with ``session.graph()``.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("demo"); _ = s.think("Restate the problem", total=2)
        >>> graph = BranchGraph(s)
        >>> _ = s.think("Conclude", done=True)
        >>> print(repr(graph))
        Session demo · complete · 2 thoughts · 0 branches · 0 revisions
        main
        ├── 1 Restate the problem
        └── 2 Conclude  [final]
        >>> graph.close()
    """

    _esm = STATIC / "graph.js"
    _css = STATIC / "graph.css"

    _key = traitlets.Unicode("").tag(sync=True)  # identifies the model in the front end's store
    snapshot = traitlets.Dict().tag(sync=True)
    theme = traitlets.Dict(help="Colours of the kinds of thoughts and the graph's sizes (theme.json).").tag(
        sync=True
    )
    max_height = traitlets.Int(460, help="Largest height of the graph area in pixels.").tag(sync=True)

    def __init__(self, session: Session, **kwargs: Any) -> None:
        self._session_id = session.id
        self._state_lock = threading.RLock()
        self._generation = 0
        self._builder: LayoutBuilder | None = None
        self._early: list[SessionEvent] = []  # events that arrive before the snapshot is laid out
        # Subscribe, then take the snapshot: no change falls between them, and the events of
        # changes the snapshot already holds are skipped by their index.
        self._unsubscribe: Any = session.subscribe(self._on_event)
        snapshot = session.snapshot()
        with self._state_lock:
            self._builder = builder_for(snapshot)
            self._active_branch = snapshot.active_branch
            self._seen = snapshot.change_count
            early, self._early = self._early, []
            for event in early:
                self._update(event, push=False)
            super().__init__(_key=uuid.uuid4().hex, snapshot=self._snapshot(), theme=THEME, **kwargs)
        self.on_msg(self._on_front_end_message)

    # --- what it shows without a front end -------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The id of the session drawn."""
        return self._session_id

    def text(self) -> str:
        """The deterministic text tree (``text/plain``)."""
        with self._state_lock:
            return text_tree(self._layout().layout(), self._session_id)

    def svg(self) -> str:
        """The static SVG (``text/html`` fallback)."""
        with self._state_lock:
            return svg_from_layout(self._layout().layout(), self._session_id)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        with self._state_lock:
            graph = self._layout().layout()
            data["text/plain"] = text_tree(graph, self._session_id)
            svg = svg_from_layout(graph, self._session_id)
            data["text/html"] = svg_as_image(svg, headline(graph, self._session_id))
        return data, metadata

    # --- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop following the session and close the widget in every front end."""
        unsubscribe, self._unsubscribe = getattr(self, "_unsubscribe", None), None
        if unsubscribe is not None:
            unsubscribe()
        super().close()

    @property
    def following(self) -> bool:
        """True while the widget is subscribed to its session."""
        return self._unsubscribe is not None

    # --- internals --------------------------------------------------------------------------------

    def _layout(self) -> LayoutBuilder:
        assert self._builder is not None  # set in __init__ before anything else can ask
        return self._builder

    def _active_lane(self) -> int:
        return self._layout().lane_of(self._active_branch) or 0

    def _snapshot(self) -> dict[str, Any]:
        graph = self._layout().layout()
        limit = max(200, min(TEXT_LIMIT, SNAPSHOT_BUDGET // max(len(graph.nodes), 1)))
        return {
            "gen": self._generation,
            "session": self._session_id,
            "lanes": [lane_payload(lane) for lane in graph.lanes],
            "nodes": [node_payload(node, limit) for node in graph.nodes],
            "final": graph.final,
            "active": self._active_lane(),
        }

    def _push(self, message: dict[str, Any]) -> None:
        if self.comm is not None:
            self.send(message)

    def _on_event(self, event: SessionEvent) -> None:
        with self._state_lock:
            if self._builder is None:  # still inside __init__, before the snapshot was laid out
                self._early.append(event)
                return
            self._update(event, push=True)

    def _update(self, event: SessionEvent, *, push: bool) -> None:
        """Apply one session event to the layout (and tell the front end, with ``push``)."""
        if event.index <= self._seen:
            return  # already in the snapshot
        self._seen = event.index
        change = event.change
        send = self._push if push else _ignore
        builder = self._layout()
        if isinstance(change, ThoughtAdded):
            placed = builder.add(change.thought)
            send(
                {
                    "type": "add",
                    "gen": self._generation,
                    "seq": placed.node.index,
                    "nodes": [node_payload(placed.node)],
                    "lanes": [lane_payload(lane) for lane in placed.lanes],
                    "final": None if change.thought.next_thought_needed else placed.node.index,
                }
            )
        elif isinstance(change, BranchCreated):
            lane = builder.open_lane(change.branch_id, change.from_thought)
            if lane is not None:
                send({"type": "lanes", "gen": self._generation, "lanes": [lane_payload(lane)]})
        elif isinstance(change, BranchActivated):
            self._active_branch = change.branch_id if builder.lane_of(change.branch_id) is not None else None
            send({"type": "active", "gen": self._generation, "active": self._active_lane()})
        elif isinstance(change, SessionReset):
            self._generation += 1
            self._builder = LayoutBuilder()  # a reset session is empty
            self._active_branch = None
            if push:
                self.snapshot = self._snapshot()
        elif isinstance(change, BranchMerged):
            builder.apply(change)  # the merge edge comes with the target lane's next thought
            self._active_branch = change.into if builder.lane_of(change.into) is not None else None
            send({"type": "active", "gen": self._generation, "active": self._active_lane()})
        else:  # an amendment, a retraction, a decision: redraw from a fresh snapshot for now
            builder.apply(change)
            if push:
                self.snapshot = self._snapshot()

    def _on_front_end_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        with self._state_lock:
            if content.get("gen") != self._generation:
                return
            graph = self._layout().layout()
            if content.get("type") == "sync":
                have = content.get("have")
                start = have if isinstance(have, int) and 0 <= have <= len(graph.nodes) else 0
                self._push(
                    {
                        "type": "sync",
                        "gen": self._generation,
                        "seq": start,
                        "nodes": [node_payload(node) for node in graph.nodes[start:]],
                        "lanes": [lane_payload(lane) for lane in graph.lanes],
                        "final": graph.final,
                        "active": self._active_lane(),
                    }
                )
            elif content.get("type") == "text":
                index = content.get("i")
                if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(graph.nodes):
                    text = graph.nodes[index].thought.thought
                    html = markdown_html(text)
                    self._push({"type": "text", "gen": self._generation, "i": index, "text": text, "html": html})


def _ignore(message: dict[str, Any]) -> None:
    """Where messages go while the widget has no front end yet (they are in its first snapshot)."""


_open_graphs: weakref.WeakKeyDictionary[Session, BranchGraph] = weakref.WeakKeyDictionary()
_open_lock = threading.Lock()


def graph_for(session: Session) -> BranchGraph:
    """The live graph widget of ``session`` (``Session.graph()`` calls this).

    One widget per session while it is open: displaying it again shows another view of the same
    graph, so re-running a cell does not pile up subscribers. A closed widget is replaced.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("g")
        >>> graph_for(s) is graph_for(s)
        True
    """
    with _open_lock:
        graph = _open_graphs.get(session)
        if graph is None or graph.comm is None or not graph.following:
            graph = BranchGraph(session)
            _open_graphs[session] = graph
        return graph


views.register("graph", graph_for)
