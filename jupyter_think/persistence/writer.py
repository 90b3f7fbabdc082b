"""The writing half of the persistence loop: one transaction per batch, and what a refusal leaves.

A :class:`~jupyter_think.persistence.Persistence` has one :class:`Writer`, which holds the lock every
store call takes (``io``: the loop's writes, sync writers, the follower). A batch is committed in
one transaction; before it, what an earlier process kept at exit is replayed, and the changes of
a session held behind a refused change are kept behind it (:mod:`.setaside`). When the store
refuses the batch for a change's content, the change is isolated and set aside and every other
change is committed; when it refuses for any other reason (down, full, read-only, busy), the batch
goes back to the queue and is retried, and a change whose commit was unconfirmed is not written
twice (:meth:`Writer._stored_already`). In ``sync`` durability, :meth:`Writer.write_ahead` commits a
change from the caller's thread before the session applies it.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from jupyter_think.core.models import Change
from jupyter_think.core.session.session import Session
from jupyter_think.persistence.follow import Follower
from jupyter_think.persistence.messages import _cause, _warn
from jupyter_think.persistence.queue import Pending, WriteQueue
from jupyter_think.persistence.refusal import as_store_error, refused_for_content
from jupyter_think.persistence.setaside import SetAside
from jupyter_think.store import SessionWrite, Store, Written
from jupyter_think.store.codec import encode
from jupyter_think.store.postgres.watchdog import deadline_in


class Writer:
    """Commits the batches of one persistence loop (see the module docstring); every store call
    holds :attr:`io`.

    ``session_of`` gives the tracked session of an id (``None``: not tracked): a row a write creates
    takes its creation time, and ``list`` its status, from it."""

    def __init__(
        self,
        store: Store,
        queue: WriteQueue,
        follower: Follower,
        set_aside: SetAside,
        session_of: Callable[[str], Session | None],
    ) -> None:
        self.store = store
        self._queue = queue
        self._follower = follower
        self._set_aside = set_aside
        self._session_of = session_of
        self.io = threading.RLock()
        """Held around every store call (the writer, sync writers, the follower)."""
        self._unsure: dict[str, tuple[int | None, int]] = {}  # session -> (row, seq) when a write failed

    def write_pending(self) -> None:
        """Commit everything queued in one transaction; on failure keep it queued and warn once."""
        with self.io:
            taken = self._queue.take()
            if not taken:
                return
            try:
                self.commit(taken)
            except OSError:
                return  # reported by _commit; queued again

    def catch_up_now(self) -> None:
        """Replay what an earlier process kept at exit, if anything (a refusing store: at the next write)."""
        if not self._set_aside.replay_pending:
            return
        with self.io:
            try:
                self._set_aside.catch_up(self.store)
            except OSError:
                pass  # the next write tries again first, and reports
            except Exception as exc:
                _warn(f"could not save what an earlier process kept for {self.store.location}: {exc!r}")

    def commit(self, taken: list[Pending], extra: tuple[str, Change] | None = None) -> None:
        """Commit ``taken`` (and ``extra``, a sync write) in one transaction; under :attr:`io`.

        Raises the store's ``OSError``; not for a change of ``taken`` refused for its content (it is
        set aside, and the rest committed), but for ``extra`` refused for any reason.
        """
        was_failing = self._queue.failing
        handled: list[Pending] = []  # committed, found stored already, or kept in the spill file
        try:
            self._set_aside.catch_up(self.store)  # what an earlier process kept at exit goes first
            # A failed attempt may have been committed all the same (the connection was lost after the
            # server's commit): on a retry, changes the store holds already are not written twice.
            stored = self._stored_already(taken) if was_failing else set()
            handled += [item for item in taken if item.number in stored]
            todo = [item for item in taken if item.number not in stored]
            if self._set_aside.held:
                kept = {item.number for item in self._set_aside.hold_back(todo, self._where)}
                handled += [item for item in todo if item.number in kept]
                todo = [item for item in todo if item.number not in kept]
            if extra is not None and self._set_aside.holds(extra[0]):
                raise self._set_aside.held_error(extra[0])
            try:
                self._append(todo, extra)
            except Exception as exc:
                if not todo or not refused_for_content(exc):
                    raise
                self._set_aside.isolate(todo, self._append, self._position, self._where, handled)
                if extra is not None:
                    self._append([], extra)
            else:
                handled += todo
        except Exception as exc:
            self._failed(taken, handled, extra, as_store_error(exc))
            raise as_store_error(exc) from exc
        self._queue.settle(taken)
        for session_id in {item.session_id for item in taken} | ({extra[0]} if extra is not None else set()):
            self._unsure.pop(session_id, None)
        if was_failing and taken:
            _warn(f"saving to {self.store.location} works again ({len(taken)} change(s) caught up)")

    def _failed(
        self, taken: list[Pending], handled: list[Pending], extra: tuple[str, Change] | None, error: OSError
    ) -> None:
        """Queue again what ``taken`` holds beyond ``handled``; remember where its sessions stood; warn."""
        done = {item.number for item in handled}
        rest = [item for item in taken if item.number not in done]
        self._queue.finish(handled)
        seen = self._follower.last_seq()
        for session_id in {item.session_id for item in rest} - set(self._unsure):
            self._unsure[session_id] = (self._follower.expected_key(session_id), seen.get(session_id, 0))
        # A refused sync write with nothing queued is the caller's error alone: nothing is kept,
        # so the queue is not failing (else the next commit says "works again" for nothing).
        if rest and self._queue.fail(rest, error) and extra is None:
            _warn(
                f"could not save to {self.store.location}: {self._cause(error)}. Your thoughts are kept in memory "
                "and saving is retried; fix the store (space, permissions, server), then "
                "%session --flush (or manager.flush()) to check."
            )

    def _append(self, items: Sequence[Pending], extra: tuple[str, Change] | None = None) -> None:
        """One ``store.append`` of ``items`` (and ``extra``); the follower learns what was written."""
        by_session: dict[str, list[Change]] = {}
        for item in items:
            by_session.setdefault(item.session_id, []).append(item.change)
        if extra is not None:
            by_session.setdefault(extra[0], []).append(extra[1])
        writes = []
        for session_id, changes in by_session.items():
            session = self._session_of(session_id)
            created_at = session.created_at if session is not None else None
            # the status the list shows, as the session sees it (a retracted or chosen conclusion);
            # a sync write runs before its change is applied: its status comes from the change
            ahead = extra is not None and extra[0] == session_id
            status = session.status if session is not None and not ahead else None
            expected = self._follower.expected_key(session_id)
            writes.append(SessionWrite(session_id, changes, expected, created_at, status))
        results = self.store.append(writes) if writes else []
        for result in results:
            self._follower.written(result)
            self._say_where(result)

    def _where(self, session_id: str) -> tuple[int | None, datetime | None]:
        """(the row this process writes ``session_id`` to, when the session was created): what a kept
        change needs."""
        session = self._session_of(session_id)
        return self._follower.expected_key(session_id), session.created_at if session is not None else None

    def _position(self, session_id: str) -> int | None:
        """The seq the next change of ``session_id`` would take in the store (``None``: unknown)."""
        try:
            head = self.store.heads([session_id]).get(session_id)
        except Exception:
            return None
        return (head.last_seq if head is not None else 0) + 1

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

    def write_ahead(
        self, session_id: str, change: Change, timeout: float, closed: Callable[[], bool]
    ) -> None:
        """Sync durability: commit ``change`` (after anything still queued) before the session applies it
        (nothing once ``closed()``: the loop has stopped, later changes stay in memory).

        Waiting for the loop's store call and making this one end within ``timeout`` (``store_timeout``)
        together; raises ``OSError`` saying whether anything may have been recorded."""
        with deadline_in(timeout) as deadline, self._io_until(deadline, timeout):
            if closed():
                return
            earlier = self._queue.take(only=session_id)
            try:
                self.commit(earlier, extra=(session_id, change))
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

    @contextmanager
    def _io_until(self, deadline: float, timeout: float) -> Iterator[None]:
        """:attr:`io`, waited for until ``deadline`` at most (a store call of the loop may hang on a frozen server)."""
        if not self.io.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise OSError(
                errno.ETIMEDOUT,
                f"jupyter-think could not commit to {self.store.location}: another call to the store is still "
                f"waiting for it after {timeout:g} s (store_timeout); nothing was recorded "
                "(durability is 'sync')",
            )
        try:
            yield
        finally:
            self.io.release()

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
