"""The SQLite store's database file: its schema and migrations, what its errors mean, and a damaged
file moved aside with every session still whole copied out of it.

:func:`migrate` brings a database to :data:`~jupyter_think.store.base.SCHEMA_VERSION` (``PRAGMA
user_version``). :func:`store_error` turns a ``sqlite3`` error into a
:class:`~jupyter_think.store.base.StoreError` whose errno says what happened. :func:`quarantine`
moves a file SQLite calls corrupt or not a database to ``.quarantine/`` (never deleted), reads a
copy of it — its header fitted to a truncated length — and copies each session whose every change
still reads back into a fresh database, under the same row keys.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import struct
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from .base import SCHEMA_VERSION, StoreError, StoreWarning, searchable_payloads
from .search import index_text

DATABASE = "sessions.db"
QUARANTINE = ".quarantine"

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
    3: "",
    4: """
    DROP TABLE IF EXISTS thought_text;
    CREATE VIRTUAL TABLE thought_text USING fts5(
        words, body UNINDEXED, session_key UNINDEXED, seq UNINDEXED, thought_number UNINDEXED,
        tokenize = "ascii tokenchars '_'"
    );
    """,
    5: "",  # (PostgreSQL's sessions named per owner, shares, row-level security: a personal store has one user)
}
"""Schema version -> the SQL that brings the previous version to it (``PRAGMA user_version``)."""

INDEX_TEXT = (
    "INSERT INTO thought_text (rowid, words, body, session_key, seq, thought_number) "
    "VALUES (?2 * 4294967296 + ?3, jupyter_think_words(?1), ?1, ?2, ?3, ?4)"
)
"""Index one text: parameters (text, session key, seq, thought number). The words are made in Python
(:func:`register_words` on the connection); the rowid orders rows by (session key, seq), the order
in which the newest matches are picked on both engines."""
WORDS_INDEXED = 4
"""The schema version whose migration rebuilds the search index from the stored payloads."""
ROW = (
    "key, id, owner, state, created_at, last_activity, state_changed_at, thoughts, branches, status, last_seq"
)
CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION` in one transaction (another process may be doing it too)."""
    register_words(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # (another process may have done it)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target].split(";"):
                if statement.strip():
                    conn.execute(statement)
            if target == WORDS_INDEXED and version >= 1:  # index the text of the changes stored before
                reindex(conn)
            conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def register_words(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the SQL function :data:`INDEX_TEXT` makes the indexed words with (every
    connection that writes needs it; :func:`migrate` and the store's connection set-up call this)."""
    conn.create_function("jupyter_think_words", 1, index_text, deterministic=True)


def reindex(conn: sqlite3.Connection, batch: int = 2000) -> None:
    """Fill the (empty) search index from the stored thoughts and amendments, ``batch`` rows at a time."""
    rows = conn.execute(
        "SELECT session_key, seq, payload FROM changes WHERE kind IN ('thought', 'amend') ORDER BY session_key, seq"
    )
    while chunk := rows.fetchmany(batch):
        conn.executemany(INDEX_TEXT, [(text, key, seq, number) for key, seq, number, text in searchable_payloads(chunk)])


def quarantine(
    path: Path, cause: sqlite3.DatabaseError, open_fresh: Callable[[], sqlite3.Connection]
) -> None:
    """Move a database SQLite calls corrupt (and its -wal, -shm) to ``.quarantine/`` beside it, copy
    every session still whole into a fresh database (``open_fresh()``), and warn naming the file."""
    folder = path.parent / QUARANTINE
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        n = 1
        while (folder / f"sessions-{stamp}-{n}.db").exists():
            n += 1
        target = folder / f"sessions-{stamp}-{n}.db"
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(path) + suffix)
            if source.exists():
                os.replace(source, Path(str(target) + suffix))
    except OSError as exc:
        raise StoreError(
            exc.errno or errno.EIO, f"{path} is damaged ({reason(cause)}) and cannot be moved aside: {exc}"
        ) from cause
    salvaged = _salvage(target, open_fresh)
    warnings.warn(
        f"jupyter-think: {path} is damaged ({reason(cause)}); it was moved to {target} "
        f"(nothing deleted) and a fresh database is started{salvaged}",
        StoreWarning,
        stacklevel=5,
    )


def _salvage(damaged: Path, open_fresh: Callable[[], sqlite3.Connection]) -> str:
    """Copy every session that can still be read from the quarantined ``damaged`` file into a fresh
    database; return what to add to the warning ("" when nothing could be read at all)."""
    with tempfile.TemporaryDirectory(prefix="jupyter-think-salvage-") as scratch:
        copy = Path(scratch) / DATABASE  # read a copy: the quarantined files stay exactly as they were
        try:
            for suffix in ("", "-wal"):
                if Path(str(damaged) + suffix).exists():
                    shutil.copyfile(str(damaged) + suffix, str(copy) + suffix)
            _fit_page_count(copy)
            source = sqlite3.connect(copy, isolation_level=None)
        except (OSError, sqlite3.Error):
            return ""
        try:
            return _copy_readable(source, open_fresh)
        finally:
            source.close()


def _copy_readable(source: sqlite3.Connection, open_fresh: Callable[[], sqlite3.Connection]) -> str:
    """Copy the sessions of ``source`` whose every change reads back into a fresh database."""
    try:
        rows = source.execute(f"SELECT {ROW} FROM sessions ORDER BY key").fetchall()
    except sqlite3.Error:
        return "; no session in it could be read"
    readable: list[tuple[tuple[Any, ...], list[tuple[Any, ...]], list[str]]] = []
    for row in rows:
        try:
            changes = source.execute(
                "SELECT seq, kind, payload, created_at FROM changes WHERE session_key = ? ORDER BY seq",
                (row[0],),
            ).fetchall()
            branch_ids = [
                b
                for (b,) in source.execute("SELECT branch_id FROM branches WHERE session_key = ?", (row[0],))
            ]
        except sqlite3.Error:
            continue
        if len(changes) == row[-1] and (not changes or changes[-1][0] == row[-1]):  # every change there
            readable.append((row, changes, branch_ids))
    if not readable:
        return f"; none of its {len(rows)} session(s) could be read whole"
    conn = open_fresh()
    try:
        with transaction(conn):
            for row, changes, branch_ids in readable:
                key = row[0]  # the same row keys: a process that follows a session still finds it
                (
                    _,
                    session_id,
                    owner,
                    state,
                    created,
                    activity,
                    changed,
                    thoughts,
                    branches,
                    status,
                    last_seq,
                ) = row
                conn.execute(
                    "INSERT INTO sessions (key, id, owner, state, created_at, last_activity, state_changed_at, "
                    "last_seq, thoughts, branches, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        session_id,
                        owner,
                        state,
                        created,
                        activity,
                        changed,
                        last_seq,
                        thoughts,
                        branches,
                        status,
                    ),
                )
                conn.executemany(
                    "INSERT INTO changes (session_key, seq, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                    [(key, *change) for change in changes],
                )
                conn.executemany(
                    "INSERT INTO branches (session_key, branch_id) VALUES (?, ?)",
                    [(key, b) for b in branch_ids],
                )
                indexed = searchable_payloads((key, seq, payload) for seq, _kind, payload, _at in changes)
                conn.executemany(INDEX_TEXT, [(text, k, seq, number) for k, seq, number, text in indexed])
    finally:
        conn.close()
    lost = len(rows) - len(readable)
    return f"; {len(readable)} intact session(s) were copied into it" + (
        f", {lost} could not be read whole (they are in the moved file)" if lost else ""
    )


def _fit_page_count(path: Path) -> None:
    """Make a truncated database's header claim only the pages the file has (else SQLite reads none)."""
    with open(path, "r+b") as file:
        header = file.read(100)
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            return
        page_size = struct.unpack(">H", header[16:18])[0]
        page_size = 65536 if page_size == 1 else page_size
        pages = os.path.getsize(path) // page_size
        if struct.unpack(">I", header[28:32])[0] > pages:
            file.seek(28)
            file.write(struct.pack(">I", pages))


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
