"""The store interface: what the manager, the persistence loop, the CLI and the MCP server need.

A store keeps *sessions* (one row each: id, owner, state, times, counts) and their *changes* (the
pydantic change models of :mod:`jupyter_think.core.models`, as JSON, numbered by a sequence assigned
inside the writing transaction). Two engines implement it and pass one conformance test suite:
:mod:`.sqlite` (the embedded default) and :mod:`.postgres` (shared by many kernels on many machines).

Several rows may carry one session id: at most one is ``live``; the others are ``trashed``
(``jupyter-think rm``, retention) or ``archived`` (``%session ID --new``). A row is known to a
writer by its ``key``; trash, archive and restore change a row's state in one transaction, so no
copy of a session is ever written back whole.

Every error an engine raises is an :class:`OSError` (``StoreError``) with an errno a caller can act
on: ``EROFS`` (read-only), ``ENOSPC`` (full), ``EBUSY`` (locked), ``ECONNREFUSED`` (server down),
``EIO`` (anything else).
"""

from __future__ import annotations

import errno
import warnings
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Literal, TypeAlias

from jupyter_think.core.ids import split_ref, validate_ref
from jupyter_think.store.experiments import ExperimentTable
from jupyter_think.store.search import SEARCH_WINDOW, SearchHit  # noqa: F401 (SEARCH_WINDOW: named in Store.search)

if TYPE_CHECKING:  # (the models are imported where a change is made or read: `list` needs none)
    from typing_extensions import Self

    from jupyter_think.core.models import Change, Thought
    from jupyter_think.core.session.columns import ThoughtRows

SCHEMA_VERSION = 7
"""The version of the tables this package writes; an engine migrates older ones on open.

1: sessions, changes, branches. 2: a full-text index of the thoughts' text (``thought_text``).
3: a checksum per change (``changes.checksum``, see :mod:`.codec`); on SQLite also, per session,
the highest thought number written and what a repair of a damaged file could not carry over.
4: the full-text index rebuilt over the words :mod:`.search` makes (the same on both engines).
5: (PostgreSQL) sessions named per owner, the owner set by the database, shares and class
members, row-level security on every table (:mod:`.postgres.policies`). 6: experiments (:mod:`.experiments`).
7: who moved a session to the trash (``sessions.trashed_by``) and the presenter's step of each session
(``presenter``, :mod:`jupyter_think.store.presenter`)."""

State = Literal["live", "trashed", "archived"]
STATES: tuple[State, ...] = ("live", "trashed", "archived")
LIVE: tuple[State, ...] = ("live",)

Entry: TypeAlias = "Thought | Change"
"""A loaded change: a bare :class:`Thought` stands for the :class:`ThoughtAdded` that recorded it."""

Part: TypeAlias = "Entry | ThoughtRows"
"""What a load gives: an :data:`Entry`, or a run of thoughts decoded straight into columns."""


class StoreWarning(UserWarning):
    """Something in the store was damaged or unexpected; what could be read was read."""


class StoreError(OSError):
    """The store refused an operation; ``errno`` says why (see the module docstring)."""


class NotWritable(StoreError):
    """A write into another user's session that this role may not change (``EACCES``): never shared
    with it for writing, the share taken back, or the session in its owner's trash. It concerns that
    session alone: a writer sets its changes aside and saves every other session's."""


class SessionNotFound(StoreError, LookupError):
    """No session with that id in the state asked for."""

    def __init__(self, session_id: str, state: str = "live", where: str = "") -> None:
        place = {"live": "", "trashed": " in the trash", "archived": " in the archive"}.get(state, "")
        super().__init__(errno.ENOENT, f"no session {session_id!r}{place}{where}")
        self.session_id = session_id


# --- what goes in and comes out ----------------------------------------------------------------------


@dataclass(frozen=True)
class SessionWrite:
    """Changes of one session for :meth:`Store.append`.

    ``expected_key`` is the row the writer loaded or last wrote (``None`` for a session new to it):
    when that row was trashed by someone else, the append restores it; when it was archived (the
    session was started anew elsewhere), the changes go to the live row. ``created_at`` is the
    creation time of a row this write has to create.
    """

    session_id: str
    changes: Sequence[Change]
    expected_key: int | None = None
    created_at: datetime | None = None
    status: str | None = None
    """The session's status as the writer sees it after these changes (``open`` / ``complete``, what
    ``list`` shows); ``None``: taken from the last thought written."""


@dataclass(frozen=True)
class Segment:
    """A run of one write's changes stored in one row: seqs ``first_seq``..``last_seq``.

    ``after_reset`` is true for the run that follows a :class:`~jupyter_think.core.models.SessionReset`
    (stored in the fresh row the reset created); a reset itself is not stored as a change.
    """

    key: int
    first_seq: int
    last_seq: int
    after_reset: bool = False


@dataclass(frozen=True)
class Written:
    """What :meth:`Store.append` did for one :class:`SessionWrite`.

    ``restored`` is true when the row had been moved to the trash by someone else and this write
    made it live again; ``in_trash`` when it stays in the trash because a new live session took
    its id meanwhile (the changes are stored in the trashed row, restorable).
    """

    session_id: str
    segments: tuple[Segment, ...]
    restored: bool = False
    in_trash: bool = False

    @property
    def key(self) -> int | None:
        """The row the last changes went to."""
        return self.segments[-1].key if self.segments else None


@dataclass(frozen=True)
class StoredSession:
    """One row of the sessions table (what ``list`` shows)."""

    key: int
    id: str
    owner: str
    state: State
    created_at: datetime
    last_activity: datetime
    state_changed_at: datetime
    thoughts: int
    branches: int
    status: str
    last_seq: int
    missing: int = 0
    """Changes of this row that a damaged database lost (they are in the files of ``kept_in``)."""
    kept_in: tuple[str, ...] = ()
    """The quarantined copies of damaged databases that hold this row's missing changes."""
    top_number: int = 0
    """The highest thought number written to this row (0 where the engine does not keep it): a session
    that lost thoughts numbers its next one after it."""

    trashed_by: str = ""
    """Who moved the row to the trash: a user name, or ``retention`` (idle too long); empty when it was
    never trashed, or was trashed by a version that did not record it."""
    ref: str = ""
    """How this role names the session: its id when it is yours, ``OWNER/ID`` when it is another user's
    (a session shared with you, or any session of the class for a teacher)."""

    def __post_init__(self) -> None:
        if not self.ref:
            object.__setattr__(self, "ref", self.id)

    @property
    def damaged(self) -> bool:
        """True when changes of this row were lost to a damaged database (``list`` marks it)."""
        return self.missing > 0


def warn_damaged(row: StoredSession) -> None:
    """Say that ``row`` lost changes to a damaged database: every time it is opened (no once-only filter)."""
    where = " and ".join(row.kept_in) or "the quarantined copy of the damaged database"
    warnings.warn_explicit(
        f"jupyter-think: session {row.ref!r} was damaged: {row.missing} of its {row.last_seq} changes could "
        f"not be read and are not in it (kept in {where}); the rest loads, and its next thought is "
        f"numbered after {row.top_number}",
        StoreWarning,
        "jupyter_think",
        0,
        module="jupyter_think.store",
    )


@dataclass(frozen=True)
class LoadedChanges:
    """The valid changes of one row in sequence order, and the seqs skipped because they did not validate.

    ``parts`` holds runs of thoughts as :class:`ThoughtRows` (or a thought bare) and the other changes:
    ``Session.from_changes`` takes them as they are, without a model per thought. ``entries`` gives each
    thought bare (see :data:`Entry`), ``changes`` every one as a :data:`Change` (both built when asked for)."""

    row: StoredSession
    parts: list[Part]
    skipped: list[int] = field(default_factory=list)

    @cached_property
    def entries(self) -> list[Entry]:
        from jupyter_think.core.session.columns import ThoughtRows  # (a load needs it; `list` does not)

        entries: list[Entry] = []
        for part in self.parts:
            if isinstance(part, ThoughtRows):
                entries += part.models()
            else:
                entries.append(part)
        return entries

    @property
    def changes(self) -> list[Change]:
        return [as_change(entry) for entry in self.entries]

    @property
    def last_seq(self) -> int:
        return self.row.last_seq


def as_change(entry: Entry) -> Change:
    """The change an :data:`Entry` stands for."""
    from jupyter_think.core.models import Thought, ThoughtAdded

    return ThoughtAdded(thought=entry) if isinstance(entry, Thought) else entry


@dataclass(frozen=True)
class Share:
    """A session shared: ``session`` (as you name it), with whom (a user, or ``class``), whether they may
    write, and whether it is yours (``mine``) or shared with you."""

    session: str
    grantee: str
    write: bool
    mine: bool


@dataclass(frozen=True)
class Head:
    """Where a live session stands: its row and the last seq in it."""

    key: int
    last_seq: int


# --- the interface -------------------------------------------------------------------------------------


class Store(ABC):
    """A session store. Thread-safe; every method is one transaction; errors are :class:`StoreError`."""

    location: str
    """Where the store is, for messages (a directory, or a URL without its password)."""
    experiments: ExperimentTable
    """The stored experiments and their runs, beside the sessions (:mod:`.experiments`)."""

    @property
    @abstractmethod
    def read_only(self) -> str | None:
        """Why writes are refused (a read-only file system, permissions), or ``None`` when they are not."""

    @abstractmethod
    def append(self, writes: Sequence[SessionWrite]) -> list[Written]:
        """Store the changes of several sessions in one transaction (all or nothing).

        A :class:`~jupyter_think.core.models.SessionReset` among the changes archives the live row and
        starts a fresh live row with the same id, in the same transaction.
        """

    @abstractmethod
    def load(self, session_id: str, *, state: State = "live", key: int | None = None) -> LoadedChanges | None:
        """The changes of the live row of ``session_id`` (or the newest row in ``state``, or row
        ``key``); ``None`` when there is none. Payloads that do not match their checksum or do not
        validate are skipped, each with a :class:`StoreWarning` naming the session and the seq; they
        stay stored. A row that lost changes to a damaged database (``row.missing``) is reported with
        a warning each time it is loaded (:func:`warn_damaged`)."""

    @abstractmethod
    def changes_since(self, key: int, seq: int) -> list[tuple[int, Change]]:
        """(seq, change) of row ``key`` after ``seq``, in order (damaged or invalid payloads skipped with
        a warning)."""

    @abstractmethod
    def heads(self, session_ids: Collection[str]) -> dict[str, Head]:
        """The live row and last seq of each of ``session_ids`` that has a live row."""

    @abstractmethod
    def row(self, key: int) -> StoredSession | None:
        """Row ``key``, whatever its state; ``None`` when it was purged."""

    @abstractmethod
    def sessions(self, states: Collection[State] = LIVE) -> list[StoredSession]:
        """The rows in ``states``, by id then newest first."""

    @abstractmethod
    def trash(self, session_id: str) -> StoredSession:
        """Move the live row of ``session_id`` to the trash (raises :class:`SessionNotFound`)."""

    @abstractmethod
    def restore(self, session_id: str, state: State = "trashed", *, key: int | None = None) -> StoredSession:
        """Make the newest row of ``session_id`` in ``state`` live again.

        Restoring from the trash refuses while a live session has the id (trash that one first);
        restoring from the archive archives the live one (nothing is ever destroyed).
        """

    @abstractmethod
    def purge_trash(self, older_than: timedelta | None = None) -> list[StoredSession]:
        """Delete trashed rows (those trashed more than ``older_than`` ago); return them."""

    @abstractmethod
    def trash_idle(self, older_than: timedelta, keep: Collection[str] = ()) -> list[StoredSession]:
        """Move live rows idle longer than ``older_than`` to the trash, except ids in ``keep``."""

    @abstractmethod
    def search(
        self, words: str, session_ids: Collection[str] | None = None, limit: int = 50
    ) -> list[SearchHit]:
        """The thoughts of live sessions (or of ``session_ids``) that contain every word, best first.

        The words are those of :mod:`.search` (accents and case ignored, no stemming, no query
        syntax), found through the engine's own index (SQLite FTS5, a PostgreSQL GIN index) kept up
        to date by every append; the snippet and the rank are computed the same way on every engine,
        so both give the same hits in the same order. Raises ``ValueError`` (one line) for a query
        longer than :data:`~.search.MAX_QUERY_CHARS` characters or :data:`~.search.MAX_QUERY_WORDS`
        words and for a ``limit`` that is not a whole number from 1 to :data:`~.search.MAX_LIMIT`.
        When more than :data:`SEARCH_WINDOW` thoughts match, the newest of them are ranked. A
        thought's rank depends on that thought alone (how many of its words are query words), never
        on what else the store holds, so a notebook that shows a search gives the same output
        whatever other sessions share its store (nbval).
        """

    # --- who may do what (a store shared by a class; a personal store answers for its one user) ---

    def canonical(self, session_id: str) -> str:
        """How this store names ``session_id`` for this user: ``OWNER/ID`` naming yourself is just ``ID``.

        A personal store has one user, so ``OWNER/ID`` is always ``ID`` there (the owner is checked
        when the session is read).
        """
        return split_ref(validate_ref(session_id))[1]

    def writable(self, session_id: str) -> str | None:
        """Why this user may not change session ``session_id`` (read, but not write, another user's
        session), or ``None`` when they may."""
        return None

    def share(self, session_id: str, user: str | None, *, write: bool = False) -> str:
        """Let ``user`` (``None``: the whole class) read your session ``session_id`` (and change it, with
        ``write``); returns who it is shared with, in words."""
        raise StoreError(
            errno.EOPNOTSUPP,
            f"sharing needs a PostgreSQL store set up for a class; {self.location} is personal",
        )

    def unshare(self, session_id: str, user: str | None) -> str:
        """Take a share back (``None``: the class's); returns who it was shared with, in words."""
        raise StoreError(
            errno.EOPNOTSUPP,
            f"sharing needs a PostgreSQL store set up for a class; {self.location} is personal",
        )

    def shares(self) -> list[Share]:
        """What you share (``mine``) and what is shared with you, by session."""
        return []

    @abstractmethod
    def close(self) -> None:
        """Close the connection (the store can be used again: it reconnects)."""

    # --- following other writers ---

    @abstractmethod
    def changed(self) -> bool:
        """True when another connection may have committed since the last call (cheap; polled)."""

    async def watch(self, interval: float) -> AsyncIterator[None]:
        """Yield whenever other writers may have committed (the persistence loop follows them).

        This default polls :meth:`changed` every ``interval`` seconds (SQLite's ``data_version``);
        an engine that can push (PostgreSQL's ``LISTEN/NOTIFY``) yields as soon as it hears.
        A refusing engine is retried at the same pace; errors never escape.
        """
        import anyio.to_thread

        while True:
            try:
                changed = await anyio.to_thread.run_sync(self.changed)
            except OSError:
                changed = False
            if changed:
                yield
            await anyio.sleep(interval)

    def after_fork_in_child(self) -> None:
        """In a forked child: forget the parent's connections and locks (a lock held by one of the
        parent's threads at the fork would never be released here); reconnect on the next call.
        A store that holds neither keeps this default."""
        return

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location}>"


LOAD_BATCH = 2000
"""Rows a load fetches and validates at a time: a few thousand payloads still fit the processor's
caches, where one call over a 100 000-row session spends more time on memory than on validation."""
