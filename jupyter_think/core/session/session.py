"""A thinking session: the history of thoughts, its branches, the active branch, change events.

Every mutation is a :data:`~jupyter_think.core.models.Change` applied by one method, ``_apply``, which
then tells the subscribers (the persistence loop, widgets, the manager's own subscribers). While
nobody listens, a recorded thought skips building its change object and event (``think()`` is
called in tight loops). The session knows nothing of IPython, files or widgets.

People's entry points (``think``, ``revise``, ``branch``, ``switch_branch``) validate references:
revising or forking from a thought number that does not exist, or giving a new thought a number
already used on its lane, raises a typed :class:`~jupyter_think.core.errors.ThinkError` (a
``ValueError``). The agent tool's entry point (``record``) is lenient, like the reference server,
so a number may repeat there; a reference to a repeated number (a revision, a fork point) means
the latest thought with that number.

The teaching changes (amend, retract, decide, merge) are in :mod:`jupyter_think.core.session.teaching`, the
numbers per lane in :mod:`jupyter_think.core.session.lanes`, and what a view reads in
:mod:`jupyter_think.core.session.snapshot` (:class:`SessionSnapshot`). History is append-only: an amended thought
shows its new text everywhere, and the record keeps the text it was recorded with plus each amendment.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from jupyter_think.views import registry as views
from jupyter_think.core.errors import (
    BranchForksElsewhere,
    InvalidThought,
    NumberTaken,
    ReadOnlySession,
    SessionFull,
    ThoughtTooLong,
    UnknownBranch,
)
from jupyter_think.core.errors import ThinkError as ThinkError  # re-exported: it was born here
from jupyter_think.core.errors import (
    describe_validation_error as describe_validation_error,  # re-exported: the tool imports it here
)
from jupyter_think.core.events import SessionEvent as SessionEvent
from jupyter_think.core.events import Subscriber as Subscriber
from jupyter_think.core.events import WriteAhead
from jupyter_think.core.ids import TRUNK, validate_id, validate_ref
from jupyter_think.core.limits import MAX_TEXT_CHARS
from jupyter_think.core.models import (
    BranchActivated,
    BranchCreated,
    Change,
    SessionRecord,
    SessionReset,
    Thought,
    ThoughtAdded,
    ThoughtInput,
    new_thought_id,
    utc_now,
)
from jupyter_think.core.session.snapshot import Branch as Branch  # re-exported: views import it from here
from jupyter_think.core.session.snapshot import SessionSnapshot as SessionSnapshot
from jupyter_think.core.session.snapshot import Status as Status
from jupyter_think.core.session.state import TEACHING
from jupyter_think.core.session.teaching import TeachingMixin, check_numbers


def _validate_thought(fields: dict[str, Any], **options: Any) -> Thought:
    """``Thought.model_validate`` without its Python-level wrapper (``think()`` runs it once per thought;
    the validator is built on first use, see models.py)."""
    return Thought.__pydantic_validator__.validate_python(fields, **options)


class Session(TeachingMixin):
    """A named thinking process. Get one from :meth:`SessionManager.session`.

    Example:
        >>> s = Session("demo")
        >>> s.think("Understand the problem", total=3).thought_number
        1
        >>> s.think("Try a smaller case").thought_number
        2
        >>> s.branch("alt", from_thought=1).from_thought
        1
        >>> s.think("Another angle").branch_id
        'alt'
        >>> s.summary().status
        'open'
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
        if created_at is not None and created_at.utcoffset() is None:
            raise ValueError("created_at must carry its time zone, e.g. datetime.now(timezone.utc)")
        self.max_thought_chars = max_thought_chars
        self.max_thoughts = max_thoughts
        self._lock = threading.RLock()
        self._subscribers: tuple[Subscriber, ...] = ()
        self._write_ahead: WriteAhead | None = None
        self._read_only: str | None = None
        self._change_count = 0
        self._reset_state(created_at or utc_now())

    # --- read-only views ----------------------------------------------------------------------

    @property
    def thoughts(self) -> tuple[Thought, ...]:
        """Every thought in arrival order (trunk and branches)."""
        return tuple(self._thoughts)

    def recent(self, count: int) -> tuple[Thought, ...]:
        """The last ``count`` thoughts in arrival order (cheap at any session size)."""
        return tuple(self._thoughts[-count:]) if count > 0 else ()

    @property
    def trunk(self) -> tuple[Thought, ...]:
        """The history minus the thoughts that joined a branch."""
        return tuple(self._trunk)

    @property
    def branches(self) -> Mapping[str, Branch]:
        """Branch id -> :class:`Branch` (with its latest decision), in creation order."""
        with self._lock:
            return self._branch_views()

    @property
    def branch_ids(self) -> tuple[str, ...]:
        """The branch ids in creation order (what the agent tool reports as ``branches``)."""
        return tuple(self._branches)

    @property
    def active_branch(self) -> str | None:
        """The branch new thoughts go to; ``None`` for the trunk."""
        return self._active_branch

    @property
    def status(self) -> Status:
        """``complete`` when the thinking has a conclusion (see :attr:`conclusion`), else ``open``."""
        return "open" if self.conclusion is None else "complete"

    @property
    def conclusion(self) -> Thought | None:
        """The last counted thought on the path to the conclusion, when it ends the thinking.

        Without retractions or decisions: the last thought, when it has ``next_thought_needed``
        false. Otherwise retracted thoughts do not count, and with a branch chosen only the trunk
        and the chosen branches lead there (see :mod:`jupyter_think.core.session.snapshot`).
        """
        with self._lock:
            return self._conclusion()

    @property
    def change_count(self) -> int:
        """How many changes this session has seen in this process (grows by one per change)."""
        return self._change_count

    def snapshot(self) -> SessionSnapshot:
        """Thoughts, trunk, branches and active branch as one consistent, immutable view.

        Example:
            >>> s = Session("snap"); _ = s.think("one")
            >>> view = s.snapshot(); _ = s.think("two")
            >>> len(view.thoughts), len(s.snapshot().thoughts)
            (1, 2)
        """
        with self._lock:
            return self._snapshot()

    def __len__(self) -> int:
        return len(self._thoughts)

    def __repr__(self) -> str:
        count = len(self._thoughts)
        branches = len(self._branches)
        return (
            f"<Session {self.id!r}: {count} thought{'s' * (count != 1)}, "
            f"{branches} branch{'es' * (branches != 1)}, {self.status}>"
        )

    @property
    def read_only(self) -> str | None:
        """Why this session cannot be changed here (another user's, shared to read), or ``None``."""
        return self._read_only

    def set_read_only(self, reason: str | None) -> None:
        """Refuse every change made here from now on, saying ``reason`` (``None``: take changes again).
        Changes read from the store still apply, and switching the branch one looks at stays allowed."""
        self._read_only = reason

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

        Example:
            >>> s = Session("plan")
            >>> s.think("Estimate first", total=2).total_thoughts
            2
            >>> s.think("Then conclude", done=True).next_thought_needed
            False
        """
        if number is not None or total is not None or revises is not None or branch_from is not None:
            check_numbers(number=number, total=total, revises=revises, branch_from=branch_from)
        if isinstance(text, str) and len(text) > self.max_thought_chars:
            raise ThoughtTooLong(len(text), self.max_thought_chars)
        with self._lock:
            if branch is None and branch_from is None and self._active_branch is None:
                branch_id = fork = None  # the common case: the next thought of the trunk
                lane: list[Thought] = self._trunk
            else:
                branch_id, fork = self._resolve_lane(branch, branch_from)
                lane = self._trunk if branch_id is None else self._members.get(branch_id, [])
            if revises is not None:
                self._require_number(revises, "revise")
            index = self._index
            if number is None:
                number = max(index.lane_top.get(branch_id, 0), fork or 0) + 1
            elif number in index.lane_numbers.get(branch_id, ()) or 1 <= number <= (fork or 0):
                raise NumberTaken(
                    self.id, number, branch_id, index.lane_numbers.get(branch_id, ()), up_to=fork or 0
                )
            if total is None:
                total = lane[-1].total_thoughts if lane else self._current_total(branch_id)
            # Only the fields that are set are passed (each explicit None costs a validation step);
            # the model raises total to number and fills in id and created_at.
            fields: dict[str, Any] = {
                "thought": text,
                "thought_number": number,
                "total_thoughts": total,
                "next_thought_needed": not done,
            }
            if revises is not None:
                fields["is_revision"] = True
                fields["revises_thought"] = revises
            if branch_id is not None:
                fields["branch_id"] = branch_id
                fields["branch_from_thought"] = fork
            if more:
                fields["needs_more_thoughts"] = True
            try:
                thought = _validate_thought(fields, by_alias=False, by_name=True)
            except ValidationError as exc:
                raise InvalidThought.from_error(exc) from None
            return self._add(thought)

    def revise(self, number: int, text: str, **options: Any) -> Thought:
        """Record a revision of thought ``number`` (which must exist) as the next thought.

        When the number was recorded more than once (the agent tool allows it), the revision
        means the latest thought with that number.

        Example:
            >>> s = Session("r")
            >>> _ = s.think("Assume n is even")
            >>> s.revise(1, "n can be odd too").revises_thought
            1
        """
        return self.think(text, revises=number, **options)

    def branch(self, branch_id: str, from_thought: int) -> Branch:
        """Create branch ``branch_id`` forking at thought ``from_thought`` and make it active.

        Creating a branch that exists with the same fork point just switches to it. When thought
        number ``from_thought`` was recorded more than once, the branch forks at the latest one.
        A ``from_thought`` that is no thought number (a boolean, 0, above ``MAX_NUMBER``) raises
        :class:`~jupyter_think.core.errors.InvalidThought`.
        """
        check_numbers(from_thought=from_thought)
        with self._lock:
            branch_id = self._check_new_branch_id(branch_id)
            if branch_id in self._branches:
                existing = self._branches[branch_id].from_thought
                if existing != from_thought:
                    raise BranchForksElsewhere(self.id, branch_id, existing, from_thought)
            else:
                self._require_number(from_thought, "branch_from")
                self._apply(BranchCreated(branch_id=branch_id, from_thought=from_thought))
            if self._active_branch != branch_id:
                self._apply(BranchActivated(branch_id=branch_id))
            return self.branches[branch_id]

    def switch_branch(self, branch_id: str | None) -> None:
        """Make ``branch_id`` the active branch (``None`` or ``"main"`` for the trunk)."""
        with self._lock:
            if branch_id == TRUNK:
                branch_id = None
            if branch_id is not None:
                validate_id(branch_id, "branch")
                if branch_id not in self._branches:
                    raise UnknownBranch(self.id, branch_id)
            if branch_id != self._active_branch:
                self._apply(BranchActivated(branch_id=branch_id))

    # --- the agent tool's entry point (lenient) -------------------------------------------------

    def record(self, data: ThoughtInput) -> Thought:
        """Record a thought exactly as given (reference-server semantics, no reference checks).

        It joins ``branches[branch_id]`` only when both ``branch_id`` and ``branch_from_thought``
        are set. Raises a :class:`ThinkError` only for the session's limits
        (:class:`~jupyter_think.core.errors.ThoughtTooLong`, :class:`~jupyter_think.core.errors.SessionFull`). A :class:`Thought` not
        yet in this session is recorded as it is (keeping its id and time; no second validation).
        """
        with self._lock:
            if isinstance(data, Thought) and data.id not in self._where:
                thought = data
            else:
                thought = Thought(**{**data.__dict__, "id": new_thought_id(), "created_at": utc_now()})
            return self._add(thought)

    # --- subscriptions ---------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` after every change; returns a function that unsubscribes.

        Callbacks run in the thread that made the change, in change order; they must be quick
        (queue the work). An exception in a callback is reported as a warning, never raised.
        """
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    def set_write_ahead(self, writer: WriteAhead | None) -> None:
        """Commit every local change through ``writer`` *before* applying it (sync durability).

        When ``writer`` raises (an ``OSError``: the store refused), the change is not applied and
        the exception reaches the caller of ``think()`` & co.: nothing is acknowledged unsaved.
        """
        with self._lock:
            self._write_ahead = writer

    # --- rebuilding ---------------------------------------------------------------------------------

    def apply(self, change: Change, *, remote: bool = False) -> bool:
        """Apply a change read from elsewhere (the store, another process); return True if applied.

        A change already applied is skipped (a thought with the same id, a branch that exists, an
        equal teaching change, a thought retracted already), so merging the same changes twice is
        harmless; so is a teaching change naming a thought or branch this session does not have.
        """
        with self._lock:
            if isinstance(change, ThoughtAdded) and change.thought.id in self._where:
                return False
            if isinstance(change, BranchCreated) and change.branch_id in self._branches:
                return False
            if isinstance(change, TEACHING) and not self._applicable(change):
                return False
            self._apply(change, remote=remote)
            return True

    def to_record(self) -> SessionRecord:
        """The session as a :class:`~jupyter_think.core.models.SessionRecord`: the thoughts as recorded,
        and every other change in order, placed among them."""
        with self._lock:
            return self._record()

    @classmethod
    def from_record(cls, record: SessionRecord, **limits: Any) -> Session:
        """Rebuild a session from a record (no events are sent); its timeline too."""
        session = cls(record.id, created_at=record.created_at, **limits)
        session._load(record)
        return session

    def to_json(self, indent: int | None = None) -> str:
        """The session as JSON (wire names); ``Session.from_json`` rebuilds it exactly."""
        return self.to_record().model_dump_json(by_alias=True, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes, **limits: Any) -> Session:
        """Rebuild a session from :meth:`to_json` output (raises ``ValueError`` when invalid)."""
        return cls.from_record(SessionRecord.model_validate_json(text), **limits)

    # --- exports and display (the view modules register these; see views.py) -------------------------

    def summary(self) -> Any:
        """Counts, branches, revisions, status and the final conclusion (a ``SessionSummary``)."""
        return views.render("summary", self)

    def to_markdown(self) -> str:
        """The session as Markdown: the trunk, then each branch, revisions marked."""
        return views.render("markdown", self)

    def to_mermaid(self) -> str:
        """The session as a Mermaid flowchart (trunk, branches, revision links)."""
        return views.render("mermaid", self)

    def to_html(self) -> str:
        """A standalone HTML page with the session's graph and its thoughts."""
        return views.render("html", self)

    def to_svg(self) -> str:
        """The session's branch graph as a standalone SVG image."""
        return views.render("svg", self)

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per thought in arrival order: ``session_id``, ``position`` and the thought's fields."""
        return views.render("records", self)

    def to_dataframe(self) -> Any:
        """The thoughts as a pandas ``DataFrame``, one row per :meth:`to_records` dict (needs pandas)."""
        return views.render("dataframe", self)

    def graph(self, *, follow_presenter: bool = False) -> Any:
        """The live branch-graph widget for this session (falls back to SVG without a front end).

        ``follow_presenter``: the graph moves to the step that the presenter view of this session
        shows, in any kernel on the same store (a class following its teacher).
        """
        widget = views.render("graph", self)
        if follow_presenter:
            widget.follow_presenter = True
        return widget

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self) if cycle else self.summary().as_text())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    # --- internals -----------------------------------------------------------------------------------

    def _add(self, thought: Thought) -> Thought:
        if self._read_only is not None:
            raise ReadOnlySession(self.id, self._read_only)
        if len(thought.thought) > self.max_thought_chars:
            raise ThoughtTooLong(len(thought.thought), self.max_thought_chars)
        if len(self._thoughts) >= self.max_thoughts:
            raise SessionFull(self.id, self.max_thoughts)
        if self._subscribers or self._write_ahead is not None:
            self._apply(ThoughtAdded(thought=thought))
        else:  # nobody listens: the same effect as _apply, without building the change object
            self._insert(thought)
            self._touch(thought.created_at)
        return thought

    def _apply(self, change: Change, *, remote: bool = False) -> None:
        if self._read_only is not None and not remote and not isinstance(change, BranchActivated):
            raise ReadOnlySession(self.id, self._read_only)
        if self._write_ahead is not None and not remote:
            self._write_ahead(self.id, change)  # raises: not applied, the caller learns why
        self._touch(self._change_state(change))
        if self._subscribers:
            self._emit(SessionEvent(self.id, change, remote, self._change_count))

    def _emit(self, event: SessionEvent) -> None:
        for callback in self._subscribers:
            try:
                callback(event)
            except Exception as exc:  # a broken subscriber must not break thinking
                warnings.warn(
                    f"jupyter-think: a change subscriber failed: {exc!r}", RuntimeWarning, stacklevel=2
                )

    def reset(self) -> None:
        """Start this session anew (the manager archives the old content first)."""
        with self._lock:
            self._apply(SessionReset())

    @classmethod
    def from_changes(
        cls,
        session_id: str,
        changes: Iterable[Change | Thought],
        *,
        created_at: datetime | None = None,
        **limits: Any,
    ) -> Session:
        """Rebuild a session by replaying changes (no events are sent); a bare :class:`Thought` stands
        for the :class:`ThoughtAdded` that recorded it (what a store loads).

        ``created_at`` defaults to the time of the first change.
        """
        changes = list(changes)
        if created_at is None and changes:
            first = changes[0]
            if isinstance(first, ThoughtAdded):
                created_at = first.thought.created_at
            elif isinstance(first, Thought):
                created_at = first.created_at
        session = cls(session_id, created_at=created_at, **limits)
        with session._lock:
            for change in changes:
                if not isinstance(change, Thought):
                    session.apply(change)
                elif change.id not in session._where:  # as apply(ThoughtAdded(thought=change))
                    session._insert(change)
                    session._touch(change.created_at)
        return session

    def continue_after(self, number: int) -> None:
        """Number the trunk's next thought after ``number`` at least (a session restored from a damaged
        store that lost thoughts up to ``number`` never gives one of their numbers again).

        Example:
            >>> s = Session("restored")
            >>> s.continue_after(7)
            >>> s.think("Goes on after the lost thoughts").thought_number
            8
        """
        with self._lock:
            if number > self._index.lane_top.get(None, 0):
                self._index.lane_top[None] = number
