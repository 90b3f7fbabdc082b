"""A thinking session: the history of thoughts, its branches, the active branch, change events.

Every mutation is a :data:`~jupyter_think.models.Change` applied by one method, ``_apply``, which
then tells the subscribers (the persistence loop, widgets, the manager's own subscribers). While
nobody listens, a recorded thought skips building its change object and event (``think()`` is
called in tight loops). The session knows nothing of IPython, files or widgets.

People's entry points (``think``, ``revise``, ``branch``, ``switch_branch``) validate references:
revising or forking from a thought number that does not exist, or giving a new thought a number
already used on its lane, raises a typed :class:`~jupyter_think.errors.ThinkError` (a
``ValueError``). The agent tool's entry point (``record``) is lenient, like the reference server,
so a number may repeat there; a reference to a repeated number (a revision, a fork point) means
the latest thought with that number.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from . import views
from .errors import (
    BranchForksElsewhere,
    BranchNeedsId,
    InvalidThought,
    NoSuchThought,
    NumberTaken,
    SessionFull,
    ThoughtTooLong,
    TrunkHasNoFork,
    UnknownBranch,
)
from .errors import ThinkError as ThinkError  # re-exported: it was born here
from .ids import TRUNK, validate_id
from .models import (
    BranchActivated,
    BranchCreated,
    BranchInfo,
    Change,
    SessionRecord,
    SessionReset,
    Thought,
    ThoughtAdded,
    ThoughtInput,
    new_thought_id,
    utc_now,
)

Status = Literal["open", "complete"]

_validate_thought = Thought.__pydantic_validator__.validate_python
"""``Thought.model_validate`` without its Python-level wrapper (``think()`` runs it once per thought)."""


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each invalid field by its wire name and what is wrong with it.

    Example:
        >>> try:
        ...     ThoughtInput(thought="x", thought_number=0, total_thoughts=1, next_thought_needed=True)
        ... except ValidationError as exc:
        ...     print(describe_validation_error(exc))
        thoughtNumber: Input should be greater than or equal to 1 (got 0)
    """
    parts = []
    for item in error.errors():
        loc = (to_camel(part) if isinstance(part, str) else str(part) for part in item["loc"])
        field = ".".join(loc) or "input"  # wire names, whichever names the input used
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            parts.append(f"{field}: required")
            continue
        shown = item.get("input")
        got = f" (got {shown!r})" if shown is not None and not isinstance(shown, dict) and len(repr(shown)) <= 40 else ""
        parts.append(f"{field}: {message}{got}")
    return "; ".join(parts)


class SessionEvent(NamedTuple):
    """What a subscriber receives: one change of one session (immutable).

    ``remote`` is true when the change was written by another process and read back from the
    store (the persistence loop does not write those again). ``index`` counts the session's
    changes in this process, starting at 1. (A named tuple: built on every change, it must be cheap.)
    """

    session_id: str
    change: Change
    remote: bool
    index: int


@dataclass(frozen=True, slots=True)
class Branch:
    """A read-only view of one branch: where it forks and its thoughts in arrival order."""

    id: str
    from_thought: int
    thoughts: tuple[Thought, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """An immutable view of a session at one moment, taken under its lock (what views draw).

    ``change_count`` is the session's :attr:`Session.change_count` at that moment: a subscriber that
    subscribed before taking the snapshot skips the events whose ``index`` is not above it.
    """

    id: str
    thoughts: tuple[Thought, ...]
    trunk: tuple[Thought, ...]
    branches: Mapping[str, Branch]
    active_branch: str | None
    change_count: int

    @property
    def status(self) -> Status:
        """``complete`` after a thought with ``next_thought_needed`` false, else ``open``."""
        return "complete" if self.thoughts and not self.thoughts[-1].next_thought_needed else "open"

    def snapshot(self) -> SessionSnapshot:
        """Itself (so a view takes a session or a snapshot alike)."""
        return self


Subscriber = Callable[[SessionEvent], None]
WriteAhead = Callable[[str, Change], None]
"""Called with (session id, change) before a local change is applied; raising ``OSError`` refuses it."""


class Session:
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
        self.id = validate_id(session_id)
        self.max_thought_chars = max_thought_chars
        self.max_thoughts = max_thoughts
        self._lock = threading.RLock()
        self._subscribers: tuple[Subscriber, ...] = ()
        self._write_ahead: WriteAhead | None = None
        self._change_count = 0
        self._reset_state(created_at or utc_now())

    def _reset_state(self, created_at: datetime) -> None:
        self.created_at = created_at
        self.last_activity = created_at
        self._thoughts: list[Thought] = []
        self._trunk: list[Thought] = []
        self._thought_ids: set[str] = set()
        self._numbers: set[int] = set()
        self._lane_numbers: dict[str | None, set[int]] = {None: set()}  # lane (None: trunk) -> numbers
        self._lane_top: dict[str | None, int] = {}  # lane -> its highest number
        self._branches: dict[str, BranchInfo] = {}
        self._members: dict[str, list[Thought]] = {}
        self._active_branch: str | None = None

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
        """Branch id -> :class:`Branch`, in creation order."""
        with self._lock:
            return MappingProxyType(
                {
                    branch_id: Branch(branch_id, info.from_thought, tuple(self._members[branch_id]), info.created_at)
                    for branch_id, info in self._branches.items()
                }
            )

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
        """``complete`` after a thought with ``next_thought_needed`` false, else ``open``."""
        if self._thoughts and not self._thoughts[-1].next_thought_needed:
            return "complete"
        return "open"

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
            return SessionSnapshot(
                self.id,
                tuple(self._thoughts),
                tuple(self._trunk),
                self.branches,
                self._active_branch,
                self._change_count,
            )

    def __len__(self) -> int:
        return len(self._thoughts)

    def __repr__(self) -> str:
        count = len(self._thoughts)
        branches = len(self._branches)
        return (
            f"<Session {self.id!r}: {count} thought{'s' * (count != 1)}, "
            f"{branches} branch{'es' * (branches != 1)}, {self.status}>"
        )

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
        :class:`~jupyter_think.errors.NumberTaken`, which says which numbers are free (a branch
        also counts every number up to its fork point). ``revises`` and ``branch_from`` name a
        thought by number; when the agent tool recorded that number more than once, they mean
        the latest thought with it.

        Example:
            >>> s = Session("plan")
            >>> s.think("Estimate first", total=2).total_thoughts
            2
            >>> s.think("Then conclude", done=True).next_thought_needed
            False
        """
        with self._lock:
            if branch is None and branch_from is None and self._active_branch is None:
                branch_id = fork = None  # the common case: the next thought of the trunk
                lane: list[Thought] = self._trunk
            else:
                branch_id, fork = self._resolve_lane(branch, branch_from)
                lane = self._trunk if branch_id is None else self._members.get(branch_id, [])
            if revises is not None:
                self._require_number(revises, "revise")
            if number is None:
                number = max(self._lane_top.get(branch_id, 0), fork or 0) + 1
            elif number in self._lane_numbers.get(branch_id, ()) or 1 <= number <= (fork or 0):
                used = self._lane_numbers.get(branch_id, set()) | set(range(1, (fork or 0) + 1))
                raise NumberTaken(self.id, number, branch_id, used)
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
                raise InvalidThought(
                    [
                        (str(e["loc"][0]) if e["loc"] else "input", e["msg"].removeprefix("Value error, "), e.get("input"))
                        for e in exc.errors()
                    ]
                ) from None
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
        """
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
        (:class:`~jupyter_think.errors.ThoughtTooLong`, :class:`~jupyter_think.errors.SessionFull`). A :class:`Thought` not
        yet in this session is recorded as it is (keeping its id and time; no second validation).
        """
        with self._lock:
            if isinstance(data, Thought) and data.id not in self._thought_ids:
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

        A thought already present (same id) is skipped, so merging the same journal twice is harmless.
        """
        with self._lock:
            if isinstance(change, ThoughtAdded) and change.thought.id in self._thought_ids:
                return False
            if isinstance(change, BranchCreated) and change.branch_id in self._branches:
                return False
            self._apply(change, remote=remote)
            return True

    def to_record(self) -> SessionRecord:
        """The session as a :class:`~jupyter_think.models.SessionRecord`."""
        with self._lock:
            return SessionRecord(
                id=self.id,
                created_at=self.created_at,
                last_activity=self.last_activity,
                active_branch=self._active_branch,
                thoughts=list(self._thoughts),
                branches=dict(self._branches),
            )

    @classmethod
    def from_record(cls, record: SessionRecord, **limits: Any) -> Session:
        """Rebuild a session from a record (no events are sent)."""
        session = cls(record.id, created_at=record.created_at, **limits)
        session._branches = dict(record.branches)
        session._members = {branch_id: [] for branch_id in record.branches}
        for thought in record.thoughts:
            session._insert(thought)
        session._active_branch = record.active_branch if record.active_branch in session._branches else None
        session.last_activity = record.last_activity
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

    def graph(self) -> Any:
        """The live branch-graph widget for this session (falls back to SVG without a front end)."""
        return views.render("graph", self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self) if cycle else self.summary().as_text())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    # --- internals -----------------------------------------------------------------------------------

    def _check_new_branch_id(self, branch_id: str) -> str:
        if branch_id == TRUNK:
            raise TrunkHasNoFork()
        return validate_id(branch_id, "branch")

    def _resolve_lane(self, branch: str | None, branch_from: int | None) -> tuple[str | None, int | None]:
        """(branch id, fork point) for a new thought; validates what a person asked for."""
        if branch is None:
            if branch_from is not None:
                raise BranchNeedsId(branch_from)
            branch = self._active_branch
            if branch is None:
                return None, None
            return branch, self._branches[branch].from_thought
        if branch == TRUNK:
            if branch_from is not None:
                raise TrunkHasNoFork(branch_from)
            return None, None
        branch = self._check_new_branch_id(branch)
        if branch in self._branches:
            existing = self._branches[branch].from_thought
            if branch_from is not None and branch_from != existing:
                raise BranchForksElsewhere(self.id, branch, existing, branch_from)
            return branch, existing
        if branch_from is None:
            raise UnknownBranch(self.id, branch)
        self._require_number(branch_from, "branch_from")
        return branch, branch_from

    def _require_number(self, number: int, role: str) -> None:
        if number not in self._numbers:
            raise NoSuchThought(self.id, number, self._numbers, role)

    def _current_total(self, branch_id: str | None) -> int:
        lane = self._trunk if branch_id is None else self._members.get(branch_id) or self._trunk
        if lane:
            return lane[-1].total_thoughts
        return self._thoughts[-1].total_thoughts if self._thoughts else 1

    def _add(self, thought: Thought) -> Thought:
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

    def _insert(self, thought: Thought) -> None:
        self._thoughts.append(thought)
        self._thought_ids.add(thought.id)
        number = thought.thought_number
        self._numbers.add(number)
        if thought.branch_id is not None and thought.branch_from_thought is not None:
            lane_id: str | None = thought.branch_id
            if lane_id not in self._branches:
                self._branches[lane_id] = BranchInfo(
                    from_thought=thought.branch_from_thought, created_at=thought.created_at
                )
                self._members[lane_id] = []
            self._members[lane_id].append(thought)
        else:
            lane_id = None
            self._trunk.append(thought)
        numbers = self._lane_numbers.get(lane_id)
        if numbers is None:
            numbers = self._lane_numbers[lane_id] = set()
        numbers.add(number)
        if number > self._lane_top.get(lane_id, 0):
            self._lane_top[lane_id] = number

    def _apply(self, change: Change, *, remote: bool = False) -> None:
        if self._write_ahead is not None and not remote:
            self._write_ahead(self.id, change)  # raises: not applied, the caller learns why
        if isinstance(change, ThoughtAdded):
            self._insert(change.thought)
            at = change.thought.created_at
        elif isinstance(change, BranchCreated):
            self._branches[change.branch_id] = BranchInfo(from_thought=change.from_thought, created_at=change.created_at)
            self._members[change.branch_id] = []
            at = change.created_at
        elif isinstance(change, BranchActivated):
            self._active_branch = change.branch_id if change.branch_id in self._branches else None
            at = change.at
        elif isinstance(change, SessionReset):
            self._reset_state(change.at)
            at = change.at
        else:  # pragma: no cover - the Change union is closed
            raise TypeError(f"unknown change {change!r}")
        self._touch(at)
        if self._subscribers:
            self._emit(SessionEvent(self.id, change, remote, self._change_count))

    def _touch(self, at: datetime) -> None:
        """Count one change made at ``at``."""
        if at > self.last_activity:
            self.last_activity = at
        self._change_count += 1

    def _emit(self, event: SessionEvent) -> None:
        for callback in self._subscribers:
            try:
                callback(event)
            except Exception as exc:  # a broken subscriber must not break thinking
                warnings.warn(f"jupyter-think: a change subscriber failed: {exc!r}", RuntimeWarning, stacklevel=2)

    def reset(self) -> None:
        """Start this session anew (the manager archives the old content first)."""
        with self._lock:
            self._apply(SessionReset())

    @classmethod
    def from_changes(
        cls, session_id: str, changes: Iterable[Change], *, created_at: datetime | None = None, **limits: Any
    ) -> Session:
        """Rebuild a session by replaying changes (no events are sent).

        ``created_at`` defaults to the time of the first change.
        """
        changes = list(changes)
        if created_at is None and changes and isinstance(changes[0], ThoughtAdded):
            created_at = changes[0].thought.created_at
        session = cls(session_id, created_at=created_at, **limits)
        for change in changes:
            session.apply(change)
        return session
