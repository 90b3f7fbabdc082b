"""The SQLite store's database file: one connection under a lock, opened read-write, read-only or repaired.

WAL mode, ``synchronous=FULL`` (a committed change survives a power cut), a busy timeout for writers
that meet another process's transaction. The directory is created 0700 and the database 0600
(SQLite gives its ``-wal`` and ``-shm`` files the database's mode); nothing is created before the
first write. A database on a read-only file system (or in a directory that refuses new files) is
opened read-only — through ``immutable=1`` when SQLite cannot create its WAL index, or from a private
copy when its WAL holds changes — and every write first tries to reopen it read-write, so the store
catches up when the file system comes back.

A file that SQLite reports as corrupt or not a database is repaired in place under SQLite's own
write lock (:mod:`.repair`): a copy is kept in ``.quarantine/`` (never deleted), everything that can
be read is carried over, a warning names the copy, and the call that met the damage runs again
(:func:`once_more`). A writer checks, once it holds the write lock, that the file is still the one
it opened (a file replaced by other means is reopened, the write redone).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial, wraps
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from jupyter_think.store.base import SCHEMA_VERSION, StoreError, StoreWarning
from jupyter_think.store.sqlite.repair import repair
from jupyter_think.store.sqlite.schema import (
    CORRUPT,
    DATABASE,
    errorname,
    migrate,
    reason,
    register_words,
    retry_busy,
    store_error,
    transaction,
)

BUSY_TIMEOUT = 5.0
"""Seconds a writer waits for another process's transaction before the write is refused (EBUSY)."""

_abandoned: list[sqlite3.Connection] = []
"""Connections inherited across fork(): never used or closed in the child (SQLite's rule)."""

F = TypeVar("F", bound=Callable[..., Any])


class TryAgain(StoreError):
    """The database was repaired (or found replaced) under a call: the call runs once more."""


def once_more(method: F) -> F:
    """Run ``method`` again when the file was repaired or replaced under it (once: a second
    :class:`TryAgain` reaches the caller as the ``StoreError`` it is)."""

    @wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except TryAgain:
            return method(*args, **kwargs)

    return run  # type: ignore[return-value]  # (the wrapper takes and returns what the method does)


class DatabaseFile:
    """``<directory>/sessions.db`` and the one connection to it (see the module docstring). Thread-safe:
    every call holds the lock for its whole use of the connection."""

    def __init__(self, directory: Path, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.directory = directory
        self.path = directory / DATABASE
        self.location = str(directory)
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._read_only: str | None = None
        self._immutable = False  # opened with immutable=1: no locks, blind to other writers
        self._reopened = False  # a write refused as read-only already took a new connection once
        self._identity: tuple[int, int] | None = None  # the file the connection opened
        self.schema_version = SCHEMA_VERSION
        """The schema version of the open database (older only when it is read-only)."""
        self._copy: tempfile.TemporaryDirectory[str] | None = (
            None  # a read-only store's WAL, read from a copy
        )
        self._data_version: int | None = None

    # --- what the store asks -----------------------------------------------------------------------

    @property
    def read_only(self) -> str | None:
        """Why writes are refused (``None``: they are not); opens the file to find out."""
        with self._lock:
            if self._conn is None and self._read_only is None:
                self._connect(create=False)
            return self._read_only

    @property
    def opened(self) -> bool:
        """True while a connection is open."""
        return self._conn is not None

    def changed(self) -> bool:
        """True when another connection may have committed since the last call (``PRAGMA data_version``)."""
        with self.connection(write=False) as conn:
            if conn is None:
                return False
            version = conn.execute("PRAGMA data_version").fetchone()[0]
        changed = version != self._data_version
        self._data_version = version
        return changed

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
    def connection(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
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
                    raise TryAgain(errno.EIO, said) from exc
                if write and errorname(exc) == "SQLITE_READONLY" and not self._reopened:
                    # SQLite opens a file read-only, silently, while its file system is: once that is
                    # writable again only a new connection writes (the call runs once more on one)
                    self.close()
                    self._reopened = True
                    raise TryAgain(errno.EROFS, f"{reason(exc)} ({self.location})") from exc
                self._reopened = False
                raise store_error(exc, self.location) from exc

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The connection in a write transaction (``BEGIN IMMEDIATE``) on the file at the store's path.

        Checked once the write lock is held: a file moved or replaced while this writer waited for
        the lock is not written to (its changes would leave the live store); the call runs again
        on the file now there (:func:`once_more`)."""
        with self.connection(write=True) as conn:
            assert conn is not None
            with transaction(conn):
                moved = self._file_identity() != self._identity
                if not moved:
                    yield conn
            if moved:
                self.close()
                raise TryAgain(errno.EIO, f"{self.path} was replaced by another file meanwhile: try again")

    # --- opening -------------------------------------------------------------------------------------

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
            self.schema_version = retry_busy(partial(self._set_up, conn, mode), self.busy_timeout)
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
        return int(version)

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
        """Repair the damaged database in place, keeping a copy (:mod:`.repair`), and say so."""
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
