"""The loop thread: ``anyio.run`` in a daemon thread, with its three tasks — the writer, the follower
and retention — and how it is started, woken and stopped.

The writer sleeps until a change arrives (one byte on a socket pair wakes it), lets a burst gather
for ``flush_interval / 4``, then commits everything queued in one transaction (in a worker thread, so
the follower keeps listening); after a failure it waits for the back-off, or for a ``flush()`` that
asks now. The follower applies what other processes commit (``Store.watch``: SQLite polled, PostgreSQL
pushed). Retention runs five seconds after the start, then hourly. :class:`LoopThread` is mixed into
:class:`~jupyter_think.persistence.Persistence`, which provides the work (``_catch_up_now``,
``_write_pending``, ``_fetch_foreign``, ``_apply_foreign``, ``run_retention``).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import anyio
import anyio.to_thread

from jupyter_think.persistence import retention
from jupyter_think.persistence.messages import _warn

POLL_INTERVAL = 0.2
"""Seconds between two looks for changes by other processes (SQLite; PostgreSQL is pushed)."""


class LoopThread:
    """Starting, waking and stopping the loop thread, and its tasks (a mixin of ``Persistence``)."""

    _thread: threading.Thread | None
    _thread_lock: threading.Lock
    _wake_socks: tuple[socket.socket, socket.socket] | None
    _generation: int
    _closed: bool
    _urgent: bool
    _queue: Any
    store: Any
    settings: Any
    _catch_up_now: Any

    def _ensure_thread(self) -> bool:
        """Start the loop thread unless it runs; False when no thread can start."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            return True
        with self._thread_lock:
            if self._closed:
                return False
            if self._thread is not None and self._thread.is_alive():
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

    def _wake(self) -> None:
        socks = self._wake_socks
        if socks is not None:
            try:
                socks[1].send(b"\0")
            except OSError:  # buffer full (a wake is pending anyway) or closed by a stop
                pass

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
        await anyio.to_thread.run_sync(self._catch_up_now)  # what an earlier process kept at exit, first
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
            if not self._urgent:
                if queue.failing and time.monotonic() < queue.retry_at:
                    continue
                if not queue.failing:  # let a burst gather into one transaction
                    await anyio.sleep(self.settings.flush_interval / 4)
            self._urgent = False
            await anyio.to_thread.run_sync(self._write_pending)

    async def _follow_task(self, generation: int) -> None:
        async for _ in self.store.watch(POLL_INTERVAL):
            if self._generation != generation:
                return
            found = await anyio.to_thread.run_sync(self._fetch_foreign)
            if found:
                self._apply_foreign(found)

    async def _retention_task(self) -> None:
        await anyio.sleep(retention.RETENTION_FIRST)
        while True:
            try:
                cleaned = await anyio.to_thread.run_sync(self.run_retention)
            except Exception as exc:  # noqa: BLE001 - the loop never dies; retried at the next turn
                _warn(f"retention clean-up of {self.store.location} failed: {self._cause(exc)}")
            else:
                if cleaned.trashed:
                    days = self.settings.retention_days
                    _warn(
                        f"moved {len(cleaned.trashed)} session(s) idle for more than {days:g} days to the trash: "
                        f"{', '.join(cleaned.trashed)}"
                    )
            await anyio.sleep(retention.RETENTION_EVERY)

    def _stop_thread(self, timeout: float) -> None:
        with self._thread_lock:
            thread = self._thread
            if thread is None:
                return
            self._generation += 1
            self._wake()
            # (cleared here, under the lock: a loop started while this one is joined has its own sockets)
            self._thread = self._wake_socks = None
        if thread is not threading.current_thread():
            thread.join(timeout)
