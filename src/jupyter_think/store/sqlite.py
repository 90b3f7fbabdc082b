"""The SQLite store (standard library ``sqlite3``): one database ``sessions.db`` in the store directory.

WAL mode, ``synchronous=FULL`` (a committed change survives a power cut), a busy timeout for
writers that meet another process's transaction. The directory is created 0700 and the database
0600 (SQLite gives its ``-wal`` and ``-shm`` files the database's mode). A directory that is a
symlink is resolved once, when the store is opened.

Nothing is created before the first write: reading a store that does not exist gives no sessions.
A database on a read-only file system (or in a directory that refuses new files) is opened
read-only — through ``immutable=1`` when SQLite cannot create its WAL index — so every session
loads and every write raises ``StoreError(EROFS)``; each write first tries to reopen read-write, so
the store catches up when the file system comes back. A file that SQLite reports as corrupt or not
a database is moved to ``.quarantine/`` (never deleted), with a warning naming it, and a fresh
database is started. Other processes' commits are seen by polling ``PRAGMA data_version``.

Example:
    >>> import tempfile
    >>> from jupyter_think.models import Thought, ThoughtAdded
    >>> store = SQLiteStore(tempfile.mkdtemp())
    >>> thought = Thought(thought="Restate", thought_number=1, total_thoughts=1, next_thought_needed=True)
    >>> store.append([SessionWrite("demo", [ThoughtAdded(thought=thought)])])[0].segments[0].last_seq
    1
    >>> [row.id for row in store.sessions()], len(store.load("demo").changes)
    (['demo'], 1)
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import struct
import tempfile
import threading
import warnings
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..ids import validate_id
from ..models import Change
from .base import (
    SCHEMA_VERSION,
    SEARCH_WINDOW,
    Head,
    LoadedChanges,
    SearchHit,
    RowCounts,
    SessionNotFound,
    SessionWrite,
    State,
    Store,
    StoredSession,
    StoreError,
    StoreWarning,
    Written,
    age_cutoff,
    change_time,
    decode_changes,
    decode_rows,
    default_owner,
    encode,
    search_terms,
    searchable,
    searchable_payloads,
)
from .rows import RowPlan

DATABASE = "sessions.db"
QUARANTINE = ".quarantine"
BUSY_TIMEOUT = 5.0
"""Seconds a writer waits for another process's transaction before the write is refused (EBUSY)."""

_MIGRATIONS: dict[int, str] = {
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
}
"""Schema version -> the SQL that brings the previous version to it (``PRAGMA user_version``)."""

_INDEX_TEXT = "INSERT INTO thought_text (body, session_key, seq, thought_number) VALUES (?, ?, ?, ?)"
_ROW = "key, id, owner, state, created_at, last_activity, state_changed_at, thoughts, branches, status, last_seq"
_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
_abandoned: list[sqlite3.Connection] = []
"""Connections inherited across fork(): never used or closed in the child (SQLite's rule)."""


class SQLiteStore(RowPlan, Store):
    """Sessions in ``<directory>/sessions.db`` (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike[str], *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.directory = Path(directory).expanduser().resolve()  # a symlinked store directory is fine
        self.path = self.directory / DATABASE
        self.location = str(self.directory)
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._read_only: str | None = None
        self._immutable = False  # opened with immutable=1: no locks, blind to other writers
        self._data_version: int | None = None

    # --- connection ------------------------------------------------------------------------------

    @property
    def read_only(self) -> str | None:
        with self._lock:
            if self._conn is None and self._read_only is None:
                self._connect(create=False)
            return self._read_only

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._immutable = False
            self._data_version = None

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        """The connection under the lock (``None``: no database yet and ``write`` is false)."""
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's connection is not ours to use
                if self._conn is not None:
                    _abandoned.append(self._conn)
                self._conn, self._pid, self._data_version = None, os.getpid(), None
            if self._read_only is not None and (write or self._immutable):
                # the file system may take writes again: reopen read-write (an immutable connection
                # also for reads, since it would not see what others write once they can)
                self.close()
                self._read_only = None
            if self._conn is None:
                self._connect(create=write)
            if write and self._read_only is not None:
                raise StoreError(errno.EROFS, f"the store {self.location} is read-only: {self._read_only}")
            try:
                yield self._conn
            except sqlite3.DatabaseError as exc:
                if _errorname(exc) in _CORRUPT and not self._immutable:  # (immutable: changed under it)
                    self._quarantine(exc)
                raise _store_error(exc, self.location) from exc

    def _connect(self, *, create: bool) -> None:
        if not create and not self.path.exists():
            return
        if create:
            self._make_files()
        try:
            conn = self._open("rw")
        except sqlite3.DatabaseError as exc:
            if _errorname(exc) in _CORRUPT:
                self._quarantine(exc)
                if create:
                    self._make_files()
                    conn = self._open("rw")
                else:
                    return
            elif _errorname(exc) in ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH"):
                conn = self._open_read_only(exc)
            else:
                raise _store_error(exc, self.location) from exc
        self._conn = conn

    def _open(self, mode: str) -> sqlite3.Connection:
        uri = f"file:{quote(str(self.path))}?mode={mode}"
        conn = sqlite3.connect(
            uri, uri=True, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            if mode == "rw":
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the schema: NOTADB, CORRUPT
            if version < SCHEMA_VERSION:
                if mode != "rw":
                    raise sqlite3.OperationalError("attempt to write a readonly database")
                self._migrate(conn, version)
            elif version > SCHEMA_VERSION:
                raise StoreError(
                    errno.EPROTO,
                    f"{self.path} was written by a newer jupyter-think (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}); upgrade jupyter-think",
                )
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_read_only(self, cause: sqlite3.DatabaseError) -> sqlite3.Connection:
        """Open a database the file system will not let us write; remember why."""
        last: sqlite3.DatabaseError = cause
        for mode in ("ro", "ro&immutable=1"):
            try:
                conn = self._open(mode)
            except sqlite3.DatabaseError as exc:
                last = exc
                continue
            self._read_only = _reason(cause)
            self._immutable = "immutable" in mode
            return conn
        raise _store_error(last, self.location) from last

    def _make_files(self) -> None:
        """The directory (0700) and an empty database file (0600), unless they exist."""
        try:
            if not self.directory.is_dir():
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(self.directory, 0o700)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StoreError(exc.errno or errno.EIO, f"cannot create the store {self.location}: {exc.strerror}") from exc

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have done it
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                if target == 2 and version >= 1:  # index the text of the thoughts stored before
                    rows = conn.execute("SELECT session_key, seq, payload FROM changes WHERE kind = 'thought'")
                    conn.executemany(_INDEX_TEXT, [(text, key, seq, number) for key, seq, number, text in searchable_payloads(rows)])
                conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _quarantine(self, cause: sqlite3.DatabaseError) -> None:
        """Move a database SQLite calls corrupt (and its -wal, -shm) to ``.quarantine/``; warn."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        folder = self.directory / QUARANTINE
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            n = 1
            while (folder / f"sessions-{stamp}-{n}.db").exists():
                n += 1
            target = folder / f"sessions-{stamp}-{n}.db"
            for suffix in ("", "-wal", "-shm"):
                source = Path(str(self.path) + suffix)
                if source.exists():
                    os.replace(source, Path(str(target) + suffix))
        except OSError as exc:
            raise StoreError(
                exc.errno or errno.EIO, f"{self.path} is damaged ({_reason(cause)}) and cannot be moved aside: {exc}"
            ) from cause
        salvaged = self._salvage(target)
        warnings.warn(
            f"jupyter-think: {self.path} is damaged ({_reason(cause)}); it was moved to {target} "
            f"(nothing deleted) and a fresh database is started{salvaged}",
            StoreWarning,
            stacklevel=5,
        )

    def _salvage(self, damaged: Path) -> str:
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
                return self._copy_readable(source)
            finally:
                source.close()

    def _copy_readable(self, source: sqlite3.Connection) -> str:
        """Copy the sessions of ``source`` whose every change reads back into a fresh database."""
        try:
            rows = source.execute(f"SELECT {_ROW} FROM sessions ORDER BY key").fetchall()
        except sqlite3.Error:
            return "; no session in it could be read"
        readable: list[tuple[tuple[Any, ...], list[tuple[Any, ...]], list[str]]] = []
        for row in rows:
            try:
                changes = source.execute(
                    "SELECT seq, kind, payload, created_at FROM changes WHERE session_key = ? ORDER BY seq",
                    (row[0],),
                ).fetchall()
                branch_ids = [b for (b,) in source.execute("SELECT branch_id FROM branches WHERE session_key = ?", (row[0],))]
            except sqlite3.Error:
                continue
            if len(changes) == row[-1] and (not changes or changes[-1][0] == row[-1]):  # every change there
                readable.append((row, changes, branch_ids))
        if not readable:
            return f"; none of its {len(rows)} session(s) could be read whole"
        self._make_files()
        conn = self._open("rw")
        try:
            with _transaction(conn):
                for row, changes, branch_ids in readable:
                    key = row[0]  # the same row keys: a process that follows a session still finds it
                    _, session_id, owner, state, created, activity, changed, thoughts, branches, status, last_seq = row
                    conn.execute(
                        "INSERT INTO sessions (key, id, owner, state, created_at, last_activity, state_changed_at, "
                        "last_seq, thoughts, branches, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, session_id, owner, state, created, activity, changed, last_seq, thoughts, branches, status),
                    )
                    conn.executemany(
                        "INSERT INTO changes (session_key, seq, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                        [(key, *change) for change in changes],
                    )
                    conn.executemany(
                        "INSERT INTO branches (session_key, branch_id) VALUES (?, ?)", [(key, b) for b in branch_ids]
                    )
                    indexed = searchable_payloads((key, seq, payload) for seq, _kind, payload, _at in changes)
                    conn.executemany(_INDEX_TEXT, [(text, k, seq, number) for k, seq, number, text in indexed])
        finally:
            conn.close()
        lost = len(rows) - len(readable)
        return f"; {len(readable)} intact session(s) were copied into it" + (
            f", {lost} could not be read whole (they are in the moved file)" if lost else ""
        )

    # --- writing ------------------------------------------------------------------------------------

    def append(self, writes: Sequence[SessionWrite]) -> list[Written]:
        for write in writes:
            validate_id(write.session_id)
        with self._connection(write=True) as conn:
            assert conn is not None
            with _transaction(conn):
                return [self._append_one(conn, write) for write in writes]

    # (the plan of an append is RowPlan's; these are its primitives in SQLite's SQL)

    def _live_key(self, conn: sqlite3.Connection, session_id: str) -> int | None:
        return _one(conn, "SELECT key FROM sessions WHERE id = ? AND state = 'live'", (session_id,))

    def _row_state(self, conn: sqlite3.Connection, key: int) -> str | None:
        return _one(conn, "SELECT state FROM sessions WHERE key = ?", (key,))

    def _set_state(self, conn: sqlite3.Connection, key: int, state: str) -> None:
        conn.execute("UPDATE sessions SET state = ?, state_changed_at = ? WHERE key = ?", (state, _now(), key))

    def _create(self, conn: sqlite3.Connection, session_id: str, created_at: datetime) -> int:
        at = created_at.timestamp()
        cursor = conn.execute(
            "INSERT INTO sessions (id, owner, state, created_at, last_activity, state_changed_at) "
            "VALUES (?, ?, 'live', ?, ?, ?)",
            (session_id, default_owner(), at, at, _now()),
        )
        return int(cursor.lastrowid)  # type: ignore[arg-type]

    def _created_at_is(self, conn: sqlite3.Connection, key: int, at: datetime) -> bool:
        return _one(conn, "SELECT created_at FROM sessions WHERE key = ?", (key,)) == at.timestamp()

    def _insert(self, conn: sqlite3.Connection, key: int, run: Sequence[Change], status: str | None = None) -> tuple[int, int]:
        last_seq, last_activity = conn.execute(
            "SELECT last_seq, last_activity FROM sessions WHERE key = ?", (key,)
        ).fetchone()
        if not run:
            return last_seq + 1, last_seq
        rows = []
        texts = []
        latest = last_activity
        for offset, change in enumerate(run, start=1):
            at = change_time(change).timestamp()
            latest = max(latest, at)
            rows.append((key, last_seq + offset, change.kind, encode(change), at))
            found = searchable(change)
            if found is not None:
                texts.append((found[1], key, last_seq + offset, found[0]))
        conn.executemany(
            "INSERT INTO changes (session_key, seq, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)", rows
        )
        conn.executemany(_INDEX_TEXT, texts)
        counts = RowCounts.of(run)
        new_branches = 0
        for branch_id in counts.branch_ids:
            new_branches += conn.execute(
                "INSERT OR IGNORE INTO branches (session_key, branch_id) VALUES (?, ?)", (key, branch_id)
            ).rowcount
        conn.execute(
            "UPDATE sessions SET last_seq = ?, last_activity = ?, thoughts = thoughts + ?, "
            "branches = branches + ?, status = coalesce(?, status) WHERE key = ?",
            (last_seq + len(run), latest, counts.thoughts, new_branches, status or counts.status, key),
        )
        return last_seq + 1, last_seq + len(run)

    # --- reading ------------------------------------------------------------------------------------

    def load(self, session_id: str, *, state: State = "live", key: int | None = None) -> LoadedChanges | None:
        with self._connection(write=False) as conn:
            if conn is None:
                return None
            conn.execute("BEGIN")  # one snapshot for the row and its changes
            try:
                if key is not None:
                    found = conn.execute(f"SELECT {_ROW} FROM sessions WHERE key = ?", (key,)).fetchone()
                else:
                    found = conn.execute(
                        f"SELECT {_ROW} FROM sessions WHERE id = ? AND state = ? "
                        "ORDER BY state_changed_at DESC, key DESC LIMIT 1",
                        (session_id, state),
                    ).fetchone()
                if found is None:
                    return None
                rows = conn.execute(
                    "SELECT seq, payload FROM changes WHERE session_key = ? ORDER BY seq", (found[0],)
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        row = _stored(found)
        changes, skipped = decode_changes(row.id, rows)
        return LoadedChanges(row, changes, skipped)

    def changes_since(self, key: int, seq: int) -> list[tuple[int, Change]]:
        with self._connection(write=False) as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT seq, payload FROM changes WHERE session_key = ? AND seq > ? ORDER BY seq", (key, seq)
            ).fetchall()
            session_id = _one(conn, "SELECT id FROM sessions WHERE key = ?", (key,)) or str(key)
        return decode_rows(session_id, rows)[0]

    def heads(self, session_ids: Collection[str]) -> dict[str, Head]:
        if not session_ids:
            return {}
        with self._connection(write=False) as conn:
            if conn is None:
                return {}
            marks = ",".join("?" * len(session_ids))
            rows = conn.execute(
                f"SELECT id, key, last_seq FROM sessions WHERE state = 'live' AND id IN ({marks})",
                tuple(session_ids),
            ).fetchall()
        return {session_id: Head(key, last_seq) for session_id, key, last_seq in rows}

    def row(self, key: int) -> StoredSession | None:
        with self._connection(write=False) as conn:
            if conn is None:
                return None
            found = conn.execute(f"SELECT {_ROW} FROM sessions WHERE key = ?", (key,)).fetchone()
        return None if found is None else _stored(found)

    def sessions(self, states: Collection[State] = ("live",)) -> list[StoredSession]:
        with self._connection(write=False) as conn:
            if conn is None:
                return []
            marks = ",".join("?" * len(states))
            rows = conn.execute(
                f"SELECT {_ROW} FROM sessions WHERE state IN ({marks}) ORDER BY id, state_changed_at DESC, key DESC",
                tuple(states),
            ).fetchall()
        return [_stored(row) for row in rows]

    def changed(self) -> bool:
        with self._connection(write=False) as conn:
            if conn is None:
                return False
            version = conn.execute("PRAGMA data_version").fetchone()[0]
        changed = version != self._data_version
        self._data_version = version
        return changed

    def search(self, words: str, session_ids: Collection[str] | None = None, limit: int = 50) -> list[SearchHit]:
        terms = search_terms(words)
        if not terms or (session_ids is not None and not session_ids):
            return []
        query = " ".join('"' + term.replace('"', '""') + '"' for term in terms)  # every word, no FTS syntax
        where = window = ""
        ids: list[str] = []
        if session_ids is not None:
            marks = ",".join("?" * len(session_ids))
            where = f" AND s.id IN ({marks})"
            window = f" AND session_key IN (SELECT key FROM sessions WHERE id IN ({marks}))"
            ids = list(session_ids)
        with self._connection(write=False) as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT s.id, thought_text.thought_number, thought_text.seq, "
                "snippet(thought_text, 0, '[', ']', '…', 16), bm25(thought_text) AS score "
                "FROM thought_text JOIN sessions AS s ON s.key = thought_text.session_key "
                f"WHERE thought_text MATCH ? AND s.state = 'live'{where} "
                # rank only the newest SEARCH_WINDOW matches (a rowid range FTS5 serves from its index)
                "AND thought_text.rowid >= coalesce((SELECT rowid FROM thought_text WHERE thought_text MATCH ?"
                f"{window} ORDER BY rowid DESC LIMIT 1 OFFSET {SEARCH_WINDOW - 1}), 0) "
                "ORDER BY score, s.id, thought_text.seq LIMIT ?",
                [query, *ids, query, *ids, limit],
            ).fetchall()
        return [SearchHit(session_id, int(number), int(seq), snippet, -float(score)) for session_id, number, seq, snippet, score in rows]

    # --- trash, archive, retention ------------------------------------------------------------------

    def trash(self, session_id: str) -> StoredSession:
        validate_id(session_id)
        with self._connection(write=True) as conn:
            assert conn is not None
            with _transaction(conn):
                key = _one(conn, "SELECT key FROM sessions WHERE id = ? AND state = 'live'", (session_id,))
                if key is None:
                    raise SessionNotFound(session_id)
                conn.execute(
                    "UPDATE sessions SET state = 'trashed', state_changed_at = ? WHERE key = ?", (_now(), key)
                )
                return _stored(conn.execute(f"SELECT {_ROW} FROM sessions WHERE key = ?", (key,)).fetchone())

    def restore(self, session_id: str, state: State = "trashed") -> StoredSession:
        validate_id(session_id)
        with self._connection(write=True) as conn:
            assert conn is not None
            with _transaction(conn):
                key = _one(
                    conn,
                    "SELECT key FROM sessions WHERE id = ? AND state = ? ORDER BY state_changed_at DESC, key DESC",
                    (session_id, state),
                )
                if key is None:
                    raise SessionNotFound(session_id, state)
                live = _one(conn, "SELECT key FROM sessions WHERE id = ? AND state = 'live'", (session_id,))
                now = _now()
                if live is not None:
                    if state == "trashed":
                        raise StoreError(
                            errno.EEXIST,
                            f"a session {session_id!r} exists; move it to the trash first "
                            f"(jupyter-think rm {session_id}), then restore",
                        )
                    conn.execute(
                        "UPDATE sessions SET state = 'archived', state_changed_at = ? WHERE key = ?", (now, live)
                    )
                conn.execute("UPDATE sessions SET state = 'live', state_changed_at = ? WHERE key = ?", (now, key))
                return _stored(conn.execute(f"SELECT {_ROW} FROM sessions WHERE key = ?", (key,)).fetchone())

    def purge_trash(self, older_than: timedelta | None = None) -> list[StoredSession]:
        cutoff = age_cutoff(older_than)
        with self._connection(write=True) as conn:
            assert conn is not None
            with _transaction(conn):
                rows = conn.execute(
                    f"SELECT {_ROW} FROM sessions WHERE state = 'trashed' AND state_changed_at < ? ORDER BY id",
                    (float("inf") if cutoff is None else cutoff.timestamp(),),
                ).fetchall()
                for row in rows:
                    conn.execute("DELETE FROM thought_text WHERE session_key = ?", (row[0],))
                    conn.execute("DELETE FROM sessions WHERE key = ?", (row[0],))
        return [_stored(row) for row in rows]

    def trash_idle(self, older_than: timedelta, keep: Collection[str] = ()) -> list[StoredSession]:
        cutoff = age_cutoff(older_than)
        assert cutoff is not None
        with self._connection(write=True) as conn:
            assert conn is not None
            with _transaction(conn):
                rows = [
                    row
                    for row in conn.execute(
                        f"SELECT {_ROW} FROM sessions WHERE state = 'live' AND last_activity < ? ORDER BY id",
                        (cutoff.timestamp(),),
                    ).fetchall()
                    if row[1] not in keep
                ]
                now = _now()
                for row in rows:
                    conn.execute(
                        "UPDATE sessions SET state = 'trashed', state_changed_at = ? WHERE key = ?", (now, row[0])
                    )
        return [_stored(row) for row in rows]


# --- helpers ---------------------------------------------------------------------------------------------


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
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite rolled back already (a full disk, an I/O error)
        raise
    conn.execute("COMMIT")


def _one(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> Any:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def _now() -> float:
    return datetime.now(timezone.utc).timestamp()


def _time(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=timezone.utc)


def _stored(row: tuple[Any, ...]) -> StoredSession:
    key, session_id, owner, state, created, activity, changed, thoughts, branches, status, last_seq = row
    return StoredSession(
        key, session_id, owner, state, _time(created), _time(activity), _time(changed), thoughts, branches, status, last_seq
    )


def _errorname(exc: sqlite3.Error) -> str:
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
}


def _reason(exc: sqlite3.Error) -> str:
    return str(exc) or _errorname(exc)


def _store_error(exc: sqlite3.Error, location: str) -> StoreError:
    """A sqlite3 error as a :class:`StoreError` whose errno a caller can act on."""
    name = _errorname(exc)
    code = next((value for prefix, value in _ERRNO.items() if name.startswith(prefix)), errno.EIO)
    cause = _reason(exc)
    if code != errno.EIO:
        cause = f"{os.strerror(code)}: {cause}"
    return StoreError(code, f"{cause} ({location})")
