"""The loop thread: ``anyio.run`` in a daemon thread, with its three tasks — the writer, the follower
and retention — and how it is started, woken and stopped.

The writer sleeps until a change arrives (one byte on a socket pair wakes it), lets a burst gather
for ``flush_interval / 4``, then commits everything queued in one transaction (in a worker thread, so
the follower keeps listening); after a failure it waits for the back-off, or for a ``flush()`` that
asks now (:attr:`LoopThread.urgent`). The follower applies what other processes commit
(``Store.watch``: SQLite polled, PostgreSQL pushed). Retention runs five seconds after the start,
then hourly. A :class:`~jupyter_think.persistence.Persistence` has one :class:`LoopThread` and gives
it the work (:class:`LoopWork`).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Protocol

import anyio
import anyio.to_thread

from jupyter_think.core.config import ThinkSettings
from jupyter_think.persistence import retention
from jupyter_think.persistence.messages import _cause, _warn
from jupyter_think.persistence.queue import WriteQueue
from jupyter_think.persistence.retention import Cleaned
from jupyter_think.store import Store

POLL_INTERVAL = 0.2
"""Seconds between two looks for changes by other processes (SQLite; PostgreSQL is pushed)."""


class LoopWork(Protocol):
    """What the loop's tasks do, given by the persistence that owns the loop."""

    @property
    def closed(self) -> bool:
        """True once the persistence is closed: no loop starts any more."""

    def catch_up_now(self) -> None:
        """Replay what an earlier process kept at exit (never raises)."""

    def write_pending(self) -> None:
        """Commit everything queued in one transaction (never raises: a failure is queued again)."""

    def fetch_foreign(self) -> list[Any]:
        """What other processes committed to the tracked sessions (in a worker thread)."""

    def apply_foreign(self, found: list[Any]) -> None:
        """Apply what :meth:`fetch_foreign` found (in the loop's thread)."""

    def run_retention(self) -> Cleaned:
        """Move idle sessions to the trash, empty old trash."""


class LoopThread:
    """Starting, waking and stopping the loop thread of one store, and its tasks."""

    def __init__(self, work: LoopWork, queue: WriteQueue, store: Store, settings: ThinkSettings) -> None:
        self._work = work
        self._queue = queue
        self._store = store
        self._settings = settings
        self.urgent = False
        """Set by a ``flush()``: the next write goes now, without waiting for a burst or a back-off."""
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()  # starting and stopping (never held for I/O)
        self._generation = 0  # a loop runs while this equals the number it started with
        self._wake_socks: tuple[socket.socket, socket.socket] | None = None

    @property
    def running(self) -> bool:
        """True while the loop thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def ensure(self) -> bool:
        """Start the loop thread unless it runs; False when no thread can start."""
        if self.running:
            return True
        with self._thread_lock:
            if self._work.closed:
                return False
            if self.running:
                return True
            self._generation += 1
            socks = socket.socketpair()
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
            except RuntimeError:  # no new threads at interpreter shutdown
                for sock in socks:
                    sock.close()
                return False
            self._wake_socks, self._thread = socks, thread
            return True

    def wake(self) -> None:
        """Wake the writer (a change arrived, or a flush asks)."""
        socks = self._wake_socks
        if socks is not None:
            try:
                socks[1].send(b"\0")
            except OSError:  # buffer full (a wake is pending anyway) or closed by a stop
                pass

    def stop(self, timeout: float) -> None:
        """Stop the loop thread and wait up to ``timeout`` seconds for it (a new one may start later)."""
        with self._thread_lock:
            thread = self._thread
            if thread is None:
                return
            self._generation += 1
            self.wake()
            # (cleared here, under the lock: a loop started while this one is joined has its own sockets)
            self._thread = self._wake_socks = None
        if thread is not threading.current_thread():
            thread.join(timeout)

    # --- the tasks -------------------------------------------------------------------------------------

    async def _main(self, socks: tuple[socket.socket, socket.socket], generation: int) -> None:
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._follow_task, generation)
                tasks.start_soon(self._retention_task)
                await self._write_task(socks[0], generation)
                tasks.cancel_scope.cancel()
        finally:
            for sock in socks:
                sock.close()

    async def _write_task(self, wake: socket.socket, generation: int) -> None:
        queue = self._queue
        await anyio.to_thread.run_sync(self._work.catch_up_now)  # what an earlier process kept at exit, first
        while self._generation == generation:
            timeout = None
            if queue.failing and queue.has_work():
                timeout = max(queue.retry_at - time.monotonic(), 0)
            with anyio.move_on_after(timeout):
                await anyio.wait_readable(wake)
            try:
                while wake.recv(4096):
                    pass
            except OSError:
                pass
            if self._generation != generation or not queue.has_work():
                continue
            if not self.urgent:
                if queue.failing and time.monotonic() < queue.retry_at:
                    continue
                if not queue.failing:  # let a burst gather into one transaction
                    await anyio.sleep(self._settings.flush_interval / 4)
            self.urgent = False
            await anyio.to_thread.run_sync(self._work.write_pending)

    async def _follow_task(self, generation: int) -> None:
        async for _ in self._store.watch(POLL_INTERVAL):
            if self._generation != generation:
                return
            found = await anyio.to_thread.run_sync(self._work.fetch_foreign)
            if found:
                self._work.apply_foreign(found)

    async def _retention_task(self) -> None:
        await anyio.sleep(retention.RETENTION_FIRST)
        while True:
            try:
                cleaned = await anyio.to_thread.run_sync(self._work.run_retention)
            except Exception as exc:
                _warn(
                    f"retention clean-up of {self._store.location} failed: {_cause(exc, self._store.location)}"
                )
            else:
                if cleaned.trashed:
                    days = self._settings.retention_days
                    _warn(
                        f"moved {len(cleaned.trashed)} session(s) idle for more than {days:g} days to the trash: "
                        f"{', '.join(cleaned.trashed)}"
                    )
            await anyio.sleep(retention.RETENTION_EVERY)
