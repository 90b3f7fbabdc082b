"""The persistence loop: a daemon thread that writes every session change to the store, off the caller's path.

The manager subscribes a :class:`Persistence` to each session it holds. A change event costs the
caller a lock and a deque append; the first change of a batch also wakes the loop (one byte on a
socket pair). The loop — ``anyio.run`` in a daemon thread — takes everything queued, writes one
append per session, applies what other processes wrote meanwhile (``AppendResult.foreign``) to the
sessions in memory, polls the store so a notebook follows an outside writer live, and removes
sessions idle past ``retention_days``.

A disk error never breaks thinking: the changes stay queued and in memory, one
:class:`PersistenceWarning` says what failed, the loop retries with back-off (0.2 s doubling to
5 s) and says once when it has caught up. ``flush(timeout)`` waits for the disk and raises
``OSError`` naming the cause instead of hanging. With ``durability="sync"`` the caller's thread
writes each change before ``think()`` returns. The loop stops before ``fork()`` and restarts
lazily; interpreter exit flushes with a bounded wait.
"""

from __future__ import annotations

import atexit
import errno
import os
import socket
import sys
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import anyio

from .config import ThinkSettings
from .models import BranchActivated, Change, SessionReset
from .session import Session, SessionEvent

POLL_INTERVAL = 0.5
"""Seconds between two polls of the store for changes written by other processes."""
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0
"""Retry delays after a failed write: the first, and the cap of the doubling."""
RETENTION_FIRST, RETENTION_EVERY = 5.0, 3600.0
"""Seconds after the loop starts before the first retention clean-up, and between two of them."""
BATCH_WINDOW = 0.01
"""Seconds the loop waits after a wake-up before writing, so that a burst of changes becomes one append."""
EXIT_FLUSH_TIMEOUT = 5.0
"""Seconds the interpreter's exit waits for pending changes to reach the disk."""


class PersistenceWarning(UserWarning):
    """Sessions could not be written to (or read from) disk; they are kept in memory meanwhile."""


class _Pending(NamedTuple):
    number: int  # position among all changes queued by this Persistence, from 1
    session_id: str
    change: Change


class Persistence:
    """Keeps the sessions of one store directory on disk, from a daemon thread.

    Example:
        >>> from jupyter_think import SessionManager
        >>> import tempfile
        >>> with SessionManager(tempfile.mkdtemp()) as manager:   # builds and closes a Persistence
        ...     _ = manager.session("demo").think("Write it down")
        ...     manager.flush(timeout=10)
        ...     manager.persistence_status()["pending"]
        0
    """

    def __init__(self, store_dir: Path, settings: ThinkSettings) -> None:
        self.store_dir = Path(store_dir)
        self.settings = settings
        self._store: Any = None  # SessionStore, built on first use so a bad directory only warns
        self._cond = threading.Condition(threading.Lock())  # guards the queue and the state below
        self._io_lock = threading.Lock()  # every store call: serialises the loop and sync writers
        self._queue: deque[_Pending] = deque()
        self._held: dict[str, list[_Pending]] = {}  # taken by a writer, not yet durable
        self._foreign: deque[tuple[str, list[Change]]] = deque()  # read from disk, to apply in the loop
        self._replaced: set[str] = set()  # removed or replaced on disk by someone else: save ours back
        self._next_number = 1
        self._tracked: dict[str, tuple[Session, Callable[[], None]]] = {}
        self._blocked: dict[str, str] = {}  # session id -> why it is kept in memory only
        self._durable_seq: dict[str, int] = {}
        self._failed_attempts = 0
        self._last_error: OSError | None = None
        self._failing = False
        self._backoff = 0.0
        self._retry_at = 0.0
        self._urgent = False
        self._wake_sent = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._generation = 0  # a loop runs while this equals the number it started with
        self._wake_socks: tuple[socket.socket, socket.socket] | None = None
        _instances.add(self)

    # --- what the manager calls ------------------------------------------------------------------

    def restore(self, session_id: str) -> Session | None:
        """The session as stored on disk, or ``None`` (never stored, or unreadable: a warning says why)."""
        limits = {
            "max_thought_chars": self.settings.max_thought_chars,
            "max_thoughts": self.settings.max_thoughts,
        }
        try:
            os.lstat(self.store_dir / session_id)
        except FileNotFoundError:
            return None  # never stored: no need to wait behind a write in progress for the answer
        except OSError:
            pass  # the store reports it below
        try:
            from .store import NewerFormatError

            with self._io_lock:
                loaded = self._get_store().load(session_id, **limits)
        except NewerFormatError as exc:
            self._blocked[session_id] = str(exc)
            _warn(f"session {session_id!r} is kept in memory only and not saved: {exc}")
            return None
        except (OSError, ValueError) as exc:
            _warn(f"could not read session {session_id!r} from {self.store_dir}: {exc}; starting it empty")
            return None
        if loaded is None:
            return None  # (damage found on the way was already reported by the store, as a StoreWarning)
        with self._cond:
            self._durable_seq[session_id] = loaded.last_seq
        return loaded.session

    def stored_ids(self) -> list[str]:
        """Ids of the sessions on disk (empty, with a warning, when the store cannot be read)."""
        try:
            with self._io_lock:
                return list(self._get_store().list_ids())
        except OSError as exc:
            _warn(f"could not list the sessions in {self.store_dir}: {exc}")
            return []

    def track(self, session: Session) -> None:
        """Write every change of ``session`` from now on, and follow what other processes write to it."""
        with self._cond:
            known = self._tracked.get(session.id)
            if known is not None and known[0] is session:
                return
            if known is not None:
                known[1]()
            self._tracked[session.id] = (session, session.subscribe(self._on_change))
            if not self._closed:
                self._ensure_thread()

    def trash(self, session_id: str) -> None:
        """Move ``session_id``'s files to the store's trash, then forget its unwritten changes.

        When the move fails (``OSError``), nothing is forgotten: the session stays as it was.
        """
        with self._io_lock:  # the loop cannot write this session between the move and the forgetting
            try:
                self._get_store().trash(session_id)
            except OSError as exc:
                if exc.errno != errno.ENOENT:  # never stored: nothing to move
                    raise
            with self._cond:
                self._queue = deque(item for item in self._queue if item.session_id != session_id)
                self._held.pop(session_id, None)
                self._durable_seq.pop(session_id, None)
                tracked = self._tracked.pop(session_id, None)
                self._cond.notify_all()
        if tracked is not None:
            tracked[1]()

    def flush(self, timeout: float | None) -> None:
        """Wait until every change queued so far is durable.

        Raises ``OSError`` (with the disk's errno and a message naming the session and the cause) as
        soon as a write attempt made for this flush fails, and ``TimeoutError`` (also an ``OSError``)
        when ``timeout`` seconds pass first. It never hangs on a refusing disk.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._next_number - 1
            if self._undurable_floor() > target:
                return
            attempts_before = self._failed_attempts
            self._urgent = True
            self._ensure_thread()
            self._wake_sent = True
            looping = self._thread is not None
        if looping:
            self._send_wake()
        else:
            self._write_pending()
        with self._cond:
            while self._undurable_floor() <= target:
                if self._failed_attempts > attempts_before and self._last_error is not None:
                    raise self._flush_error() from self._last_error
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    cause = f" (last error: {self._describe(self._last_error)})" if self._last_error else ""
                    raise TimeoutError(
                        errno.ETIMEDOUT,
                        f"jupyter-think: {self._count_pending()} change(s) not yet on disk in {self.store_dir} "
                        f"after {timeout:g} s{cause}",
                    )
                self._cond.wait(remaining)

    def close(self, timeout: float | None) -> None:
        """Flush (bounded by ``timeout``), then stop the loop; changes after this stay in memory only.

        Raises the flush's ``OSError`` after stopping, so the caller learns what was not saved.
        """
        if self._closed:
            return
        try:
            self.flush(timeout)
        finally:
            with self._cond:
                self._closed = True
                tracked = list(self._tracked.values())
                self._tracked.clear()
            for _, unsubscribe in tracked:
                unsubscribe()
            self._stop_thread(timeout=1.0)

    def status(self) -> dict[str, Any]:
        """Pending changes, the last durable journal sequence per session, the current error.

        ``last_error`` is ``None`` while the disk takes writes; ``failed_attempts`` counts every
        failed write since this manager started.
        """
        with self._cond:
            return {
                "pending": self._count_pending(),
                "durable_seq": dict(self._durable_seq),
                "last_error": self._describe(self._last_error) if self._failing else None,
                "failed_attempts": self._failed_attempts,
                "running": self._thread is not None and self._thread.is_alive(),
                "durability": self.settings.durability,
                "store_dir": str(self.store_dir),
            }

    def run_retention(self) -> list[str]:
        """Move sessions idle longer than ``retention_days`` to the trash; never one loaded here.

        Returns the removed ids (none when ``retention_days`` is 0, which keeps sessions forever).
        """
        days = self.settings.retention_days
        if days <= 0:
            return []
        keep: set[str] = set()
        for instance in list(_instances):
            if instance.store_dir == self.store_dir:
                keep |= instance._loaded_ids()
        with self._io_lock:
            return list(self._get_store().remove_idle(timedelta(days=days), keep))

    # --- the caller's side -------------------------------------------------------------------------

    def _on_change(self, event: SessionEvent) -> None:
        """Subscriber: queue the change (and, in sync mode, write it now). Cheap and never raises."""
        if event.remote:
            return
        with self._cond:
            if self._closed or event.session_id in self._blocked:
                return
            self._queue.append(_Pending(self._next_number, event.session_id, event.change))
            self._next_number += 1
            self._ensure_thread()
            wake = not self._wake_sent
            self._wake_sent = True
        if self.settings.durability == "sync":
            self._write_pending()
        elif wake:
            self._send_wake()

    def _loaded_ids(self) -> set[str]:
        with self._cond:
            return set(self._tracked) | set(self._held) | {item.session_id for item in self._queue}

    # --- writing -------------------------------------------------------------------------------------

    def _write_pending(self) -> OSError | None:
        """Write everything queued, one append per session; return the first error (already reported)."""
        first_error: OSError | None = None
        written = 0
        with self._io_lock:
            with self._cond:
                while self._queue:
                    item = self._queue.popleft()
                    self._held.setdefault(item.session_id, []).append(item)
                self._wake_sent = False
                work = {session_id: list(items) for session_id, items in self._held.items() if items}
            for session_id, items in work.items():
                try:
                    written += self._write_session(session_id, items)
                except Exception as exc:  # noqa: BLE001 - an OSError from the disk; anything else is wrapped as one
                    error = (
                        exc
                        if isinstance(exc, OSError)
                        else OSError(errno.EIO, f"{type(exc).__name__}: {exc}")
                    )
                    error.session_id = session_id  # type: ignore[attr-defined]
                    first_error = first_error or error
            with self._cond:
                was_failing = self._failing
                if first_error is not None:
                    self._failed_attempts += 1
                    self._last_error = first_error
                    self._failing = True
                    self._backoff = min(max(BACKOFF_FIRST, self._backoff * 2), BACKOFF_MAX)
                    self._retry_at = time.monotonic() + self._backoff
                elif not any(self._held.values()):
                    self._failing = False
                    self._backoff = 0.0
                self._cond.notify_all()
        if first_error is not None and not was_failing:
            _warn(
                f"could not save to {self.store_dir}: {self._describe(first_error)}. "
                "Your thoughts are kept in memory and saving is retried; free space or fix the "
                "directory, then %session --flush (or manager.flush()) to check."
            )
        elif first_error is None and was_failing and not self._failing:
            _warn(f"saving to {self.store_dir} works again: every change is on disk ({written} caught up)")
        if (self._foreign or self._replaced) and threading.current_thread() is not self._thread:
            self._send_wake()  # the loop applies them, holding no lock a caller may hold
        return first_error

    def _write_session(self, session_id: str, items: list[_Pending]) -> int:
        """Append ``items`` to the session's journal; a reset archives the old content first."""
        store = self._get_store()
        done = 0
        while done < len(items):
            rest = items[done:]
            if isinstance(rest[0].change, SessionReset):
                store.archive(session_id)
                self._settle(session_id, 1, 0)
                done += 1
                continue
            cut = next((i for i, item in enumerate(rest) if isinstance(item.change, SessionReset)), len(rest))
            tracked = self._tracked.get(session_id)
            created_at = tracked[0].created_at if tracked is not None else None
            result = store.append(
                session_id, [item.change for item in rest[:cut]], durable=True, created_at=created_at
            )
            self._settle(session_id, cut, result.last_seq)
            if result.foreign or result.replaced:
                with self._cond:
                    self._foreign.append((session_id, list(result.foreign)))
                    if result.replaced:
                        self._replaced.add(session_id)
            done += cut
        return done

    def _settle(self, session_id: str, count: int, durable_seq: int) -> None:
        with self._cond:
            held = self._held.get(session_id, [])
            del held[:count]
            if not held:
                self._held.pop(session_id, None)
            self._durable_seq[session_id] = durable_seq
            self._cond.notify_all()

    def _undurable_floor(self) -> int:
        """The number of the oldest change not yet durable (``_next_number`` when none); under ``_cond``."""
        floors = [items[0].number for items in self._held.values() if items]
        if self._queue:
            floors.append(self._queue[0].number)
        return min(floors, default=self._next_number)

    def _count_pending(self) -> int:
        return len(self._queue) + sum(len(items) for items in self._held.values())

    def _flush_error(self) -> OSError:
        error = self._last_error
        assert error is not None
        return OSError(
            error.errno or errno.EIO,
            f"jupyter-think could not save to {self.store_dir}: {self._describe(error)}; "
            f"{self._count_pending()} change(s) are kept in memory and retried",
        )

    @staticmethod
    def _describe(error: OSError | None) -> str:
        if error is None:
            return ""
        session_id = getattr(error, "session_id", None)
        where = f"session {session_id!r}: " if session_id else ""
        cause = error.strerror or str(error) or type(error).__name__
        path = f" ({error.filename})" if error.filename else ""
        return f"{where}{cause}{path}"

    def _get_store(self) -> Any:
        if self._store is None:
            from .store import SessionStore

            self._store = SessionStore(self.store_dir)
        return self._store

    # --- following other processes -------------------------------------------------------------------

    def _poll_tracked(self) -> None:
        with self._cond:
            ids = [session_id for session_id in self._tracked if session_id not in self._blocked]
        for session_id in ids:
            if not os.path.isdir(self.store_dir / session_id):
                continue  # not written by anyone yet: nothing to follow
            try:
                with self._io_lock:
                    changes = self._get_store().poll(session_id)
            except (OSError, ValueError):
                continue  # a read problem shows up as a write error, or at the next load
            if changes:
                with self._cond:
                    self._foreign.append((session_id, list(changes)))

    def _apply_foreign(self) -> None:
        """Apply changes read from disk to the sessions in memory (loop thread only, no lock held)."""
        while True:
            with self._cond:
                if not self._foreign:
                    return
                session_id, changes = self._foreign.popleft()
                tracked = self._tracked.get(session_id)
            if tracked is None:
                continue
            for change in changes:
                if isinstance(change, BranchActivated):
                    continue  # each process keeps its own active branch
                tracked[0].apply(change, remote=True)

    def _save_replaced(self) -> None:
        """Write back in full a session that another process trashed or that was quarantined.

        The session is loaded here and still being worked on: after the store reported it
        ``replaced``, the disk holds only a fragment (the moved-away copy keeps the old content).
        """
        while True:
            with self._cond:
                if not self._replaced:
                    return
                session_id = self._replaced.pop()
                tracked = self._tracked.get(session_id)
            if tracked is None:
                continue
            record = tracked[0].to_record()  # the session's lock only, never with the store's
            try:
                with self._io_lock:
                    self._get_store().save(session_id, record)
            except OSError as exc:
                _warn(f"could not write session {session_id!r} back in full after it was moved away: {exc}")

    # --- the loop thread -------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        """Start the loop thread unless it runs (under ``_cond``)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._generation += 1
        self._wake_sent = False
        socks = self._wake_socks = socket.socketpair()
        for sock in socks:
            sock.setblocking(False)
        thread = threading.Thread(
            target=anyio.run,
            args=(self._main, socks, self._generation),
            name="jupyter-think-persistence",
            daemon=True,
        )
        try:
            thread.start()
        except RuntimeError:  # no new threads at interpreter shutdown: flush writes in the caller
            self._thread = self._wake_socks = None
            for sock in socks:
                sock.close()
            return
        self._thread = thread

    def _send_wake(self) -> None:
        socks = self._wake_socks
        if socks is not None:
            try:
                socks[1].send(b"\0")
            except OSError:  # buffer full (a wake is pending anyway) or closed by a stop
                pass

    async def _main(self, socks: tuple[socket.socket, socket.socket], generation: int) -> None:
        started = time.monotonic()
        next_poll = started + POLL_INTERVAL
        next_retention = started + RETENTION_FIRST
        while self._generation == generation:
            try:
                next_poll, next_retention = self._cycle(next_poll, next_retention)
            except Exception as exc:  # noqa: BLE001 - the loop never dies; a bug is reported, retried later
                _warn(f"the persistence loop hit {exc!r}; retrying")
                await anyio.sleep(BACKOFF_MAX)
                continue
            with self._cond:
                wake_at = min(next_poll, next_retention)
                if self._failing and (self._queue or any(self._held.values())):
                    wake_at = min(wake_at, self._retry_at)
            with anyio.move_on_after(max(wake_at - time.monotonic(), 0)):
                await anyio.wait_readable(socks[0])
            try:
                while socks[0].recv(4096):
                    pass
            except OSError:
                pass
            if not self._urgent and not self._failing:  # let a burst gather into one append
                await anyio.sleep(min(BATCH_WINDOW, self.settings.flush_interval / 4))
        for sock in socks:
            sock.close()

    def _cycle(self, next_poll: float, next_retention: float) -> tuple[float, float]:
        """One turn of the loop: write if due, poll, apply what others wrote, retention if due."""
        now = time.monotonic()
        with self._cond:
            has_work = bool(self._queue) or any(self._held.values())
            due = self._urgent or not self._failing or now >= self._retry_at
            if has_work and due:
                self._urgent = False
        if has_work and due:
            self._write_pending()
        if now >= next_poll:
            self._poll_tracked()
            next_poll = now + POLL_INTERVAL
        self._apply_foreign()
        self._save_replaced()
        if now >= next_retention:
            next_retention = now + RETENTION_EVERY
            self._retention_in_loop()
        return next_poll, next_retention

    def _retention_in_loop(self) -> None:
        try:
            removed = self.run_retention()
        except OSError as exc:
            _warn(f"retention clean-up of {self.store_dir} failed: {exc}")
            return
        if removed:
            days = self.settings.retention_days
            _warn(
                f"moved {len(removed)} session(s) idle for more than {days:g} days to the trash: {', '.join(removed)}"
            )

    def _stop_thread(self, timeout: float) -> None:
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._generation += 1
        self._send_wake()
        if thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    # --- fork and exit -----------------------------------------------------------------------------

    def _before_fork(self) -> None:
        self._restart_after_fork = self._thread is not None and not self._closed
        self._stop_thread(timeout=2.0)

    def _after_fork_in_parent(self) -> None:
        if self._restart_after_fork:
            with self._cond:
                self._ensure_thread()

    def _after_fork_in_child(self) -> None:
        """The parent writes what it queued; the child starts clean and restarts the loop lazily."""
        self._cond = threading.Condition(threading.Lock())
        self._io_lock = threading.Lock()
        self._store = None  # its file locks belong to the parent; a fresh store re-reads the disk
        self._queue.clear()
        self._held.clear()
        self._foreign.clear()
        self._replaced.clear()
        self._thread = None
        self._wake_socks = None
        self._wake_sent = False


def _warn(message: str) -> None:
    """Show ``message`` as a PersistenceWarning every time it is called (the callers say it once per
    episode); a plain ``warnings.warn`` would hide a repeat of the same text after the first."""
    warnings.warn_explicit(
        f"jupyter-think: {message}",
        PersistenceWarning,
        "jupyter_think",
        0,
        module="jupyter_think.persistence",
    )


_instances: weakref.WeakSet[Persistence] = weakref.WeakSet()


def _for_each(method: str) -> Callable[[], None]:
    def run() -> None:
        for instance in list(_instances):
            getattr(instance, method)()

    return run


def _flush_at_exit() -> None:
    """Interpreter exit: give each open store a bounded time to receive its pending changes."""
    for instance in list(_instances):
        try:
            instance.close(EXIT_FLUSH_TIMEOUT)
        except OSError as exc:
            try:
                print(f"jupyter-think: not every change was saved before exit: {exc}", file=sys.stderr)
            except (OSError, ValueError):  # stderr already closed
                pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_for_each("_before_fork"),
        after_in_parent=_for_each("_after_fork_in_parent"),
        after_in_child=_for_each("_after_fork_in_child"),
    )
atexit.register(_flush_at_exit)
