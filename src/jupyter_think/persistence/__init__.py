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

With ``durability="sync"`` a change is committed by the caller's thread *before* it is applied:
``think()`` (and the tool call) raises ``OSError`` when the commit fails, and the session is left
as it was — nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable
from typing import Any


from ..config import ThinkSettings
from ..models import BranchActivated, Change
from ..session import Session, SessionEvent
from ..store import SessionNotFound, SessionWrite, Store, StoreWarning, Written, open_store
from ..store.base import encode
from . import process
from .follow import Follower
from .loop import LoopThread
from .messages import PersistenceWarning, _cause, _warn
from .queue import Pending, WriteQueue, as_os_error
from .retention import Cleaned, clean_up

__all__ = ["Persistence", "PersistenceWarning", "StoreWarning"]


class Persistence(LoopThread):
    """Keeps the sessions of one store, from a daemon thread (see the module docstring).

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
        self.store: Store = open_store(location)
        self._queue = WriteQueue()
        self._follower = Follower()
        self._io = threading.RLock()  # every store call: the writer, sync writers, the follower
        self._state = threading.Lock()  # what is tracked (held briefly, never across a store call)
        self._thread_lock = threading.Lock()  # starting and stopping the loop thread (never held for I/O)
        self._tracked: dict[str, tuple[Session, Callable[[], None]]] = {}
        self._closed = False
        self._urgent = False
        self._thread: threading.Thread | None = None
        self._generation = 0  # a loop runs while this equals the number it started with
        self._wake_socks: tuple[socket.socket, socket.socket] | None = None
        self._read_only_said = False
        self._restart_after_fork = False
        self._unsure: dict[str, tuple[int | None, int]] = {}  # session -> (row, seq) when a write failed
        process.register(self)

    # --- what the manager calls ------------------------------------------------------------------

    def restore(self, session_id: str) -> Session | None:
        """The session as stored (``None`` when it is not), following the store from there.

        Raises ``OSError`` when the store cannot be read: a session is never started empty
        because its store could not be read.
        """
        try:
            # (not under _io: a session being restored is not tracked, so no write of ours can race
            # with the read; what others commit meanwhile is fetched from the cursor set below)
            loaded = self.store.load(session_id)
            read_only = self.store.read_only
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
        session = Session.from_changes(session_id, loaded.entries, created_at=loaded.row.created_at, **limits)
        if loaded.row.damaged:  # (the store warned): thoughts were lost, their numbers are not given again
            session.continue_after(loaded.row.top_number)
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
            unsubscribe = session.subscribe(self._on_change)
            if self.settings.durability == "sync":
                session.set_write_ahead(self._write_ahead)

                def stop() -> None:
                    unsubscribe()
                    session.set_write_ahead(None)

                self._tracked[session.id] = (session, stop)
            else:
                self._tracked[session.id] = (session, unsubscribe)
            if not self._follower.follows(session.id):
                self._follower.start(session.id)
        if not self._closed:
            self._ensure_thread()

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
            with self._io:
                pending = self._queue.take(only=session_id)
                if pending:
                    self._commit(pending)  # raises: nothing trashed, nothing forgotten
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
            if self._queue.floor() > target:
                return
            attempts_before = self._queue.failed_attempts
        self._urgent = True
        if self._ensure_thread():
            self._wake()
        else:  # no thread can start (interpreter shutdown): write in the caller
            self._write_pending()

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

    def close(self, timeout: float | None) -> None:
        """Flush (bounded by ``timeout``), then stop the loop; later changes stay in memory only.

        Raises the flush's ``OSError`` after stopping, so the caller learns what was not saved.
        """
        if self._closed:
            return
        try:
            self.flush(timeout)
        finally:
            with self._state:
                self._closed = True
                tracked = list(self._tracked.values())
                self._tracked.clear()
            for _, stop in tracked:
                stop()
            self._stop_thread(timeout=2.0)
            if self._io.acquire(timeout=2.0):  # (a store call stuck on a frozen server must not hang exit)
                try:
                    self.store.close()
                finally:
                    self._io.release()

    def status(self) -> dict[str, Any]:
        """Pending changes, the last seq seen per session, the current error, whether the loop runs."""
        queue = self._queue
        seqs = self._follower.last_seq()  # (not under _io: the status answers while a store call hangs)
        return {
            "pending": queue.pending(),
            "durable_seq": seqs,
            "last_error": self._cause(queue.last_error) if queue.failing and queue.last_error else None,
            "failed_attempts": queue.failed_attempts,
            "running": self._thread is not None and self._thread.is_alive(),
            "durability": self.settings.durability,
            "store": self.store.location,
        }

    def run_retention(self) -> Cleaned:
        """Move sessions idle past ``retention_days`` to the trash, empty trash past ``trash_days``.

        Never moves a session loaded by any manager of this process on this store.
        """
        keep = process.loaded_anywhere(self.location)
        with self._io:
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
            self._ensure_thread()
            self._wake()

    def _write_ahead(self, session_id: str, change: Change) -> None:
        """Sync durability: commit ``change`` (after anything still queued) before the session applies it."""
        with self._io:
            if self._closed:
                return
            earlier = self._queue.take(only=session_id)
            try:
                self._commit(earlier, extra=(session_id, change))
            except OSError as exc:
                outcome = (
                    "the server did not confirm the commit, so it may or may not be recorded: look before "
                    "saying it again"
                    if exc.errno in (errno.ECONNRESET, errno.ECONNABORTED)
                    else "nothing was recorded"
                )
                raise OSError(
                    exc.errno or errno.EIO,
                    f"jupyter-think could not commit to {self.store.location}: {self._cause(exc)}; "
                    f"{outcome} (durability is 'sync')",
                ) from exc

    # --- writing -------------------------------------------------------------------------------------

    def _write_pending(self) -> None:
        """Commit everything queued in one transaction; on failure keep it queued and warn once."""
        with self._io:
            taken = self._queue.take()
            if not taken:
                return
            try:
                self._commit(taken)
            except OSError:
                return  # reported by _commit; queued again

    def _commit(self, taken: list[Pending], extra: tuple[str, Change] | None = None) -> None:
        """One transaction for ``taken`` (and ``extra``); under ``_io``. Raises the store's ``OSError``."""
        was_failing = self._queue.failing
        try:
            # A failed attempt may have been committed all the same (the connection was lost after the
            # server's commit): on a retry, thoughts the store holds already are not written twice.
            stored = self._stored_already(taken) if was_failing else set()
            by_session: dict[str, list[Change]] = {}
            for item in taken:
                if item.number not in stored:
                    by_session.setdefault(item.session_id, []).append(item.change)
            if extra is not None:
                by_session.setdefault(extra[0], []).append(extra[1])
            writes = []
            for session_id, changes in by_session.items():
                tracked = self._tracked.get(session_id)
                created_at = tracked[0].created_at if tracked is not None else None
                # the status the list shows, as the session sees it (a retracted or chosen conclusion);
                # a sync write runs before its change is applied: its status comes from the change
                ahead = extra is not None and extra[0] == session_id
                status = tracked[0].status if tracked is not None and not ahead else None
                expected = self._follower.expected_key(session_id)
                writes.append(SessionWrite(session_id, changes, expected, created_at, status))
            results = self.store.append(writes) if writes else []
        except Exception as exc:  # noqa: BLE001 - an OSError from the store; anything else is wrapped as one
            error = as_os_error(exc)
            seen = self._follower.last_seq()
            for session_id in {item.session_id for item in taken} - set(self._unsure):
                self._unsure[session_id] = (self._follower.expected_key(session_id), seen.get(session_id, 0))
            # A refused sync write with nothing queued is the caller's error alone: nothing is kept,
            # so the queue is not failing (else the next commit says "works again" for nothing).
            if taken and self._queue.fail(taken, error) and extra is None:
                _warn(
                    f"could not save to {self.store.location}: {self._cause(error)}. Your thoughts are kept in memory "
                    "and saving is retried; fix the store (space, permissions, server), then "
                    "%session --flush (or manager.flush()) to check."
                )
            raise error from exc
        for result in results:
            self._follower.written(result)
            self._say_where(result)
        self._queue.settle(taken)
        for session_id in {item.session_id for item in taken} | ({extra[0]} if extra is not None else set()):
            self._unsure.pop(session_id, None)
        if was_failing and taken:
            _warn(f"saving to {self.store.location} works again ({len(taken)} change(s) caught up)")

    def _stored_already(self, taken: list[Pending]) -> set[int]:
        """Numbers of the changes in ``taken`` that the store holds already (read only on a retry).

        A lost attempt wrote after where its session stood when it failed (``_unsure``), in that
        row, or in a row it created (the session's first row, or the fresh row of a reset in the
        batch); what the follower read meanwhile does not matter. Changes are compared by their
        stored form, so amendments, decisions and the like are found as surely as thoughts.
        """
        wanted: dict[str, dict[str, int]] = {}
        for item in taken:
            if item.session_id in self._unsure and item.change.kind != "reset":
                wanted.setdefault(item.session_id, {})[encode(item.change)] = item.number
        if not wanted:
            return set()
        heads = self.store.heads(list(wanted))
        found: set[int] = set()
        for session_id, numbers in wanted.items():
            key, after = self._unsure[session_id]
            rows = {} if key is None else {key: after}
            head = heads.get(session_id)
            if head is not None and head.key != key:
                rows[head.key] = 0  # a row the lost attempt may have created
            for row_key, since in rows.items():
                for _, change in self.store.changes_since(row_key, since):
                    number = numbers.get(encode(change))
                    if number is not None:
                        found.add(number)
        return found

    def _cause(self, error: BaseException | None) -> str:
        return _cause(error, self.store.location)

    def _say_where(self, result: Written) -> None:
        if result.restored:
            _warn(
                f"session {result.session_id!r} had been moved to the trash by another process; "
                "it is restored, with the new changes"
            )
        elif result.in_trash:
            _warn(
                f"session {result.session_id!r} was moved to the trash by another process and a new session "
                "took its id; the changes made here are saved in the trashed copy (jupyter-think trash)"
            )

    # --- following other processes -------------------------------------------------------------------

    def _fetch_foreign(self) -> list[Any]:
        with self._state:
            ids = list(self._tracked)
        with self._io:
            try:
                return self._follower.fetch(self.store, ids)
            except OSError:
                return []  # a store that cannot be read now shows up as a write error, or at the next look
            except Exception as exc:  # noqa: BLE001 - the loop never dies; a bug is reported, retried later
                _warn(f"could not read the changes other processes made: {exc!r}")
                return []

    def _apply_foreign(self, found: list[Any]) -> None:
        """Apply what others committed (loop thread, no store lock held: sessions take their own lock)."""
        for foreign in found:
            with self._state:
                tracked = self._tracked.get(foreign.session_id)
            if tracked is None:
                continue
            session = tracked[0]
            try:
                if foreign.reset is not None:
                    session.apply(foreign.reset, remote=True)
                for change in foreign.changes:
                    if isinstance(change, BranchActivated):
                        continue  # each process keeps its own active branch
                    session.apply(change, remote=True)
                if foreign.reset is not None:
                    # what was made here and is not committed yet goes to the fresh row: keep it in view
                    for change in self._queue.pending_changes(foreign.session_id):
                        session.apply(change, remote=True)
            except Exception as exc:  # noqa: BLE001 - the loop never dies on one session's change
                _warn(f"could not apply a change of session {foreign.session_id!r} made elsewhere: {exc!r}")

    # --- fork -------------------------------------------------------------------------------------------

    def before_fork(self) -> None:
        self._restart_after_fork = self._thread is not None and not self._closed
        self._stop_thread(timeout=2.0)

    def after_fork_in_parent(self) -> None:
        if self._restart_after_fork:
            self._ensure_thread()

    def after_fork_in_child(self) -> None:
        """The parent commits what it queued; the child starts clean and restarts the loop lazily."""
        self._io = threading.RLock()
        self._state = threading.Lock()
        self._thread_lock = threading.Lock()
        self._queue = WriteQueue()
        self._unsure = {}
        self.store.after_fork_in_child()
        self._thread = self._wake_socks = None
