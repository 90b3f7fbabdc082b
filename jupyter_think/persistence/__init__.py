"""The persistence loop: every session change committed to the store, off the caller's path.

The manager subscribes a :class:`Persistence` to each session it holds. In the default ``async``
durability a change costs the caller a lock and a deque append (the first change of a batch also
wakes the loop: one byte on a socket pair). The loop — ``anyio.run`` in a daemon thread — runs
three tasks: the writer commits everything queued in **one transaction per batch** (a burst waits
``flush_interval / 4`` at most, so it becomes one commit); the follower applies what other
processes committed to the sessions loaded here (SQLite: polled ``data_version``; PostgreSQL:
``LISTEN/NOTIFY``); retention moves idle sessions to the trash and empties old trash.

A store that refuses (full disk, read-only, server down) never breaks thinking: the changes stay in
memory and queued, one :class:`PersistenceWarning` says what failed, the writer retries with
back-off (0.2 s doubling to 5 s) and says once when it has caught up. ``flush(timeout)`` raises
``OSError`` as soon as a write attempt fails, ``TimeoutError`` when the store is only slow.

A change the store refuses for what it holds (a constraint, a trigger, a value out of range) blocks
nothing: it is set aside with the later changes of its session in a local spill file, every other
change is committed, one warning names it, and ``flush()`` raises ``OSError`` naming it until
``jupyter-think recover`` has stored it (:mod:`.setaside`). What a closing loop cannot save (the
store is down, full, read-only) is kept in the same file; the next process opening the store
saves it first (:mod:`.spill`, :mod:`.replay`).

With ``durability="sync"`` a change is committed by the caller's thread *before* it is applied:
``think()`` (and the tool call) raises ``OSError`` when the commit fails, and the session is left
as it was — nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from jupyter_think.core.config import ThinkSettings
from jupyter_think.core.models import Change
from jupyter_think.core.session.session import Session, SessionEvent
from jupyter_think.persistence import process
from jupyter_think.persistence.follow import Follower, Foreign
from jupyter_think.persistence.loop import LoopThread
from jupyter_think.persistence.messages import PersistenceWarning, _cause, _warn
from jupyter_think.persistence.queue import WriteQueue
from jupyter_think.persistence.retention import Cleaned, clean_up
from jupyter_think.persistence.setaside import SetAside
from jupyter_think.persistence.spill import Spill
from jupyter_think.persistence.writer import Writer
from jupyter_think.store import SessionNotFound, Store, StoreWarning, open_store

__all__ = ["Persistence", "PersistenceWarning", "StoreWarning"]


class Persistence:
    """Keeps the sessions of one store, from a daemon thread (see the module docstring): it has the
    queue, the :class:`~.writer.Writer` that commits it, the :class:`~.follow.Follower` of other
    writers and the :class:`~.loop.LoopThread` that runs them.

    Example:
        >>> from jupyter_think import SessionManager
        >>> import tempfile
        >>> with SessionManager(tempfile.mkdtemp()) as manager:   # builds and closes a Persistence
        ...     _ = manager.session("demo").think("Write it down")
        ...     manager.flush(timeout=10)
        ...     manager.persistence_status()["pending"]
        0
    """

    def __init__(self, location: str, settings: ThinkSettings) -> None:
        self.location = location
        self.settings = settings
        self.store: Store = open_store(location, timeout=settings.store_timeout)
        self._state = threading.Lock()  # what is tracked (held briefly, never across a store call)
        self._tracked: dict[str, tuple[Session, Callable[[], None]]] = {}
        self._closed = False
        self._read_only_said = False
        self._restart_after_fork = False
        self._follower = Follower()
        self._set_aside = SetAside(Spill.for_store(self.store))
        self._start_parts()
        process.register(self)
        if self._set_aside.replay_pending:  # an earlier process kept changes at exit: they go in first
            self._loop.ensure()

    def _start_parts(self) -> None:
        """A new queue, writer and loop thread (at the start, and in a forked child)."""
        self._queue = WriteQueue()
        self._writer = Writer(self.store, self._queue, self._follower, self._set_aside, self._session_of)
        self._loop = LoopThread(self, self._queue, self.store, self.settings)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` began: no change is taken any more."""
        return self._closed

    def _session_of(self, session_id: str) -> Session | None:
        tracked = self._tracked.get(session_id)
        return None if tracked is None else tracked[0]

    # --- what the manager calls ------------------------------------------------------------------

    def restore(self, session_id: str) -> Session | None:
        """The session as stored (``None`` when it is not), following the store from there.

        Raises ``OSError`` when the store cannot be read: a session is never started empty
        because its store could not be read.
        """
        self._writer.catch_up_now()  # (what an earlier process kept at exit belongs in what is loaded)
        try:
            # (not under the store lock: a session being restored is not tracked, so no write of ours can race
            # with the read; what others commit meanwhile is fetched from the cursor set below)
            loaded = self.store.load(session_id)
            read_only = self.store.read_only
            not_yours = self.store.writable(session_id) if loaded is not None and "/" in session_id else None
            if loaded is not None:
                self._follower.start(session_id, loaded.row.key, loaded.last_seq)
        except OSError as exc:
            raise OSError(
                exc.errno or errno.EIO,
                f"jupyter-think cannot read session {session_id!r} from {self.store.location}: {self._cause(exc)}",
            ) from exc
        if read_only and not self._read_only_said:
            self._read_only_said = True
            _warn(
                f"the store {self.store.location} is read-only ({read_only}): sessions load with all their "
                "thoughts, changes stay in memory and are not saved until it takes writes again"
            )
        if loaded is None:
            return None
        limits = {
            "max_thought_chars": self.settings.max_thought_chars,
            "max_thoughts": self.settings.max_thoughts,
        }
        session = Session.from_changes(session_id, loaded.parts, created_at=loaded.row.created_at, **limits)
        if loaded.row.damaged:  # (the store warned): thoughts were lost, their numbers are not given again
            session.continue_after(loaded.row.top_number)
        session.set_read_only(not_yours)
        return session

    def track(self, session: Session) -> None:
        """Commit every change of ``session`` from now on, and follow what others commit to it.

        (Never waits for the store: a store call that hangs must not stop a session from opening.)"""
        with self._state:
            known = self._tracked.get(session.id)
            if known is not None and known[0] is session:
                return
            if known is not None:
                known[1]()
            if session.read_only is not None:  # another user's, to read: followed, never written
                self._tracked[session.id] = (session, lambda: None)
            elif self.settings.durability == "sync":
                unsubscribe = session.subscribe(self._on_change)
                session.set_write_ahead(self._write_ahead)

                def stop() -> None:
                    unsubscribe()
                    session.set_write_ahead(None)

                self._tracked[session.id] = (session, stop)
            else:
                self._tracked[session.id] = (session, session.subscribe(self._on_change))
            if not self._follower.follows(session.id):
                self._follower.start(session.id)
        if not self._closed:
            self._loop.ensure()

    def trash(self, session_id: str) -> bool:
        """Commit ``session_id``'s pending changes, then move it to the store's trash; stop writing it.

        Returns False when the store held no such session (nothing moved). Raises ``OSError`` when
        the store refuses; the session is then kept exactly as it was.
        """
        with self._state:  # stop taking its changes first: a thought made meanwhile cannot revive it
            tracked = self._tracked.pop(session_id, None)
        if tracked is not None:
            tracked[1]()
        try:
            with self._writer.io:
                self._set_aside.catch_up(self.store)  # (a replay after the trash would restore it)
                pending = self._queue.take(only=session_id)
                if pending:
                    # raises: nothing trashed, nothing forgotten (a change refused for what it holds: set aside)
                    self._writer.commit(pending)
                try:
                    self.store.trash(session_id)
                    moved = True
                except SessionNotFound:
                    moved = False
                self._follower.forget(session_id)
        except BaseException:
            if tracked is not None:
                self.track(tracked[0])  # refused: the session stays exactly as it was
            raise
        return moved

    def flush(self, timeout: float | None) -> None:
        """Wait until every change queued so far is committed.

        Raises ``OSError`` (the store's errno, a message naming the store and the cause) as soon as
        a write attempt made for this flush fails, ``TimeoutError`` (also an ``OSError``) when
        ``timeout`` seconds pass first. It never hangs on a refusing store.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        target = self._queue.last_number
        with self._queue.cond:
            nothing_pending = self._queue.floor() > target
            attempts_before = self._queue.failed_attempts
        if nothing_pending:
            self._raise_set_aside()
            return
        self._loop.urgent = True
        if self._loop.ensure():
            self._loop.wake()
        else:  # no thread can start (interpreter shutdown): write in the caller
            self._writer.write_pending()

        def failure(error: OSError) -> OSError:
            return OSError(
                error.errno or errno.EIO,
                f"jupyter-think could not save to {self.store.location}: {self._cause(error)}; "
                f"{self._queue.pending()} change(s) are kept in memory and retried",
            )

        def too_slow() -> OSError:
            last = self._queue.last_error if self._queue.failing else None
            cause = f" (last error: {self._cause(last)})" if last is not None else ""
            return TimeoutError(
                errno.ETIMEDOUT,
                f"jupyter-think: {self._queue.pending()} change(s) not yet saved to {self.store.location} "
                f"after {timeout:g} s{cause}",
            )

        self._queue.wait_durable(target, attempts_before, deadline, failure, too_slow)
        self._raise_set_aside()

    def _raise_set_aside(self) -> None:
        """Raise ``OSError`` naming the changes made here that are set aside until recovered."""
        error = self._set_aside.flush_error()
        if error is not None:
            raise error

    def close(self, timeout: float | None) -> None:
        """Flush (bounded by ``timeout``), then stop the loop; later changes stay in memory only.

        What the store did not take by then is kept in the spill file (the next process that opens
        the store saves it first). Raises ``OSError`` after stopping when anything is not in the
        store, saying where it is.
        """
        if self._closed:
            return
        try:
            self.flush(timeout)
            failure: OSError | None = None
        except OSError as exc:
            failure = exc
        with self._state:
            self._closed = True
            tracked = list(self._tracked.values())
            self._tracked.clear()
        for _, stop in tracked:
            stop()
        created = {session.id: session.created_at for session, _ in tracked}  # (for a row a replay creates)
        self._loop.stop(timeout=2.0)
        io = self._writer.io
        locked = io.acquire(timeout=2.0)  # (a store call stuck on a frozen server must not hang exit)
        try:
            if locked and failure is None and self._queue.has_work():  # made while the flush ended
                try:
                    self._writer.commit(self._queue.take())
                except OSError as exc:
                    failure = exc
            left = self._queue.take_all()
            if locked:
                self.store.close()
        finally:
            if locked:
                io.release()
        if left:
            cause = (
                self._cause(self._queue.last_error if self._queue.failing else failure) or "no answer in time"
            )
            code = (failure.errno if failure is not None else None) or errno.EIO

            def where(session_id: str) -> tuple[int | None, datetime | None]:
                return self._follower.expected_key(session_id), created.get(session_id)

            raise self._set_aside.keep_at_exit(left, where, cause, code)
        self._raise_set_aside()  # (named, and kept already)

    def status(self) -> dict[str, Any]:
        """Pending changes, the last seq seen per session, the current error, whether the loop runs."""
        queue = self._queue
        seqs = (
            self._follower.last_seq()
        )  # (not under the store lock: the status answers while a store call hangs)
        return {
            "pending": queue.pending(),
            "set_aside": self._set_aside.count,
            "durable_seq": seqs,
            "last_error": self._cause(queue.last_error) if queue.failing and queue.last_error else None,
            "failed_attempts": queue.failed_attempts,
            "running": self._loop.running,
            "durability": self.settings.durability,
            "store": self.store.location,
        }

    def run_retention(self) -> Cleaned:
        """Move sessions idle past ``retention_days`` to the trash, empty trash past ``trash_days``.

        Never moves a session loaded by any manager of this process on this store.
        """
        keep = process.loaded_anywhere(self.location)
        with self._writer.io:
            return clean_up(self.store, self.settings.retention_days, self.settings.trash_days, keep)

    def loaded_ids(self) -> set[str]:
        """Ids tracked here, and ids with changes not yet committed."""
        with self._state:
            return set(self._tracked) | set(self._queue.pending_by_session())

    # --- the caller's side -------------------------------------------------------------------------

    def _on_change(self, event: SessionEvent) -> None:
        """Subscriber: queue the change (sync mode committed it already). Cheap; never raises."""
        if event.remote or self._closed or self.settings.durability == "sync":
            return
        if self._queue.put(event.session_id, event.change):
            self._loop.ensure()
            self._loop.wake()

    def _write_ahead(self, session_id: str, change: Change) -> None:
        """Sync durability: commit ``change`` before the session applies it (:meth:`.Writer.write_ahead`)."""
        self._writer.write_ahead(session_id, change, self.settings.store_timeout, lambda: self._closed)

    # --- following other processes -------------------------------------------------------------------

    def catch_up_now(self) -> None:
        """Replay what an earlier process kept at exit, if anything (for the loop)."""
        self._writer.catch_up_now()

    def write_pending(self) -> None:
        """Commit everything queued (for the loop)."""
        self._writer.write_pending()

    def fetch_foreign(self) -> list[Foreign]:
        """What other processes committed to the tracked sessions (for the loop)."""
        with self._state:
            ids = list(self._tracked)
        with self._writer.io:
            try:
                return self._follower.fetch(self.store, ids)
            except OSError:
                return []  # a store that cannot be read now shows up as a write error, or at the next look
            except Exception as exc:
                _warn(f"could not read the changes other processes made: {exc!r}")
                return []

    def apply_foreign(self, found: list[Foreign]) -> None:
        """Apply what others committed (loop thread, no store lock held: sessions take their own lock)."""
        for foreign in found:
            with self._state:
                tracked = self._tracked.get(foreign.session_id)
            if tracked is None:
                continue
            try:
                foreign.apply_to(tracked[0], self._queue.pending_changes(foreign.session_id))
            except Exception as exc:
                _warn(f"could not apply a change of session {foreign.session_id!r} made elsewhere: {exc!r}")

    # --- fork -------------------------------------------------------------------------------------------

    def before_fork(self) -> None:
        self._restart_after_fork = self._loop.running and not self._closed
        self._loop.stop(timeout=2.0)

    def after_fork_in_parent(self) -> None:
        if self._restart_after_fork:
            self._loop.ensure()

    def after_fork_in_child(self) -> None:
        """The parent commits what it queued; the child starts clean and restarts the loop lazily."""
        self._state = threading.Lock()
        self._set_aside.after_fork_in_child()
        self.store.after_fork_in_child()
        self._start_parts()

    def _cause(self, error: BaseException | None) -> str:
        return _cause(error, self.store.location)
