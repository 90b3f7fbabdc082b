"""The PostgreSQL store's connection: one per store, used by one call at a time, never waited on longer
than the store's ``timeout``.

Every call (a commit, a load, a search, a list, a connect) has a deadline ``timeout`` seconds after
it starts (or earlier, inside :func:`~.watchdog.deadline_in`), which covers waiting for another
thread's call on the same connection, connecting, and every statement. A connect runs in a helper
thread the caller stops waiting for at the deadline; statements are watched by the
:mod:`~.watchdog`, which shuts the socket down at the deadline (a frozen server still acknowledges
TCP, and a cancel request would wait on the same frozen postmaster). The call then raises ``StoreError(ETIMEDOUT)`` — or ``ECONNRESET`` when the commit was
already sent and may or may not be recorded — and the connection is dropped: the next call makes a
fresh one.
"""

from __future__ import annotations

import errno
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from jupyter_think.store.base import StoreError
from jupyter_think.store.postgres.watchdog import WATCHDOG, call_deadline
from jupyter_think.store.redaction import redact

STORE_TIMEOUT = 10.0
"""Seconds a call waits on the server by default (``ThinkConfig.store_timeout``)."""
LOCK_TIMEOUT, STATEMENT_TIMEOUT = 10, 60
"""Seconds a statement waits for another writer's row lock, and runs at most, before the server refuses it (EBUSY)."""
CLOSE_WAIT = 0.5
"""Seconds :meth:`Link.close` waits for a call in another thread before giving that call's socket up."""

_abandoned: list[Any] = []
"""Connections inherited across fork(): never used or closed in the child (closing would end the parent's)."""


class Link:
    """The connection of one store (see the module docstring); ``set_up`` runs on each new connection."""

    def __init__(
        self, url: str, location: str, timeout: float, set_up: Callable[[psycopg.Connection[Any]], None]
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"the store timeout must be a number of seconds above 0, not {timeout!r}")
        self.url = url
        self.location = location
        self.timeout = float(timeout)
        self._set_up = set_up
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        self._owner: int | None = None  # the thread in a call now
        self._ticket: int | None = None  # that call's watchdog ticket
        self._pid = os.getpid()

    def conninfo(self) -> str:
        """The URL with this package's defaults: connect timeout, server-side limits, keepalives."""
        params = conninfo_to_dict(self.url)
        params.setdefault("connect_timeout", str(max(2, math.ceil(self.timeout))))
        params.setdefault("application_name", "jupyter-think")
        # the server refuses a statement that waits for another writer's row lock or runs too long;
        # keepalives find a connection that died without a word (the LISTEN connection too)
        limits = f"-c lock_timeout={LOCK_TIMEOUT}s -c statement_timeout={STATEMENT_TIMEOUT}s"
        params["options"] = f"{params['options']} {limits}" if params.get("options") else limits
        for name, value in (
            ("keepalives", "1"),
            ("keepalives_idle", "30"),
            ("keepalives_interval", "10"),
            ("keepalives_count", "3"),
        ):
            params.setdefault(name, value)
        return make_conninfo("", **params)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection, for one call that ends within :attr:`timeout` (errors as :class:`StoreError`)."""
        if self._owner == threading.get_ident() and self._conn is not None:
            yield self._conn  # a call within a call (same thread): the outer call's deadline holds
            return
        deadline = call_deadline(self.timeout)
        if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise self._timed_out("another call to it is still waiting for an answer")
        fired = False
        try:
            if time.monotonic() >= deadline:  # (the caller's deadline_in ran out before this call began)
                raise self._timed_out("the time given to this call ran out before it began")
            self._owner = threading.get_ident()
            if self._pid != os.getpid():  # forked: the parent's connection is not ours to use (or close)
                if self._conn is not None:
                    _abandoned.append(self._conn)
                self._conn, self._pid = None, os.getpid()
            conn = self._conn
            fresh = conn is None or conn.closed or conn.broken
            if fresh:
                self._conn = None
                conn = self._connect(deadline)
            assert conn is not None
            self._ticket = WATCHDOG.arm(conn.pgconn.socket, deadline)
            try:
                if fresh:
                    try:
                        self._set_up(conn)
                    except BaseException:
                        conn.close()
                        raise
                    self._conn = conn
                yield conn
            finally:
                fired = WATCHDOG.disarm(self._ticket)
                self._ticket = None
                if fired:
                    self._drop()
        except psycopg.Error as exc:
            hide_passwords(exc, self.url)  # (it stays the cause: a traceback shows it)
            if fired:
                raise self._timed_out(committing=getattr(exc, "commit_unknown", False)) from exc
            if self._conn is not None and (self._conn.broken or isinstance(exc, psycopg.OperationalError)):
                self._drop()
            raise store_error(exc, self.location, self.url) from exc
        finally:
            self._owner = None
            self._lock.release()

    def still_answering(self) -> None:
        """The server just answered a long task (a migration): give it another :attr:`timeout`."""
        if self._ticket is not None:
            WATCHDOG.extend(self._ticket, time.monotonic() + self.timeout)

    def close(self) -> None:
        """Close the connection; a call still waiting in another thread has its socket given up instead."""
        if not self._lock.acquire(timeout=CLOSE_WAIT):
            ticket = self._ticket
            if ticket is not None:
                WATCHDOG.fire(ticket)  # (that call drops the connection itself)
            return
        try:
            self._drop()
        finally:
            self._lock.release()

    def after_fork_in_child(self) -> None:
        if self._conn is not None:
            _abandoned.append(self._conn)  # never used or closed here (closing would end the parent's)
        self._lock = threading.RLock()
        self._conn = self._owner = self._ticket = None
        self._pid = os.getpid()

    def _drop(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            try:
                self._conn.close()  # (sends a goodbye without waiting for an answer)
            except psycopg.Error:
                pass
        self._conn = None

    def _connect(self, deadline: float) -> psycopg.Connection[Any]:
        """A new connection, made in a helper thread that this call stops waiting for at ``deadline``."""
        left = deadline - time.monotonic()
        if left <= 0:  # (the wait for another call used the time up)
            raise self._timed_out("another call to it was still waiting for an answer")
        return _Opening(self.conninfo()).result(left, lambda: self._timed_out(while_doing="connecting"))

    def _timed_out(self, why: str = "", *, committing: bool = False, while_doing: str = "") -> StoreError:
        """The error of a call that passed its deadline."""
        limit = f"within {self.timeout:g} s (store_timeout)"
        if committing:
            return StoreError(
                errno.ECONNRESET,
                f"the PostgreSQL server did not confirm the commit {limit}: it may or may not be recorded; "
                f"the connection was dropped, the next call reconnects ({self.location})",
            )
        doing = f" while {while_doing}" if while_doing else ""
        cause = f": {why}" if why else ""
        return StoreError(
            errno.ETIMEDOUT,
            f"the PostgreSQL server did not answer {limit}{doing}{cause}; the call was given up and the next "
            f"one reconnects: check that the server is up and reachable ({self.location})",
        )


class _Opening:
    """``psycopg.connect`` in a daemon thread; a caller that stops waiting leaves the connection to be
    closed by that thread when it arrives (psycopg's own connect timeout ends the thread)."""

    def __init__(self, conninfo: str) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._error: BaseException | None = None
        self._abandoned = False
        threading.Thread(
            target=self._run, args=(conninfo,), name="jupyter-think-connect", daemon=True
        ).start()

    def _run(self, conninfo: str) -> None:
        try:
            conn = psycopg.connect(conninfo, autocommit=True)
        except BaseException as exc:
            with self._lock:
                self._error = exc
        else:
            with self._lock:
                if not self._abandoned:
                    self._conn = conn
            if self._conn is not conn:
                conn.close()
        finally:
            self._done.set()

    def result(self, timeout: float, timed_out: Callable[[], StoreError]) -> psycopg.Connection[Any]:
        self._done.wait(max(timeout, 0.0))
        with self._lock:
            if self._conn is not None:
                return self._conn
            if self._error is not None:
                raise self._error
            self._abandoned = True
        raise timed_out()


def hide_passwords(exc: BaseException, url: str) -> None:
    """Take the passwords of ``url`` (and ``$PGPASSWORD``'s) out of the driver's error ``exc``, in place:
    psycopg quotes connection text it could not parse (``invalid percent-encoded token: "…"``), and
    the error is kept as the cause of the :class:`StoreError` raised from it."""
    exc.args = tuple(redact(arg, url) if isinstance(arg, str) else arg for arg in exc.args)


def store_error(exc: psycopg.Error, location: str, url: str | None = None) -> StoreError:
    """A psycopg error as a :class:`StoreError` whose errno a caller can act on.

    A server that cannot be reached, or a connection lost before a commit was asked for, is
    ``ECONNREFUSED`` (nothing was done); a connection lost while committing is ``ECONNRESET`` (the
    commit may have happened, unconfirmed); psycopg's own connect timeout is ``ETIMEDOUT``. What a
    change holds refused (a value out of range, a NUL, a limit, a constraint or a trigger's ``RAISE``)
    is ``EINVAL``: the same change is refused again. The message never holds a password (of ``url``,
    or ``$PGPASSWORD``), even where the driver quotes connection text it could not parse.
    """
    if isinstance(
        exc,
        (psycopg.DataError, psycopg.IntegrityError, pg_errors.ProgramLimitExceeded, pg_errors.RaiseException),
    ):
        code = errno.EINVAL
    elif isinstance(exc, pg_errors.DiskFull):
        code = errno.ENOSPC
    elif isinstance(exc, (pg_errors.ReadOnlySqlTransaction,)):
        code = errno.EROFS
    elif isinstance(
        exc,
        (
            pg_errors.LockNotAvailable,
            pg_errors.QueryCanceled,
            pg_errors.TransactionRollback,
            pg_errors.DeadlockDetected,
        ),
    ):
        code = errno.EBUSY  # (a deadlock or serialization failure: nothing was committed, try again)
    elif isinstance(exc, (pg_errors.InsufficientPrivilege,)):
        code = errno.EACCES
    elif isinstance(exc, pg_errors.ConnectionTimeout):
        code = errno.ETIMEDOUT
    elif isinstance(exc, psycopg.OperationalError):
        code = errno.ECONNRESET if getattr(exc, "commit_unknown", False) else errno.ECONNREFUSED
    else:
        code = errno.EIO
    message = redact(" ".join(str(exc).split()) or type(exc).__name__, url)
    if code in (errno.ECONNREFUSED, errno.ETIMEDOUT):
        message = f"the PostgreSQL server is unreachable: {message}"
    elif code == errno.ECONNRESET:
        message = f"the connection to the PostgreSQL server was lost while committing: {message}"
    elif code == errno.EINVAL:
        message = f"the store refuses what the change holds: {message}"
    elif code != errno.EIO:
        message = f"{os.strerror(code)}: {message}"
    return StoreError(code, f"{message} ({location})")
