"""The SQLite store's database file: its schema and migrations, and what its errors mean.

:func:`migrate` brings a database to :data:`~jupyter_think.store.base.SCHEMA_VERSION` (``PRAGMA
user_version``). :func:`store_error` turns a ``sqlite3`` error into a
:class:`~jupyter_think.store.base.StoreError` whose errno says what happened. A file SQLite calls
corrupt is repaired by :mod:`.salvage` and :mod:`.repair`; the upgrade itself is
:func:`~jupyter_think.store.migrations.upgrade` (this module gives it SQLite's SQL).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from jupyter_think.store.base import StoreError
from jupyter_think.store.migrations import upgrade
from jupyter_think.store.search import index_text

DATABASE = "sessions.db"
QUARANTINE = ".quarantine"

EXPERIMENTS = """
CREATE TABLE IF NOT EXISTS experiments (
    key INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    created_at REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS experiment_runs (
    experiment_key INTEGER NOT NULL REFERENCES experiments (key) ON DELETE CASCADE,
    run INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (experiment_key, run)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS experiment_runs_by_session ON experiment_runs (session_id);
"""
"""Schema version 6: stored experiments (:mod:`.experiments` reads and writes them); it can run again
(a store whose version number was set back keeps its experiments)."""

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE sessions (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        owner TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('live', 'trashed', 'archived')),
        created_at REAL NOT NULL,
        last_activity REAL NOT NULL,
        state_changed_at REAL NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0,
        thoughts INTEGER NOT NULL DEFAULT 0,
        branches INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'open'
    );
    CREATE UNIQUE INDEX sessions_live_id ON sessions (id) WHERE state = 'live';
    CREATE INDEX sessions_by_id ON sessions (id, state, state_changed_at);
    CREATE INDEX sessions_by_activity ON sessions (state, last_activity);
    CREATE TABLE changes (
        session_key INTEGER NOT NULL REFERENCES sessions (key) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (session_key, seq)
    );
    CREATE TABLE branches (
        session_key INTEGER NOT NULL REFERENCES sessions (key) ON DELETE CASCADE,
        branch_id TEXT NOT NULL,
        PRIMARY KEY (session_key, branch_id)
    ) WITHOUT ROWID;
    """,
    2: """
    CREATE VIRTUAL TABLE thought_text USING fts5(
        body, session_key UNINDEXED, seq UNINDEXED, thought_number UNINDEXED,
        tokenize = 'porter unicode61 remove_diacritics 2'
    );
    """,
    3: """
    ALTER TABLE changes ADD COLUMN checksum INTEGER;
    ALTER TABLE sessions ADD COLUMN top_number INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN missing INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN kept_in TEXT NOT NULL DEFAULT '';
    """,
    4: """
    DROP TABLE IF EXISTS thought_text;
    CREATE VIRTUAL TABLE thought_text USING fts5(
        words, body UNINDEXED, session_key UNINDEXED, seq UNINDEXED, thought_number UNINDEXED,
        tokenize = "ascii tokenchars '_'"
    );
    """,
    5: "",  # (PostgreSQL's sessions named per owner, shares, row-level security: a personal store has one user)
    6: EXPERIMENTS,
    7: """
    ALTER TABLE sessions ADD COLUMN trashed_by TEXT NOT NULL DEFAULT '';
    CREATE TABLE IF NOT EXISTS presenter (
        session_key INTEGER PRIMARY KEY REFERENCES sessions (key) ON DELETE CASCADE,
        step INTEGER NOT NULL CHECK (step >= 0),
        steps INTEGER NOT NULL CHECK (steps >= step),
        moved_at REAL NOT NULL
    );
    """,
}
"""Schema version -> the SQL that brings the previous version to it (``PRAGMA user_version``).

3: ``changes.checksum`` (CRC-32 of the payload, ``NULL`` in rows written before: unverified);
``sessions.top_number`` (the highest thought number written), ``missing`` (changes a repaired
damaged file could not carry over) and ``kept_in`` (the quarantined copies that hold them, one per line)."""

TOP_NUMBERS = (
    "UPDATE sessions SET top_number = coalesce((SELECT max(json_extract(payload, '$.thought.thoughtNumber')) "
    "FROM changes WHERE session_key = sessions.key AND kind = 'thought' AND json_valid(payload)), 0)"
)
"""The highest thought number of each session, from the payloads stored before version 3 kept it."""

INDEX_TEXT = (
    "INSERT INTO thought_text (rowid, words, body, session_key, seq, thought_number) "
    "VALUES (?2 * 4294967296 + ?3, jupyter_think_words(?1), ?1, ?2, ?3, ?4)"
)
"""Index one text: parameters (text, session key, seq, thought number). The words are made in Python
(:func:`register_words` on the connection); the rowid orders rows by (session key, seq), the order
in which the newest matches are picked on both engines."""
ROW = (
    "key, id, owner, state, created_at, last_activity, state_changed_at, thoughts, branches, status, "
    "last_seq, missing, kept_in, top_number, trashed_by"
)
CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION` in one transaction (another process may be doing it too)."""
    register_words(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # (another process may have done it)
        upgrade(SQLiteSchema(), conn, version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def register_words(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the SQL function :data:`INDEX_TEXT` makes the indexed words with (every
    connection that writes needs it; :func:`migrate` and the store's connection set-up call this)."""
    conn.create_function("jupyter_think_words", 1, index_text, deterministic=True)


class SQLiteSchema:
    """The SQL of :func:`~jupyter_think.store.migrations.upgrade` in SQLite (its :class:`~.migrations.SchemaSQL`)."""

    def apply(self, conn: sqlite3.Connection, version: int) -> None:
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                _execute_once(conn, statement)

    def set_version(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute(f"PRAGMA user_version = {int(version)}")

    def fill_top_numbers(self, conn: sqlite3.Connection) -> None:
        conn.execute(TOP_NUMBERS)

    def session_ids(self, conn: sqlite3.Connection) -> dict[int, str]:
        return dict(conn.execute("SELECT key, id FROM sessions").fetchall())

    def stored_texts(self, conn: sqlite3.Connection, batch: int) -> Iterator[list[Any]]:
        checked = ", checksum" if "checksum" in columns(conn, "changes") else ""
        rows = conn.execute(  # (bytes: one payload that is not UTF-8 must not stop the migration)
            f"SELECT session_key, seq, CAST(payload AS BLOB){checked} FROM changes "
            "WHERE kind IN ('thought', 'amend') ORDER BY session_key, seq"
        )
        while chunk := rows.fetchmany(batch):
            yield chunk

    def index(self, conn: sqlite3.Connection, texts: Sequence[tuple[int, int, int, str]]) -> None:
        conn.executemany(INDEX_TEXT, [(text, key, seq, number) for key, seq, number, text in texts])


def _execute_once(conn: sqlite3.Connection, statement: str) -> None:
    """Run a migration statement; a column it adds that is there already is fine (a database whose
    version was set back by hand, or a migration another process finished)."""
    try:
        conn.execute(statement)
    except sqlite3.OperationalError as exc:
        if "duplicate column name" not in str(exc):
            raise


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """The column names of ``table`` (empty when there is no such table)."""
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with suppress(sqlite3.Error):  # SQLite rolled back already (a full disk, an I/O error)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


T = TypeVar("T")


def retry_busy(step: Callable[[], T], timeout: float) -> T:
    """``step()``, again while SQLite answers ``SQLITE_BUSY`` at once, for up to ``timeout`` seconds.

    SQLite's busy timeout does not cover every lock: two connections setting up a new database at
    once (one switching it to WAL while the other reads its schema) get ``database is locked``
    without any wait, since waiting could deadlock. One of them gets on; the other tries again.
    ``step`` must leave nothing half done when it raises (a migration rolls back).
    """
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if errorname(exc) not in ("SQLITE_BUSY", "SQLITE_LOCKED") or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def errorname(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", None)  # Python 3.11+
    if name:
        return name
    text = str(exc).lower()
    for needle, guess in (
        ("not a database", "SQLITE_NOTADB"),
        ("malformed", "SQLITE_CORRUPT"),
        ("readonly", "SQLITE_READONLY"),
        ("unable to open", "SQLITE_CANTOPEN"),
        ("locked", "SQLITE_BUSY"),
        ("full", "SQLITE_FULL"),
    ):
        if needle in text:
            return guess
    return "SQLITE_ERROR"


_ERRNO = {
    "SQLITE_FULL": errno.ENOSPC,
    "SQLITE_READONLY": errno.EROFS,
    "SQLITE_BUSY": errno.EBUSY,
    "SQLITE_LOCKED": errno.EBUSY,
    "SQLITE_CANTOPEN": errno.EACCES,
    "SQLITE_PERM": errno.EPERM,
    "SQLITE_AUTH": errno.EACCES,
    "SQLITE_NOTADB": errno.EIO,
    "SQLITE_CORRUPT": errno.EIO,
    # the change's content: a constraint or a trigger refuses it, a value too big (retrying cannot help)
    "SQLITE_CONSTRAINT": errno.EINVAL,
    "SQLITE_TOOBIG": errno.EINVAL,
    "SQLITE_MISMATCH": errno.EINVAL,
}


def reason(exc: sqlite3.Error) -> str:
    return str(exc) or errorname(exc)


def store_error(exc: sqlite3.Error, location: str) -> StoreError:
    """A sqlite3 error as a :class:`StoreError` whose errno a caller can act on (``EINVAL``: the
    store refuses what a change holds, and will refuse it again)."""
    name = errorname(exc)
    code = next((value for prefix, value in _ERRNO.items() if name.startswith(prefix)), errno.EIO)
    if isinstance(exc, sqlite3.DataError):
        code = errno.EINVAL
    return refused(code, reason(exc), location)


def refused(code: int, cause: str, location: str) -> StoreError:
    """A :class:`StoreError` with ``code`` and ``cause`` in words (a content refusal says so)."""
    if code == errno.EINVAL:
        cause = f"the store refuses what the change holds: {cause}"
    elif code != errno.EIO:
        cause = f"{os.strerror(code)}: {cause}"
    return StoreError(code, f"{cause} ({location})")
