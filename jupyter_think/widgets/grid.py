"""The live grid of an experiment: one card per run (a small graph, status, counts), updating as runs think.

An anywidget whose front end is ``static/grid.js``. The kernel side follows every run's session
(change events, from any thread: the runs' worker threads, or the persistence loop for thoughts
written by another process, ``remote=True``, shown like local ones) and places each thought with
the same :class:`~jupyter_think.views.layout.LayoutBuilder` as the full graph. Each change sends one
small custom message holding that run's whole card (its last :data:`THUMB_NODES` nodes, counts,
status, a version number), so a message that a page missed is healed by the next one for the run,
and the size of a message does not grow with the run. The ``snapshot`` trait (every card) is set
at creation, at most once every :data:`REFRESH_INTERVAL` while cards change, when the experiment
ends and when a front end asks for it: trait updates are never dropped, so a page that missed the
first messages (they can come before the front end has loaded, and while a blocking experiment
keeps the kernel busy a front end's request for the state waits) catches up within a second.

Clicking a card opens that run's full branch graph (``session.graph()``) below the grid, through
anywidget's widget composition (``detail`` trait, ``host.getWidget`` in the front end).

Without a widget front end (nbconvert, GitHub, nbval) the output is a deterministic text table
(``text/plain``) and HTML table (``text/html``) of the runs at display time: no times, no ids.
"""

from __future__ import annotations

import html
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from jupyter_think.core.models import BranchCreated, SessionReset, ThoughtAdded
from jupyter_think.experiments.compare import Counts, session_counts
from jupyter_think.views.layout import LayoutBuilder
from jupyter_think.views.tables import Cell, html_table
from jupyter_think.views.text import one_line, plural
from jupyter_think.views.theme import STATUS_COLORS, THEME

if TYPE_CHECKING:
    from jupyter_think.core.models import Thought
    from jupyter_think.core.session.session import Session, SessionEvent

STATIC = Path(__file__).parent / "static"
THUMB_NODES = 120
"""How many of a run's latest thoughts its card draws."""
REFRESH_INTERVAL = 1.0
"""Seconds between two ``snapshot`` refreshes while cards change."""
MESSAGE_LIMIT = 300
"""Characters of an error message a card carries (the run result keeps all of it)."""
STATUSES = ("pending", "running", "ok", "error", "cancelled")
_KIND_LETTER = {"thought": "t", "revision": "r", "branch": "b", "final": "f"}
_STATUS_COLORS = STATUS_COLORS


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


class RunCard:
    """The grid's picture of one run: layout of its thoughts, counts, status; its card payload."""

    def __init__(self, run: int, session: Session) -> None:
        self.run = run
        self.session = session
        self.status = "pending"
        self.message: str | None = None
        self.version = 0
        self.rebuild()

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
            "status": self.status,
            "message": self.message,
            "v": self.version,
            "counts": self.counts.as_dict(),
            "c": self.columns[start:],
            "l": self.lanes[start:],
            "k": "".join(self.kinds[start:]),
            "skipped": start,
            "forks": forks,
            "complete": self.session.status == "complete",
        }

    def text(self, id_width: int) -> str:
        """The card's line in the text table."""
        line = f"  {self.session.id:<{id_width}}  {self.status:<9}  {counts_line(self.counts)}"
        if self.message:
            line += f"  {one_line(self.message, 100)}"
        return line


class ExperimentGrid(anywidget.AnyWidget):
    """One card per run of an experiment, live. ``Experiment`` makes and shows it; see the module doc.

    Example:
        >>> from jupyter_think import Session
        >>> runs = [Session("demo-1"), Session("demo-2")]
        >>> grid = ExperimentGrid("demo", runs)
        >>> _ = runs[0].think("First step", total=2)
        >>> grid.set_status(1, "running")
        >>> print(grid.text())
        Experiment demo · 2 runs · 1 running · 1 pending
          demo-1  running    1 thought · 0 branches · 0 revisions
          demo-2  pending    0 thoughts · 0 branches · 0 revisions
        >>> grid.close()
    """

    _esm = STATIC / "grid.js"
    _css = STATIC / "grid.css"

    _key = traitlets.Unicode("").tag(sync=True)  # identifies the model in the front end's store
    snapshot = traitlets.Dict().tag(sync=True)
    theme = traitlets.Dict(
        help="Colours of the kinds of thoughts and of the runs' statuses (theme.json)."
    ).tag(sync=True)
    detail = anywidget.WidgetTrait().tag(sync=True)
    opened = traitlets.Int(0, help="The run whose full graph is open below the grid (0: none).").tag(
        sync=True
    )

    def __init__(self, name: str, sessions: Sequence[Session], **kwargs: Any) -> None:
        self.name = name
        self._state_lock = threading.RLock()
        self._stale = False  # a card changed since the last snapshot
        self._stopped = threading.Event()
        self._refresher: threading.Thread | None = None
        self._cards: list[RunCard] = []
        self._unsubscribers: list[Callable[[], None]] = []
        for run, session in enumerate(sessions, start=1):
            # Subscribe first, then take the picture: events the picture holds already are skipped.
            card = RunCard(run, session)
            with self._state_lock:
                self._unsubscribers.append(session.subscribe(self._listener(card)))
                card.rebuild()
            self._cards.append(card)
        with self._state_lock:
            super().__init__(_key=uuid.uuid4().hex, snapshot=self._snapshot(), theme=THEME, **kwargs)
        self.on_msg(self._on_front_end_message)

    # --- what the experiment tells it ------------------------------------------------------------

    def set_status(self, run: int, status: str, message: str | None = None) -> None:
        """Show run ``run`` (1, 2, …) as ``pending`` / ``running`` / ``ok`` / ``error`` / ``cancelled``."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        with self._state_lock:
            card = self._cards[run - 1]
            card.status = status
            card.message = None if message is None else message[:MESSAGE_LIMIT]
            self._changed(card)

    def finish(self) -> None:
        """Send every card once more as the ``snapshot`` trait (trait updates are never dropped)."""
        with self._state_lock:
            self._stale = False
            self.snapshot = self._snapshot()

    def stop(self) -> None:
        """Stop following the sessions (the grid keeps showing what it had)."""
        unsubscribers, self._unsubscribers = self._unsubscribers, []
        for unsubscribe in unsubscribers:
            unsubscribe()
        self._stopped.set()

    @property
    def following(self) -> bool:
        """True while the grid follows its runs' sessions."""
        return bool(self._unsubscribers)

    def close(self) -> None:
        """Stop following and close the widget in every front end."""
        self.stop()
        super().close()

    # --- reading ------------------------------------------------------------------------------------

    def cards(self) -> list[dict[str, Any]]:
        """Every card as the front end gets it (what a test or a benchmark reads)."""
        with self._state_lock:
            return [card.payload() for card in self._cards]

    def headline(self) -> str:
        """``Experiment NAME · N runs · …`` with the number of runs in each status."""
        with self._state_lock:
            statuses = [card.status for card in self._cards]
        parts = [f"Experiment {self.name}", plural(len(statuses), "run")]
        for status in ("running", "ok", "error", "cancelled", "pending"):
            count = statuses.count(status)
            if count:
                parts.append(f"{count} {'errors' if status == 'error' and count > 1 else status}")
        return " · ".join(parts)

    def text(self) -> str:
        """The deterministic text table (``text/plain``)."""
        with self._state_lock:
            width = max((len(card.session.id) for card in self._cards), default=0)
            return "\n".join([self.headline(), *(card.text(width) for card in self._cards)])

    def html_table(self) -> str:
        """The deterministic HTML table (``text/html`` without a widget front end)."""
        with self._state_lock:
            rows = [
                [
                    card.session.id,
                    Cell(card.status, {"style": f"color:{_STATUS_COLORS[card.status]};font-weight:600"}),
                    counts_line(card.counts),
                    one_line(card.message or "", 100),
                ]
                for card in self._cards
            ]
            table = html_table(["run", "status", "counts", "message"], rows)
            return f'<div class="jupyter-think-grid"><b>{html.escape(self.headline())}</b>{table}</div>'

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        data["text/plain"] = self.text()
        data["text/html"] = self.html_table()
        return data, metadata

    # --- internals ------------------------------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        return {"name": self.name, "runs": [card.payload() for card in self._cards]}

    def _changed(self, card: RunCard) -> None:
        card.version += 1
        if getattr(self, "comm", None) is None:
            return
        self.send({"type": "run", "card": card.payload()})
        self._stale = True
        if self._refresher is None and not self._stopped.is_set():
            self._refresher = threading.Thread(target=self._refresh, name="jupyter-think-grid", daemon=True)
            self._refresher.start()

    def _refresh(self) -> None:
        """Set the snapshot at most every :data:`REFRESH_INTERVAL` while cards change, until stopped."""
        while not self._stopped.wait(REFRESH_INTERVAL):
            if self._stale and getattr(self, "comm", None) is not None:
                try:
                    self.finish()
                except Exception:  # noqa: BLE001 - the comm went away (kernel shutting down): stop refreshing
                    return

    def _listener(self, card: RunCard) -> Callable[[SessionEvent], None]:
        def on_event(event: SessionEvent) -> None:
            change = event.change  # local and remote (another process) changes alike
            with self._state_lock:
                if event.index <= card.seen:
                    return  # already in the card's picture
                card.seen = event.index
                if isinstance(change, ThoughtAdded):
                    card.add(change.thought)
                    card.counts.branches = len(card.session.branch_ids)
                elif isinstance(change, BranchCreated):
                    card.builder.open_lane(change.branch_id, change.from_thought)
                    card.counts.branches = len(card.session.branch_ids)
                elif isinstance(change, SessionReset) or change.kind in ("retract", "decide", "merge"):
                    card.rebuild()  # (rare: a teaching change moves the counts and the conclusion)
                else:
                    return  # the active branch, an amended text: nothing a card shows
                self._changed(card)

        return on_event

    def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "sync":
            self.finish()
        elif content.get("type") == "open":
            run = content.get("run")
            if isinstance(run, int) and not isinstance(run, bool):
                self.open_run(run)

    def open_run(self, run: int) -> None:
        """Show run ``run``'s full branch graph below the grid (0, or the open run again, closes it)."""
        with self._state_lock:
            if run == self.opened or not 1 <= run <= len(self._cards):
                self.detail = None
                self.opened = 0
                return
            session = self._cards[run - 1].session
        # Outside the grid's lock: making the graph takes the session's lock, which a thread
        # recording a thought holds while it waits for the grid's lock.
        graph = session.graph()
        with self._state_lock:
            self.detail = graph
            self.opened = run
