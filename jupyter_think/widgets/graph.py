"""The live branch-graph widget: an anywidget whose front end is ``static/graph.js``.

The kernel side owns the layout: a :class:`~jupyter_think.widgets.feed.GraphFeed` holds the graph and
turns each change into one small message (a node, a teaching event, a lane), so the bytes per
change do not depend on the session's size. The widget starts from a snapshot (the ``snapshot``
trait, sent once), then subscribes to the session. Changes written by another process arrive as
session events like any other (``remote=True``). Events may come from any thread: ipykernel (6+,
verified in 7) hands comm messages to its IOPub thread, and this widget serialises its own state
with a lock.

The widget never takes the session's lock: it subscribes first, then takes one
:meth:`~jupyter_think.core.session.session.Session.snapshot`, and skips the events the snapshot already holds
(their ``index`` is not above the snapshot's ``change_count``).

A front end that missed messages (a page reload, a view shown again after its data was dropped)
asks for the steps it lacks (``{"type": "sync", "have": n}``). A click on a thought (or a replay
step) asks for its detail: the full text and its Markdown rendered to HTML here in the kernel, with
its earlier texts when it was amended. Colours and sizes come from the ``theme`` trait
(``static/theme.json``, also read by the Python renderers); ``labels`` says whether nodes show
their first words.

A graph can follow a presenter (``follow_presenter``, also a checkbox on the widget): it moves to the
step that the presenter view of the same session shows, in this kernel or another, on this machine or
another sharing the store (:mod:`jupyter_think.persistence.presenter`). The presenter view of a graph
that does not follow sends each step it shows to the kernel, which writes it to the store
(:meth:`BranchGraph.present`, :mod:`jupyter_think.widgets.presenting`); on a class store only the
session's owner moves the followers.

A graph follows its session by id: when ``%config ThinkConfig.store`` (or ``sessions_dir``)
switches the store, the extension tells the live graphs, and each one of a session of the old
manager binds to the session with the same id in the new manager (:meth:`BranchGraph.follow`).

Without a widget front end (nbconvert, GitHub, nbval) the output shows ``text/html`` = the static
SVG as an ``<img>`` (untrusted notebooks keep it) and ``text/plain`` = the text tree; both deterministic.
"""

from __future__ import annotations

import functools
import threading
import uuid
import warnings
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import anywidget
import traitlets

from jupyter_think.core.models import SessionReset
from jupyter_think.ipython.extension import follow_manager
from jupyter_think.views.render import headline, svg_as_image, svg_from_layout
from jupyter_think.views.richtext import ALLOWLIST
from jupyter_think.views.theme import THEME
from jupyter_think.views.tree import text_tree
from jupyter_think.widgets.feed import (
    TEXT_LIMIT as TEXT_LIMIT,
)  # re-exported: tests and benchmarks read it here
from jupyter_think.widgets.feed import GraphFeed
from jupyter_think.widgets.presenting import PresenterLink

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session, SessionEvent
    from jupyter_think.manager import SessionManager

STATIC = Path(__file__).parent / "static"


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
    allowlist = traitlets.Dict(
        help="The HTML a thought's text may become (allowlist.json): the front end checks it again."
    ).tag(sync=True)
    max_height = traitlets.Int(460, help="Largest height of the graph area in pixels.").tag(sync=True)
    labels = traitlets.Bool(True, help="Show each thought's first words under its node.").tag(sync=True)
    follow_presenter = traitlets.Bool(
        False, help="Move to the step the presenter view of this session shows (in any kernel on the store)."
    ).tag(sync=True)
    presenter = traitlets.Dict(
        help="Where the presenter is: {'step': N, 'steps': M} (empty until a presenter view shows a step)."
    ).tag(sync=True)
    presenter_note = traitlets.Unicode(
        "", help="Why this graph cannot follow or move a presenter, when it cannot (shown by the checkbox)."
    ).tag(sync=True)

    def __init__(self, session: Session, **kwargs: Any) -> None:
        self._session_id = session.id
        self._state_lock = threading.RLock()
        self._generation = 0
        self._binding = 0  # which subscription is current (events of an earlier one are ignored)
        self._early: list[SessionEvent] | None = None  # events that arrive before the snapshot is laid out
        self._unsubscribe: Any = None
        self._session: weakref.ref[Session] | None = None
        self._feed: GraphFeed | None = None
        state = self._bind(session, push=False)
        super().__init__(_key=uuid.uuid4().hex, snapshot=state, theme=THEME, allowlist=ALLOWLIST, **kwargs)
        self._presenter = PresenterLink(self)
        self.observe(lambda change: self._presenter.follow(change["new"]), names="follow_presenter")
        self.on_msg(self._on_front_end_message)
        _live.add(self)

    # --- what it shows without a front end -------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The id of the session drawn."""
        return self._session_id

    @property
    def session(self) -> Session | None:
        """The session followed (None once nothing else holds it)."""
        return self._session() if self._session is not None else None

    def text(self) -> str:
        """The deterministic text tree (``text/plain``)."""
        with self._state_lock:
            return text_tree(self._graph().builder.layout(), self._session_id)

    def svg(self) -> str:
        """The static SVG (``text/html`` fallback)."""
        with self._state_lock:
            return svg_from_layout(self._graph().builder.layout(), self._session_id)

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
            graph = self._graph().builder.layout()
            data["text/plain"] = text_tree(graph, self._session_id)
            svg = svg_from_layout(graph, self._session_id)
            data["text/html"] = svg_as_image(svg, headline(graph, self._session_id))
        return data, metadata

    # --- lifecycle --------------------------------------------------------------------------------

    def follow(self, session: Session) -> None:
        """Draw ``session`` from now on (the same id in another manager): every front end redraws it."""
        self._bind(session, push=True)

    def close(self) -> None:
        """Stop following the session, close the widget in every front end and drop the sent graph."""
        with self._state_lock:
            self._binding += 1
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self._presenter.stop()
        _live.discard(self)
        super().close()
        self.set_trait("snapshot", {})  # the kernel's copy of what the front end was sent

    # --- the presenter --------------------------------------------------------------------------------

    def present(self, step: int, steps: int | None = None) -> bool:
        """Show the class ``step``: every graph of this session that follows the presenter moves there.

        ``steps`` is how many steps this graph holds (default: all of them now). The presenter view
        calls this at each step; False when the step could not be shared (see ``presenter_note``).

        Example:
            >>> from jupyter_think import Session
            >>> graph = BranchGraph(Session("alone")); graph.present(0)
            False
            >>> graph.presenter_note
            'this session is not kept in a store: save it in one (jupyter_think.get_manager()) to present it'
            >>> graph.close()
        """
        return self._presenter.present(step, self._graph().steps if steps is None else steps)

    @property
    def following(self) -> bool:
        """True while the widget is subscribed to its session."""
        return self._unsubscribe is not None

    # --- internals --------------------------------------------------------------------------------

    def _graph(self) -> GraphFeed:
        assert self._feed is not None  # set in __init__ before anything else can ask
        return self._feed

    def _bind(self, session: Session, *, push: bool) -> dict[str, Any] | None:
        """Subscribe to ``session``, lay out its snapshot and return the ``snapshot`` trait's new value
        (with ``push``, also set it, before any message of the new session can be sent).

        Subscribe, then take the snapshot, outside this widget's lock (events come under the
        session's lock, then take this one): no change falls between them, and the events of
        changes the snapshot already holds are skipped by their index.
        """
        with self._state_lock:
            self._binding += 1
            binding = self._binding
            self._early = []
            previous, self._unsubscribe = self._unsubscribe, None
        if previous is not None:
            previous()
        unsubscribe = session.subscribe(functools.partial(self._on_event, binding))
        snapshot = session.snapshot()
        with self._state_lock:
            if binding != self._binding:  # closed or bound elsewhere meanwhile
                unsubscribe()
                return None
            self._unsubscribe = unsubscribe
            self._session_id = session.id
            self._session = weakref.ref(session)
            self._seen = snapshot.change_count
            if self._feed is not None:
                self._generation += 1
            self._feed = GraphFeed(snapshot, self._generation)
            early, self._early = self._early or [], None
            for event in early:
                self._update(event, push=False)
            state = self._feed.state()
            if push:
                self.snapshot = state
            return state

    def _push(self, message: dict[str, Any]) -> None:
        if self.comm is not None:
            self.send(message)

    def _on_event(self, binding: int, event: SessionEvent) -> None:
        with self._state_lock:
            if binding != self._binding:
                return  # from a session this widget no longer follows
            if self._early is not None:  # the snapshot is still being laid out
                self._early.append(event)
                return
            self._update(event, push=True)

    def _update(self, event: SessionEvent, *, push: bool) -> None:
        """Apply one session event to the graph (and tell the front end, with ``push``)."""
        if event.index <= self._seen:
            return  # already in the snapshot
        self._seen = event.index
        if isinstance(event.change, SessionReset):
            self._generation += 1
            self._feed = GraphFeed.empty(self._session_id, self._generation)
            if push:
                self.snapshot = self._feed.state()
            return
        message = self._graph().apply(event.change)
        if message is not None and push:
            self._push(message)

    def _on_front_end_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        with self._state_lock:
            if content.get("gen") != self._generation or self._feed is None:
                return
            if content.get("type") == "sync":
                self._push(self._feed.sync(content.get("have")))
            elif content.get("type") == "text":
                reply = self._feed.detail(content.get("i"))
                if reply is not None:
                    self._push(reply)
            elif content.get("type") == "present":
                step, steps = content.get("step"), content.get("steps")
                if _whole(step) and _whole(steps) and 0 <= step <= steps < 2**31:
                    self._presenter.present_later(step, steps)


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


_live: weakref.WeakSet[BranchGraph] = weakref.WeakSet()
"""The graphs following a session (closed ones leave)."""
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


def follow_new_manager(old: SessionManager | None, new: SessionManager) -> None:
    """After ``%config`` switched the store: every live graph of a session of ``old`` follows the
    session with the same id in ``new`` (restored from the new store, or new and empty there).

    A graph of a session made outside the manager keeps its session. A store that cannot be read
    now leaves the graph where it was, with a warning.
    """
    if old is None:
        return
    for graph in list(_live):
        session = graph.session
        session_id = graph.session_id
        if session is None or not old.is_loaded(session_id) or old.session(session_id) is not session:
            continue
        try:
            replacement = new.session(session_id)
        except OSError as exc:
            warnings.warn(
                f"jupyter-think: the graph of {session_id} keeps the old store: {exc}", stacklevel=2
            )
            continue
        graph.follow(replacement)
        with _open_lock:
            if _open_graphs.get(session) is graph:
                del _open_graphs[session]
            _open_graphs.setdefault(replacement, graph)


follow_manager(follow_new_manager)
