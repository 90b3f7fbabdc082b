"""The SQLite store (standard library ``sqlite3``): one database ``sessions.db`` in the store directory.

WAL mode, ``synchronous=FULL`` (a committed change survives a power cut), a busy timeout for
writers that meet another process's transaction. The directory is created 0700 and the database
0600 (SQLite gives its ``-wal`` and ``-shm`` files the database's mode). A directory that is a
symlink is resolved once, when the store is opened.

Nothing is created before the first write: reading a store that does not exist gives no sessions.
A database on a read-only file system (or in a directory that refuses new files) is opened
read-only — through ``immutable=1`` when SQLite cannot create its WAL index — so every session
loads and every write raises ``StoreError(EROFS)``; each write first tries to reopen read-write, so
the store catches up when the file system comes back. Other processes' commits are seen by
polling ``PRAGMA data_version``.

Each change is stored with its checksum (:mod:`.payloads`) and read back as bytes, so a damaged
payload is skipped with a warning and the rest loads. A file that SQLite reports as corrupt or not a
database is repaired in place under SQLite's own write lock (:mod:`.sqlite_salvage`): a copy is kept
in ``.quarantine/`` (never deleted), everything that can be read is carried over, a warning names
the copy, and the call that met the damage runs again on the repaired file. A session that lost
changes says so each time it is loaded. A writer checks, once it holds the write lock, that the
file is still the one it opened (a file replaced by other means is reopened, the write redone).

Example:
    >>> import tempfile
    >>> from jupyter_think.core.models import Thought, ThoughtAdded
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
import tempfile
import threading
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace
from contextlib import contextmanager
from functools import partial, wraps
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from jupyter_think.core.models import Change
from jupyter_think.store.base import (
    LOAD_BATCH,
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
    default_owner,
    encode,
    searchable,
    warn_damaged,
)
from jupyter_think.store.codec import checksum, decode_batches, decode_rows
from jupyter_think.store.rows import RowPlan
from jupyter_think.store.search import check_limit, query_terms, snippet
from jupyter_think.store.sqlite.schema import (
    CORRUPT,
    DATABASE,
    INDEX_TEXT,
    ROW,
    WORDS_INDEXED,
    errorname,
    migrate,
    reason,
    refused,
    register_words,
    retry_busy,
    store_error,
    transaction,
)
from jupyter_think.store.sqlite.repair import repair

BUSY_TIMEOUT = 5.0
"""Seconds a writer waits for another process's transaction before the write is refused (EBUSY)."""

_abandoned: list[sqlite3.Connection] = []
"""Connections inherited across fork(): never used or closed in the child (SQLite's rule)."""

F = TypeVar("F", bound=Callable[..., Any])


class _TryAgain(StoreError):
    """The database was repaired (or found replaced) under a call: the call runs once more."""


def _once_more(method: F) -> F:
    """Run ``method`` again when the file was repaired or replaced under it (once: a second
    :class:`_TryAgain` reaches the caller as the ``StoreError`` it is)."""

    @wraps(method)
    def run(self: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _TryAgain:
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


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
        self._identity: tuple[int, int] | None = None  # the file the connection opened
        self._schema_version = SCHEMA_VERSION  # of the open database (older only when read-only)
        self._copy: tempfile.TemporaryDirectory[str] | None = (
            None  # a read-only store's WAL, read from a copy
        )
        self._data_version: int | None = None

    # --- connection ------------------------------------------------------------------------------

    @property
    def read_only(self) -> str | None:
        with self._lock:
            if self._conn is None and self._read_only is None:
                self._connect(create=False)
            return self._read_only

    def after_fork_in_child(self) -> None:
        if self._conn is not None:
            _abandoned.append(self._conn)  # never used or closed here (closing would end the parent's)
        self._lock = threading.RLock()
        self._conn = None
        self._pid = os.getpid()
        self._immutable = False
        self._data_version = None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._immutable = False
            self._data_version = None
            self._drop_copy()

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
            if self._conn is not None and not self._immutable and self._file_identity() != self._identity:
                self.close()  # the file was moved aside (another process quarantined it): not ours any more
            if self._conn is None:
                self._connect(create=write)
            if write and self._read_only is not None:
                raise StoreError(errno.EROFS, f"the store {self.location} is read-only: {self._read_only}")
            try:
                yield self._conn
            except sqlite3.DatabaseError as exc:
                if errorname(exc) in CORRUPT and not self._immutable:  # (immutable: changed under it)
                    self._repair(exc)
                    said = f"{reason(exc)} ({self.location}); the file was checked and repaired: try again"
                    raise _TryAgain(errno.EIO, said) from exc
                raise store_error(exc, self.location) from exc

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The connection in a write transaction (``BEGIN IMMEDIATE``) on the file at the store's path.

        Checked once the write lock is held: a file moved or replaced while this writer waited for
        the lock is not written to (its changes would leave the live store); the call runs again
        on the file now there (:func:`_once_more`)."""
        with self._connection(write=True) as conn:
            assert conn is not None
            with transaction(conn):
                moved = self._file_identity() != self._identity
                if not moved:
                    yield conn
            if moved:
                self.close()
                raise _TryAgain(errno.EIO, f"{self.path} was replaced by another file meanwhile: try again")

    def _connect(self, *, create: bool) -> None:
        if not create and not self.path.exists():
            return
        if create:
            self._make_files()
        try:
            conn = self._open("rw")
        except sqlite3.DatabaseError as exc:
            if errorname(exc) in CORRUPT:
                self._repair(exc)
                conn = self._open("rw")
            elif errorname(exc) in ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH"):
                conn = self._open_read_only(exc)
            else:
                raise store_error(exc, self.location) from exc
        self._conn = conn
        self._identity = self._file_identity()

    def _file_identity(self) -> tuple[int, int] | None:
        """(device, inode) of the database file now (``None``: it is gone)."""
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return found.st_dev, found.st_ino

    def _open(self, mode: str, path: Path | None = None) -> sqlite3.Connection:
        uri = f"file:{quote(str(path or self.path))}?mode={mode}"
        conn = sqlite3.connect(
            uri, uri=True, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            # (an older schema read-only: no search index yet)
            self._schema_version = retry_busy(partial(self._set_up, conn, mode), self.busy_timeout)
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_up(self, conn: sqlite3.Connection, mode: str) -> int:
        """WAL, synchronous commits and foreign keys on a new connection; the schema checked and, in
        ``rw`` mode, migrated. Returns the schema version (in one go: it may be run again when busy)."""
        if mode == "rw":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        register_words(conn)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the schema: NOTADB, CORRUPT
        if version > SCHEMA_VERSION:
            raise StoreError(
                errno.EPROTO,
                f"{self.path} was written by a newer jupyter-think (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade jupyter-think",
            )
        if version < SCHEMA_VERSION:
            if mode != "rw" and version < 1:
                raise sqlite3.OperationalError("attempt to write a readonly database")
            if mode == "rw":
                migrate(conn)
                version = SCHEMA_VERSION
        return version

    def _open_read_only(self, cause: sqlite3.DatabaseError) -> sqlite3.Connection:
        """Open a database the file system will not let us write; remember why.

        ``mode=ro`` first; when SQLite cannot even create its WAL index there, ``immutable=1`` —
        unless a ``-wal`` file holds changes (immutable would not read them): then a private copy of
        the database and its WAL is read, so every committed thought loads. Both are snapshots, blind
        to other writers; they are reopened on every call.
        """
        last: sqlite3.DatabaseError = cause
        wal = Path(str(self.path) + "-wal")
        modes = ["ro", "copy" if wal.exists() and wal.stat().st_size > 0 else "ro&immutable=1"]
        for mode in modes:
            try:
                conn = self._open_copy() if mode == "copy" else self._open(mode)
            except (sqlite3.DatabaseError, OSError) as exc:
                last = exc if isinstance(exc, sqlite3.DatabaseError) else last
                continue
            self._read_only = reason(cause)
            self._immutable = mode != "ro"
            return conn
        raise store_error(last, self.location) from last

    def _open_copy(self) -> sqlite3.Connection:
        """A read-write connection to a private copy of the database and its WAL (for reading only)."""
        self._drop_copy()
        self._copy = tempfile.TemporaryDirectory(prefix="jupyter-think-read-only-")
        copy = Path(self._copy.name) / DATABASE
        for suffix in ("", "-wal"):
            shutil.copyfile(str(self.path) + suffix, str(copy) + suffix)
        return self._open("rw", copy)

    def _drop_copy(self) -> None:
        if self._copy is not None:
            self._copy.cleanup()
            self._copy = None

    def _make_files(self) -> None:
        """The directory (0700) and an empty database file (0600), unless they exist."""
        try:
            if not self.directory.is_dir():
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(self.directory, 0o700)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StoreError(
                exc.errno or errno.EIO, f"cannot create the store {self.location}: {exc.strerror}"
            ) from exc

    def _repair(self, cause: sqlite3.DatabaseError) -> None:
        """Repair the damaged database in place, keeping a copy (:mod:`.sqlite_salvage`), and say so."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._data_version = None
        try:
            repaired = repair(self.path, self.busy_timeout)
        except (OSError, sqlite3.Error) as exc:
            failure = store_error(exc, self.location) if isinstance(exc, sqlite3.Error) else exc
            raise StoreError(
                failure.errno or errno.EIO,
                f"{self.path} is damaged ({reason(cause)}) and could not be repaired: {failure}; stop every "
                "program using the store and move the file aside by hand (with its -wal and -shm)",
            ) from cause
        if repaired is not None:
            warnings.warn(
                f"jupyter-think: {self.path} is damaged ({reason(cause)}); a copy of it is kept in "
                f"{repaired.kept} (nothing deleted) and the store was repaired in place with what could be "
                f"read: {repaired.summary()}",
                StoreWarning,
                stacklevel=6,
            )

    # --- writing ------------------------------------------------------------------------------------

    @_once_more
    def append(self, writes: Sequence[SessionWrite]) -> list[Written]:
        writes = [replace(write, session_id=self.canonical(write.session_id)) for write in writes]
        try:
            with self._writing() as conn:
                return [self._append_one(conn, write) for write in writes]
        except (
            OverflowError,
            ValueError,
        ) as exc:  # a value sqlite3 cannot bind (past 64 bits, a lone surrogate)
            raise refused(errno.EINVAL, f"{type(exc).__name__}: {exc}", self.location) from exc

    # (the plan of an append is RowPlan's; these are its primitives in SQLite's SQL)

    def _live_key(self, conn: sqlite3.Connection, session_id: str) -> int | None:
        return _one(conn, "SELECT key FROM sessions WHERE id = ? AND state = 'live'", (session_id,))

    def _row_state(self, conn: sqlite3.Connection, key: int) -> str | None:
        return _one(conn, "SELECT state FROM sessions WHERE key = ?", (key,))

    def _set_state(self, conn: sqlite3.Connection, key: int, state: str) -> None:
        conn.execute(
            "UPDATE sessions SET state = ?, state_changed_at = ? WHERE key = ?", (state, _now(), key)
        )

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

    def _insert(
        self, conn: sqlite3.Connection, key: int, run: Sequence[Change], status: str | None = None
    ) -> tuple[int, int]:
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
            payload = encode(change)
            rows.append((key, last_seq + offset, change.kind, payload, at, checksum(payload)))
            found = searchable(change)
            if found is not None:
                texts.append((found[1], key, last_seq + offset, found[0]))
        conn.executemany(
            "INSERT INTO changes (session_key, seq, kind, payload, created_at, checksum) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(INDEX_TEXT, texts)
        counts = RowCounts.of(run)
        new_branches = 0
        for branch_id in counts.branch_ids:
            new_branches += conn.execute(
                "INSERT OR IGNORE INTO branches (session_key, branch_id) VALUES (?, ?)", (key, branch_id)
            ).rowcount
        conn.execute(
            "UPDATE sessions SET last_seq = ?, last_activity = ?, thoughts = thoughts + ?, "
            "branches = branches + ?, status = coalesce(?, status), top_number = max(top_number, ?) "
            "WHERE key = ?",
            (
                last_seq + len(run),
                latest,
                counts.thoughts,
                new_branches,
                status or counts.status,
                counts.top_number,
                key,
            ),
        )
        return last_seq + 1, last_seq + len(run)

    # --- reading ------------------------------------------------------------------------------------

    @_once_more
    def load(self, session_id: str, *, state: State = "live", key: int | None = None) -> LoadedChanges | None:
        session_id = self.canonical(session_id)
        with self._connection(write=False) as conn:
            if conn is None:
                return None
            conn.execute("BEGIN")  # one snapshot for the row and its changes
            try:
                if key is not None:
                    found = conn.execute(f"SELECT {ROW} FROM sessions WHERE key = ?", (key,)).fetchone()
                else:
                    found = conn.execute(
                        f"SELECT {ROW} FROM sessions WHERE id = ? AND state = ? "
                        "ORDER BY state_changed_at DESC, key DESC LIMIT 1",
                        (session_id, state),
                    ).fetchone()
                if found is None:
                    return None
                row = _stored(found)
                cursor = conn.execute(  # (bytes: one payload that is not UTF-8 cannot fail the fetch)
                    "SELECT seq, CAST(payload AS BLOB), checksum FROM changes WHERE session_key = ? "
                    "ORDER BY seq",
                    (row.key,),
                )
                entries, skipped = decode_batches(row.id, iter(partial(cursor.fetchmany, LOAD_BATCH), []))
            finally:
                conn.execute("COMMIT")
        if row.damaged:
            warn_damaged(row)
        return LoadedChanges(row, entries, skipped)

    @_once_more
    def changes_since(self, key: int, seq: int) -> list[tuple[int, Change]]:
        with self._connection(write=False) as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT seq, CAST(payload AS BLOB), checksum FROM changes WHERE session_key = ? AND seq > ? "
                "ORDER BY seq",
                (key, seq),
            ).fetchall()
            session_id = _one(conn, "SELECT id FROM sessions WHERE key = ?", (key,)) or str(key)
        return decode_rows(session_id, rows)[0]

    @_once_more
    def heads(self, session_ids: Collection[str]) -> dict[str, Head]:
        if not session_ids:
            return {}
        with self._connection(write=False) as conn:
            if conn is None:
                return {}
            named = {self.canonical(session_id): session_id for session_id in session_ids}
            marks = ",".join("?" * len(named))
            rows = conn.execute(
                f"SELECT id, key, last_seq FROM sessions WHERE state = 'live' AND id IN ({marks})",
                tuple(named),
            ).fetchall()
        return {named[session_id]: Head(key, last_seq) for session_id, key, last_seq in rows}

    @_once_more
    def row(self, key: int) -> StoredSession | None:
        with self._connection(write=False) as conn:
            if conn is None:
                return None
            found = conn.execute(f"SELECT {ROW} FROM sessions WHERE key = ?", (key,)).fetchone()
        return None if found is None else _stored(found)

    @_once_more
    def sessions(self, states: Collection[State] = ("live",)) -> list[StoredSession]:
        with self._connection(write=False) as conn:
            if conn is None:
                return []
            marks = ",".join("?" * len(states))
            rows = conn.execute(
                f"SELECT {ROW} FROM sessions WHERE state IN ({marks}) ORDER BY id, state_changed_at DESC, key DESC",
                tuple(states),
            ).fetchall()
        return [_stored(row) for row in rows]

    @_once_more
    def changed(self) -> bool:
        with self._connection(write=False) as conn:
            if conn is None:
                return False
            version = conn.execute("PRAGMA data_version").fetchone()[0]
        changed = version != self._data_version
        self._data_version = version
        return changed

    @_once_more
    def search(
        self, words: str, session_ids: Collection[str] | None = None, limit: int = 50
    ) -> list[SearchHit]:
        terms = query_terms(words)
        limit = check_limit(limit)
        if not terms or (session_ids is not None and not session_ids):
            return []
        if self._schema_version < WORDS_INDEXED and self._conn is not None:
            raise StoreError(
                errno.EROFS,
                f"the store {self.location} is read-only and was written by an older jupyter-think: it has no "
                "search index yet for this version (it is built the first time the store takes writes)",
            )
        query = " ".join(f'"{term}"' for term in terms)  # each a word of letters, digits and _: no FTS syntax
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
                "SELECT s.id, thought_text.thought_number, thought_text.seq, thought_text.body, "
                # the number of query words in this thought (FTS5 marks each with one character): a
                # rank of the thought alone, where bm25() would weigh every word by the whole store
                "length(highlight(thought_text, 0, char(1), '')) - length(thought_text.words) AS score "
                "FROM thought_text JOIN sessions AS s ON s.key = thought_text.session_key "
                f"WHERE thought_text MATCH ? AND s.state = 'live'{where} "
                # rank only the newest SEARCH_WINDOW matches (a rowid range FTS5 serves from its index;
                # rowids follow (session key, seq) as PostgreSQL's window does)
                "AND thought_text.rowid >= coalesce((SELECT rowid FROM thought_text WHERE thought_text MATCH ?"
                f"{window} ORDER BY rowid DESC LIMIT 1 OFFSET {SEARCH_WINDOW - 1}), 0) "
                "ORDER BY score DESC, s.id, thought_text.seq LIMIT ?",
                [query, *ids, query, *ids, limit],
            ).fetchall()
        return [
            SearchHit(session_id, int(number), int(seq), snippet(body, terms), float(score))
            for session_id, number, seq, body, score in rows
        ]

    # --- trash, archive, retention ------------------------------------------------------------------

    @_once_more
    def trash(self, session_id: str) -> StoredSession:
        session_id = self.canonical(session_id)
        with self._writing() as conn:
            key = _one(conn, "SELECT key FROM sessions WHERE id = ? AND state = 'live'", (session_id,))
            if key is None:
                raise SessionNotFound(session_id)
            conn.execute(
                "UPDATE sessions SET state = 'trashed', state_changed_at = ?, trashed_by = ? WHERE key = ?",
                (_now(), default_owner(), key),
            )
            return _stored(conn.execute(f"SELECT {ROW} FROM sessions WHERE key = ?", (key,)).fetchone())

    @_once_more
    def restore(self, session_id: str, state: State = "trashed", *, key: int | None = None) -> StoredSession:
        session_id = self.canonical(session_id)
        chosen = key
        with self._writing() as conn:
            key = _one(
                conn,
                "SELECT key FROM sessions WHERE id = ? AND state = ? AND (? IS NULL OR key = ?) "
                "ORDER BY state_changed_at DESC, key DESC",
                (session_id, state, chosen, chosen),
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
                    "UPDATE sessions SET state = 'archived', state_changed_at = ? WHERE key = ?",
                    (now, live),
                )
            conn.execute("UPDATE sessions SET state = 'live', state_changed_at = ? WHERE key = ?", (now, key))
            return _stored(conn.execute(f"SELECT {ROW} FROM sessions WHERE key = ?", (key,)).fetchone())

    @_once_more
    def purge_trash(self, older_than: timedelta | None = None) -> list[StoredSession]:
        cutoff = age_cutoff(older_than)
        with self._writing() as conn:
            rows = conn.execute(
                f"SELECT {ROW} FROM sessions WHERE state = 'trashed' AND state_changed_at < ? ORDER BY id",
                (float("inf") if cutoff is None else cutoff.timestamp(),),
            ).fetchall()
            for row in rows:
                conn.execute(  # (its rowids: key * 2**32 + seq, see INDEX_TEXT)
                    "DELETE FROM thought_text WHERE rowid BETWEEN ?1 * 4294967296 AND ?1 * 4294967296 + 4294967295",
                    (row[0],),
                )
                conn.execute("DELETE FROM sessions WHERE key = ?", (row[0],))
        return [_stored(row) for row in rows]

    @_once_more
    def trash_idle(self, older_than: timedelta, keep: Collection[str] = ()) -> list[StoredSession]:
        cutoff = age_cutoff(older_than)
        assert cutoff is not None
        with self._writing() as conn:
            rows = [
                row
                for row in conn.execute(
                    f"SELECT {ROW} FROM sessions WHERE state = 'live' AND last_activity < ? ORDER BY id",
                    (cutoff.timestamp(),),
                ).fetchall()
                if row[1] not in keep
            ]
            now = _now()
            for row in rows:
                conn.execute(
                    "UPDATE sessions SET state = 'trashed', state_changed_at = ?, trashed_by = 'retention' "
                    "WHERE key = ?",
                    (now, row[0]),
                )
        return [_stored(row) for row in rows]


# --- helpers ---------------------------------------------------------------------------------------------


def _one(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> Any:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def _now() -> float:
    return datetime.now(timezone.utc).timestamp()


def _time(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=timezone.utc)


def _stored(row: tuple[Any, ...]) -> StoredSession:
    (key, session_id, owner, state, created, activity, changed, thoughts, branches, status, last_seq,
     missing, kept_in, top_number, trashed_by) = row  # fmt: skip
    return StoredSession(
        key,
        session_id,
        owner,
        state,
        _time(created),
        _time(activity),
        _time(changed),
        thoughts,
        branches,
        status,
        last_seq,
        missing,
        tuple(line for line in kept_in.split("\n") if line),
        top_number,
        trashed_by,
    )
