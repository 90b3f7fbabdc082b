"""The watchdog: a call that waits on a database server past its deadline has its socket shut down.

A frozen server (a stopped process, a hung host) still acknowledges TCP, and a cancel request waits
on the same frozen postmaster, so nothing the server could do ends the wait: the client has to give
the connection up itself. A call :meth:`arms <Watchdog.arm>` the watchdog with its connection's socket
and its deadline and :meth:`disarms <Watchdog.disarm>` it when done; when the deadline passes first,
one daemon thread shuts the socket down (``shutdown(2)`` on a duplicate of its descriptor: the
connection's own descriptor stays open and is closed by its owner). The blocked read then returns at
once with "server closed the connection", and ``disarm`` tells the owner that the watchdog fired, so
it can say why and drop the connection.

Arming and disarming cost a lock and a dict operation (no thread per call); the thread sleeps until
the earliest deadline. After ``fork()`` a child starts with a watchdog of its own.

A caller that makes several calls for one thing the user asked (a sync commit that first waits for
the persistence loop, a search that first flushes) bounds them together with :func:`deadline_in`:
each call ends by the earlier of its own timeout and that deadline (:func:`call_deadline`).

Example:
    >>> import socket, time
    >>> ours, theirs = socket.socketpair()
    >>> ticket = WATCHDOG.arm(ours.fileno(), time.monotonic() + 0.05)
    >>> ours.recv(1)          # blocks until the watchdog shuts the socket down
    b''
    >>> WATCHDOG.disarm(ticket)
    True
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("jupyter_think_store_deadline", default=None)


@contextmanager
def deadline_in(seconds: float) -> Iterator[float]:
    """Store calls made in this block (in this thread) end within ``seconds`` from now, all together;
    yields that deadline (``time.monotonic()``). Nested blocks keep the earlier deadline.

    Example:
        >>> with deadline_in(5) as deadline:
        ...     call_deadline(10) == deadline
        True
    """
    at = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(at if outer is None else min(at, outer))
    try:
        yield at if outer is None else min(at, outer)
    finally:
        _deadline.reset(token)


def call_deadline(timeout: float) -> float:
    """When a call starting now with its own ``timeout`` must end (see :func:`deadline_in`)."""
    at = time.monotonic() + timeout
    outer = _deadline.get()
    return at if outer is None else min(at, outer)


class Watchdog:
    """Shuts down the socket of each call that passes its deadline (see the module docstring)."""

    def __init__(self) -> None:
        self._start_over()

    def _start_over(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._armed: dict[int, list[float | int | bool]] = {}  # ticket -> [deadline, socket fd, fired]
        self._count = 0
        self._wakes_at = float("inf")
        self._thread: threading.Thread | None = None

    def arm(self, fileno: int, deadline: float) -> int:
        """Watch socket ``fileno`` until :meth:`disarm`; shut it down at ``deadline`` (``time.monotonic()``)."""
        if self._pid != os.getpid():  # forked: the parent's thread and lock are not ours
            self._start_over()
        with self._cond:
            self._count += 1
            self._armed[self._count] = [deadline, fileno, False]
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jupyter-think-watchdog", daemon=True)
                self._thread.start()
            elif deadline < self._wakes_at:
                self._cond.notify()
            return self._count

    def extend(self, ticket: int, deadline: float) -> None:
        """Move the deadline of ``ticket`` (a long task that just heard from the server)."""
        with self._cond:
            entry = self._armed.get(ticket)
            if entry is not None and not entry[2]:
                entry[0] = deadline

    def fire(self, ticket: int) -> None:
        """Shut the socket of ``ticket`` down now (a close that must not wait for a stuck call)."""
        self.extend(ticket, 0.0)
        with self._cond:
            self._cond.notify()

    def disarm(self, ticket: int) -> bool:
        """Stop watching ``ticket``; True when its socket was shut down (the connection is useless now)."""
        with self._cond:
            entry = self._armed.pop(ticket, None)
        return bool(entry and entry[2])

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                waiting = []
                for entry in self._armed.values():
                    if entry[2]:
                        continue
                    if entry[0] <= now:
                        entry[2] = True
                        _shut_down(int(entry[1]))
                    else:
                        waiting.append(float(entry[0]))
                self._wakes_at = min(waiting, default=float("inf"))
                self._cond.wait(None if not waiting else self._wakes_at - now)


def _shut_down(fileno: int) -> None:
    """``shutdown(SHUT_RDWR)`` on the socket ``fileno`` through a duplicate (the original stays open)."""
    try:
        duplicate = socket.socket(fileno=os.dup(fileno))
    except OSError:
        return  # closed meanwhile: nothing waits on it
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected any more: the read has returned already
    finally:
        duplicate.close()


WATCHDOG = Watchdog()
"""The process's watchdog (one thread, started on first use)."""
