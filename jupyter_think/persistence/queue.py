"""The write queue: changes waiting for the store, what is being written, and who waits for it.

The caller's side of a change is :meth:`WriteQueue.put` — a lock and a deque append. The loop (or a
sync-mode caller) :meth:`takes <WriteQueue.take>` everything queued as one batch, writes it, and
then :meth:`settles <WriteQueue.settle>` it, or :meth:`fails <WriteQueue.fail>` it: a failed batch
goes back to the front of the queue, in order, and is retried after a back-off (0.2 s doubling to
5 s). :meth:`WriteQueue.wait_durable` is what ``flush()`` waits on: it returns when every change
queued before it is committed, and raises as soon as a write attempt made after it fails.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from jupyter_think.core.models import Change

BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0
"""Retry delays after a failed write: the first, and the cap of the doubling."""


class Pending(NamedTuple):
    """One queued change: its number among all changes queued here (from 1), its session, the change."""

    number: int
    session_id: str
    change: Change


class WriteQueue:
    """Thread-safe queue of changes on their way to the store (see the module docstring)."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self._queue: deque[Pending] = deque()
        self._taken: list[Pending] = []  # being written now
        self._next = 1
        self.failed_attempts = 0
        self.last_error: OSError | None = None
        self.failing = False
        self.retry_at = 0.0
        self._backoff = 0.0

    # --- the caller's side ---

    def put(self, session_id: str, change: Change) -> bool:
        """Queue a change; True when the queue was idle (the loop needs a wake-up)."""
        with self.cond:
            idle = not self._queue
            self._queue.append(Pending(self._next, session_id, change))
            self._next += 1
            return idle

    def drop(self, session_id: str) -> list[Pending]:
        """Take every queued change of ``session_id`` out (it is written by someone else now)."""
        with self.cond:
            dropped = [item for item in self._queue if item.session_id == session_id]
            if dropped:
                self._queue = deque(item for item in self._queue if item.session_id != session_id)
                self.cond.notify_all()
            return dropped

    # --- the writer's side ---

    def take(self, only: str | None = None) -> list[Pending]:
        """Everything queued (or only ``only``'s changes), now being written."""
        with self.cond:
            if only is None:
                taken = list(self._queue)
                self._queue.clear()
            else:
                taken = [item for item in self._queue if item.session_id == only]
                self._queue = deque(item for item in self._queue if item.session_id != only)
            self._taken.extend(taken)
            return taken

    def finish(self, handled: list[Pending]) -> None:
        """The changes of ``handled`` need no more writing (committed, or kept elsewhere), while the
        rest of their batch failed: the queue's state stays as it is."""
        with self.cond:
            numbers = {item.number for item in handled}
            self._taken = [item for item in self._taken if item.number not in numbers]
            self.cond.notify_all()

    def take_all(self) -> list[Pending]:
        """Everything not committed — queued, and being written (a store call that never came back) —
        in order, out of the queue: what a closing loop keeps elsewhere."""
        with self.cond:
            left = sorted([*self._taken, *self._queue], key=lambda item: item.number)
            self._taken, self._queue = [], deque()
            self.cond.notify_all()
            return left

    def settle(self, taken: list[Pending]) -> None:
        """The changes of ``taken`` are committed: the store takes writes again (no more back-off,
        even while new changes keep arriving)."""
        with self.cond:
            numbers = {item.number for item in taken}
            self._taken = [item for item in self._taken if item.number not in numbers]
            self.failing = False
            self._backoff = 0.0
            self.cond.notify_all()

    def fail(self, taken: list[Pending], error: OSError) -> bool:
        """The write of ``taken`` failed: queue it again, first, and back off. True on the first failure."""
        with self.cond:
            numbers = {item.number for item in taken}
            self._taken = [item for item in self._taken if item.number not in numbers]
            self._queue.extendleft(reversed(taken))
            first = not self.failing
            self.failed_attempts += 1
            self.last_error = error
            self.failing = True
            self._backoff = min(max(BACKOFF_FIRST, self._backoff * 2), BACKOFF_MAX)
            self.retry_at = time.monotonic() + self._backoff
            self.cond.notify_all()
            return first

    # --- waiting and looking ---

    @property
    def last_number(self) -> int:
        """The number of the last change queued so far."""
        with self.cond:
            return self._next - 1

    def floor(self) -> int:
        """The number of the oldest change not yet committed (``last_number + 1`` when none); under ``cond``."""
        numbers = [item.number for item in self._taken]
        if self._queue:
            numbers.append(self._queue[0].number)
        return min(numbers, default=self._next)

    def pending(self) -> int:
        """How many changes are not yet committed."""
        with self.cond:
            return len(self._queue) + len(self._taken)

    def has_work(self) -> bool:
        with self.cond:
            return bool(self._queue)

    def pending_changes(self, session_id: str) -> list[Change]:
        """The changes of ``session_id`` not yet committed, in order (being written, then queued)."""
        with self.cond:
            return [item.change for item in (*self._taken, *self._queue) if item.session_id == session_id]

    def pending_by_session(self) -> dict[str, int]:
        with self.cond:
            counts: dict[str, int] = {}
            for item in (*self._taken, *self._queue):
                counts[item.session_id] = counts.get(item.session_id, 0) + 1
            return counts

    def wait_durable(
        self,
        target: int,
        attempts_before: int,
        deadline: float | None,
        describe_failure: Callable[[OSError], OSError],
        describe_timeout: Callable[[], OSError],
    ) -> None:
        """Wait until change ``target`` and all before it are committed.

        Raises ``describe_failure(error)`` as soon as a write attempt fails after ``attempts_before``
        failed attempts, ``describe_timeout()`` when ``deadline`` (a ``time.monotonic()`` value) passes first.
        """
        failure: OSError | None = None
        with self.cond:
            while self.floor() <= target:
                if self.failed_attempts > attempts_before and self.last_error is not None:
                    failure = self.last_error
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self.cond.wait(remaining)
            else:
                return
        if failure is not None:  # (described outside the lock: the descriptions look at the queue)
            raise describe_failure(failure) from failure
        raise describe_timeout()
