"""The presenter's step of a session, in the store: one small row per session, on either engine.

A teacher's graph in its presenter view writes the step it shows (``presenter`` table, schema 7:
the session's row key, the step, how many steps the presenter's graph had); a class's graphs that
follow the presenter read it. Each :class:`PresenterTable` keeps its own connection, so the
persistence loop's connection is never shared between threads.

* SQLite: :meth:`PresenterTable.wait` polls ``PRAGMA data_version`` (cheap: no read of the tables)
  and returns as soon as another connection committed.
* PostgreSQL: :meth:`wait` listens on ``jupyter_think_presenter``; a move sends an empty ``NOTIFY``
  (anyone may LISTEN, so the notification says nothing) and each listener re-reads the rows it follows
  under row-level security. Only a session's owner may move its row (a policy, see
  :func:`jupyter_think.store.postgres.presenter.presenter_sql`): a student's presenter view never
  moves the class.

Example:
    >>> import tempfile, jupyter_think
    >>> folder = tempfile.mkdtemp()
    >>> with jupyter_think.SessionManager(folder, durability="sync") as manager:
    ...     _ = manager.session("lesson").think("Restate the question")
    >>> table = open_presenter(folder)
    >>> table.move("lesson", 1, 1), table.positions(["lesson", "other"])
    (True, {'lesson': Position(step=1, steps=1)})
    >>> table.close()
"""

from __future__ import annotations

import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_think.core.ids import split_ref, validate_ref

CHANNEL = "jupyter_think_presenter"
POLL_INTERVAL = 0.05
"""Seconds between two looks at SQLite's ``data_version`` while waiting for a move."""


@dataclass(frozen=True)
class Position:
    """Where the presenter is: ``step`` of the ``steps`` their graph holds."""

    step: int
    steps: int


class PresenterTable(ABC):
    """The ``presenter`` rows of one store, through a connection of its own (one thread at a time)."""

    @abstractmethod
    def move(self, session_id: str, step: int, steps: int) -> bool:
        """Record that the presenter of ``session_id`` shows ``step``; False when it is not stored
        (yet) or this user may not move it (not its owner)."""

    @abstractmethod
    def positions(self, session_ids: Collection[str]) -> dict[str, Position]:
        """The presenter's position of each of ``session_ids`` that has one (and that this user may read)."""

    @abstractmethod
    def wait(self, timeout: float) -> None:
        """Return when another connection may have moved a presenter, or after ``timeout`` seconds."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection (the table reconnects on its next use)."""


def open_presenter(location: str, timeout: float = 10) -> PresenterTable:
    """The presenter table of the store at ``location`` (a SQLite directory, ``sqlite:///PATH`` or a
    ``postgresql://`` URL): the file or database :func:`~jupyter_think.store.open_store` opens there."""
    from jupyter_think.store import is_url, sqlite_directory
    from jupyter_think.store.sqlite.schema import DATABASE

    if is_url(location):
        return _PostgresPresenter(location, timeout)
    return _SqlitePresenter(sqlite_directory(location).expanduser().resolve() / DATABASE, timeout)


def _checked(step: int, steps: int) -> tuple[int, int]:
    if not (0 <= step <= steps < 2**31):
        raise ValueError(f"a presenter's step must be from 0 to its steps (< 2**31), not {step} of {steps}")
    return step, steps


class _SqlitePresenter(PresenterTable):
    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # The board serialises every use under its lock, but from whichever thread presents.
            self._conn = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA foreign_keys = ON")
        return self._conn

    def move(self, session_id: str, step: int, steps: int) -> bool:
        step, steps = _checked(step, steps)
        owner, plain_id = split_ref(validate_ref(session_id))
        if owner is not None:  # a personal store has one user: nobody else's presenter to move
            return False
        cursor = self._connection().execute(
            "INSERT INTO presenter (session_key, step, steps, moved_at) "
            "SELECT key, ?, ?, ? FROM sessions WHERE id = ? AND state = 'live' "
            "ON CONFLICT (session_key) DO UPDATE SET step = excluded.step, steps = excluded.steps, "
            "moved_at = excluded.moved_at",
            (step, steps, time.time(), plain_id),
        )
        return cursor.rowcount > 0

    def positions(self, session_ids: Collection[str]) -> dict[str, Position]:
        found: dict[str, Position] = {}
        conn = self._connection()
        for session_id in session_ids:
            row = conn.execute(
                "SELECT p.step, p.steps FROM presenter p JOIN sessions s ON s.key = p.session_key "
                "WHERE s.id = ? AND s.state = 'live'",
                (split_ref(session_id)[1],),
            ).fetchone()
            if row is not None:
                found[session_id] = Position(int(row[0]), int(row[1]))
        return found

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        conn = self._connection()
        while True:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            changed = self._version is not None and version != self._version
            self._version = version
            if changed or time.monotonic() >= deadline:
                return
            time.sleep(POLL_INTERVAL)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _PostgresPresenter(PresenterTable):
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            import psycopg

            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self.timeout)))
            self._conn.execute(f"SET statement_timeout = {int(self.timeout * 1000)}")
            self._conn.execute(f"LISTEN {CHANNEL}")
        return self._conn

    def move(self, session_id: str, step: int, steps: int) -> bool:
        import psycopg

        step, steps = _checked(step, steps)
        where, params = _named(session_id)
        conn = self._connection()
        try:
            with conn.transaction():
                moved = conn.execute(
                    "INSERT INTO jupyter_think.presenter (session_key, step, steps) "
                    f"SELECT key, %s, %s FROM jupyter_think.sessions WHERE {where} AND state = 'live' "
                    "ON CONFLICT (session_key) DO UPDATE SET step = excluded.step, steps = excluded.steps, "
                    "moved_at = now() RETURNING 1",
                    (step, steps, *params),
                ).fetchone()
                conn.execute(f"NOTIFY {CHANNEL}")
        except psycopg.errors.InsufficientPrivilege:  # row-level security: not the owner's
            return False
        return moved is not None

    def positions(self, session_ids: Collection[str]) -> dict[str, Position]:
        found: dict[str, Position] = {}
        conn = self._connection()
        for session_id in session_ids:
            where, params = _named(session_id, "s.")
            row = conn.execute(
                "SELECT p.step, p.steps FROM jupyter_think.presenter p "
                "JOIN jupyter_think.sessions s ON s.key = p.session_key "
                f"WHERE {where} AND s.state = 'live'",
                params,
            ).fetchone()
            if row is not None:
                found[session_id] = Position(int(row[0]), int(row[1]))
        return found

    def wait(self, timeout: float) -> None:
        for _ in self._connection().notifies(timeout=timeout, stop_after=1):
            pass

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _named(session_id: str, table: str = "") -> tuple[str, tuple[str, ...]]:
    """The rows named ``session_id`` by this role: its own id, or ``OWNER/ID`` (as the store names them)."""
    owner, plain_id = split_ref(validate_ref(session_id))
    if owner is None:
        return f"{table}owner = current_user AND {table}id = %s", (plain_id,)
    return f"{table}owner = jupyter_think.role_of(%s) AND {table}id = %s", (owner, plain_id)
