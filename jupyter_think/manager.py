"""The session manager: sessions by id, the active session, subscriptions, the process-wide manager.

A manager owns the sessions of one store (a SQLite directory or a PostgreSQL URL). It forwards every
session's change events to its own subscribers; the persistence loop is one of them (when
``persist`` is on), widgets are others. ``get_manager()`` returns the manager the magics and the
agent tool share in a kernel.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from jupyter_think.core.config import ThinkSettings, default_store_location, settings_error
from jupyter_think.core.errors import NoSuchSession
from jupyter_think.core.ids import natural_key, split_ref, validate_ref
from jupyter_think.core.models import SessionRecord
from jupyter_think.core.session.session import Session, SessionEvent, Subscriber

if TYPE_CHECKING:
    from jupyter_think.store import SearchHit, Store, StoredSession
    from jupyter_think.store.base import State

DEFAULT_SESSION = "default"


class PersistenceBackend(Protocol):
    """What the manager needs from the persistence layer (see :mod:`jupyter_think.persistence`)."""

    store: Store

    def restore(self, session_id: str) -> Session | None: ...
    def track(self, session: Session) -> None: ...
    def trash(self, session_id: str) -> bool: ...
    def flush(self, timeout: float | None) -> None: ...
    def close(self, timeout: float | None) -> None: ...
    def status(self) -> dict[str, Any]: ...


class Activation:
    """Returned by :meth:`SessionManager.activate`: the switch is done; ``with`` makes it temporary."""

    def __init__(self, manager: SessionManager, previous: str, session: Session) -> None:
        self._manager = manager
        self._previous = previous
        self.session = session

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, *exc_info: object) -> None:
        self._manager._set_active(self._previous)

    def __repr__(self) -> str:
        return f"<active session {self.session.id!r}>"


class SessionManager:
    """Sessions by id over one store.

    The store is ``store`` (a directory, ``sqlite:///DIR`` or a ``postgresql://`` URL), else the
    directory ``sessions_dir``, else ``$JUPYTER_THINK_STORE``, ``$JUPYTER_THINK_DIR`` or
    ``<jupyter data dir>/think/sessions``; ``persist=False`` keeps everything in memory. Other
    keyword arguments are :class:`~jupyter_think.core.config.ThinkSettings` fields (``flush_interval``,
    ``durability``, ``max_thoughts``, ...); an invalid one raises ``ValueError`` on one line.

    Example:
        >>> with SessionManager(persist=False) as manager:
        ...     with manager.activate("design"):
        ...         _ = manager.active.think("Sketch the API")
        ...     manager.session("design").summary().thoughts
        1
    """

    def __init__(self, sessions_dir: str | os.PathLike[str] | None = None, **config: Any) -> None:
        try:
            self.settings = ThinkSettings.model_validate({"sessions_dir": sessions_dir, **config})
        except ValidationError as exc:
            raise ValueError(settings_error(exc)) from None
        self._lock = threading.RLock()
        self._sessions: dict[str, Session] = {}
        self._active_id = DEFAULT_SESSION
        self._subscribers: tuple[Subscriber, ...] = ()
        self._forwarding: dict[str, Callable[[], None]] = {}  # session id -> stop forwarding it
        self._archived: list[SessionRecord] = []
        self._closed = False
        self._persistence: PersistenceBackend | None = None
        if self.settings.persist:
            from jupyter_think.persistence import Persistence

            self._persistence = Persistence(self.store_location, self.settings)

    # --- sessions ------------------------------------------------------------------------------

    @property
    def store_location(self) -> str:
        """Where this manager's sessions are stored: a directory, or a URL as given (with its password;
        ``manager.store.location`` is the form for messages)."""
        if self.settings.store:
            text = self.settings.store
            return text if "://" in text else str(Path(text).expanduser())
        if self.settings.sessions_dir is not None:  # an explicit directory wins over the environment
            return str(Path(self.settings.sessions_dir).expanduser())
        return default_store_location()

    @property
    def store(self) -> Store | None:
        """The store (``None`` for a manager that keeps everything in memory)."""
        return self._persistence.store if self._persistence is not None else None

    def session(self, session_id: str, *, restore: bool = True) -> Session:
        """Get session ``session_id``, restoring it from the store or creating it.

        ``restore=False`` creates it here without asking the store: for an id that only this
        process makes, known not to be stored (an MCP connection's next chain).

        Raises ``ValueError`` (naming the id rule) for an invalid id, before the store is touched,
        and ``OSError`` when the store cannot be read (a session is never started empty because
        its store could not be read).
        """
        session_id = self._name(session_id)
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                if self._persistence is not None and restore:
                    session = self._persistence.restore(session_id)
                if session is None:
                    owner, _ = split_ref(session_id)
                    if owner is not None:  # another user's session is never made here
                        raise NoSuchSession(session_id, owner)
                    session = Session(
                        session_id,
                        max_thought_chars=self.settings.max_thought_chars,
                        max_thoughts=self.settings.max_thoughts,
                    )
                self._adopt(session)
            return session

    def _name(self, session_id: str) -> str:
        """How this manager names ``session_id``: an id, or ``OWNER/ID`` for another user's session
        (``OWNER/ID`` naming yourself is your id). Raises ``ValueError`` naming the rule."""
        validate_ref(session_id)
        store = self.store
        return store.canonical(session_id) if store is not None and "/" in session_id else session_id

    def new_session(self, session_id: str) -> Session:
        """Start ``session_id`` empty; earlier content is archived (in the store, or in memory)."""
        session = self.session(session_id)
        if len(session) or session.branch_ids:
            if self._persistence is None:
                self._archived.append(session.to_record())
            session.reset()
        return session

    @property
    def archived(self) -> tuple[SessionRecord, ...]:
        """Sessions replaced by :meth:`new_session` in a manager without a store."""
        return tuple(self._archived)

    def sessions(self) -> list[str]:
        """Ids of the sessions in memory and in the store, in natural order (``ten-2`` before ``ten-10``;
        the store unread: a warning)."""
        with self._lock:
            ids = set(self._sessions)
        ids.update(row.ref for row in self.stored_sessions())
        return sorted(ids, key=natural_key)

    def stored_sessions(self, states: tuple[State, ...] = ("live",)) -> list[StoredSession]:
        """The store's rows in ``states`` (``live``, ``trashed``, ``archived``): id, owner, counts, times.

        Empty, with a :class:`~jupyter_think.persistence.PersistenceWarning`, when the store cannot be read.
        """
        store = self.store
        if store is None:
            return []
        try:
            return store.sessions(states)
        except OSError as exc:
            import warnings

            from jupyter_think.persistence import PersistenceWarning

            warnings.warn(
                f"jupyter-think: could not list the sessions in {store.location}: {exc}",
                PersistenceWarning,
                stacklevel=2,
            )
            return []

    def search(self, words: str, sessions: list[str] | None = None, limit: int = 50) -> list[SearchHit]:
        """Thoughts that contain every one of ``words``, best first: (session id, thought number, snippet).

        Searches every session in the store (or only ``sessions``) with the engine's full-text
        index, after committing what is pending; a manager without a store searches the sessions in
        memory. Every engine gives the same answer: accents and case are ignored, there is no
        stemming (``thinking`` does not find ``think``) and no query syntax (``or``, ``not``, quotes
        and ``*`` are words or nothing); matches are in [brackets] in the snippet. Raises
        ``ValueError`` (one line) for a query over 1000 characters or 32 words, for a ``limit`` that
        is not a whole number from 1 to 1000, and for an invalid session id — before the store is asked.

        Example:
            >>> with SessionManager(persist=False) as manager:
            ...     _ = manager.session("design").think("Measure the cache first")
            ...     [(hit.session_id, hit.thought_number, hit.snippet) for hit in manager.search("CACHE")]
            [('design', 1, 'Measure the [cache] first')]
        """
        from jupyter_think.store.search import check_limit, query_terms, search_in_memory

        query_terms(words)
        check_limit(limit)
        sessions = None if sessions is None else [self._name(session_id) for session_id in sessions]
        store = self.store
        if store is None:
            with self._lock:
                chosen = [s for sid, s in self._sessions.items() if sessions is None or sid in sessions]
            return search_in_memory(words, chosen, limit)
        from jupyter_think.store.postgres.watchdog import deadline_in

        with deadline_in(self.settings.store_timeout):  # the flush and the search, together
            try:
                self.flush(timeout=self.settings.store_timeout / 2)  # (what is saved is searched after it)
            except OSError as exc:
                import warnings

                from jupyter_think.persistence import PersistenceWarning

                warnings.warn(
                    f"jupyter-think: searching what is saved; {exc}", PersistenceWarning, stacklevel=2
                )
            return store.search(words, sessions, limit)

    def loaded(self) -> list[str]:
        """Ids of the sessions loaded in this process."""
        with self._lock:
            return list(self._sessions)

    def is_loaded(self, session_id: str) -> bool:
        """True when ``session_id`` is in memory in this process."""
        return session_id in self._sessions or (
            "/" in session_id and self._sessions.get(self._name(session_id)) is not None
        )

    def delete(self, session_id: str) -> bool:
        """Move ``session_id`` to the store's trash (restorable) and forget it here.

        Returns True when the store held it (False: it was only in memory, or nowhere). Raises
        ``OSError`` when the store refuses; the session is then kept exactly as it was.
        """
        session_id = self._name(session_id)
        moved = False
        if self._persistence is not None:
            moved = self._persistence.trash(session_id)
        with self._lock:
            self._sessions.pop(session_id, None)
            self._forwarding.pop(session_id, lambda: None)()
        return moved

    # --- the active session --------------------------------------------------------------------

    @property
    def active(self) -> Session:
        """The session that magics and an unbound agent tool write to."""
        return self.session(self._active_id)

    @property
    def active_id(self) -> str:
        """The id of the active session."""
        return self._active_id

    def activate(self, session_id: str) -> Activation:
        """Make ``session_id`` active now; used as a context manager, restore the previous one after.

        Example:
            >>> manager = SessionManager(persist=False)
            >>> with manager.activate("scratch") as session:
            ...     session.id
            'scratch'
            >>> manager.active.id
            'default'
        """
        session = self.session(session_id)
        with self._lock:
            previous = self._active_id
            self._active_id = session.id
        return Activation(self, previous, session)

    def _set_active(self, session_id: str) -> None:
        with self._lock:
            self._active_id = session_id

    # --- events and durability -------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every change of every session of this manager."""
        with self._lock:
            if not self._subscribers:  # forward only while someone listens (events cost think() time)
                self._forwarding = {sid: s.subscribe(self._forward) for sid, s in self._sessions.items()}
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not callback)
                if not self._subscribers:
                    for stop in self._forwarding.values():
                        stop()
                    self._forwarding = {}

        return unsubscribe

    def flush(self, timeout: float | None = 30) -> None:
        """Wait until every change is committed to the store; raise ``OSError`` naming the cause if it
        cannot be (at once when the store refuses, ``TimeoutError`` after ``timeout`` seconds)."""
        if self._persistence is not None:
            self._persistence.flush(timeout)

    def persistence_status(self) -> dict[str, Any]:
        """Pending changes, last durable sequence and last error of the persistence loop."""
        if self._persistence is None:
            return {"enabled": False}
        return {"enabled": True, **self._persistence.status()}

    def close(self, timeout: float | None = 30) -> None:
        """Flush and stop the persistence loop. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._persistence is not None:
            self._persistence.close(timeout)

    def __enter__(self) -> SessionManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self._persistence.store.location if self._persistence is not None else "memory"
        return f"<SessionManager {where}: {len(self._sessions)} loaded, active {self._active_id!r}>"

    # --- internals ---------------------------------------------------------------------------------

    def _adopt(self, session: Session) -> None:
        self._sessions[session.id] = session
        if self._subscribers:
            self._forwarding[session.id] = session.subscribe(self._forward)
        if self._persistence is not None:
            self._persistence.track(session)

    def _forward(self, event: SessionEvent) -> None:
        for callback in self._subscribers:
            callback(event)


_manager: SessionManager | None = None
_manager_lock = threading.Lock()


def get_manager() -> SessionManager:
    """The process-wide manager (created on first use; works in plain Python too)."""
    global _manager  # noqa: PLW0603 (the one process-wide manager, made on first use)
    with _manager_lock:
        if _manager is None:
            _manager = SessionManager()
        return _manager


def set_manager(manager: SessionManager | None) -> SessionManager | None:
    """Replace the process-wide manager (the extension does this when its config changes).

    Returns the previous one, which the caller should ``close()``.
    """
    global _manager
    with _manager_lock:
        previous, _manager = _manager, manager
        return previous
