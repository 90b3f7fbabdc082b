"""A thinking session: the history of thoughts, its branches, the active branch, change events.

A :class:`Session` *has* its parts, plain classes it holds and calls under its lock: the state
(:mod:`~jupyter_think.core.session.state`: every read and write of the thoughts, lanes and
timeline), the teaching history (:mod:`~jupyter_think.core.session.teaching`), the references
(:mod:`~jupyter_think.core.session.references`: what a person's numbers and branch ids mean) and
its changes (:mod:`~jupyter_think.core.session.changes`: each applied in order, then told to the
subscribers). It knows nothing of IPython, files or widgets: a view method imports its view
function when called. People's entry points are strict (a reference to nothing, a number taken:
a typed :class:`~jupyter_think.core.errors.ThinkError`, a ``ValueError``, and nothing changes); the
agent tool's ``record`` is lenient, like the reference server. History is append-only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from jupyter_think.core.errors import (
    InvalidThought,
    SessionFull,
    ThoughtTooLong,
)
from jupyter_think.core.errors import ThinkError as ThinkError  # re-exported: it was born here
from jupyter_think.core.errors import (
    describe_validation_error as describe_validation_error,  # re-exported: the tool imports it here
)
from jupyter_think.core.events import SessionEvent as SessionEvent
from jupyter_think.core.events import Subscriber as Subscriber
from jupyter_think.core.events import WriteAhead
from jupyter_think.core.ids import TRUNK, validate_ref
from jupyter_think.core.limits import MAX_TEXT_CHARS
from jupyter_think.core.models import (
    BranchActivated,
    BranchCreated,
    BranchDecided,
    BranchMerged,
    Change,
    Outcome,
    SessionRecord,
    SessionReset,
    Thought,
    ThoughtInput,
    ThoughtRetracted,
    new_thought_id,
    utc_now,
)
from jupyter_think.core.session.changes import Changes, first_time
from jupyter_think.core.session.columns import ThoughtRows
from jupyter_think.core.session.references import References
from jupyter_think.core.session.snapshot import Branch as Branch  # re-exported: views import it from here
from jupyter_think.core.session.snapshot import SessionSnapshot as SessionSnapshot
from jupyter_think.core.session.snapshot import Status as Status
from jupyter_think.core.session.state import SessionState
from jupyter_think.core.session.teaching import TeachingHistory, check_numbers

if TYPE_CHECKING:
    import pandas

    from jupyter_think.views.display import SessionSummary
    from jupyter_think.widgets.graph import BranchGraph


class Session:
    """A named thinking process. Get one from :meth:`SessionManager.session`.

    Example:
        >>> s = Session("demo")
        >>> s.think("Understand the problem", total=3).thought_number, s.think("Try a smaller case").thought_number
        (1, 2)
        >>> s.branch("alt", from_thought=1).from_thought, s.think("Another angle").branch_id
        (1, 'alt')
        >>> view = s.snapshot(); _ = s.think("One more")
        >>> len(view.thoughts), len(s.thoughts), s.summary().status
        (3, 4, 'open')
        >>> s.continue_after(7); s.switch_branch("main"); s.think("After the lost thoughts").thought_number
        8
    """

    def __init__(
        self,
        session_id: str,
        *,
        max_thought_chars: int = 100_000,
        max_thoughts: int = 10_000,
        created_at: datetime | None = None,
    ) -> None:
        self.id = validate_ref(session_id)
        if isinstance(max_thought_chars, bool) or not 1 <= max_thought_chars <= MAX_TEXT_CHARS:
            raise ValueError(
                f"max_thought_chars must be from 1 to {MAX_TEXT_CHARS}, got {max_thought_chars!r}"
            )
        self.max_thought_chars = max_thought_chars
        self.max_thoughts = max_thoughts
        self._lock = threading.RLock()
        self._state = SessionState(created_at or utc_now())
        self._teaching = TeachingHistory()
        self._references = References(self.id, self._state, self._teaching)
        self._changes = Changes(self.id, self._state, self._teaching)

    # --- read-only views ----------------------------------------------------------------------

    @property
    def thoughts(self) -> tuple[Thought, ...]:
        """Every thought in arrival order (trunk and branches)."""
        return self._state.thoughts()

    def recent(self, count: int) -> tuple[Thought, ...]:
        """The last ``count`` thoughts in arrival order (cheap at any session size)."""
        return self._state.recent(count)

    @property
    def trunk(self) -> tuple[Thought, ...]:
        """The history minus the thoughts that joined a branch."""
        return self._state.trunk()

    @property
    def branches(self) -> Mapping[str, Branch]:
        """Branch id -> :class:`Branch` (with its latest decision), in creation order."""
        with self._lock:
            return self._state.branch_views(self._teaching.decision_on)

    @property
    def branch_ids(self) -> tuple[str, ...]:
        """The branch ids in creation order (what the agent tool reports as ``branches``)."""
        return self._state.branch_ids

    @property
    def active_branch(self) -> str | None:
        """The branch new thoughts go to; ``None`` for the trunk."""
        return self._state.active_branch

    @property
    def created_at(self) -> datetime:
        """When the session (or its latest fresh start) was made."""
        return self._state.created_at

    @property
    def last_activity(self) -> datetime:
        """When the latest change was made."""
        return self._state.last_activity

    @property
    def status(self) -> Status:
        """``complete`` when the thinking has a conclusion (see :attr:`conclusion`), else ``open``."""
        return "open" if self.conclusion is None else "complete"

    @property
    def conclusion(self) -> Thought | None:
        """The last counted thought on the path to the conclusion, when it ends the thinking (see
        :mod:`~jupyter_think.core.session.snapshot`: retracted thoughts do not count; with a branch
        chosen only the trunk and the chosen branches lead there)."""
        with self._lock:
            return self._teaching.conclusion(self._state)

    @property
    def decisions(self) -> Mapping[str, BranchDecided]:
        """Branch id -> its latest decision (outcome, note, time), in branch creation order."""
        with self._lock:
            return self._teaching.decisions(self._state.branch_ids)

    @property
    def merges(self) -> tuple[BranchMerged, ...]:
        """Every merge, in order."""
        return self._teaching.merges()

    @property
    def retracted(self) -> frozenset[str]:
        """The ids of the retracted thoughts (they stay in :attr:`thoughts`)."""
        return self._teaching.retracted()

    @property
    def history_length(self) -> int:
        """How many thoughts count: all recorded minus the retracted ones (the tool's ``thoughtHistoryLength``)."""
        return self._teaching.counted(len(self._state))

    @property
    def change_count(self) -> int:
        """How many changes this session has seen in this process (grows by one per change)."""
        return self._changes.count

    def snapshot(self) -> SessionSnapshot:
        """Thoughts, trunk, branches, teaching and timeline as one consistent, immutable view."""
        with self._lock:
            return self._changes.snapshot()

    def __len__(self) -> int:
        return len(self._state)

    def __repr__(self) -> str:
        count = len(self._state)
        branches = len(self._state.branch_ids)
        return (
            f"<Session {self.id!r}: {count} thought{'s' * (count != 1)}, "
            f"{branches} branch{'es' * (branches != 1)}, {self.status}>"
        )

    @property
    def read_only(self) -> str | None:
        """Why this session cannot be changed here (another user's, shared to read), or ``None``."""
        return self._changes.read_only

    def set_read_only(self, reason: str | None) -> None:
        """Refuse every change made here from now on, saying ``reason`` (``None``: take changes again).
        Changes read from the store still apply, and switching the branch one looks at stays allowed."""
        self._changes.read_only = reason

    # --- people's entry points (strict) ---------------------------------------------------------

    def think(
        self,
        text: str,
        total: int | None = None,
        done: bool = False,
        branch: str | None = None,
        branch_from: int | None = None,
        *,
        number: int | None = None,
        revises: int | None = None,
        more: bool = False,
    ) -> Thought:
        """Record the next thought in the active branch (or in ``branch``) and return it.

        ``total`` is the estimate of thoughts needed (kept from the previous thought when
        omitted), ``done`` marks the last thought, ``branch`` with ``branch_from`` starts a new
        branch forking at that thought, ``number`` overrides the next number, ``revises`` marks
        a revision of an existing thought, ``more`` flags that more thoughts are needed.

        The next number is one above the highest on the lane (for a new branch, one above its
        fork point). A ``number`` already used on the lane is refused with
        :class:`~jupyter_think.core.errors.NumberTaken`, which says which numbers are free (a branch
        also counts every number up to its fork point). ``revises`` and ``branch_from`` name a
        thought by number; when the agent tool recorded that number more than once, they mean
        the latest thought with it. Every number is a whole number from 1 to ``MAX_NUMBER``
        (2**31 - 1), never a boolean, and the text holds no NUL and no lone surrogate: anything
        else raises :class:`~jupyter_think.core.errors.InvalidThought` naming the argument.
        """
        if number is not None or total is not None or revises is not None or branch_from is not None:
            check_numbers(number=number, total=total, revises=revises, branch_from=branch_from)
        if isinstance(text, str) and len(text) > self.max_thought_chars:
            raise ThoughtTooLong(len(text), self.max_thought_chars)
        with self._lock:
            fields = self._references.new_thought(
                text, total, done, branch, branch_from, number, revises, more
            )
            try:  # (the validator without its Python-level wrapper: think() runs in tight loops)
                thought = Thought.__pydantic_validator__.validate_python(fields, by_alias=False, by_name=True)
            except ValidationError as exc:
                raise InvalidThought.from_error(exc) from None
            return self._add(thought)

    def revise(self, number: int, text: str, **options: Any) -> Thought:
        """Record a revision of thought ``number`` (which must exist; when it was recorded more than
        once, the latest) as the next thought: ``think(text, revises=number, **options)``."""
        return self.think(text, revises=number, **options)

    def branch(self, branch_id: str, from_thought: int) -> Branch:
        """Create branch ``branch_id`` forking at thought ``from_thought`` (the latest with that number)
        and make it active; for a branch that exists with that fork point, just make it active."""
        check_numbers(from_thought=from_thought)
        with self._lock:
            branch_id, exists = self._references.new_branch(branch_id, from_thought)
            if not exists:
                self._changes.apply(BranchCreated(branch_id=branch_id, from_thought=from_thought))
            if self._state.active_branch != branch_id:
                self._changes.apply(BranchActivated(branch_id=branch_id))
            return self.branches[branch_id]

    def switch_branch(self, branch_id: str | None) -> None:
        """Make ``branch_id`` the active branch (``None`` or ``"main"`` for the trunk)."""
        with self._lock:
            lane = self._references.lane_to_switch(branch_id)
            if lane != self._state.active_branch:
                self._changes.apply(BranchActivated(branch_id=lane))

    # --- teaching: people's corrections and decisions (strict; see teaching.py) -----------------------

    def amend(self, number: int, text: str) -> Thought:
        """Correct the text of thought ``number`` on the active lane (a typo, not a change of mind:
        that is :meth:`revise`) and return it. Its earlier texts stay in its history
        (``snapshot().earlier_texts(thought)``); the refusals are listed in :mod:`~jupyter_think.core.session.teaching`."""
        check_numbers(number=number)
        with self._lock:
            thought = self._references.thought_to_change(number, "amend")
            change = self._teaching.amendment(thought, text, self.max_thought_chars)
            if change is not None:
                self._changes.apply(change)
            return self._state.current(thought.id)

    def retract(self, number: int) -> Thought:
        """Withdraw thought ``number`` on the active lane: it stays in the history, marked, and no
        longer counts (summary, conclusion, counts, the tool's ``thoughtHistoryLength``)."""
        check_numbers(number=number)
        with self._lock:
            thought = self._references.thought_to_change(number, "retract")
            self._changes.apply(
                ThoughtRetracted(thought_id=thought.id, thought_number=thought.thought_number)
            )
            return thought

    def decide(self, branch_id: str, outcome: Outcome, note: str | None = None) -> BranchDecided:
        """Record that branch ``branch_id`` was ``"chosen"`` or ``"abandoned"``, with an optional note
        (see :mod:`~jupyter_think.core.session.teaching`: the latest decision wins; with a branch chosen, the path to the
        conclusion is the trunk and the chosen branches)."""
        with self._lock:
            branch_id = self._references.known_branch(branch_id, "decide")
            change = self._teaching.decision(branch_id, outcome, note)
            if self._teaching.is_new(change):
                self._changes.apply(change)
            return change

    def merge(self, branch_id: str, into: str | None = TRUNK) -> BranchMerged:
        """Merge branch ``branch_id`` back into ``into`` (``"main"`` or ``None``: the trunk, or a branch):
        the target becomes active and goes on from the branch's last counted thought (see
        :mod:`~jupyter_think.core.session.teaching`). Merging again with nothing new in the branch changes nothing."""
        with self._lock:
            branch_id = self._references.known_branch(branch_id, "merge")
            target = self._references.merge_target(branch_id, into)
            change = self._teaching.merging(self.id, self._state, branch_id, target)
            if self._teaching.is_new(change):
                self._changes.apply(change)
            elif self._state.active_branch != target:  # nothing new to merge: only go back to the target
                self._changes.apply(BranchActivated(branch_id=target))
            return change

    # --- the agent tool's entry point (lenient) -------------------------------------------------

    def record(self, data: ThoughtInput) -> Thought:
        """Record a thought exactly as given (reference-server semantics: it joins ``branches[branch_id]``
        only when ``branch_from_thought`` is set too; only the session's limits raise). A
        :class:`Thought` new to this session is kept as it is (its id and time; no second validation)."""
        with self._lock:
            if isinstance(data, Thought) and not self._state.has(data.id):
                thought = data
            else:
                thought = Thought(**{**data.__dict__, "id": new_thought_id(), "created_at": utc_now()})
            return self._add(thought)

    # --- subscriptions ---------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` after every change, in the thread that made it and in change order
        (be quick: queue the work; an exception is a warning). Returns a function that unsubscribes."""
        with self._lock:
            self._changes.subscribers = (*self._changes.subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._changes.subscribers = tuple(s for s in self._changes.subscribers if s is not callback)

        return unsubscribe

    def set_write_ahead(self, writer: WriteAhead | None) -> None:
        """Commit every local change through ``writer`` *before* applying it (sync durability): when it
        raises (``OSError``: the store refused) nothing is applied and ``think()`` & co. raise it."""
        with self._lock:
            self._changes.write_ahead = writer

    # --- rebuilding ---------------------------------------------------------------------------------

    def apply(self, change: Change, *, remote: bool = False) -> bool:
        """Apply a change read from elsewhere (the store, another process); return True if applied.
        One this session has already, or naming what it does not have, is skipped (:meth:`Changes.fits`)."""
        with self._lock:
            if not self._changes.fits(change):
                return False
            self._changes.apply(change, remote=remote)
            return True

    def to_record(self) -> SessionRecord:
        """The session as a :class:`~jupyter_think.core.models.SessionRecord`: the thoughts as recorded,
        and every other change in order, placed among them."""
        with self._lock:
            return self._state.record(self.id)

    @classmethod
    def from_record(cls, record: SessionRecord, **limits: Any) -> Session:
        """Rebuild a session from a record (no events are sent); its timeline too."""
        session = cls(record.id, created_at=record.created_at, **limits)
        session._changes.load(record)
        return session

    def to_json(self, indent: int | None = None) -> str:
        """The session as JSON (wire names); ``Session.from_json`` rebuilds it exactly."""
        return self.to_record().model_dump_json(by_alias=True, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes, **limits: Any) -> Session:
        """Rebuild a session from :meth:`to_json` output (raises ``ValueError`` when invalid)."""
        return cls.from_record(SessionRecord.model_validate_json(text), **limits)

    @classmethod
    def from_changes(
        cls,
        session_id: str,
        changes: Iterable[Change | Thought | ThoughtRows],
        *,
        created_at: datetime | None = None,
        **limits: Any,
    ) -> Session:
        """Rebuild a session by replaying changes (no events; ``created_at`` defaults to the first
        change's time); a bare :class:`Thought` stands for its :class:`ThoughtAdded`, and
        :class:`~jupyter_think.core.session.columns.ThoughtRows` for theirs (what a store loads)."""
        changes = list(changes)
        session = cls(session_id, created_at=created_at or first_time(changes), **limits)
        with session._lock:
            session._changes.replay(changes)
        return session

    def reset(self) -> None:
        """Start this session anew (the manager archives the old content first)."""
        with self._lock:
            self._changes.apply(SessionReset())

    def continue_after(self, number: int) -> None:
        """Number the trunk's next thought after ``number`` at least (a session restored from a damaged
        store that lost thoughts up to ``number`` never gives one of their numbers again)."""
        with self._lock:
            self._state.continue_after(number)

    # --- views (each imported when asked for, so thinking loads none) ----------------------------------

    def summary(self) -> SessionSummary:
        """Counts, branches, revisions, status and the final conclusion."""
        from jupyter_think.views.display import summarize

        return summarize(self)

    def to_markdown(self) -> str:
        """The session as Markdown: the trunk, then each branch, revisions marked."""
        from jupyter_think.views.export import to_markdown

        return to_markdown(self)

    def to_mermaid(self) -> str:
        """The session as a Mermaid flowchart (trunk, branches, revision links)."""
        from jupyter_think.views.export import to_mermaid

        return to_mermaid(self)

    def to_html(self) -> str:
        """A standalone HTML page with the session's graph and its thoughts."""
        from jupyter_think.views.export import to_html

        return to_html(self)

    def to_svg(self) -> str:
        """The session's branch graph as a standalone SVG image."""
        from jupyter_think.views.render import render_svg

        return render_svg(self)

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per thought in arrival order: ``session_id``, ``position`` and the thought's fields."""
        from jupyter_think.experiments.compare import to_records

        return to_records(self)

    def to_dataframe(self) -> pandas.DataFrame:
        """The thoughts as a pandas ``DataFrame``, one row per :meth:`to_records` dict (needs pandas)."""
        from jupyter_think.experiments.compare import to_dataframe

        return to_dataframe(self)

    def graph(self, *, follow_presenter: bool = False) -> BranchGraph:
        """The live branch-graph widget for this session (falls back to SVG without a front end).

        ``follow_presenter``: the graph moves to the step that the presenter view of this session
        shows, in any kernel on the same store (a class following its teacher).
        """
        from jupyter_think.widgets.graph import graph_for

        widget = graph_for(self)
        if follow_presenter:
            widget.follow_presenter = True
        return widget

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self) if cycle else self.summary().as_text())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    # --- internals -----------------------------------------------------------------------------------

    def _add(self, thought: Thought) -> Thought:
        self._changes.check_writable()
        if len(thought.thought) > self.max_thought_chars:
            raise ThoughtTooLong(len(thought.thought), self.max_thought_chars)
        if len(self._state) >= self.max_thoughts:
            raise SessionFull(self.id, self.max_thoughts)
        self._changes.add(thought)
        return thought
