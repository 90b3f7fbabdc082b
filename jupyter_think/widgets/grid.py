"""The live grid of an experiment: one card per run, grouped by variant, updating as the runs think.

A card shows the run's variant and repeat, its status, its score, a small graph of its thoughts, its
counts, its tokens and the first line of its answer (or its error). A forked run's card marks the
thoughts it was copied from its source with (faded, and a tick where the fork is).

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
The grid takes the runs' results (:class:`~jupyter_think.experiments.results.RunResult`), or plain
sessions (each its own run).
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
from jupyter_think.experiments.results import RunResult
from jupyter_think.views.tables import Cell, html_table
from jupyter_think.views.text import one_line, plural
from jupyter_think.views.theme import STATUS_COLORS, THEME
from jupyter_think.widgets.grid_cards import (
    MESSAGE_LIMIT,
    STATUSES,
    THUMB_NODES,
    RunCard,
    counts_line,
)

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session, SessionEvent

STATIC = Path(__file__).parent / "static"
REFRESH_INTERVAL = 1.0
"""Seconds between two ``snapshot`` refreshes while cards change."""
_STATUS_COLORS = STATUS_COLORS
__all__ = ["MESSAGE_LIMIT", "THUMB_NODES", "ExperimentGrid", "RunCard", "counts_line"]


class ExperimentGrid(anywidget.AnyWidget):
    """One card per run of an experiment, live. ``Experiment`` makes and shows it; see the module doc.

    Example:
        >>> from jupyter_think import Session
        >>> runs = [Session("demo-1"), Session("demo-2")]
        >>> grid = ExperimentGrid("demo", runs)  # (an experiment gives its run results)
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

    def __init__(self, name: str, runs: Sequence[RunResult | Session], **kwargs: Any) -> None:
        self.name = name
        self._state_lock = threading.RLock()
        self._stale = False  # a card changed since the last snapshot
        self._stopped = threading.Event()
        self._refresher: threading.Thread | None = None
        self._cards: list[RunCard] = []
        self._unsubscribers: list[Callable[[], None]] = []
        for number, item in enumerate(runs, start=1):
            result = item if isinstance(item, RunResult) else None
            session = item.session if isinstance(item, RunResult) else item
            # Subscribe first, then take the picture: events the picture holds already are skipped.
            card = RunCard(result.run if result is not None else number, session, result)
            with self._state_lock:
                self._unsubscribers.append(session.subscribe(self._listener(card)))
                card.rebuild()
            self._cards.append(card)
        with self._state_lock:
            super().__init__(_key=uuid.uuid4().hex, snapshot=self._snapshot(), theme=THEME, **kwargs)
        self.on_msg(self._on_front_end_message)

    # --- what the experiment tells it ------------------------------------------------------------

    def set_status(self, run: int, status: str, message: str | None = None) -> None:
        """Show run ``run`` (1, 2, …) as ``pending`` / ``running`` / ``ok`` / ``error`` / ``timeout`` / ``cancelled``."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        with self._state_lock:
            card = self._cards[run - 1]
            card.status = status
            card.message = None if message is None else message[:MESSAGE_LIMIT]
            self._changed(card)

    def update_run(self, result: RunResult) -> None:
        """Show what run ``result.run`` is now: status, score, answer, tokens (the experiment calls it)."""
        with self._state_lock:
            card = self._cards[result.run - 1]
            card.update(result)
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
        for status in ("running", "ok", "error", "timeout", "cancelled", "pending"):
            count = statuses.count(status)
            if count:
                parts.append(
                    f"{count} {status + 's' if status in ('error', 'timeout') and count > 1 else status}"
                )
        return " · ".join(parts)

    def _grouped(self) -> bool:
        """True when the runs have variants of their own (not one run per config): shown by variant."""
        return any(card.repeat != 1 or card.variant != str(card.run) or card.source for card in self._cards)

    def text(self) -> str:
        """The deterministic text table (``text/plain``): by variant when the runs have variants."""
        with self._state_lock:
            width = max((len(card.session.id) for card in self._cards), default=0)
            lines = [self.headline()]
            variant = None
            grouped = self._grouped()
            for card in self._cards:
                if grouped and card.variant != variant:
                    variant = card.variant
                    lines.append(f"variant {variant}")
                lines.append(card.text(width))
            return "\n".join(lines)

    def html_table(self) -> str:
        """The deterministic HTML table (``text/html`` without a widget front end)."""
        with self._state_lock:
            rows = [
                [
                    card.variant,
                    card.session.id,
                    Cell(card.status, {"style": f"color:{_STATUS_COLORS[card.status]};font-weight:600"}),
                    card.score,
                    counts_line(card.counts),
                    card.tokens or "",
                    one_line(card.message or "", 100) or card.answer,
                ]
                for card in self._cards
            ]
            header = ["variant", "run", "status", "score", "counts", "tokens", "answer"]
            table = html_table(header, rows)
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
                except Exception:
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
                    # (read here, where the recording thread holds the session's lock: a card's
                    # payload is built under the grid's lock and must never wait for a session's)
                    card.complete = card.session.status == "complete"
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
